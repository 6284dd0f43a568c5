"""Shared fixtures. The expensive one is the synth: it runs once per test session."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import modules  # noqa: F401  # before any cdktf import: lazy provider bindings (fast synth)
from platform_config.model import METRICS_NAMESPACE
from stacks.outputs import ALL_CONTRACTS

ROOT = Path(__file__).resolve().parent.parent
# The stacks, as their output contracts name them (one source for the whole project).
STACK_NAMES = tuple(contract.stack_name for contract in ALL_CONTRACTS)

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CHECKPOINT_DISABLE", "1")
# What the stacks set on every function (read when a handler module is imported): the
# namespace of the handlers' Powertools metrics.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", METRICS_NAMESPACE)


@dataclass(frozen=True)
class Synthesized:
    outdir: Path
    json_text: dict[str, str]

    def stack(self, name: str) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.json_text[name])
        return document

    def resources(self, name: str, resource_type: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = (
            self.stack(name).get("resource", {}).get(resource_type, {})
        )
        return found

    def one(self, name: str, resource_type: str) -> dict[str, Any]:
        found = self.resources(name, resource_type)
        assert len(found) == 1, f"{name}: expected one {resource_type}, found {list(found)}"
        return next(iter(found.values()))


def synthesize(outdir: Path, environ: dict[str, str]) -> Synthesized:
    # Imported here: loading the provider bindings costs seconds, and only synth needs them.
    from cdktf import App

    from main import build_app
    from platform_config import load_config

    app = App(outdir=str(outdir))
    build_app(load_config(environ), app)
    app.synth()
    texts = {
        name: (outdir / "stacks" / name / "cdk.tf.json").read_text(encoding="utf-8")
        for name in STACK_NAMES
    }
    return Synthesized(outdir=outdir, json_text=texts)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The dev environment with the S3 backend, synthesized once for the whole session."""
    return synthesize(tmp_path_factory.mktemp("cdktf.out"), {"ACME_ENV": "dev"})
