"""Typed configuration of the ACME telemetry platform (see model.py)."""

from .contract import TelemetryContract, load_contract
from .load import load_config
from .model import ConfigError, PlatformConfig

__all__ = ["ConfigError", "PlatformConfig", "TelemetryContract", "load_config", "load_contract"]
