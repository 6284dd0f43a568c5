"""Fixtures and settings shared by the data plane tests."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # kafka-python 3.0 loads its protocol schemas with a deprecated importlib API.
    config.addinivalue_line(
        "filterwarnings", "ignore:.*(read_text|open_text) is deprecated:DeprecationWarning"
    )
