"""Fixtures for the emulator tests: each starts its own extended moto server and stops it."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # tests/ is not a package: make `import emulator` work
    sys.path.insert(0, str(ROOT))

from emulator import control  # noqa: E402

REGION = "eu-west-1"
HANDLER_SOURCE = "def handler(event, context):\n    return event\n"


def processes_mentioning(text: str) -> list[str]:
    """Lines of `ps` whose command line contains ``text``."""
    out = subprocess.run(
        ["ps", "-eo", "pid=,args="], check=True, capture_output=True, text=True
    ).stdout
    return [line.strip() for line in out.splitlines() if text in line]


def assert_stopped(pid: int, pid_file: Path) -> None:
    """The server is gone: `ps` shows neither its pid nor its pid file; the file is removed."""
    left = processes_mentioning(str(pid_file))
    assert not left, f"emulator processes left running: {left}"
    listed = subprocess.run(
        ["ps", "-o", "stat=,args=", "-p", str(pid)], capture_output=True, text=True
    ).stdout.strip()
    assert not listed or listed.startswith("Z"), f"process {pid} still running: {listed}"
    assert not pid_file.exists()


@pytest.fixture
def check_stopped() -> Callable[[int, Path], None]:
    return assert_stopped


@pytest.fixture(scope="module")
def emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[control.Emulator]:
    """One extended moto server for a test module, stopped (and checked with ps) after it."""
    workdir = tmp_path_factory.mktemp("emulator")
    pid_file = workdir / "emulator.pid"
    with control.running(pid_file=pid_file, log_file=workdir / "emulator.log") as emulator:
        yield emulator
    assert_stopped(emulator.pid, pid_file)


@pytest.fixture(scope="module")
def aws(emulator_server: control.Emulator) -> Callable[[str], Any]:
    """boto3 client factory bound to the module's server."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=emulator_server.endpoint)

    return client


@pytest.fixture(scope="session")
def lambda_zip() -> bytes:
    """A zip holding handler.py for a python3.13 Lambda that returns its event."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("handler.py", HANDLER_SOURCE)
    return buf.getvalue()
