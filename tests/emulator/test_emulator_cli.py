"""`python -m emulator start|status|stop` and the moto version guard."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from emulator import _compat, control

pytestmark = pytest.mark.integration  # they start a moto server

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_start_status_stop(tmp_path: Path, check_stopped: Callable[[int, Path], None]) -> None:
    pid_file = tmp_path / "run" / "emulator.pid"
    log_file = tmp_path / "run" / "emulator.log"
    port = control.free_port()
    try:
        started = cli(
            "start", "--port", str(port), "--pid-file", str(pid_file), "--log-file", str(log_file)
        )
        assert started.returncode == 0, started.stderr
        endpoint = started.stdout.strip()
        assert endpoint == f"http://127.0.0.1:{port}"
        pid = int(pid_file.read_text())

        # Started with the Lambda no-Docker config already applied.
        with urllib.request.urlopen(f"{endpoint}/moto-api/config", timeout=5) as resp:
            assert json.loads(resp.read())["lambda"] == {"use_docker": False}

        assert cli("status", "--pid-file", str(pid_file)).returncode == 0
        again = cli("start", "--port", str(port), "--pid-file", str(pid_file))
        assert again.returncode == 0 and again.stdout.strip() == endpoint
        assert int(pid_file.read_text()) == pid  # the same server, not a second one
    finally:
        stopped = cli("stop", "--pid-file", str(pid_file))
    assert stopped.returncode == 0
    check_stopped(pid, pid_file)
    assert "Running on" in log_file.read_text()

    assert cli("stop", "--pid-file", str(pid_file)).returncode == 0  # not running: no error
    assert cli("status", "--pid-file", str(pid_file)).returncode == 3


def test_start_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("start", "--port", str(port), "--pid-file", str(tmp_path / "e.pid"))
    assert result.returncode == 1
    assert "already in use" in result.stderr
    assert not (tmp_path / "e.pid").exists()


def test_stale_pid_file_is_cleaned_up(tmp_path: Path) -> None:
    pid_file = tmp_path / "e.pid"
    pid_file.write_text("999999\n")  # no such process
    assert cli("stop", "--pid-file", str(pid_file)).returncode == 0
    assert not pid_file.exists()


def test_version_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _compat.installed_moto_version() == _compat.WRITTEN_FOR_MOTO
    _compat.check_moto_version("emulator.kafka")  # the installed one: fine

    monkeypatch.setattr(_compat, "installed_moto_version", lambda: "9.9.9")
    monkeypatch.delenv(_compat.ALLOW_MISMATCH_ENV, raising=False)
    with pytest.raises(_compat.MotoVersionMismatch, match=r"moto 5\.2\.5.*moto 9\.9\.9"):
        _compat.check_moto_version("emulator.kafka")
    monkeypatch.setenv(_compat.ALLOW_MISMATCH_ENV, "1")
    with pytest.warns(RuntimeWarning, match="9.9.9"):
        _compat.check_moto_version("emulator.kafka")
