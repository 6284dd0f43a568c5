"""The example consumer is valid Terraform against the real provider schema."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(
    shutil.which("terraform") is None, reason="terraform is not installed"
)


def test_remote_state_consumer_example_validates(tmp_path: Path) -> None:
    example = tmp_path / "consumer"
    shutil.copytree(ROOT / "examples" / "remote-state-consumer", example)
    plugin_dir = os.environ.get("TF_PLUGIN_DIR")
    init = ["terraform", "init", "-backend=false", "-input=false", "-no-color"]
    if plugin_dir:
        init.append(f"-plugin-dir={plugin_dir}")
    environ = {**os.environ, "CHECKPOINT_DISABLE": "1"}
    subprocess.run(init, cwd=example, env=environ, check=True, capture_output=True)
    result = subprocess.run(
        ["terraform", "validate", "-no-color"],
        cwd=example,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
