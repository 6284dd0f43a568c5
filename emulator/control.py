"""Start and stop the extended moto server as a background process.

Used by ``python -m emulator start|stop|status`` (and so by the Makefile) and by tests.
Importing this module does not import moto.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4599
SERVER_MODULE = "emulator.server"
_PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Servers this process started, kept so they can be reaped (no zombies, no ResourceWarning).
_children: dict[int, subprocess.Popen[bytes]] = {}


class EmulatorError(RuntimeError):
    """The emulator could not be started or stopped."""


@dataclass(frozen=True)
class Emulator:
    """A running extended moto server."""

    pid: int
    host: str
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"


def endpoint_for(host: str, port: int) -> str:
    return f"http://{host}:{port}"


def is_healthy(endpoint: str, timeout: float = 1.0) -> bool:
    """True when an extended server answers there (its Lambda runs without Docker)."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/config", timeout=timeout) as resp:
            config = json.loads(resp.read().decode("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and config.get("lambda", {}).get("use_docker") is False


def _control(endpoint: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A call to the data plane's controls (``/moto-api/acme/...``)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{endpoint}/moto-api/acme/{path}",
        data=data,
        headers={"Content-Type": "application/json"},
        method="POST" if data is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = json.loads(error.read() or b"{}").get("error", error.reason)
        raise EmulatorError(f"{path}: {detail}") from None
    except OSError as error:
        raise EmulatorError(f"no emulator answers on {endpoint}: {error}") from None
    return answer


def dataplane_status(endpoint: str) -> dict[str, Any]:
    """What the data plane runs: brokers, function environments, schedules, mappings."""
    return _control(endpoint, "status")


def fire_rule(endpoint: str, rule: str) -> dict[str, Any]:
    """Fire a scheduled rule now; answers the rule's ARN and the targets invoked."""
    return _control(endpoint, "fire-rule", {"rule": rule})


def inject_fault(endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    """Break one part of the data plane on purpose (see emulator/dataplane/faults.py)."""
    return _control(endpoint, "faults", body)


def port_in_use(host: str, port: int) -> bool:
    """True when something listens on host:port (connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port nothing listens on right now (for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def threaded_moto_server(host: str = DEFAULT_HOST) -> Iterator[str]:
    """moto's server in this process, on a free port: its endpoint while the block runs.

    For tests and benchmarks that read what an in-process sink wrote; ``start`` runs the
    whole emulator in a process of its own.
    """
    from moto.server import ThreadedMotoServer

    port = free_port(host)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    try:
        yield endpoint_for(host, port)
    finally:
        server.stop()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not running.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def _is_emulator_process(pid: int) -> bool:
    """Guard against a recycled pid: the process must be ``python -m emulator.server``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _pid_alive(pid)  # no /proc: trust the pid file
    return SERVER_MODULE.encode() in cmdline


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def running_pid(pid_file: Path) -> int | None:
    pid = read_pid(pid_file)
    if pid is not None and _pid_alive(pid) and _is_emulator_process(pid):
        return pid
    return None


def _log_tail(log_file: Path | None, lines: int = 30) -> str:
    if log_file is None:
        return ""
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def start(
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    pid_file: Path,
    log_file: Path | None = None,
    workdir: Path | None = None,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
) -> Emulator:
    """Start the server in the background, wait until it is healthy, return it.

    ``workdir`` holds the data plane's files (default: ``dataplane/`` beside the pid file).

    Does nothing but report the running server when ``pid_file`` names a healthy one on the
    same port. Fails if another process holds the port.
    """
    pid = running_pid(pid_file)
    if pid is not None:
        if is_healthy(endpoint_for(host, port)):
            return Emulator(pid, host, port)
        raise EmulatorError(
            f"{pid_file} names running process {pid}, but no emulator answers on "
            f"{endpoint_for(host, port)}; stop it first"
        )
    if port_in_use(host, port):
        raise EmulatorError(f"{host}:{port} is already in use by another process")

    pid_file.parent.mkdir(parents=True, exist_ok=True)
    log_target: int | IO[bytes] = subprocess.DEVNULL
    log_handle: IO[bytes] | None = None
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_handle = log_file.open("ab")
        log_target = log_handle
    child_env = dict(os.environ if env is None else env)
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_PROJECT_ROOT), child_env.get("PYTHONPATH", "")) if p
    )
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                SERVER_MODULE,
                "--host",
                host,
                "--port",
                str(port),
                "--pid-file",
                str(pid_file),
                "--workdir",
                str(workdir or pid_file.parent / "dataplane"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_target,
            stderr=subprocess.STDOUT,
            env=child_env,
            cwd=_PROJECT_ROOT,
            start_new_session=True,  # survives the shell (make) that started it
        )
    finally:
        if log_handle is not None:
            log_handle.close()
    _children[proc.pid] = proc
    pid_file.write_text(f"{proc.pid}\n", encoding="utf-8")

    endpoint = endpoint_for(host, port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _children.pop(proc.pid, None)
            with contextlib.suppress(OSError):
                pid_file.unlink()
            raise EmulatorError(
                f"emulator exited with code {proc.returncode} during startup\n"
                + _log_tail(log_file)
            )
        if is_healthy(endpoint):
            return Emulator(proc.pid, host, port)
        time.sleep(0.2)
    _terminate(proc.pid, grace=5.0)
    with contextlib.suppress(OSError):
        pid_file.unlink()
    raise EmulatorError(
        f"emulator did not become healthy on {endpoint} within {timeout:.0f} s\n"
        + _log_tail(log_file)
    )


def _terminate(pid: int, grace: float) -> None:
    child = _children.pop(pid, None)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if child is not None and child.poll() is not None:
            return
        if child is None and not _pid_alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if child is not None:
        child.wait()


def stop(pid_file: Path, grace: float = 10.0) -> bool:
    """Stop the server named by ``pid_file`` and remove the file.

    Returns True if a server was stopped; False (not an error) if none was running.
    """
    pid = running_pid(pid_file)
    if pid is not None:
        _terminate(pid, grace)
    with contextlib.suppress(FileNotFoundError):
        pid_file.unlink()
    return pid is not None


@contextlib.contextmanager
def running(
    *,
    pid_file: Path,
    log_file: Path | None = None,
    host: str = DEFAULT_HOST,
    port: int | None = None,
) -> Iterator[Emulator]:
    """Context manager: a fresh server on a free (or the given) port, always stopped after."""
    emulator = start(
        host=host,
        port=free_port(host) if port is None else port,
        pid_file=pid_file,
        log_file=log_file,
    )
    try:
        yield emulator
    finally:
        stop(pid_file)
