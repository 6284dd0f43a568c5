"""``make deploy-local`` in a fresh clone: virtual environment, packages, synth, deploy.

The clone is of the current commit. pip's download cache on this machine is warm, as it
is for anyone who has installed the project before; a machine that never downloaded the
packages pays for the download on top.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from .core import Figure, Target
from .deploy import ROOT, timed_deploy

FRESH_CLONE_TARGET_SECONDS = 360.0


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-clone-") as parent:
        clone = Path(parent) / "platform"
        subprocess.run(
            ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True
        )
        seconds = timed_deploy(clone)
    return [
        Figure(
            "deploy-local (fresh clone)",
            seconds,
            "s",
            Target("max", FRESH_CLONE_TARGET_SECONDS),
            note="git clone, then make deploy-local: venv, packages, synth, applies, plans",
        )
    ]
