"""What the platform's stacks need before their first deploy, for one environment.

The state bucket the five stacks keep their state in, GitHub Actions' OIDC provider, and
three roles: ``plan`` (read-only, for the pull-request workflow), ``deploy`` (for the apply
workflow, in the GitHub environment named after this environment) and ``state-reader``
(for other teams: it may read the platform's state objects of this environment, nothing
else). Its own state starts on local disk and moves into the bucket it created
(:mod:`ops.bootstrap`), so ``backend_state_path`` says which backend this synth uses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cdktf import LocalBackend, S3Backend, TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
)
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.iam_openid_connect_provider import IamOpenidConnectProvider
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.provider import AwsProvider
from constructs import Construct

from modules.secure_bucket import SecureBucket, SecureBucketProps

from .base import StackContext, backend_settings, provider_settings
from .outputs import BootstrapOutputs, Output

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com"
# Where the S3 backend keeps non-default workspaces' states (its workspace_key_prefix).
WORKSPACE_PREFIX = "env:/"

_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(root|user/[\w+=,.@/-]+|role/[\w+=,.@/-]+)$")
_OIDC_PROVIDER = re.compile(
    r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/" + re.escape(GITHUB_OIDC_HOST) + "$"
)


def bootstrap_state_key(context: StackContext) -> str:
    return context.state_key(BootstrapOutputs.stack_name)


@dataclass(frozen=True)
class BootstrapStackProps:
    context: StackContext
    # The platform's stacks: the state-reader role may read exactly their state objects.
    platform_stacks: tuple[str, ...]
    # owner/name of the GitHub repository whose workflows plan and deploy.
    github_repository: str
    # Who may assume the state-reader role; empty: this account's IAM principals that an
    # administrator allows to (the account root as the trusted principal).
    state_reader_principals: tuple[str, ...] = ()
    # An account has one OIDC provider per issuer: reuse one that exists (another
    # environment's bootstrap in the same account, another project) instead of creating it.
    existing_oidc_provider_arn: str | None = None
    # Local file of the bootstrap's own state for its first apply (the bucket does not exist
    # yet); None: its state is in the bucket, beside the platform's.
    backend_state_path: str | None = None

    def __post_init__(self) -> None:
        if not self.platform_stacks:
            raise ValueError("BootstrapStackProps.platform_stacks: at least one stack")
        if BootstrapOutputs.stack_name in self.platform_stacks:
            raise ValueError("BootstrapStackProps.platform_stacks: must not name 'bootstrap'")
        if not _REPOSITORY.match(self.github_repository):
            raise ValueError(
                f"github_repository {self.github_repository!r}: expected owner/name, "
                "for example acme/telemetry-platform"
            )
        for principal in self.state_reader_principals:
            if not _PRINCIPAL.match(principal):
                raise ValueError(
                    f"state_reader_principals: {principal!r} is not an IAM principal ARN "
                    "(arn:aws:iam::<12 digits>:root, :user/<name> or :role/<name>)"
                )
        arn = self.existing_oidc_provider_arn
        if arn is not None and not _OIDC_PROVIDER.match(arn):
            raise ValueError(
                f"existing_oidc_provider_arn {arn!r}: expected "
                f"arn:aws:iam::<account>:oidc-provider/{GITHUB_OIDC_HOST}"
            )


class BootstrapStack(TerraformStack):
    def __init__(self, scope: Construct, props: BootstrapStackProps) -> None:
        super().__init__(scope, BootstrapOutputs.stack_name)
        context = props.context
        AwsProvider(self, "aws", **provider_settings(context))
        if props.backend_state_path is None:
            S3Backend(self, **backend_settings(context, bootstrap_state_key(context)))
            self.add_override("terraform.backend.s3.use_lockfile", True)
        else:
            LocalBackend(self, path=props.backend_state_path)
        caller = DataAwsCallerIdentity(self, "caller")
        partition = DataAwsPartition(self, "partition").partition

        # Every state version is kept (no lifecycle rule): the history is small and it is
        # how a damaged state is recovered.
        bucket = SecureBucket(
            self, "state", SecureBucketProps(bucket_name=context.state.bucket, lifecycle=None)
        )
        bucket.bucket.add_override("lifecycle.prevent_destroy", True)
        bucket_arn = f"arn:{partition}:s3:::{context.state.bucket}"
        keys = {name: context.state_key(name) for name in props.platform_stacks}
        environment_prefix = f"{context.state.key_prefix}/{context.environment}/"

        if props.existing_oidc_provider_arn:
            oidc_provider_arn = props.existing_oidc_provider_arn
        else:
            oidc_provider_arn = IamOpenidConnectProvider(
                self,
                "github-oidc",
                url=f"https://{GITHUB_OIDC_HOST}",
                client_id_list=[GITHUB_OIDC_AUDIENCE],
            ).arn

        def github_role(name: str, subject: str, description: str) -> IamRole:
            trust = DataAwsIamPolicyDocument(
                self,
                f"{name}-trust",
                statement=[
                    DataAwsIamPolicyDocumentStatement(
                        actions=["sts:AssumeRoleWithWebIdentity"],
                        principals=[{"type": "Federated", "identifiers": [oidc_provider_arn]}],
                        condition=[
                            {
                                "test": "StringEquals",
                                "variable": f"{GITHUB_OIDC_HOST}:aud",
                                "values": [GITHUB_OIDC_AUDIENCE],
                            },
                            {
                                "test": "StringEquals",
                                "variable": f"{GITHUB_OIDC_HOST}:sub",
                                "values": [subject],
                            },
                        ],
                    )
                ],
            )
            return IamRole(
                self,
                f"{name}-role",
                name=f"{context.name_prefix}-{name}",
                description=description,
                assume_role_policy=trust.json,
                max_session_duration=3600,
            )

        repository = props.github_repository
        plan = github_role(
            "plan",
            f"repo:{repository}:pull_request",
            "Plans the platform for pull requests: read-only, plus state lock files",
        )
        IamRolePolicyAttachment(
            self,
            "plan-read-only",
            role=plan.name,
            policy_arn=f"arn:{partition}:iam::aws:policy/ReadOnlyAccess",
        )
        self._inline_policy(
            "plan-state-locks",
            plan,
            [
                # A plan takes the state lock (an object beside the state) while it reads.
                DataAwsIamPolicyDocumentStatement(
                    sid="StateLockFiles",
                    actions=["s3:PutObject", "s3:DeleteObject"],
                    resources=[f"{bucket_arn}/{environment_prefix}*.tflock"],
                )
            ],
        )
        deploy = github_role(
            "deploy",
            f"repo:{repository}:environment:{context.environment}",
            "Applies the reviewed plans of the platform from the apply workflow",
        )
        # The stacks create IAM roles, VPCs, clusters and functions across a dozen services:
        # the deploy role is an administrator, reachable only from the protected environment.
        IamRolePolicyAttachment(
            self,
            "deploy-administrator",
            role=deploy.name,
            policy_arn=f"arn:{partition}:iam::aws:policy/AdministratorAccess",
        )

        readers = list(props.state_reader_principals) or [
            f"arn:{partition}:iam::{caller.account_id}:root"
        ]
        reader_trust = DataAwsIamPolicyDocument(
            self,
            "state-reader-trust",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    actions=["sts:AssumeRole"],
                    principals=[{"type": "AWS", "identifiers": readers}],
                )
            ],
        )
        reader = IamRole(
            self,
            "state-reader-role",
            name=f"{context.name_prefix}-state-reader",
            description="Reads the platform's Terraform state of one environment, nothing else",
            assume_role_policy=reader_trust.json,
            max_session_duration=3600,
        )
        self._inline_policy(
            "state-reader-read",
            reader,
            state_reader_statements(bucket_arn, tuple(keys.values())),
        )

        self._output(BootstrapOutputs.STATE_BUCKET, bucket.name)
        self._output(BootstrapOutputs.STATE_REGION, context.state.region)
        self._output(BootstrapOutputs.STATE_KEYS, keys)
        self._output(BootstrapOutputs.OIDC_PROVIDER_ARN, oidc_provider_arn)
        self._output(BootstrapOutputs.PLAN_ROLE_ARN, plan.arn)
        self._output(BootstrapOutputs.DEPLOY_ROLE_ARN, deploy.arn)
        self._output(BootstrapOutputs.STATE_READER_ROLE_ARN, reader.arn)
        self._output(
            BootstrapOutputs.REMOTE_STATE_CONFIGS,
            {
                name: {
                    "bucket": context.state.bucket,
                    "key": key,
                    "region": context.state.region,
                    "assume_role": {"role_arn": reader.arn},
                }
                for name, key in keys.items()
            },
        )

    def _inline_policy(
        self, name: str, role: IamRole, statements: Sequence[DataAwsIamPolicyDocumentStatement]
    ) -> None:
        document = DataAwsIamPolicyDocument(self, f"{name}-document", statement=list(statements))
        IamRolePolicy(self, name, name=name, role=role.name, policy=document.json)

    def _output(self, output: Output, value: object) -> None:
        TerraformOutput(self, output.name, value=value, description=output.description)


def state_reader_statements(
    bucket_arn: str, keys: tuple[str, ...]
) -> list[DataAwsIamPolicyDocumentStatement]:
    """Read the state objects ``keys`` and nothing else.

    Before reading, Terraform's S3 backend lists the keys under the workspace prefix
    (``env:/``) to find the workspace's state; this platform uses the default workspace, so
    that listing is allowed and shows nothing. No other listing is.
    """
    return [
        DataAwsIamPolicyDocumentStatement(
            sid="ReadPlatformState",
            actions=["s3:GetObject"],
            resources=[f"{bucket_arn}/{key}" for key in keys],
        ),
        DataAwsIamPolicyDocumentStatement(
            sid="FindWorkspaces",
            actions=["s3:ListBucket"],
            resources=[bucket_arn],
            condition=[
                {"test": "StringEquals", "variable": "s3:prefix", "values": [WORKSPACE_PREFIX]}
            ],
        ),
    ]
