"""The environments, as data. Add one here; never copy stack code per environment."""

from __future__ import annotations

from .contract import load_contract
from .model import (
    AlarmSettings,
    DashboardSettings,
    LambdaSettings,
    MskSettings,
    NetworkSettings,
    PlatformConfig,
)


def _dev() -> PlatformConfig:
    return PlatformConfig(
        environment="dev",
        topic_name=load_contract().topic,
        network=NetworkSettings(vpc_cidr="10.40.0.0/16", nat_gateways="single"),
    )


def _prod() -> PlatformConfig:
    return PlatformConfig(
        environment="prod",
        topic_name=load_contract().topic,
        # One NAT gateway per AZ: losing an AZ does not cut the others off.
        network=NetworkSettings(
            vpc_cidr="10.41.0.0/16", nat_gateways="per_az", flow_log_retention_days=90
        ),
        msk=MskSettings(log_retention_days=30, topic_partitions=12),
        lambdas=LambdaSettings(log_retention_days=30),
        dashboard=DashboardSettings(connection_ttl_seconds=7200, access_log_retention_days=90),
        # Production pages sooner: a minute's look, two minutes in a row.
        alarms=AlarmSettings(period_seconds=60, evaluation_periods=2, consumer_offset_lag=5_000),
    )


ENVIRONMENTS = {"dev": _dev, "prod": _prod}
