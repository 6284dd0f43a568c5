"""Configuration is validated before anything is built, with messages that name the field."""

from __future__ import annotations

import dataclasses

import pytest

from platform_config import ConfigError, load_config, load_contract
from platform_config.model import (
    DashboardSettings,
    DataLakeSettings,
    LambdaSettings,
    MskSettings,
    NetworkSettings,
    PlatformConfig,
)


def test_defaults_follow_the_seeds_where_they_are_right() -> None:
    config = load_config({})
    assert config.environment == "dev"
    assert config.region == "us-west-2"
    assert config.prefix == "acme-data"
    assert config.topic_name == "acme-telemetry" == load_contract().topic
    assert (config.data_lake.database_name, config.data_lake.table_name) == (
        "acme_telemetry",
        "streaming_events",
    )
    assert (config.firehose.buffer_interval_seconds, config.firehose.buffer_size_mb) == (60, 5)
    lambdas = config.lambdas
    assert (
        lambdas.generator_memory_mb,
        lambdas.producer_memory_mb,
        lambdas.consumer_memory_mb,
    ) == (256, 512, 512)
    assert lambdas.timeout_seconds == 300
    assert lambdas.producer_timeout_seconds == 30
    assert lambdas.runtime == "python3.13"
    assert (config.msk.broker_count, config.msk.ebs_volume_gib) == (3, 100)
    assert config.msk.kafka_version == "3.8.x"


def test_environments_differ_only_as_data() -> None:
    dev, prod = load_config({"ACME_ENV": "dev"}), load_config({"ACME_ENV": "prod"})
    assert dev.network.nat_gateways == "single"
    assert prod.network.nat_gateways == "per_az"
    assert dev.name_prefix == "acme-data-dev" and prod.name_prefix == "acme-data-prod"


def test_every_configuration_and_props_dataclass_is_frozen() -> None:
    """Configuration, stack props and construct props are values: a new one that is not
    frozen (and so could change after validation) fails here."""
    import importlib
    import pkgutil

    import modules
    import platform_config
    import stacks

    found = []
    for package in (platform_config, stacks, modules):
        for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if (
                    dataclasses.is_dataclass(value)
                    and isinstance(value, type)
                    and value.__module__ == module.__name__
                ):
                    found.append(value)
    names = {cls.__name__ for cls in found}
    assert {"PlatformConfig", "MskStackProps", "WebSocketRouteProps"} <= names
    assert [cls.__name__ for cls in found if not cls.__dataclass_params__.frozen] == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("build", "field", "hint"),
    [
        (lambda: load_config({"ACME_ENV": "staging"}), "ACME_ENV", "dev, prod"),
        (
            lambda: PlatformConfig(environment="dev", msk=MskSettings(broker_count=4)),
            "msk.broker_count",
            "multiple of network.az_count (3), e.g. 3, 6, 9",
        ),
        (lambda: MskSettings(kafka_version="3.5.1"), "msk.kafka_version", "3.8.x"),
        (lambda: PlatformConfig(environment="dev", region="us-gov-west-9"), "region", "us-west-2"),
        (lambda: NetworkSettings(vpc_cidr="10.0.0.300/16"), "network.vpc_cidr", "not an IPv4 CIDR"),
        (lambda: NetworkSettings(vpc_cidr="10.0.0.0/28"), "network.vpc_cidr", "/16 to /20"),
        (
            lambda: load_config({"ACME_STATE_BUCKET": "My_State_Bucket"}),
            "state.bucket",
            "not a valid S3 bucket name",
        ),
        (lambda: load_config({"ACME_STATE_BUCKET": "192.168.1.1"}), "state.bucket", "IP address"),
        (
            lambda: PlatformConfig(environment="dev", prefix="acme-data-with-a-very-long-name"),
            "prefix",
            "3-20",
        ),
        (lambda: load_config({"ACME_STATE_BACKEND": "consul"}), "state.backend", "s3, local"),
        (lambda: LambdaSettings(runtime="nodejs18.x"), "lambdas.runtime", "python3.13"),
        (lambda: LambdaSettings(log_retention_days=10), "lambdas.log_retention_days", "14"),
        (
            lambda: DataLakeSettings(glacier_after_days=45),
            "data_lake.glacier_after_days",
            "at least 60",
        ),
        (lambda: MskSettings(min_insync_replicas=3), "msk.min_insync_replicas", "1 to 2"),
        (lambda: DashboardSettings(access="open"), "dashboard.access", "cognito, public"),  # type: ignore[arg-type]
        (
            lambda: PlatformConfig(
                environment="prod", dashboard=DashboardSettings(access="public")
            ),
            "dashboard.access",
            "prod allows only cognito",
        ),
        (
            lambda: load_config({"ACME_AWS_ENDPOINT_URL": "http://10.0.0.5:4566"}),
            "emulator.endpoint_url",
            "loopback",
        ),
    ],
)
def test_bad_configuration_names_the_field_and_what_is_allowed(build, field, hint) -> None:
    with pytest.raises(ConfigError) as raised:
        build()
    message = str(raised.value)
    assert f"{field} = " in message
    assert hint in message


def test_bucket_names_with_account_and_region_stay_valid() -> None:
    # 20-character prefix + the longest environment + role + account + region must fit S3.
    with pytest.raises(ConfigError, match=r"bucket data.*S3 allows 3 to 63"):
        PlatformConfig(environment="staging123", prefix="a" * 20)


# The eight invalid inputs a review found passing validation, each refused with its reason.
@pytest.mark.parametrize(
    ("build", "field", "hint"),
    [
        (
            lambda: LambdaSettings(generator_schedule="rate(0 minutes)"),
            "generator_schedule",
            "at least 1",
        ),
        (
            lambda: LambdaSettings(generator_schedule="rate(1 minutes)"),
            "generator_schedule",
            "rate(1 minute)",
        ),
        (
            lambda: LambdaSettings(generator_schedule="cron(garbage)"),
            "generator_schedule",
            "six fields",
        ),
        (
            lambda: load_config({"ACME_AWS_ENDPOINT_URL": "http://127.0.0.1:99999"}),
            "emulator.endpoint_url",
            "port from 1 to 65535",
        ),
        (
            lambda: MskSettings(broker_instance_type="kafka.m7g.24xlarge"),
            "msk.broker_instance_type",
            "kafka.m7g.16xlarge",
        ),
        (lambda: NetworkSettings(vpc_cidr="8.8.0.0/16"), "network.vpc_cidr", "private range"),
        (
            lambda: PlatformConfig(environment="dev", tags={"bad*key<>": "x"}),
            "tags['bad*key<>']",
            "letters, digits, spaces",
        ),
        (
            lambda: DashboardSettings(connection_ttl_seconds=7201),
            "dashboard.connection_ttl_seconds",
            "60 to 7200",
        ),
    ],
)
def test_inputs_aws_would_refuse_are_refused_at_synth(build, field, hint) -> None:
    with pytest.raises(ConfigError) as caught:
        build()
    assert caught.value.field_path.endswith(field)
    assert hint in str(caught.value)


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(2 hours)",
        "cron(0/5 * * * ? *)",
        "cron(0 8 ? * MON-FRI *)",
    ],
)
def test_valid_schedules_pass(expression: str) -> None:
    assert LambdaSettings(generator_schedule=expression).generator_schedule == expression


def test_dashboard_access_is_cognito_by_default_and_public_only_outside_prod() -> None:
    assert load_config({"ACME_ENV": "dev"}).dashboard.access == "cognito"
    assert load_config({"ACME_ENV": "prod"}).dashboard.access == "cognito"
    dev = PlatformConfig(environment="dev", dashboard=DashboardSettings(access="public"))
    assert dev.dashboard.access == "public"


def test_dashboard_access_can_be_chosen_by_environment_but_prod_stays_cognito() -> None:
    assert load_config({"ACME_DASHBOARD_ACCESS": "public"}).dashboard.access == "public"
    with pytest.raises(ConfigError, match=r"dashboard\.access = 'public'"):
        load_config({"ACME_ENV": "prod", "ACME_DASHBOARD_ACCESS": "public"})
    with pytest.raises(ConfigError, match=r"dashboard\.access = 'open'"):
        load_config({"ACME_DASHBOARD_ACCESS": "open"})
