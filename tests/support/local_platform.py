"""The local deployment that the end-to-end tests share: how to make it and read it."""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.paths import REPO_ROOT as ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make(target: str, *variables: str, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", target, *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


@dataclass(frozen=True)
class LocalPlatform:
    port: int
    workdir: Path
    deploy_output: str
    outputs: dict[str, dict[str, Any]]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def make_variables(self) -> tuple[str, ...]:
        return (f"LOCAL_PORT={self.port}", f"LOCAL_DIR={self.workdir}")

    def output(self, stack: str, name: str) -> Any:
        return self.outputs[stack][name]
