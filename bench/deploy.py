"""``make deploy-local`` with the virtual environment present, then ``make destroy-local``.

Runs on its own port and folder, so a deploy you have running is not touched. The deploy
includes the synth, every apply and the second plan of every stack.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
from pathlib import Path

from .core import Figure, Target, stopwatch

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_TARGET_SECONDS = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make(target: str, *variables: str, cwd: Path = ROOT) -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", target, *variables],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"make {target} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")


def timed_deploy(cwd: Path) -> float:
    """Seconds of ``make deploy-local`` in ``cwd``; the platform is destroyed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as workdir:
        variables = (f"LOCAL_PORT={free_port()}", f"LOCAL_DIR={workdir}")
        elapsed = stopwatch()
        try:
            make("deploy-local", *variables, cwd=cwd)
            return elapsed()
        finally:
            make("destroy-local", *variables, cwd=cwd)


def run() -> list[Figure]:
    make("venv")  # present before the clock starts: this figure is the warm case
    return [
        Figure(
            "deploy-local (venv present)",
            timed_deploy(ROOT),
            "s",
            Target("max", DEPLOY_TARGET_SECONDS),
            note="make deploy-local: packages (cached), synth, applies, second plans",
        )
    ]
