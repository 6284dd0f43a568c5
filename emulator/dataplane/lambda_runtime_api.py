"""Lambda's Runtime API (2018-06-01), served to one execution environment.

What awslambdaric 4.2.2 calls (its C client is aws-lambda-cpp 0.2.6; its Python part posts
init errors), and what this server answers:

=========================================================  ==================================
``GET  /2018-06-01/runtime/invocation/next``                 200, the event as body, headers
                                                             ``Lambda-Runtime-Aws-Request-Id``,
                                                             ``-Deadline-Ms`` (epoch ms),
                                                             ``-Invoked-Function-Arn``,
                                                             ``-Trace-Id``, ``-Client-Context``
                                                             (when sent); blocks until an
                                                             invocation comes
``POST /2018-06-01/runtime/invocation/{id}/response``        202 ``{"status":"OK"}``
``POST /2018-06-01/runtime/invocation/{id}/error``           202; the error type is the
                                                             ``Lambda-Runtime-Function-Error-
                                                             Type`` header, the body the
                                                             error JSON
``POST /2018-06-01/runtime/init/error``                      202 (then the runtime exits)
unknown or already answered request id                       400 ``InvalidRequestID`` /
                                                             403 ``InvalidStateTransition``
=========================================================  ==================================

``restore/next`` and ``restore/error`` (SnapStart) are not served: workers are started with
``AWS_LAMBDA_INITIALIZATION_TYPE=on-demand``, so awslambdaric never calls them.

Each environment gets its own server on a free loopback port (``AWS_LAMBDA_RUNTIME_API`` is
a bare ``host:port``, so the path cannot tell environments apart). A *generation* counts the
processes the environment has run: a ``next`` call still waiting when its process was killed
belongs to an old generation and never receives an event meant for the new process.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final, Literal

__all__ = ["Invocation", "RuntimeApi", "RuntimeSignal"]

API_PREFIX: Final = "/2018-06-01/runtime"
ERROR_TYPE_HEADER: Final = "Lambda-Runtime-Function-Error-Type"
_INVOCATION_PATH: Final = re.compile(
    rf"^{re.escape(API_PREFIX)}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$"
)

SignalKind = Literal["ready", "response", "error", "init_error", "exit", "timeout", "closed"]


@dataclass(frozen=True)
class Invocation:
    """One event handed to the runtime."""

    request_id: str
    payload: bytes
    deadline_ms: int
    invoked_function_arn: str
    trace_id: str
    client_context: str | None = None

    def __post_init__(self) -> None:
        if not self.request_id or "/" in self.request_id:
            raise ValueError(f"Invocation.request_id is not a request id: {self.request_id!r}")
        if self.deadline_ms <= 0:
            raise ValueError("Invocation.deadline_ms must be epoch milliseconds")

    def headers(self) -> dict[str, str]:
        headers = {
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(self.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.invoked_function_arn,
            "Lambda-Runtime-Trace-Id": self.trace_id,
            "Content-Type": "application/json",
        }
        if self.client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = self.client_context
        return headers


@dataclass(frozen=True)
class RuntimeSignal:
    """What the runtime (or its process) did, and when (``time.monotonic()``)."""

    kind: SignalKind
    payload: bytes = b""
    error_type: str | None = None
    exit_code: int | None = None
    at: float = field(default_factory=time.monotonic)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: RuntimeApi


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # aws-lambda-cpp keeps its connection open
    # Headers and body go out in two writes: with Nagle's algorithm and the client's delayed
    # ACK, every answer would wait about 40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged: the function's log stream is the record."""

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {"Content-Type": "application/json"}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_error(self, status: int, error_type: str, message: str) -> None:
        body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
        self._send(status, body)

    def do_GET(self) -> None:
        if self.path != f"{API_PREFIX}/invocation/next":
            self._send_error(404, "NotFound", f"no such Runtime API resource: {self.path}")
            return
        invocation = self.server.api._next()
        if invocation is None:  # its process was replaced or the environment closed
            self.close_connection = True
            return
        self._send(200, invocation.payload, invocation.headers())

    def do_POST(self) -> None:
        body = self._body()
        if self.path == f"{API_PREFIX}/init/error":
            error_type = self.headers.get(ERROR_TYPE_HEADER) or "Runtime.Unknown"
            self.server.api._signal(RuntimeSignal("init_error", body, error_type))
            self._send(202, b'{"status":"OK"}')
            return
        match = _INVOCATION_PATH.match(self.path)
        if match is None:
            self._send_error(404, "NotFound", f"no such Runtime API resource: {self.path}")
            return
        if match["kind"] == "response":
            signal = RuntimeSignal("response", body)
        else:
            error_type = self.headers.get(ERROR_TYPE_HEADER) or "Unhandled"
            signal = RuntimeSignal("error", body, error_type)
        status = self.server.api._answer(match["id"], signal)
        if status == 202:
            self._send(202, b'{"status":"OK"}')
        elif status == 403:
            self._send_error(403, "InvalidStateTransition", "State transition is not allowed")
        else:
            self._send_error(400, "InvalidRequestID", "Invalid request ID")


class RuntimeApi:
    """The Runtime API of one execution environment, and the environment's view of it."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._cond = threading.Condition()
        self._generation = 0
        self._closed = False
        self._pending: Invocation | None = None
        self._current: Invocation | None = None
        self._answered: set[str] = set()
        self._signals: list[RuntimeSignal] = []
        self._server = _Server((host, 0), _Handler)
        self._server.api = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"lambda-runtime-api-{self.address}",
            daemon=True,
        )
        self._thread.start()

    @property
    def address(self) -> str:
        """``host:port``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    # --- called by the HTTP handlers -------------------------------------------------------

    def _next(self) -> Invocation | None:
        with self._cond:
            generation = self._generation
            self._signals.append(RuntimeSignal("ready"))
            self._cond.notify_all()
            while self._pending is None and generation == self._generation and not self._closed:
                self._cond.wait()
            if generation != self._generation or self._closed or self._pending is None:
                return None
            invocation, self._pending = self._pending, None
            self._current = invocation
            return invocation

    def _signal(self, signal: RuntimeSignal) -> None:
        with self._cond:
            self._signals.append(signal)
            self._cond.notify_all()

    def _answer(self, request_id: str, signal: RuntimeSignal) -> int:
        with self._cond:
            if self._current is not None and self._current.request_id == request_id:
                self._current = None
                self._answered.add(request_id)
                self._signals.append(signal)
                self._cond.notify_all()
                return 202
            return 403 if request_id in self._answered else 400

    # --- called by the environment ---------------------------------------------------------

    def new_process(self) -> int:
        """Forget the previous process (its waiting ``next`` gets nothing); its generation."""
        with self._cond:
            self._generation += 1
            self._pending = self._current = None
            self._signals.clear()
            self._cond.notify_all()
            return self._generation

    def process_exited(self, generation: int, exit_code: int) -> None:
        with self._cond:
            if generation == self._generation:
                self._signals.append(RuntimeSignal("exit", exit_code=exit_code))
                self._cond.notify_all()

    def wait(self, kinds: frozenset[SignalKind], deadline: float) -> RuntimeSignal:
        """The first signal of ``kinds`` (consumed), or ``timeout`` at ``deadline`` (monotonic)."""
        with self._cond:
            while True:
                for index, signal in enumerate(self._signals):
                    if signal.kind in kinds:
                        del self._signals[: index + 1]
                        return signal
                if self._closed:
                    return RuntimeSignal("closed")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return RuntimeSignal("timeout")
                self._cond.wait(remaining)

    def dispatch(self, invocation: Invocation) -> None:
        """Hand ``invocation`` to the runtime's (current or next) ``next`` call."""
        with self._cond:
            if self._pending is not None or self._current is not None:
                raise RuntimeError("the runtime already has an invocation")
            self._signals = [s for s in self._signals if s.kind == "exit"]
            self._pending = invocation
            self._cond.notify_all()

    def close(self) -> None:
        """Stop serving; waiting calls return. Does not wait for the server thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        threading.Thread(
            target=self._shutdown, name="lambda-runtime-api-close", daemon=True
        ).start()

    def _shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
