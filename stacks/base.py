"""What every platform stack shares: provider, state backend, remote-state reads, outputs.

A stack never receives another stack's Python objects. It reads upstream values through
``read_upstream`` (a ``terraform_remote_state`` data source over the upstream stack's state)
and publishes its own through ``export`` (a documented ``TerraformOutput``), so the
synthesized JSON holds no ``cross-stack-output-*`` references and every stack can be planned
and applied on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cdktf import (
    DataTerraformRemoteStateLocal,
    DataTerraformRemoteStateS3,
    LocalBackend,
    S3Backend,
    TerraformOutput,
    TerraformRemoteState,
    TerraformResource,
    TerraformStack,
)
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderEndpoints
from constructs import Construct

from modules.alarms import FunctionAlarms, FunctionAlarmsProps
from modules.lambda_function import RuntimeSettings
from modules.lambda_package import LambdaPackage, LambdaPackageProps
from platform_config.model import (
    METRICS_NAMESPACE,
    AlarmSettings,
    EmulatorSettings,
    LambdaSettings,
    StateSettings,
)

from .moved import MOVED
from .outputs import Output, OutputContract

# Every AWS API the stacks call; pointed at the emulator in local mode.
EMULATED_SERVICES = (
    "apigateway", "apigatewayv2", "athena", "cloudwatch", "cloudwatchlogs", "cognitoidp",
    "dynamodb", "ec2", "events", "firehose", "glue", "iam", "kafka", "kms", "lambda_", "s3",
    "sns", "sqs", "sts",
)  # fmt: skip

# Emulator credentials: moto accepts any key; these never reach AWS.
EMULATOR_ACCESS_KEY = "testing"
EMULATOR_SECRET_KEY = "testing"


@dataclass(frozen=True)
class StackContext:
    """What each stack needs to know about where and how it is deployed."""

    environment: str
    region: str
    name_prefix: str
    state: StateSettings
    emulator: EmulatorSettings
    default_tags: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        if not self.name_prefix.endswith(f"-{self.environment}"):
            raise ValueError(
                f"StackContext.name_prefix {self.name_prefix!r} must end with the environment "
                f"name '-{self.environment}' so environments never share resource names"
            )

    def state_key(self, stack_name: str) -> str:
        return f"{self.state.key_prefix}/{self.environment}/{stack_name}.tfstate"

    def local_state_path(self, stack_name: str) -> str:
        # Relative to cdktf.out/stacks/<stack>/, where Terraform runs: no absolute path is
        # written into the synthesized JSON.
        return f"../../../{self.state.local_dir}/{self.environment}/{stack_name}.tfstate"


def provider_settings(context: StackContext) -> dict[str, Any]:
    """The AWS provider's settings: the region and tags, and in local mode the emulator."""
    settings: dict[str, Any] = {
        "region": context.region,
        "default_tags": [{"tags": dict(context.default_tags)}],
    }
    endpoint = context.emulator.endpoint_url
    if endpoint:
        settings.update(
            access_key=EMULATOR_ACCESS_KEY,
            secret_key=EMULATOR_SECRET_KEY,
            skip_credentials_validation=True,
            skip_metadata_api_check="true",
            s3_use_path_style=True,
            # A few quick retries ride out a dropped loopback connection; the default
            # (25 with backoff) would hang for minutes on an API the emulator lacks.
            max_retries=3,
            endpoints=[AwsProviderEndpoints(**dict.fromkeys(EMULATED_SERVICES, endpoint))],
        )
    return settings


def backend_settings(context: StackContext, key: str) -> dict[str, Any]:
    """S3 backend (and remote-state) settings for the state object ``key``."""
    state = context.state
    settings: dict[str, Any] = {
        "bucket": state.bucket,
        "key": key,
        "region": state.region,
        "encrypt": True,
    }
    endpoint = context.emulator.endpoint_url
    if endpoint:
        settings.update(
            endpoints={"s3": endpoint, "sts": endpoint},
            use_path_style=True,
            skip_credentials_validation=True,
            skip_requesting_account_id=True,
            skip_metadata_api_check=True,
            access_key=EMULATOR_ACCESS_KEY,
            secret_key=EMULATOR_SECRET_KEY,
        )
    return settings


class PlatformStack(TerraformStack):
    """Base class: one Terraform state per stack, shared only through declared outputs."""

    contract: type[OutputContract]

    def __init__(self, scope: Construct, context: StackContext) -> None:
        stack_name = self.contract.stack_name
        super().__init__(scope, stack_name)
        self.context = context
        self.stack_name = stack_name
        self._exported: set[str] = set()
        # Stacks whose state this one reads: its deploy order follows from them.
        self.upstream_stacks: list[str] = []
        self._configure_provider()
        self._configure_backend()
        self.caller = DataAwsCallerIdentity(self, "caller")
        self.partition = DataAwsPartition(self, "partition")

    # -- identity helpers -------------------------------------------------------------------
    @property
    def account_id(self) -> str:
        return self.caller.account_id

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        """An ARN in this stack's partition, region and account."""
        region_part = self.context.region if region else ""
        account_part = self.account_id if account else ""
        return f"arn:{self.partition.partition}:{service}:{region_part}:{account_part}:{resource}"

    def global_name(self, role: str) -> str:
        """A globally unique name (S3 buckets): prefix, role, account id and region."""
        return f"{self.context.name_prefix}-{role}-{self.account_id}-{self.context.region}"

    def name(self, suffix: str) -> str:
        return f"{self.context.name_prefix}-{suffix}"

    def runtime_settings(self, lambdas: LambdaSettings) -> RuntimeSettings:
        return RuntimeSettings(
            log_retention_days=lambdas.log_retention_days,
            log_group_arn_prefix=self.arn("logs", "log-group:"),
            metrics_namespace=METRICS_NAMESPACE,
        )

    def watch_function(self, function_name: str, topic_arn: str, alarms: AlarmSettings) -> None:
        """Errors and Throttles alarms of a function of this stack, to the alarm topic."""
        FunctionAlarms(
            self,
            f"alarms-{function_name}",
            FunctionAlarmsProps(
                function_name=function_name,
                topic_arn=topic_arn,
                errors=alarms.function_errors,
                throttles=alarms.function_throttles,
                period_seconds=alarms.period_seconds,
                evaluation_periods=alarms.evaluation_periods,
            ),
        )

    def package(self, function: str, lambdas: LambdaSettings) -> LambdaPackage:
        """The reproducible deployment package of ``handlers/<function>`` for the configured
        runtime (the packager's defaults: handlers/, the contract, build/lambda, and the
        offline wheel folder $ACME_WHEEL_DIR when set)."""
        return LambdaPackage(
            self,
            f"package-{function}",
            LambdaPackageProps(
                function=function,
                python_version=lambdas.runtime.removeprefix("python"),
                architecture=lambdas.architecture,
            ),
        )

    # -- provider and backend ---------------------------------------------------------------
    def _configure_provider(self) -> None:
        AwsProvider(self, "aws", **provider_settings(self.context))

    def _backend_settings(self, stack_name: str) -> dict[str, Any]:
        return backend_settings(self.context, self.context.state_key(stack_name))

    def _configure_backend(self) -> None:
        if self.context.state.backend == "local":
            LocalBackend(self, path=self.context.local_state_path(self.stack_name))
            return
        S3Backend(self, **self._backend_settings(self.stack_name))
        # S3-native state locking (Terraform >= 1.10); cdktf 0.21's S3Backend lacks the field.
        self.add_override("terraform.backend.s3.use_lockfile", True)

    # -- the outputs contract ---------------------------------------------------------------
    def read_upstream(self, contract: type[OutputContract]) -> UpstreamState:
        """Remote-state reader for an upstream stack's declared outputs."""
        construct_id = f"upstream-{contract.stack_name}"
        self.upstream_stacks.append(contract.stack_name)
        remote: TerraformRemoteState
        if self.context.state.backend == "local":
            remote = DataTerraformRemoteStateLocal(
                self, construct_id, path=self.context.local_state_path(contract.stack_name)
            )
        else:
            remote = DataTerraformRemoteStateS3(
                self, construct_id, **self._backend_settings(contract.stack_name)
            )
        return UpstreamState(contract, remote)

    def export(self, output: Output, value: Any) -> None:
        if output not in self.contract.outputs():
            raise ValueError(f"{self.stack_name}: {output.name!r} is not in its output contract")
        TerraformOutput(
            self,
            output.name,
            value=value,
            description=output.description,
            sensitive=output.sensitive,
        )
        self._exported.add(output.name)

    def check_contract(self) -> None:
        """Fail synth if a declared output was never exported (the contract must be whole);
        then add the moved blocks of stacks/moved.py for this stack."""
        missing = sorted({o.name for o in self.contract.outputs()} - self._exported)
        if missing:
            raise ValueError(f"{self.stack_name}: declared outputs not exported: {missing}")
        self._add_moved_blocks(MOVED.get(self.stack_name, {}))

    def _add_moved_blocks(self, moves: Mapping[str, str]) -> None:
        matched = set()
        for node in self.node.find_all():
            if isinstance(node, TerraformResource):
                path = node.node.path.split("/", 1)[1]
                if path in moves:
                    node.move_from_id(moves[path])
                    matched.add(path)
        stale = sorted(set(moves) - matched)
        if stale:
            raise ValueError(f"{self.stack_name}: stacks/moved.py names no resource at {stale}")


def order_by_remote_state(stacks: Sequence[PlatformStack]) -> None:
    """Each stack depends on the stacks whose state it reads, and on nothing else.

    The dependencies give ``cdktf deploy '*'`` its order and land in the synthesized
    manifest, from which ``ops`` applies independent stacks at the same time.
    """
    by_name = {stack.stack_name: stack for stack in stacks}
    for stack in stacks:
        for upstream in stack.upstream_stacks:
            if upstream not in by_name:
                raise ValueError(f"{stack.stack_name} reads {upstream}, which is not in the app")
            stack.add_dependency(by_name[upstream])


class UpstreamState:
    """Typed access to one upstream stack's outputs, by their declared contract."""

    def __init__(self, contract: type[OutputContract], remote: TerraformRemoteState) -> None:
        self.contract = contract
        self.remote = remote

    def _check(self, output: Output) -> str:
        if output not in self.contract.outputs():
            raise ValueError(f"{output.name!r} is not an output of {self.contract.stack_name}")
        return output.name

    def string(self, output: Output) -> str:
        return self.remote.get_string(self._check(output))

    def strings(self, output: Output) -> list[str]:
        return self.remote.get_list(self._check(output))
