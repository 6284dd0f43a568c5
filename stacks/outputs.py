"""The outputs contract: every value a stack publishes, with its meaning.

Other teams read these names with ``terraform_remote_state``; downstream stacks of this
project read them the same way. Renaming or removing one is a breaking change. The README's
outputs table is checked against this module by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Output:
    name: str
    description: str
    sensitive: bool = False


class OutputContract:
    """A stack's published outputs: subclasses list them as class attributes."""

    stack_name: str

    @classmethod
    def outputs(cls) -> tuple[Output, ...]:
        return tuple(value for value in vars(cls).values() if isinstance(value, Output))


class NetworkOutputs(OutputContract):
    stack_name = "network"
    VPC_ID = Output("vpc_id", "ID of the platform VPC.")
    VPC_CIDR = Output("vpc_cidr", "IPv4 CIDR block of the VPC.")
    PRIVATE_SUBNET_IDS = Output(
        "private_subnet_ids", "IDs of the private subnets, one per AZ (egress through NAT)."
    )
    PUBLIC_SUBNET_IDS = Output("public_subnet_ids", "IDs of the public subnets, one per AZ.")
    MSK_SECURITY_GROUP_ID = Output(
        "msk_security_group_id",
        "Security group of the MSK brokers: accepts 9098 (IAM over TLS) from the Lambda "
        "group and from itself.",
    )
    LAMBDA_SECURITY_GROUP_ID = Output(
        "lambda_security_group_id",
        "Security group for Lambdas that talk to MSK; attach it to your own functions to "
        "reach the brokers.",
    )
    ALARM_TOPIC_ARN = Output(
        "alarm_topic_arn",
        "SNS topic every platform alarm notifies (in alarm and back to OK); subscribe your "
        "pager or chat to it.",
    )


class MskOutputs(OutputContract):
    stack_name = "msk"
    CLUSTER_ARN = Output("msk_cluster_arn", "ARN of the MSK cluster.")
    CLUSTER_NAME = Output("msk_cluster_name", "Name of the MSK cluster.")
    CLUSTER_UUID = Output(
        "msk_cluster_uuid",
        "UUID of the MSK cluster, the part of topic and group ARNs used in IAM policies.",
    )
    BOOTSTRAP_BROKERS_SASL_IAM = Output(
        "bootstrap_brokers_sasl_iam",
        "Comma-separated host:port list for clients using SASL/IAM over TLS (port 9098).",
    )
    TOPIC_NAME = Output("topic_name", "Kafka topic carrying the telemetry events.")
    TOPIC_ARN = Output("topic_arn", "ARN of the telemetry topic, for IAM policies.")


class DataLakeOutputs(OutputContract):
    stack_name = "data-lake"
    BUCKET_NAME = Output("data_bucket_name", "S3 bucket holding the telemetry data.")
    BUCKET_ARN = Output("data_bucket_arn", "ARN of the telemetry data bucket.")
    DATA_PREFIX = Output(
        "data_prefix",
        "Key prefix of the events: <prefix>year=YYYY/month=MM/day=DD/hour=HH/ (GZIP JSON lines).",
    )
    GLUE_DATABASE = Output("glue_database_name", "Glue database of the telemetry tables.")
    GLUE_TABLE = Output("glue_table_name", "Glue table of the events (partition projection).")
    ATHENA_WORKGROUP = Output(
        "athena_workgroup_name", "Athena workgroup with the encrypted result location."
    )
    ATHENA_RESULTS_BUCKET = Output(
        "athena_results_bucket_name", "S3 bucket where the workgroup writes query results."
    )


class DataGenOutputs(OutputContract):
    stack_name = "data-gen"
    GENERATOR_FUNCTION = Output(
        "generator_function_name", "Lambda that makes synthetic events on a schedule."
    )
    PRODUCER_FUNCTION = Output("producer_function_name", "Lambda that publishes events to MSK.")
    PRODUCER_FAILURE_QUEUE_URL = Output(
        "producer_failure_queue_url",
        "SQS queue holding producer invocations that failed after Lambda's retries.",
    )
    DELIVERY_STREAM = Output(
        "delivery_stream_name", "Firehose stream reading the topic and writing to S3."
    )


class DashboardOutputs(OutputContract):
    stack_name = "dashboard"
    WEBSOCKET_URL = Output("websocket_url", "wss:// URL browsers connect to.")
    WEBSOCKET_API_ID = Output("websocket_api_id", "ID of the API Gateway WebSocket API.")
    CONNECTIONS_TABLE = Output(
        "connections_table_name", "DynamoDB table of the open WebSocket connections."
    )
    CONSUMER_FUNCTION = Output(
        "consumer_function_name", "Lambda fed by MSK that broadcasts events to browsers."
    )
    WEBSOCKET_FUNCTION_NAMES = Output(
        "websocket_function_names", "Lambdas behind $connect, $disconnect and $default."
    )
    DASHBOARD_URL = Output("dashboard_url", "https:// URL of the live dashboard web page.")
    USER_POOL_ID = Output(
        "dashboard_user_pool_id",
        "Cognito user pool of the dashboard's viewers (no self sign-up: create users here).",
    )
    USER_POOL_CLIENT_ID = Output(
        "dashboard_user_pool_client_id",
        "Public app client (no secret) the page signs in with: USER_PASSWORD_AUTH, refresh.",
    )


ALL_CONTRACTS: tuple[type[OutputContract], ...] = (
    NetworkOutputs,
    MskOutputs,
    DataLakeOutputs,
    DataGenOutputs,
    DashboardOutputs,
)


class BootstrapOutputs(OutputContract):
    """What ``make bootstrap`` creates before the platform's first deploy (one environment).

    Not a platform stack: its own state lives beside theirs, and no stack reads it.
    """

    stack_name = "bootstrap"
    STATE_BUCKET = Output(
        "state_bucket_name",
        "S3 bucket of every stack's state (versioned, encrypted, TLS only, S3 lock files).",
    )
    STATE_REGION = Output("state_bucket_region", "Region of the state bucket.")
    STATE_KEYS = Output(
        "state_keys", "Map of platform stack name to the key of its state in the bucket."
    )
    OIDC_PROVIDER_ARN = Output(
        "github_oidc_provider_arn", "IAM OIDC provider trusted for GitHub Actions' tokens."
    )
    PLAN_ROLE_ARN = Output(
        "plan_role_arn",
        "Role the pull-request workflow assumes (OIDC, pull_request events of the repository): "
        "read-only, plus the state lock files.",
    )
    DEPLOY_ROLE_ARN = Output(
        "deploy_role_arn",
        "Role the apply workflow assumes (OIDC, jobs in the GitHub environment named after "
        "this environment): applies the reviewed plans.",
    )
    STATE_READER_ROLE_ARN = Output(
        "state_reader_role_arn",
        "Role other teams assume to read this environment's platform state, and nothing else.",
    )
    REMOTE_STATE_CONFIGS = Output(
        "remote_state_configs",
        "Map of platform stack name to the `config` of a `terraform_remote_state` (backend "
        '"s3") that reads its outputs through the state-reader role.',
    )
