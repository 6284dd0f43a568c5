"""Data generation stack: synthetic events into MSK, and Firehose from MSK into S3.

generator (every 5 minutes) --async--> producer (in the VPC) --SASL/IAM--> topic
topic --Firehose MSK source (private connectivity)--> s3://<data bucket>/telemetry/year=.../
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.lambda_function_event_invoke_config import (
    LambdaFunctionEventInvokeConfig,
)
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from constructs import Construct

from modules.alarms import AlarmSchedule, MetricAlarm, MetricAlarmProps
from modules.iam import Allow
from modules.lambda_function import PythonFunction, PythonFunctionProps
from modules.msk_to_s3_delivery import MskToS3Delivery, MskToS3DeliveryProps
from platform_config.model import AlarmSettings, FirehoseSettings, LambdaSettings

from .base import PlatformStack, StackContext
from .outputs import DataGenOutputs, DataLakeOutputs, MskOutputs, NetworkOutputs

# Lambda's asynchronous payload limit is 256 KB-1 MB depending on the account; 200 KB
# chunks stay well under either.
MAX_ASYNC_PAYLOAD_BYTES = 200_000
# Firehose reads the topic from its first offset: nothing written before the stream exists
# is lost (the API's way to ask for the earliest position is the epoch timestamp).
READ_FROM_EARLIEST = "1970-01-01T00:00:00Z"
HOURLY_PREFIX = (
    "year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"
)


@dataclass(frozen=True)
class DataGenStackProps:
    context: StackContext
    lambdas: LambdaSettings
    firehose: FirehoseSettings
    alarms: AlarmSettings = field(default_factory=AlarmSettings)


class DataGenStack(PlatformStack):
    contract = DataGenOutputs

    def __init__(self, scope: Construct, props: DataGenStackProps) -> None:
        super().__init__(scope, props.context)
        network = self.read_upstream(NetworkOutputs)
        msk = self.read_upstream(MskOutputs)
        lake = self.read_upstream(DataLakeOutputs)
        lambdas = props.lambdas

        cluster_arn = msk.string(MskOutputs.CLUSTER_ARN)
        topic_arn = msk.string(MskOutputs.TOPIC_ARN)
        topic_name = msk.string(MskOutputs.TOPIC_NAME)
        bucket_arn = lake.string(DataLakeOutputs.BUCKET_ARN)
        data_prefix = lake.string(DataLakeOutputs.DATA_PREFIX)
        runtime = self.runtime_settings(lambdas)

        failures_name = self.name("producer-failures")
        failures = SqsQueue(
            self,
            "producer-failures",
            name=failures_name,
            message_retention_seconds=lambdas.failure_queue_retention_seconds,
            sqs_managed_sse_enabled=True,
        )
        producer = PythonFunction(
            self,
            "producer",
            PythonFunctionProps(
                function_name=self.name("producer"),
                description="Publishes telemetry events to the MSK topic",
                code=self.package("producer", lambdas),
                memory_mb=lambdas.producer_memory_mb,
                timeout_seconds=lambdas.producer_timeout_seconds,
                environment={
                    "BOOTSTRAP_SERVERS": msk.string(MskOutputs.BOOTSTRAP_BROKERS_SASL_IAM),
                    "KAFKA_TOPIC": topic_name,
                    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                    "KAFKA_SASL_MECHANISM": "OAUTHBEARER",
                },
                statements=(
                    Allow(
                        "ConnectToCluster",
                        ("kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"),
                        (cluster_arn,),
                    ),
                    Allow(
                        "WriteTelemetryTopic",
                        ("kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"),
                        (topic_arn,),
                    ),
                    # By its known ARN, not the queue's attribute: the function need not wait
                    # for SQS's attribute propagation (about 25 s) before it is created.
                    Allow(
                        "KeepFailedInvocations",
                        ("sqs:SendMessage",),
                        (self.arn("sqs", failures_name),),
                    ),
                ),
                subnet_ids=network.strings(NetworkOutputs.PRIVATE_SUBNET_IDS),
                security_group_ids=(network.string(NetworkOutputs.LAMBDA_SECURITY_GROUP_ID),),
                settings=runtime,
            ),
        )
        LambdaFunctionEventInvokeConfig(
            self,
            "producer-async",
            function_name=producer.function_name,
            maximum_retry_attempts=lambdas.async_retry_attempts,
            destination_config={"on_failure": {"destination": failures.arn}},
        )

        generator = PythonFunction(
            self,
            "generator",
            PythonFunctionProps(
                function_name=self.name("generator"),
                description="Makes synthetic video-streaming telemetry on a schedule",
                code=self.package("generator", lambdas),
                memory_mb=lambdas.generator_memory_mb,
                timeout_seconds=lambdas.timeout_seconds,
                environment={
                    "BATCH_SIZE": str(lambdas.generator_batch_size),
                    "PRODUCER_FUNCTION_NAME": producer.function_name,
                    "MAX_PAYLOAD_BYTES": str(MAX_ASYNC_PAYLOAD_BYTES),
                },
                statements=(Allow("InvokeProducer", ("lambda:InvokeFunction",), (producer.arn,)),),
                settings=runtime,
            ),
        )
        schedule = CloudwatchEventRule(
            self,
            "generator-schedule",
            name=self.name("generator-schedule"),
            description="Runs the telemetry generator",
            schedule_expression=lambdas.generator_schedule,
        )
        CloudwatchEventTarget(
            self, "generator-target", rule=schedule.name, arn=generator.arn, target_id="generator"
        )
        LambdaPermission(
            self,
            "generator-schedule-permission",
            statement_id="AllowEventBridgeSchedule",
            action="lambda:InvokeFunction",
            function_name=generator.function_name,
            principal="events.amazonaws.com",
            source_arn=schedule.arn,
        )

        delivery = MskToS3Delivery(
            self,
            "delivery",
            MskToS3DeliveryProps(
                stream_name=self.name("telemetry-to-s3"),
                role_name=self.name("firehose"),
                cluster_arn=cluster_arn,
                topic_name=topic_name,
                topic_arn=topic_arn,
                bucket_arn=bucket_arn,
                prefix=f"{data_prefix}{HOURLY_PREFIX}",
                error_prefix="errors/!{firehose:error-output-type}/" + HOURLY_PREFIX,
                read_from_timestamp=READ_FROM_EARLIEST,
                buffer_interval_seconds=props.firehose.buffer_interval_seconds,
                buffer_size_mb=props.firehose.buffer_size_mb,
                log_retention_days=props.firehose.log_retention_days,
                source_account=self.account_id,
            ),
        )

        self._alarms(props, network.string(NetworkOutputs.ALARM_TOPIC_ARN), failures_name)

        out = DataGenOutputs
        self.export(out.GENERATOR_FUNCTION, generator.function_name)
        self.export(out.PRODUCER_FUNCTION, producer.function_name)
        self.export(out.PRODUCER_FAILURE_QUEUE_URL, failures.url)
        self.export(out.DELIVERY_STREAM, delivery.stream.name)
        self.check_contract()

    def _alarms(self, props: DataGenStackProps, topic_arn: str, failures_name: str) -> None:
        alarms = props.alarms
        for function in ("generator", "producer"):
            self.watch_function(self.name(function), topic_arn, alarms)
        stream = self.name("telemetry-to-s3")
        common = AlarmSchedule(
            period_seconds=alarms.period_seconds,
            evaluation_periods=alarms.evaluation_periods,
            topic_arn=topic_arn,
        )
        for construct_id, props_ in (
            (
                "failures-waiting",
                MetricAlarmProps(
                    name=f"{failures_name}-not-empty",
                    description=(
                        "Producer invocations failed after Lambda's retries and wait in the "
                        "on-failure queue (runbook: producer on-failure queue)"
                    ),
                    namespace="AWS/SQS",
                    metric="ApproximateNumberOfMessagesVisible",
                    dimensions={"QueueName": failures_name},
                    statistic="Maximum",
                    comparison="GreaterThanOrEqualToThreshold",
                    threshold=1,
                    **common,
                ),
            ),
            (
                "delivery-stale",
                MetricAlarmProps(
                    name=f"{stream}-freshness",
                    description=(
                        f"Firehose's oldest undelivered record is older than "
                        f"{alarms.delivery_freshness_seconds} s (runbook: Firehose delivery)"
                    ),
                    namespace="AWS/Firehose",
                    metric="DeliveryToS3.DataFreshness",
                    dimensions={"DeliveryStreamName": stream},
                    statistic="Maximum",
                    comparison="GreaterThanOrEqualToThreshold",
                    threshold=alarms.delivery_freshness_seconds,
                    **common,
                ),
            ),
            (
                "delivery-failing",
                MetricAlarmProps(
                    name=f"{stream}-success",
                    description=(
                        f"Under {alarms.delivery_success_ratio:.0%} of Firehose's S3 puts "
                        "succeeded (runbook: Firehose delivery)"
                    ),
                    namespace="AWS/Firehose",
                    metric="DeliveryToS3.Success",
                    dimensions={"DeliveryStreamName": stream},
                    statistic="Average",
                    comparison="LessThanThreshold",
                    threshold=alarms.delivery_success_ratio,
                    **common,
                ),
            ),
        ):
            MetricAlarm(self, construct_id, props_)
