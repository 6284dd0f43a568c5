"""A Python Lambda function with its own role, log group and least-privilege policy.

One job: run packaged code. What the function may touch comes in as ``Allow`` statements
from the stack; what it is packaged from comes in as a ``LambdaCode``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.lambda_function import (
    LambdaFunction,
    LambdaFunctionEnvironment,
    LambdaFunctionVpcConfig,
)
from constructs import Construct

from .iam import Allow, policy_document, service_trust_policy

# Set by the Lambda runtime; a function that sets them fails to deploy or misbehaves.
RESERVED_ENVIRONMENT = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})  # fmt: skip

# ENI management for functions in a VPC. AWS does not support resource-level scoping for
# these actions, so "*" is the narrowest possible resource.
VPC_ACCESS = Allow(
    sid="VpcNetworkInterfaces",
    actions=(
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    ),
    resources=("*",),
)


class LambdaCode(Protocol):
    """A built deployment package (see modules.lambda_package.LambdaPackage)."""

    @property
    def asset_path(self) -> str: ...

    @property
    def source_code_hash(self) -> str: ...

    @property
    def handler(self) -> str: ...

    # What the zip was built for: the function declares the same, so they cannot disagree.
    @property
    def runtime(self) -> str: ...

    @property
    def architectures(self) -> list[str]: ...


@dataclass(frozen=True)
class RuntimeSettings:
    """What the functions of one stack share (their runtime comes with their code)."""

    log_retention_days: int
    log_group_arn_prefix: str  # arn:<partition>:logs:<region>:<account>:log-group:
    # Namespace of the handlers' own metrics (Powertools' POWERTOOLS_METRICS_NAMESPACE).
    metrics_namespace: str | None = None

    def __post_init__(self) -> None:
        if self.log_retention_days < 1:
            raise ValueError(
                f"RuntimeSettings.log_retention_days = {self.log_retention_days}: at least 1"
            )


@dataclass(frozen=True)
class PythonFunctionProps:
    function_name: str
    description: str
    code: LambdaCode
    settings: RuntimeSettings
    memory_mb: int
    timeout_seconds: int
    environment: Mapping[str, str] = field(default_factory=dict)
    statements: tuple[Allow, ...] = ()
    subnet_ids: tuple[str, ...] | list[str] = ()
    security_group_ids: tuple[str, ...] = ()
    # Executions reserved for the function and its ceiling; None: the account's shared pool.
    reserved_concurrency: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.function_name) <= 64:
            raise ValueError(
                f"PythonFunctionProps.function_name = {self.function_name!r}: 1-64 characters"
            )
        reserved = sorted(set(self.environment) & RESERVED_ENVIRONMENT)
        if reserved:
            raise ValueError(
                f"{self.function_name}: environment sets reserved Lambda "
                f"variables {reserved}; the runtime provides them"
            )
        if bool(self.subnet_ids) != bool(self.security_group_ids):
            raise ValueError(
                f"{self.function_name}: subnet_ids and security_group_ids go "
                "together (a VPC function needs both)"
            )
        if not 1 <= self.timeout_seconds <= 900:
            raise ValueError(f"{self.function_name}: timeout_seconds must be 1-900")
        if self.reserved_concurrency is not None and self.reserved_concurrency < 1:
            raise ValueError(
                f"{self.function_name}: reserved_concurrency must be at least 1 (0 would stop "
                "the function), or None"
            )


class PythonFunction(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: PythonFunctionProps) -> None:
        super().__init__(scope, construct_id)
        name = props.function_name
        # Created before the function so Lambda never auto-creates it without retention.
        self.log_group = CloudwatchLogGroup(
            self,
            "logs",
            name=f"/aws/lambda/{name}",
            retention_in_days=props.settings.log_retention_days,
        )
        in_vpc = bool(props.subnet_ids)
        statements = (
            Allow(
                sid="WriteOwnLogs",
                actions=("logs:CreateLogStream", "logs:PutLogEvents"),
                resources=(f"{props.settings.log_group_arn_prefix}/aws/lambda/{name}:*",),
            ),
            *((VPC_ACCESS,) if in_vpc else ()),
            *props.statements,
        )
        self.role = IamRole(
            self,
            "role",
            name=f"{name}-role"[:64],
            assume_role_policy=service_trust_policy(self, "trust", "lambda.amazonaws.com"),
        )
        policy = IamRolePolicy(
            self,
            "policy",
            name="least-privilege",
            role=self.role.id,
            policy=policy_document(self, "permissions", statements),
        )
        environment = dict(props.environment)
        if props.settings.metrics_namespace:
            environment.setdefault("POWERTOOLS_METRICS_NAMESPACE", props.settings.metrics_namespace)
        self.function = LambdaFunction(
            self,
            "function",
            function_name=name,
            description=props.description,
            role=self.role.arn,
            runtime=props.code.runtime,
            architectures=props.code.architectures,
            handler=props.code.handler,
            filename=props.code.asset_path,
            source_code_hash=props.code.source_code_hash,
            memory_size=props.memory_mb,
            timeout=props.timeout_seconds,
            reserved_concurrent_executions=props.reserved_concurrency,
            environment=LambdaFunctionEnvironment(variables=environment) if environment else None,
            vpc_config=LambdaFunctionVpcConfig(
                subnet_ids=list(props.subnet_ids),
                security_group_ids=list(props.security_group_ids),
            )
            if in_vpc
            else None,
            depends_on=[self.log_group, policy],
        )
        self.function_name = self.function.function_name
        self.arn = self.function.arn
        self.invoke_arn = self.function.invoke_arn
