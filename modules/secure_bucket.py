"""An S3 bucket with the safe defaults every platform bucket needs.

Encryption at rest (SSE-S3), versioning, all public access blocked, bucket-owner object
ownership (no ACLs), a policy that denies any request not made over TLS, and lifecycle
rules. One job: a safe bucket; who may write to it is the caller's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
)
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
    S3BucketLifecycleConfigurationRuleTransition,
)
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import S3BucketOwnershipControls
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import S3BucketVersioningA
from constructs import Construct

STORAGE_CLASSES = (
    "STANDARD_IA",
    "INTELLIGENT_TIERING",
    "ONEZONE_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
)


@dataclass(frozen=True)
class Lifecycle:
    # (days after creation, storage class) in increasing order of days.
    transitions: tuple[tuple[int, str], ...] = ()
    expire_current_days: int | None = None
    expire_noncurrent_days: int | None = None
    abort_incomplete_upload_days: int = 7

    def __post_init__(self) -> None:
        days = [d for d, _ in self.transitions]
        if days != sorted(days) or len(set(days)) != len(days):
            raise ValueError(f"Lifecycle.transitions {self.transitions}: days must increase")
        for day, storage_class in self.transitions:
            if storage_class not in STORAGE_CLASSES:
                raise ValueError(
                    f"Lifecycle.transitions: storage class {storage_class!r}; "
                    f"allowed: {', '.join(STORAGE_CLASSES)}"
                )
            if storage_class == "STANDARD_IA" and day < 30:
                raise ValueError(
                    "Lifecycle.transitions: S3 moves objects to STANDARD_IA "
                    "after 30 days at the earliest"
                )


@dataclass(frozen=True)
class SecureBucketProps:
    bucket_name: str
    # None: no lifecycle rules (every object version is kept).
    lifecycle: Lifecycle | None = field(default_factory=Lifecycle)
    # Statements other services need (for example log delivery); TLS-only is always added.
    extra_policy_statements: tuple[DataAwsIamPolicyDocumentStatement, ...] = ()
    # Dev buckets may be destroyed with their objects; prod keeps data unless emptied by hand.
    force_destroy: bool = False


class SecureBucket(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: SecureBucketProps) -> None:
        super().__init__(scope, construct_id)
        self.bucket = S3Bucket(
            self, "bucket", bucket=props.bucket_name, force_destroy=props.force_destroy
        )
        self.name = self.bucket.bucket
        self.arn = self.bucket.arn
        bucket_id = self.bucket.id
        S3BucketServerSideEncryptionConfigurationA(
            self,
            "encryption",
            bucket=bucket_id,
            rule=[
                S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=(
                        S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                            sse_algorithm="AES256"
                        )
                    ),
                    bucket_key_enabled=True,
                )
            ],
        )
        versioning = S3BucketVersioningA(
            self, "versioning", bucket=bucket_id, versioning_configuration={"status": "Enabled"}
        )
        public_access = S3BucketPublicAccessBlock(
            self,
            "public-access",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        S3BucketOwnershipControls(
            self, "ownership", bucket=bucket_id, rule={"object_ownership": "BucketOwnerEnforced"}
        )
        deny_plain_http = DataAwsIamPolicyDocumentStatement(
            sid="DenyRequestsWithoutTLS",
            effect="Deny",
            actions=["s3:*"],
            resources=[self.arn, f"{self.arn}/*"],
            principals=[{"type": "*", "identifiers": ["*"]}],
            condition=[{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
        )
        document = DataAwsIamPolicyDocument(
            self,
            "policy-document",
            statement=[deny_plain_http, *props.extra_policy_statements],
        )
        # After the public access block, or S3 may reject the policy while it is applied.
        S3BucketPolicy(
            self, "policy", bucket=bucket_id, policy=document.json, depends_on=[public_access]
        )
        if props.lifecycle is not None:
            S3BucketLifecycleConfiguration(
                self,
                "lifecycle",
                bucket=bucket_id,
                rule=self._rules(props.lifecycle),
                depends_on=[versioning],
            )

    @staticmethod
    def _rules(lifecycle: Lifecycle) -> list[S3BucketLifecycleConfigurationRule]:
        def rule(rule_id: str, **action: Any) -> S3BucketLifecycleConfigurationRule:
            return S3BucketLifecycleConfigurationRule(
                id=rule_id,
                status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                **action,
            )

        rules = [
            rule(
                "abort-incomplete-uploads",
                abort_incomplete_multipart_upload=[
                    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                        days_after_initiation=lifecycle.abort_incomplete_upload_days
                    )
                ],
            )
        ]
        if lifecycle.transitions:
            rules.append(
                rule(
                    "tiering",
                    transition=[
                        S3BucketLifecycleConfigurationRuleTransition(days=days, storage_class=cls)
                        for days, cls in lifecycle.transitions
                    ],
                )
            )
        if lifecycle.expire_current_days is not None:
            rules.append(
                rule(
                    "expire-current",
                    expiration=[
                        S3BucketLifecycleConfigurationRuleExpiration(
                            days=lifecycle.expire_current_days
                        )
                    ],
                )
            )
        if lifecycle.expire_noncurrent_days is not None:
            rules.append(
                rule(
                    "expire-noncurrent-versions",
                    noncurrent_version_expiration=[
                        S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                            noncurrent_days=lifecycle.expire_noncurrent_days
                        )
                    ],
                )
            )
        return rules
