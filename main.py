"""Synthesizes the ACME telemetry platform: five stacks, each with its own state.

Configuration comes from the environment (see platform_config/load.py); stacks are wired
only by their declared outputs, read downstream through remote state.
"""

from __future__ import annotations

import os

import modules  # noqa: F401  # first: loads the provider bindings lazily (a 3 s synth, not 20 s)

# isort: split
from cdktf import App

from platform_config import PlatformConfig, load_config, load_contract
from stacks.base import StackContext, order_by_remote_state
from stacks.dashboard import DashboardStack, DashboardStackProps
from stacks.data_gen import DataGenStack, DataGenStackProps
from stacks.data_lake import DataLakeStack, DataLakeStackProps
from stacks.msk import MskStack, MskStackProps
from stacks.network import NetworkStack, NetworkStackProps


def stack_context(config: PlatformConfig) -> StackContext:
    return StackContext(
        environment=config.environment,
        region=config.region,
        name_prefix=config.name_prefix,
        state=config.state,
        emulator=config.emulator,
        default_tags=tuple(sorted(config.default_tags.items())),
    )


def build_app(config: PlatformConfig, app: App) -> App:
    context = stack_context(config)
    # Dev data may be thrown away with its stack; prod buckets refuse to be destroyed full.
    disposable = config.environment != "prod"

    network = NetworkStack(app, NetworkStackProps(context, config.network))
    msk = MskStack(
        app,
        MskStackProps(
            context,
            config.msk,
            config.lambdas,
            config.topic_name,
            force_destroy_buckets=disposable,
            alarms=config.alarms,
        ),
    )
    data_lake = DataLakeStack(
        app, DataLakeStackProps(context, config.data_lake, load_contract(), disposable)
    )
    data_gen = DataGenStack(
        app, DataGenStackProps(context, config.lambdas, config.firehose, config.alarms)
    )
    dashboard = DashboardStack(
        app,
        DashboardStackProps(
            context,
            config.dashboard,
            config.lambdas,
            topic_partitions=config.msk.topic_partitions,
            alarms=config.alarms,
        ),
    )

    order_by_remote_state([network, msk, data_lake, data_gen, dashboard])
    return app


def main() -> None:
    config = load_config(os.environ)
    app = App()
    build_app(config, app)
    app.synth()


if __name__ == "__main__":
    main()
