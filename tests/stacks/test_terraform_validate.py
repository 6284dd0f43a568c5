"""Every synthesized stack passes `terraform validate` against the real provider schema."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import STACK_NAMES, Synthesized

pytestmark = pytest.mark.skipif(
    shutil.which("terraform") is None, reason="terraform is not installed"
)


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_terraform_validate(synth: Synthesized, stack: str) -> None:
    workdir = synth.outdir / "stacks" / stack
    environ = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
    # Offline machines name their provider mirror (make exports it); online ones use the registry.
    plugin_dir = os.environ.get("TF_PLUGIN_DIR")
    mirror = [f"-plugin-dir={plugin_dir}"] if plugin_dir else []
    init = subprocess.run(
        ["terraform", "init", "-backend=false", "-input=false", "-no-color", *mirror],
        cwd=workdir,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert init.returncode == 0, init.stderr + init.stdout
    validate = subprocess.run(
        ["terraform", "validate", "-json"],
        cwd=workdir,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert '"valid": true' in validate.stdout
