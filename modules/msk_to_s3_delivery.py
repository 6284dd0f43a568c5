"""Firehose reading one MSK topic over private connectivity and writing GZIP JSON lines to
S3, with its own role (least privilege), policy and delivery log group."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_log_stream import CloudwatchLogStream
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.kinesis_firehose_delivery_stream import (
    KinesisFirehoseDeliveryStream,
)
from constructs import Construct

from .iam import Allow, policy_document, service_trust_policy

# Firehose's limits for an S3 destination.
BUFFER_INTERVAL_SECONDS = (0, 900)
BUFFER_SIZE_MB = (1, 128)
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827)


@dataclass(frozen=True)
class MskToS3DeliveryProps:
    """cluster_arn, topic_arn, bucket_arn and source_account may be tokens.

    prefix / error_prefix: S3 key prefixes, with Firehose's !{timestamp:...} and
    !{firehose:...} expressions. read_from_timestamp: RFC 3339; the epoch reads the topic
    from its first offset.
    """

    stream_name: str
    role_name: str
    cluster_arn: str
    topic_name: str
    topic_arn: str
    bucket_arn: str
    prefix: str
    error_prefix: str
    read_from_timestamp: str
    buffer_interval_seconds: int
    buffer_size_mb: int
    log_retention_days: int
    source_account: str

    def __post_init__(self) -> None:
        low, high = BUFFER_INTERVAL_SECONDS
        if not low <= self.buffer_interval_seconds <= high:
            raise ValueError(
                f"MskToS3DeliveryProps.buffer_interval_seconds = {self.buffer_interval_seconds}: "
                f"{low}-{high}"
            )
        low, high = BUFFER_SIZE_MB
        if not low <= self.buffer_size_mb <= high:
            raise ValueError(
                f"MskToS3DeliveryProps.buffer_size_mb = {self.buffer_size_mb}: {low}-{high}"
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"MskToS3DeliveryProps.log_retention_days = {self.log_retention_days}: one of "
                f"CloudWatch's retention periods {LOG_RETENTION_DAYS}"
            )
        if not 1 <= len(self.stream_name) <= 64:
            raise ValueError(f"MskToS3DeliveryProps.stream_name = {self.stream_name!r}: 1-64")
        if "!{firehose:error-output-type}" not in self.error_prefix:
            raise ValueError(
                "MskToS3DeliveryProps.error_prefix must contain !{firehose:error-output-type} "
                "(Firehose refuses an error prefix without it when the prefix has expressions)"
            )


class MskToS3Delivery(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: MskToS3DeliveryProps) -> None:
        super().__init__(scope, construct_id)
        logs = CloudwatchLogGroup(
            self,
            "logs",
            name=f"/aws/kinesisfirehose/{props.stream_name}",
            retention_in_days=props.log_retention_days,
        )
        log_stream = CloudwatchLogStream(
            self, "log-stream", name="S3Delivery", log_group_name=logs.name
        )
        role = IamRole(
            self,
            "role",
            name=props.role_name,
            assume_role_policy=service_trust_policy(
                self, "trust", "firehose.amazonaws.com", source_account=props.source_account
            ),
        )
        bucket = props.bucket_arn
        policy = IamRolePolicy(
            self,
            "policy",
            name="msk-to-s3",
            role=role.id,
            policy=policy_document(
                self,
                "permissions",
                (
                    Allow(
                        "DescribeCluster",
                        (
                            "kafka:GetBootstrapBrokers",
                            "kafka:DescribeCluster",
                            "kafka:DescribeClusterV2",
                            "kafka-cluster:Connect",
                        ),
                        (props.cluster_arn,),
                    ),
                    Allow(
                        "ReadTelemetryTopic",
                        (
                            "kafka-cluster:DescribeTopic",
                            "kafka-cluster:DescribeTopicDynamicConfiguration",
                            "kafka-cluster:ReadData",
                        ),
                        (props.topic_arn,),
                    ),
                    Allow(
                        "WriteDataBucket",
                        (
                            "s3:AbortMultipartUpload",
                            "s3:GetBucketLocation",
                            "s3:GetObject",
                            "s3:ListBucket",
                            "s3:ListBucketMultipartUploads",
                            "s3:PutObject",
                        ),
                        (bucket, f"{bucket}/*"),
                    ),
                    Allow(
                        "WriteDeliveryLogs", ("logs:PutLogEvents",), (f"{logs.arn}:log-stream:*",)
                    ),
                ),
            ),
        )
        self.stream = KinesisFirehoseDeliveryStream(
            self,
            "stream",
            name=props.stream_name,
            destination="extended_s3",
            msk_source_configuration={
                "msk_cluster_arn": props.cluster_arn,
                "topic_name": props.topic_name,
                "read_from_timestamp": props.read_from_timestamp,
                "authentication_configuration": {"connectivity": "PRIVATE", "role_arn": role.arn},
            },
            extended_s3_configuration={
                "bucket_arn": bucket,
                "role_arn": role.arn,
                "prefix": props.prefix,
                "error_output_prefix": props.error_prefix,
                "buffering_interval": props.buffer_interval_seconds,
                "buffering_size": props.buffer_size_mb,
                "compression_format": "GZIP",
                # One JSON object per line: what Athena's JSON SerDe reads.
                "processing_configuration": {
                    "enabled": True,
                    "processors": [{"type": "AppendDelimiterToRecord"}],
                },
                "cloudwatch_logging_options": {
                    "enabled": True,
                    "log_group_name": logs.name,
                    "log_stream_name": log_stream.name,
                },
            },
            # The role must be able to read the topic before Firehose first tries.
            depends_on=[policy],
        )
        self.role = role
        self.log_group = logs
