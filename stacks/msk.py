"""MSK stack: the Kafka cluster (IAM auth, TLS), its logs, and the telemetry topic.

Provider 5.100 has no Kafka topic resource, so a small Lambda inside the VPC creates the
topic through the Kafka admin API, invoked once by ``aws_lambda_invocation`` after the
cluster is up. The invocation is part of this stack's apply, so the topic exists before any
downstream stack (Firehose, the event source mapping) reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
)
from cdktf_cdktf_provider_aws.msk_cluster import MskCluster
from cdktf_cdktf_provider_aws.msk_cluster_policy import MskClusterPolicy
from cdktf_cdktf_provider_aws.msk_configuration import MskConfiguration
from constructs import Construct

from modules.alarms import MetricAlarm, MetricAlarmProps
from modules.deploy_time_invocation import DeployTimeInvocation, DeployTimeInvocationProps
from modules.iam import Allow
from modules.lambda_function import PythonFunctionProps
from modules.secure_bucket import Lifecycle, SecureBucket, SecureBucketProps
from platform_config.model import AlarmSettings, LambdaSettings, MskSettings

from .base import PlatformStack, StackContext
from .kafka_arns import KafkaArns
from .outputs import MskOutputs, NetworkOutputs

BROKER_LOG_PREFIX = "broker-logs"


@dataclass(frozen=True)
class MskStackProps:
    context: StackContext
    msk: MskSettings
    lambdas: LambdaSettings
    topic_name: str
    force_destroy_buckets: bool
    alarms: AlarmSettings = field(default_factory=AlarmSettings)

    def __post_init__(self) -> None:
        if not self.topic_name:
            raise ValueError("MskStackProps.topic_name must not be empty")


class MskStack(PlatformStack):
    contract = MskOutputs

    def __init__(self, scope: Construct, props: MskStackProps) -> None:
        super().__init__(scope, props.context)
        network = self.read_upstream(NetworkOutputs)
        settings = props.msk
        cluster_name = self.name("msk")

        logs_bucket = SecureBucket(
            self,
            "broker-logs-bucket",
            SecureBucketProps(
                bucket_name=self.global_name("msk-logs"),
                lifecycle=Lifecycle(expire_current_days=90, expire_noncurrent_days=7),
                extra_policy_statements=self._log_delivery_statements(),
                force_destroy=props.force_destroy_buckets,
            ),
        )
        log_group = CloudwatchLogGroup(
            self,
            "broker-log-group",
            name=f"/aws/msk/{cluster_name}",
            retention_in_days=settings.log_retention_days,
        )

        server_properties = {
            # Topics are created on purpose (by the topic admin below), never by a typo.
            "auto.create.topics.enable": "false",
            "default.replication.factor": str(settings.replication_factor),
            "min.insync.replicas": str(settings.min_insync_replicas),
            "num.partitions": str(settings.topic_partitions),
            "unclean.leader.election.enable": "false",
        }
        configuration = MskConfiguration(
            self,
            "configuration",
            name=cluster_name,
            kafka_versions=[settings.kafka_version],
            description="ACME telemetry: explicit topics, durable writes",
            server_properties="\n".join(f"{k}={v}" for k, v in sorted(server_properties.items())),
        )

        cluster = MskCluster(
            self,
            "cluster",
            cluster_name=cluster_name,
            kafka_version=settings.kafka_version,
            number_of_broker_nodes=settings.broker_count,
            broker_node_group_info={
                "instance_type": settings.broker_instance_type,
                "client_subnets": network.strings(NetworkOutputs.PRIVATE_SUBNET_IDS),
                "security_groups": [network.string(NetworkOutputs.MSK_SECURITY_GROUP_ID)],
                "storage_info": {"ebs_storage_info": {"volume_size": settings.ebs_volume_gib}},
                # Multi-VPC private connectivity: how Firehose's MSK source reaches the cluster.
                "connectivity_info": {
                    "vpc_connectivity": {"client_authentication": {"sasl": {"iam": True}}}
                },
            },
            client_authentication={"sasl": {"iam": True}, "unauthenticated": False},
            encryption_info={"encryption_in_transit": {"client_broker": "TLS", "in_cluster": True}},
            configuration_info={
                "arn": configuration.arn,
                "revision": configuration.latest_revision,
            },
            enhanced_monitoring="PER_TOPIC_PER_BROKER",
            logging_info={
                "broker_logs": {
                    "cloudwatch_logs": {"enabled": True, "log_group": log_group.name},
                    "s3": {
                        "enabled": True,
                        "bucket": logs_bucket.bucket.id,
                        "prefix": BROKER_LOG_PREFIX,
                    },
                }
            },
        )
        arns = KafkaArns(
            partition=self.partition.partition,
            region=self.context.region,
            account_id=self.account_id,
            cluster_name=cluster_name,
            cluster_uuid=cluster.cluster_uuid,
        )

        # Firehose's MSK source opens a managed VPC connection to the cluster: the service
        # principal needs these actions granted by the cluster itself.
        firehose_access = DataAwsIamPolicyDocument(
            self,
            "cluster-policy-document",
            statement=[
                DataAwsIamPolicyDocumentStatement(
                    sid="FirehoseMskSource",
                    effect="Allow",
                    principals=[{"type": "Service", "identifiers": ["firehose.amazonaws.com"]}],
                    actions=[
                        "kafka:CreateVpcConnection",
                        "kafka:GetBootstrapBrokers",
                        "kafka:DescribeCluster",
                        "kafka:DescribeClusterV2",
                    ],
                    resources=[cluster.arn],
                    condition=[
                        {
                            "test": "StringEquals",
                            "variable": "aws:SourceAccount",
                            "values": [self.account_id],
                        }
                    ],
                )
            ],
        )
        MskClusterPolicy(
            self, "cluster-policy", cluster_arn=cluster.arn, policy=firehose_access.json
        )

        lambdas = props.lambdas
        DeployTimeInvocation(
            self,
            "topic-admin",
            DeployTimeInvocationProps(
                function=PythonFunctionProps(
                    function_name=self.name("topic-admin"),
                    description="Creates the platform's Kafka topics at deploy time",
                    code=self.package("topic_admin", lambdas),
                    settings=self.runtime_settings(lambdas),
                    memory_mb=256,
                    timeout_seconds=120,
                    environment={
                        "BOOTSTRAP_SERVERS": cluster.bootstrap_brokers_sasl_iam,
                        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                        "KAFKA_SASL_MECHANISM": "OAUTHBEARER",
                    },
                    statements=(
                        Allow(
                            "ConnectToCluster",
                            ("kafka-cluster:Connect", "kafka-cluster:DescribeCluster"),
                            (cluster.arn,),
                        ),
                        Allow(
                            "ManageTelemetryTopic",
                            ("kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopic"),
                            (arns.topic(props.topic_name),),
                        ),
                    ),
                    subnet_ids=network.strings(NetworkOutputs.PRIVATE_SUBNET_IDS),
                    security_group_ids=(network.string(NetworkOutputs.LAMBDA_SECURITY_GROUP_ID),),
                ),
                input={
                    "topic": props.topic_name,
                    "partitions": settings.topic_partitions,
                    "replication_factor": settings.replication_factor,
                    "configs": {"min.insync.replicas": str(settings.min_insync_replicas)},
                },
                # A new cluster (new UUID) needs the topic again.
                triggers={"cluster": cluster.cluster_uuid},
                depends_on=[cluster],
            ),
        )

        self._broker_alarms(
            cluster_name,
            settings.broker_count,
            network.string(NetworkOutputs.ALARM_TOPIC_ARN),
            props,
        )

        out = MskOutputs
        self.export(out.CLUSTER_ARN, cluster.arn)
        self.export(out.CLUSTER_NAME, cluster.cluster_name)
        self.export(out.CLUSTER_UUID, cluster.cluster_uuid)
        self.export(out.BOOTSTRAP_BROKERS_SASL_IAM, cluster.bootstrap_brokers_sasl_iam)
        self.export(out.TOPIC_NAME, props.topic_name)
        self.export(out.TOPIC_ARN, arns.topic(props.topic_name))
        self.check_contract()

    def _broker_alarms(
        self, cluster_name: str, brokers: int, topic_arn: str, props: MskStackProps
    ) -> None:
        """Each broker's data disk and CPU (MSK publishes them per broker, 1-based ids)."""
        alarms = props.alarms
        for broker in range(1, brokers + 1):
            for metric, statistic, threshold, what in (
                ("KafkaDataLogsDiskUsed", "Maximum", alarms.broker_disk_used_percent, "disk"),
                ("CpuUser", "Average", alarms.broker_cpu_percent, "cpu"),
            ):
                MetricAlarm(
                    self,
                    f"broker-{broker}-{what}",
                    MetricAlarmProps(
                        name=f"{cluster_name}-broker-{broker}-{what}",
                        description=(
                            f"MSK broker {broker}: {metric} at or above {threshold}% "
                            f"(runbook: MSK broker {what})"
                        ),
                        namespace="AWS/Kafka",
                        metric=metric,
                        dimensions={"Cluster Name": cluster_name, "Broker ID": str(broker)},
                        statistic=statistic,
                        comparison="GreaterThanOrEqualToThreshold",
                        threshold=threshold,
                        period_seconds=alarms.period_seconds,
                        evaluation_periods=alarms.evaluation_periods,
                        topic_arn=topic_arn,
                    ),
                )

    def _log_delivery_statements(self) -> tuple[DataAwsIamPolicyDocumentStatement, ...]:
        # MSK delivers broker logs through CloudWatch vended log delivery. Granting it here
        # stops MSK from editing the bucket policy itself (which Terraform would then revert).
        bucket_arn = f"arn:{self.partition.partition}:s3:::{self.global_name('msk-logs')}"
        source = [
            {"test": "StringEquals", "variable": "aws:SourceAccount", "values": [self.account_id]},
            {"test": "ArnLike", "variable": "aws:SourceArn", "values": [self.arn("logs", "*")]},
        ]
        delivery = [{"type": "Service", "identifiers": ["delivery.logs.amazonaws.com"]}]
        return (
            DataAwsIamPolicyDocumentStatement(
                sid="LogDeliveryWrite",
                effect="Allow",
                principals=delivery,
                actions=["s3:PutObject"],
                resources=[f"{bucket_arn}/{BROKER_LOG_PREFIX}/AWSLogs/{self.account_id}/*"],
                condition=[
                    *source,
                    {
                        "test": "StringEquals",
                        "variable": "s3:x-amz-acl",
                        "values": ["bucket-owner-full-control"],
                    },
                ],
            ),
            DataAwsIamPolicyDocumentStatement(
                sid="LogDeliveryAclCheck",
                effect="Allow",
                principals=delivery,
                actions=["s3:GetBucketAcl"],
                resources=[bucket_arn],
                condition=source,
            ),
        )
