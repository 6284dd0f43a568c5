"""Builds the configuration from the environment variables a user sets.

| variable              | meaning                                                        |
|-----------------------|----------------------------------------------------------------|
| ACME_ENV              | environment name: dev (default) or prod                        |
| ACME_STATE_BACKEND    | s3 (default) or local                                          |
| ACME_STATE_BUCKET     | S3 bucket holding every stack's state                          |
| ACME_STATE_REGION     | region of that bucket (default: the platform region)           |
| ACME_AWS_ENDPOINT_URL | loopback URL of a local AWS emulator; unset for real AWS       |
| ACME_DASHBOARD_ACCESS | cognito (default) or public (refused in prod)                  |
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from .environments import ENVIRONMENTS
from .model import ConfigError, EmulatorSettings, PlatformConfig, StateSettings


def load_config(environ: Mapping[str, str]) -> PlatformConfig:
    name = environ.get("ACME_ENV", "dev")
    if name not in ENVIRONMENTS:
        raise ConfigError("ACME_ENV", name, "allowed values: " + ", ".join(ENVIRONMENTS))
    config = ENVIRONMENTS[name]()
    state = config.state
    state_changes = {
        "backend": environ.get("ACME_STATE_BACKEND", state.backend),
        "bucket": environ.get("ACME_STATE_BUCKET", state.bucket),
        "region": environ.get("ACME_STATE_REGION", config.region),
    }
    endpoint = environ.get("ACME_AWS_ENDPOINT_URL") or None
    access = environ.get("ACME_DASHBOARD_ACCESS") or config.dashboard.access
    return dataclasses.replace(
        config,
        dashboard=dataclasses.replace(config.dashboard, access=access),  # type: ignore[arg-type]
        state=StateSettings(**{**dataclasses.asdict(state), **state_changes}),
        emulator=EmulatorSettings(endpoint_url=endpoint),
    )
