"""Terraform run in a test: a copy of a stack, a one-file handler zip, the provider's debug log.

The stack is copied to ``<tmp>/tf``; ``terraform`` runs there without the user's CLI config
(an empty one), with the provider's debug log in ``<tmp>/terraform-debug.log`` and each
step's seconds kept in ``timings``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

TERRAFORM = shutil.which("terraform")


class TerraformDir:
    def __init__(self, tmp_path: Path, source: Path, *, handler_source: str, zip_name: str):
        self.workdir = tmp_path / "tf"
        shutil.copytree(source, self.workdir)
        self.lambda_zip = tmp_path / zip_name
        with zipfile.ZipFile(self.lambda_zip, "w", zipfile.ZIP_DEFLATED) as archive:
            info = zipfile.ZipInfo("handler.py", date_time=(2026, 1, 1, 0, 0, 0))
            archive.writestr(info, handler_source)
        cli_config = tmp_path / "terraformrc"
        cli_config.write_text("")
        self.log = tmp_path / "terraform-debug.log"
        self.env = {
            **os.environ,
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "TF_LOG_PROVIDER": "DEBUG",
            "TF_LOG_PATH": str(self.log),
        }
        self.timings: dict[str, float] = {}

    def run(self, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        """``terraform <args> -no-color``; its exit code must be one of ``ok``."""
        assert TERRAFORM is not None, "terraform is not installed (not on PATH)"
        started = time.monotonic()
        result = subprocess.run(
            [TERRAFORM, *args, "-no-color"],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        self.timings[args[0]] = round(time.monotonic() - started, 1)
        assert result.returncode in ok, (
            f"terraform {args[0]} exited {result.returncode}\n{result.stdout[-6000:]}"
            f"\n{result.stderr[-6000:]}"
        )
        return result
