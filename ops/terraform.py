"""A thin runner for the Terraform CLI in one synthesized stack directory."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class TerraformError(RuntimeError):
    """A Terraform command failed; the message carries the stack, command and its output."""


@dataclass(frozen=True)
class Terraform:
    workdir: Path
    env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (self.workdir / "cdk.tf.json").is_file():
            raise TerraformError(
                f"{self.workdir} holds no synthesized stack (cdk.tf.json): run `make synth`"
            )

    @property
    def stack(self) -> str:
        return self.workdir.name

    def run(
        self, args: Sequence[str], *, ok_codes: tuple[int, ...] = (0,), quiet: bool = False
    ) -> subprocess.CompletedProcess[str]:
        environ = {
            **os.environ,
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            **self.env,
        }
        result = subprocess.run(
            ["terraform", *args],
            cwd=self.workdir,
            env=environ,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode not in ok_codes:
            raise TerraformError(
                f"[{self.stack}] terraform {' '.join(args)} exited {result.returncode}\n"
                f"{result.stdout[-4000:]}{result.stderr[-4000:]}"
            )
        if not quiet and result.stdout.strip():
            print(result.stdout.rstrip())
        return result

    def init(self) -> None:
        # Terraform refuses a plugin cache directory that does not exist yet.
        cache = {**os.environ, **self.env}.get("TF_PLUGIN_CACHE_DIR")
        if cache:
            Path(cache).mkdir(parents=True, exist_ok=True)
        self.run(["init", "-input=false", "-no-color", "-reconfigure"], quiet=True)

    def apply(self) -> None:
        self.run(
            ["apply", "-auto-approve", "-input=false", "-no-color", "-compact-warnings"], quiet=True
        )

    def destroy(self) -> None:
        self.run(["destroy", "-auto-approve", "-input=false", "-no-color"], quiet=True)

    def plan(self, plan_file: Path) -> bool:
        """Writes a binary plan; True when it holds changes."""
        result = self.run(
            ["plan", "-input=false", "-no-color", "-detailed-exitcode", f"-out={plan_file}"],
            ok_codes=(0, 2),
            quiet=True,
        )
        return result.returncode == 2

    def show_json(self, plan_file: Path) -> dict[str, Any]:
        result = self.run(["show", "-json", str(plan_file)], quiet=True)
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    def outputs(self) -> dict[str, Any]:
        result = self.run(["output", "-json"], quiet=True)
        raw: dict[str, Any] = json.loads(result.stdout or "{}")
        return {name: item.get("value") for name, item in raw.items()}
