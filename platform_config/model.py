"""Typed, validated configuration of the platform.

Every dataclass is frozen and checks itself in ``__post_init__``, so an invalid value fails at
synth time with a message that names the field and what is allowed, before any resource is
built. Environments (dev, prod) are instances of these classes: see ``environments.py``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

# Regions where every service the platform uses (MSK with multi-VPC connectivity, Firehose
# with an MSK source, API Gateway WebSocket APIs, Glue, Athena) is available.
SUPPORTED_REGIONS: tuple[str, ...] = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-south-1",
    "sa-east-1",
)

# MSK versions still in standard support. 3.8.x is the version MSK recommends; the seeds'
# 3.5.1 is past its end of support.
SUPPORTED_KAFKA_VERSIONS: tuple[str, ...] = ("3.7.x", "3.8.x", "3.9.x")

# The handlers' own metrics (Powertools Metrics, embedded metric format): one namespace,
# set on every function by the stacks and read by the operator dashboard.
METRICS_NAMESPACE = "AcmeTelemetry"

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip

LAMBDA_RUNTIMES: tuple[str, ...] = ("python3.12", "python3.13")
LAMBDA_ARCHITECTURES: tuple[str, ...] = ("arm64", "x86_64")
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9]{1,9}$")
PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,18}[a-z0-9]$")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
GLUE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,254}$")
TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")
RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
CRON = re.compile(r"^cron\((.*)\)$")
# EventBridge cron fields: minutes hours day-of-month month day-of-week year.
_CRON_FIELD = r"[0-9A-Za-z*?,/\-#LW]+"
CRON_FIELDS = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")
# VPCs are private networks: RFC 1918 and the shared space AWS also accepts for VPCs.
PRIVATE_VPC_RANGES = tuple(
    ipaddress.IPv4Network(r)
    for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)
# MSK broker sizes (large or bigger: multi-VPC connectivity), per family.
BROKER_SIZES = {
    "m5": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"),
    "m7g": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge"),
}
BROKER_TYPES = tuple(
    f"kafka.{family}.{size}" for family, sizes in BROKER_SIZES.items() for size in sizes
)
# Characters AWS allows in tag keys and values.
TAG_TEXT = re.compile(r"^[\w\s.:/=+\-@]*$")
API_GATEWAY_MAX_CONNECTION_SECONDS = 7200

# Account id and region are appended to global names (S3 buckets) at deploy time; the longest
# possible suffix is used to check the length here.
ACCOUNT_REGION_SUFFIX_EXAMPLE = "-123456789012-ap-southeast-2"


class ConfigError(ValueError):
    """A configuration value is invalid. The message names the field and what is allowed."""

    def __init__(self, field_path: str, value: object, allowed: str) -> None:
        super().__init__(f"invalid configuration: {field_path} = {value!r}: {allowed}")
        self.field_path = field_path
        self.value = value


def _one_of(field_path: str, value: object, allowed: Iterable[object]) -> None:
    options = tuple(allowed)
    if value not in options:
        raise ConfigError(field_path, value, "allowed values: " + ", ".join(map(str, options)))


def _int_range(field_path: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(field_path, value, f"must be an integer from {low} to {high}")


def schedule_problem(expression: str) -> str | None:
    """Why EventBridge would refuse a schedule expression (None when it accepts it)."""
    rate, cron = RATE.match(expression), CRON.match(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            return "a rate must be at least 1, e.g. rate(1 minute)"
        if (value == 1) != (not unit.endswith("s")):
            wanted = unit.rstrip("s") if value == 1 else unit + ("" if unit.endswith("s") else "s")
            return f"EventBridge wants rate({value} {wanted}): singular for 1, plural otherwise"
        return None
    if cron:
        fields = cron.group(1).split()
        if len(fields) != len(CRON_FIELDS) or not all(re.fullmatch(_CRON_FIELD, f) for f in fields):
            return "cron needs six fields: " + " ".join(CRON_FIELDS) + ", e.g. cron(0/5 * * * ? *)"
        if (fields[2] == "?") == (fields[4] == "?"):
            return "cron: exactly one of day-of-month and day-of-week must be '?'"
        return None
    return "must be an EventBridge expression: rate(5 minutes) or cron(0/5 * * * ? *)"


def check_bucket_name(field_path: str, name: str) -> None:
    """Reject names that S3 would reject (general purpose bucket naming rules)."""
    problems = []
    if not 3 <= len(name) <= 63:
        problems.append(f"{len(name)} characters long; S3 allows 3 to 63")
    elif not BUCKET_NAME.match(name):
        problems.append(
            "3-63 characters of lowercase letters, digits, dots and hyphens, "
            "starting and ending with a letter or digit"
        )
    if ".." in name or ".-" in name or "-." in name:
        problems.append("no adjacent dots or dot next to hyphen")
    if re.match(r"^\d+\.\d+\.\d+\.\d+$", name):
        problems.append("must not look like an IP address")
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or name.endswith(
        ("-s3alias", "--ol-s3", "--x-s3", ".mrap")
    ):
        problems.append("must not use a prefix or suffix reserved by S3")
    if problems:
        raise ConfigError(field_path, name, "not a valid S3 bucket name: " + "; ".join(problems))


@dataclass(frozen=True)
class NetworkSettings:
    vpc_cidr: str = "10.40.0.0/16"
    az_count: int = 3
    # "single": one NAT gateway shared by all AZs (cheap, dev). "per_az": one per AZ (prod).
    nat_gateways: Literal["single", "per_az"] = "single"
    # VPC flow logs (every accepted and rejected flow) kept this many days in CloudWatch Logs.
    flow_log_retention_days: int = 14

    def __post_init__(self) -> None:
        try:
            network = ipaddress.IPv4Network(self.vpc_cidr, strict=True)
        except ValueError as error:
            raise ConfigError(
                "network.vpc_cidr", self.vpc_cidr, f"not an IPv4 CIDR ({error})"
            ) from None
        if not any(network.subnet_of(r) for r in PRIVATE_VPC_RANGES):
            raise ConfigError(
                "network.vpc_cidr",
                self.vpc_cidr,
                "must be a private range: within " + ", ".join(map(str, PRIVATE_VPC_RANGES)),
            )
        if not 16 <= network.prefixlen <= 20:
            raise ConfigError(
                "network.vpc_cidr",
                self.vpc_cidr,
                "prefix length must be /16 to /20 (room for 2 x az_count /24s)",
            )
        _one_of("network.az_count", self.az_count, (3,))
        _one_of("network.nat_gateways", self.nat_gateways, ("single", "per_az"))
        _one_of("network.flow_log_retention_days", self.flow_log_retention_days, LOG_RETENTION_DAYS)


@dataclass(frozen=True)
class MskSettings:
    kafka_version: str = "3.8.x"
    broker_instance_type: str = "kafka.m5.large"
    broker_count: int = 3
    ebs_volume_gib: int = 100
    log_retention_days: int = 7
    topic_partitions: int = 6
    replication_factor: int = 3
    min_insync_replicas: int = 2

    def __post_init__(self) -> None:
        _one_of("msk.kafka_version", self.kafka_version, SUPPORTED_KAFKA_VERSIONS)
        # t3.small cannot use multi-VPC private connectivity, which Firehose's MSK source needs.
        _one_of("msk.broker_instance_type", self.broker_instance_type, BROKER_TYPES)
        _int_range("msk.broker_count", self.broker_count, 2, 30)
        _int_range("msk.ebs_volume_gib", self.ebs_volume_gib, 1, 16384)
        _one_of("msk.log_retention_days", self.log_retention_days, LOG_RETENTION_DAYS)
        _int_range("msk.topic_partitions", self.topic_partitions, 1, 1000)
        _int_range("msk.replication_factor", self.replication_factor, 1, 3)
        highest = max(1, self.replication_factor - 1)
        if not 1 <= self.min_insync_replicas <= highest:
            raise ConfigError(
                "msk.min_insync_replicas",
                self.min_insync_replicas,
                f"must be from 1 to {highest}: below msk.replication_factor "
                f"({self.replication_factor}) so writes survive one broker down",
            )
        if self.replication_factor > self.broker_count:
            raise ConfigError(
                "msk.replication_factor",
                self.replication_factor,
                f"cannot exceed msk.broker_count ({self.broker_count})",
            )


@dataclass(frozen=True)
class LambdaSettings:
    runtime: str = "python3.13"
    architecture: str = "arm64"
    generator_memory_mb: int = 256
    producer_memory_mb: int = 512
    consumer_memory_mb: int = 512
    websocket_memory_mb: int = 256
    timeout_seconds: int = 300
    # The producer's own deadline: how long an invocation waits for Kafka's acknowledgements
    # before it fails and Lambda retries it. Publishing a batch takes about a second; a
    # broker outage longer than three of these timeouts sends the batch to the failure queue
    # instead of holding it for the generic five minutes.
    producer_timeout_seconds: int = 30
    log_retention_days: int = 14
    generator_batch_size: int = 1000
    generator_schedule: str = "rate(5 minutes)"
    # Async invocations that still fail after Lambda's retries land in the on-failure queue.
    async_retry_attempts: int = 2
    failure_queue_retention_seconds: int = 1_209_600

    def __post_init__(self) -> None:
        _one_of("lambdas.runtime", self.runtime, LAMBDA_RUNTIMES)
        _one_of("lambdas.architecture", self.architecture, LAMBDA_ARCHITECTURES)
        for name in (
            "generator_memory_mb",
            "producer_memory_mb",
            "consumer_memory_mb",
            "websocket_memory_mb",
        ):
            _int_range(f"lambdas.{name}", getattr(self, name), 128, 10240)
        _int_range("lambdas.timeout_seconds", self.timeout_seconds, 1, 900)
        _int_range("lambdas.producer_timeout_seconds", self.producer_timeout_seconds, 10, 900)
        _one_of("lambdas.log_retention_days", self.log_retention_days, LOG_RETENTION_DAYS)
        _int_range("lambdas.generator_batch_size", self.generator_batch_size, 1, 100_000)
        problem = schedule_problem(self.generator_schedule)
        if problem:
            raise ConfigError("lambdas.generator_schedule", self.generator_schedule, problem)
        _int_range("lambdas.async_retry_attempts", self.async_retry_attempts, 0, 2)
        _int_range(
            "lambdas.failure_queue_retention_seconds",
            self.failure_queue_retention_seconds,
            60,
            1_209_600,
        )


@dataclass(frozen=True)
class FirehoseSettings:
    buffer_interval_seconds: int = 60
    buffer_size_mb: int = 5
    log_retention_days: int = 14

    def __post_init__(self) -> None:
        _int_range("firehose.buffer_interval_seconds", self.buffer_interval_seconds, 0, 900)
        _int_range("firehose.buffer_size_mb", self.buffer_size_mb, 1, 128)
        _one_of("firehose.log_retention_days", self.log_retention_days, LOG_RETENTION_DAYS)


@dataclass(frozen=True)
class DataLakeSettings:
    database_name: str = "acme_telemetry"
    table_name: str = "streaming_events"
    infrequent_access_after_days: int = 30
    glacier_after_days: int = 90
    noncurrent_version_expiry_days: int = 30
    abort_incomplete_upload_days: int = 7
    athena_results_expiry_days: int = 30
    # First year partition projection accepts; Athena plans only hours that can exist.
    projection_start_year: int = 2025

    def __post_init__(self) -> None:
        for name in ("database_name", "table_name"):
            value = getattr(self, name)
            if not GLUE_NAME.match(value):
                raise ConfigError(
                    f"data_lake.{name}",
                    value,
                    "Glue/Athena names are lowercase letters, digits and '_'",
                )
        _int_range(
            "data_lake.infrequent_access_after_days", self.infrequent_access_after_days, 30, 3650
        )
        if self.glacier_after_days < self.infrequent_access_after_days + 30:
            raise ConfigError(
                "data_lake.glacier_after_days",
                self.glacier_after_days,
                "S3 needs objects to stay 30 days in STANDARD_IA before GLACIER: "
                f"at least {self.infrequent_access_after_days + 30}",
            )
        _int_range(
            "data_lake.noncurrent_version_expiry_days", self.noncurrent_version_expiry_days, 1, 3650
        )
        _int_range(
            "data_lake.abort_incomplete_upload_days", self.abort_incomplete_upload_days, 1, 365
        )
        _int_range("data_lake.athena_results_expiry_days", self.athena_results_expiry_days, 1, 3650)
        _int_range("data_lake.projection_start_year", self.projection_start_year, 2000, 2100)


@dataclass(frozen=True)
class DashboardSettings:
    stage_name: str = "live"
    connection_ttl_seconds: int = 7200
    consumer_batch_size: int = 100
    starting_position: Literal["LATEST", "TRIM_HORIZON"] = "LATEST"
    consumer_group_id: str = "acme-dashboard"
    # Access logs of both API stages (JSON, one line a request), kept this many days.
    access_log_retention_days: int = 14
    # WebSocket stages log only when the account's API Gateway settings name a CloudWatch
    # role. True: this stack creates that role and sets it (one setting per account and
    # region: say False if your account already manages it).
    manage_api_gateway_logging_role: bool = True
    # Concurrent executions reserved for (and capped at) each public-facing function, so a
    # flood of connections can neither exhaust the account nor starve the rest. None leaves
    # a function unreserved. The consumer's is the topic's partition count (one poller each).
    connect_concurrency: int | None = 20
    disconnect_concurrency: int | None = 20
    default_route_concurrency: int | None = 10
    page_concurrency: int | None = 10
    # Who may open the live feed: "cognito" (a signed-in user of the stack's Cognito user
    # pool; the WebSocket $connect has a Lambda authorizer) or "public" (anyone with the
    # URL, as before the user pool existed). prod refuses "public".
    access: Literal["cognito", "public"] = "cognito"

    def __post_init__(self) -> None:
        _one_of("dashboard.access", self.access, ("cognito", "public"))
        if not re.match(r"^[A-Za-z0-9_-]{1,128}$", self.stage_name):
            raise ConfigError(
                "dashboard.stage_name", self.stage_name, "letters, digits, '-' and '_' only"
            )
        # API Gateway closes every WebSocket connection after two hours: a longer TTL would
        # keep rows of connections that cannot exist.
        _int_range(
            "dashboard.connection_ttl_seconds",
            self.connection_ttl_seconds,
            60,
            API_GATEWAY_MAX_CONNECTION_SECONDS,
        )
        _int_range("dashboard.consumer_batch_size", self.consumer_batch_size, 1, 10_000)
        _one_of(
            "dashboard.access_log_retention_days",
            self.access_log_retention_days,
            LOG_RETENTION_DAYS,
        )
        for name in (
            "connect_concurrency",
            "disconnect_concurrency",
            "default_route_concurrency",
            "page_concurrency",
        ):
            if getattr(self, name) is not None:
                _int_range(f"dashboard.{name}", getattr(self, name), 1, 1000)
        _one_of("dashboard.starting_position", self.starting_position, ("LATEST", "TRIM_HORIZON"))
        if not re.match(r"^[a-zA-Z0-9._-]{1,200}$", self.consumer_group_id):
            raise ConfigError(
                "dashboard.consumer_group_id",
                self.consumer_group_id,
                "Kafka group ids here are letters, digits, '.', '_' and '-'",
            )


@dataclass(frozen=True)
class StateSettings:
    """Where each stack keeps its Terraform state, and where downstream stacks read it."""

    backend: Literal["s3", "local"] = "s3"
    bucket: str = "acme-data-terraform-state"
    region: str = "us-west-2"
    key_prefix: str = "acme-telemetry"
    # Local mode: state files under this directory, relative to the repository root.
    local_dir: str = ".state"

    def __post_init__(self) -> None:
        _one_of("state.backend", self.backend, ("s3", "local"))
        check_bucket_name("state.bucket", self.bucket)
        _one_of("state.region", self.region, SUPPORTED_REGIONS)
        if not re.match(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", self.key_prefix):
            raise ConfigError(
                "state.key_prefix",
                self.key_prefix,
                "path segments of letters, digits, '.', '_' and '-'",
            )
        if self.local_dir.startswith("/") or ".." in self.local_dir.split("/"):
            raise ConfigError(
                "state.local_dir",
                self.local_dir,
                "must be a path inside the repository (relative, no '..'): "
                "synthesized stacks hold no absolute paths",
            )


@dataclass(frozen=True)
class EmulatorSettings:
    """Point the providers and the state backend at a local AWS emulator (moto server).

    Unset (the default) means real AWS. The stacks are the same either way: only the
    provider endpoints and the backend settings change.
    """

    endpoint_url: str | None = None

    def __post_init__(self) -> None:
        if self.endpoint_url is None:
            return
        found = re.match(
            r"^http://(127\.\d+\.\d+\.\d+|localhost|\[::1\]):(\d{1,5})$", self.endpoint_url
        )
        if not found or not 1 <= int(found.group(2)) <= 65535:
            raise ConfigError(
                "emulator.endpoint_url",
                self.endpoint_url,
                "must be a loopback URL with a port from 1 to 65535, such as http://127.0.0.1:4599",
            )


@dataclass(frozen=True)
class AlarmSettings:
    """Alarm thresholds. Every alarm notifies the platform's alarm topic (network stack)."""

    # Minutes an alarm looks at, and how many of them must breach (Lambda, API, queue).
    period_seconds: int = 300
    evaluation_periods: int = 1
    # A function's Errors or Throttles in one period at or above this alarm.
    function_errors: int = 1
    function_throttles: int = 1
    # Records the dashboard consumer is behind on the topic (its mapping's OffsetLag).
    consumer_offset_lag: int = 10_000
    # Firehose: the oldest undelivered record's age, and the share of S3 puts that worked.
    delivery_freshness_seconds: int = 900
    delivery_success_ratio: float = 0.99
    # MSK brokers: data disk used and user CPU, percent.
    broker_disk_used_percent: int = 80
    broker_cpu_percent: int = 80
    # API Gateway 5xx (HTTP API) or integration and execution errors (WebSocket) per period.
    api_errors: int = 5

    def __post_init__(self) -> None:
        _one_of("alarms.period_seconds", self.period_seconds, (60, 300, 900, 3600))
        _int_range("alarms.evaluation_periods", self.evaluation_periods, 1, 24)
        for name in ("function_errors", "function_throttles", "api_errors"):
            _int_range(f"alarms.{name}", getattr(self, name), 1, 100_000)
        _int_range("alarms.consumer_offset_lag", self.consumer_offset_lag, 1, 100_000_000)
        _int_range("alarms.delivery_freshness_seconds", self.delivery_freshness_seconds, 60, 86_400)
        if not 0 < self.delivery_success_ratio <= 1:
            raise ConfigError(
                "alarms.delivery_success_ratio", self.delivery_success_ratio, "above 0, at most 1"
            )
        for name in ("broker_disk_used_percent", "broker_cpu_percent"):
            _int_range(f"alarms.{name}", getattr(self, name), 1, 100)


@dataclass(frozen=True)
class PlatformConfig:
    environment: str
    region: str = "us-west-2"
    prefix: str = "acme-data"
    topic_name: str = "acme-telemetry"
    network: NetworkSettings = field(default_factory=NetworkSettings)
    msk: MskSettings = field(default_factory=MskSettings)
    lambdas: LambdaSettings = field(default_factory=LambdaSettings)
    firehose: FirehoseSettings = field(default_factory=FirehoseSettings)
    data_lake: DataLakeSettings = field(default_factory=DataLakeSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    alarms: AlarmSettings = field(default_factory=AlarmSettings)
    state: StateSettings = field(default_factory=StateSettings)
    emulator: EmulatorSettings = field(default_factory=EmulatorSettings)
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not ENVIRONMENT_NAME.match(self.environment):
            raise ConfigError(
                "environment",
                self.environment,
                "2-10 lowercase letters and digits, starting with a letter",
            )
        _one_of("region", self.region, SUPPORTED_REGIONS)
        if not PREFIX.match(self.prefix):
            raise ConfigError(
                "prefix",
                self.prefix,
                "3-20 lowercase letters, digits and hyphens, starting with a letter",
            )
        if not TOPIC_NAME.match(self.topic_name) or self.topic_name in (".", ".."):
            raise ConfigError(
                "topic_name",
                self.topic_name,
                "Kafka topic names are 1-249 of letters, digits, '.', '_', '-'",
            )
        if self.msk.broker_count % self.network.az_count:
            multiples = ", ".join(str(self.network.az_count * n) for n in (1, 2, 3))
            raise ConfigError(
                "msk.broker_count",
                self.msk.broker_count,
                f"must be a multiple of network.az_count ({self.network.az_count}),"
                f" e.g. {multiples}",
            )
        if self.environment == "prod" and self.dashboard.access != "cognito":
            raise ConfigError(
                "dashboard.access",
                self.dashboard.access,
                "prod allows only cognito: the live feed is not public in production",
            )
        for bucket_role in ("data", "logs", "athena-results"):
            check_bucket_name(
                f"prefix/environment (bucket {bucket_role})",
                self.bucket_name(bucket_role) + ACCOUNT_REGION_SUFFIX_EXAMPLE,
            )
        for key, value in self.tags.items():
            if (
                not 1 <= len(key) <= 128
                or len(value) > 256
                or key.lower().startswith("aws:")
                or not TAG_TEXT.match(key)
                or not TAG_TEXT.match(value)
            ):
                raise ConfigError(
                    f"tags[{key!r}]",
                    value,
                    "tag keys are 1-128 characters, not starting with 'aws:'; values at most "
                    "256; both only letters, digits, spaces and _ . : / = + - @",
                )

    @property
    def name_prefix(self) -> str:
        """Prefix of every resource name, e.g. ``acme-data-dev``."""
        return f"{self.prefix}-{self.environment}"

    def bucket_name(self, role: str) -> str:
        """Static part of a bucket name; the stacks append ``-<account id>-<region>``."""
        return f"{self.name_prefix}-{role}"

    @property
    def default_tags(self) -> dict[str, str]:
        return {
            "Project": "acme-telemetry",
            "Environment": self.environment,
            "ManagedBy": "cdktf",
            **self.tags,
        }
