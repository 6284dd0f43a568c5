"""One owner for every process the emulator's data plane starts.

Each child (a Kafka broker, a Lambda worker, ...) is started through ``setpriv --pdeathsig
KILL``: the kernel kills it when its parent dies, even when the emulator itself is killed
with SIGKILL, so nothing is orphaned. The parent-death signal fires when the *thread* that
forked the child exits, not the process; so every fork happens on one thread that lives as
long as the supervisor, never on a short-lived request thread.

``stop_all()`` (called when the emulator stops) terminates every child still running.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

SETPRIV = "setpriv"


class SupervisorError(RuntimeError):
    """A child could not be started, or the supervisor is stopped."""


@dataclass(frozen=True)
class SpawnRequest:
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path | None = None
    stdin: int | IO[Any] | None = subprocess.DEVNULL
    stdout: int | IO[Any] | None = subprocess.DEVNULL
    stderr: int | IO[Any] | None = subprocess.STDOUT
    result: Future[subprocess.Popen[bytes]] = field(default_factory=Future, compare=False)


class Supervisor:
    """Starts, tracks and stops the data plane's child processes."""

    def __init__(self) -> None:
        setpriv = shutil.which(SETPRIV)
        if setpriv is None:
            raise SupervisorError(
                "setpriv (util-linux) is required: it ties each child's life to the emulator's"
            )
        self._setpriv = setpriv
        self._requests: queue.Queue[SpawnRequest | None] = queue.Queue()
        self._children: dict[int, tuple[str, subprocess.Popen[bytes]]] = {}
        self._lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(target=self._fork_loop, name="supervisor", daemon=True)
        self._thread.start()

    def _fork_loop(self) -> None:
        while (request := self._requests.get()) is not None:
            if not request.result.set_running_or_notify_cancel():
                continue
            try:
                process = subprocess.Popen(
                    [self._setpriv, "--pdeathsig", "KILL", "--", *request.argv],
                    env=dict(request.env),
                    cwd=request.cwd,
                    stdin=request.stdin,
                    stdout=request.stdout,
                    stderr=request.stderr,
                )
            except OSError as error:
                request.result.set_exception(
                    SupervisorError(f"cannot start {request.name}: {error}")
                )
                continue
            with self._lock:
                self._children[process.pid] = (request.name, process)
            request.result.set_result(process)

    def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path | None = None,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        stdout: int | IO[Any] | None = subprocess.DEVNULL,
        stderr: int | IO[Any] | None = subprocess.STDOUT,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` as a child that dies with the emulator; ``name`` is for messages."""
        if self._stopped:
            raise SupervisorError(f"cannot start {name}: the supervisor is stopped")
        request = SpawnRequest(name, tuple(argv), env, cwd, stdin, stdout, stderr)
        self._requests.put(request)
        return request.result.result()

    def children(self) -> list[tuple[str, subprocess.Popen[bytes]]]:
        """The children still running, with their names."""
        with self._lock:
            self._children = {
                pid: child for pid, child in self._children.items() if child[1].poll() is None
            }
            return list(self._children.values())

    def stop(self, process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; reaps the child."""
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()
        with self._lock:
            self._children.pop(process.pid, None)

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL at once (a Lambda worker past its timeout) and reap it."""
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()
        with self._lock:
            self._children.pop(process.pid, None)

    def stop_all(self, grace: float = 5.0) -> None:
        """Stop every child and refuse new ones. Idempotent."""
        self._stopped = True
        self._requests.put(None)
        children = self.children()
        for _, process in children:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        for _, process in children:
            self.stop(process, grace)


_default: Supervisor | None = None
_default_lock = threading.Lock()


def default_supervisor() -> Supervisor:
    """The emulator process's one supervisor."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Supervisor()
        return _default


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """A clean environment for a child: PATH, HOME and locale from ours, then ``extra``."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, **extra}
