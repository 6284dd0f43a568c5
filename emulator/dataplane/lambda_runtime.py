"""Run a deployed Lambda function's own code, the way Lambda runs it.

Every invocation runs the function's deployed zip with its handler, environment and timeout
in a worker process on this machine: ``python -m awslambdaric <handler>`` (the runtime
interface client of Lambda's own Python images) with the zip extracted as its task root,
talking to a Runtime API that this module serves (:mod:`.lambda_runtime_api`). A worker and
its Runtime API form an *execution environment*; environments are reused between
invocations as Lambda reuses them, one invocation at a time each.

Usage (the integrator creates one runtime per emulator process)::

    runtime = LambdaRuntime(
        supervisor=default_supervisor(),            # starts and kills every worker
        site=load_site(),                           # emulator.dataplane.lambda_site
        endpoint_url="http://127.0.0.1:4599",       # AWS_ENDPOINT_URL inside the workers
        credentials=lambda role_arn: Credentials(...),   # the role's temporary credentials
        log_sink=MotoLogsSink(),                    # or any LogSink
        extra_env={"SSL_CERT_FILE": ca_bundle},     # optional, passed to every worker
    )
    result = runtime.invoke(function_config, payload)   # RequestResponse
    result = runtime.invoke(function_config, payload, invocation_type="DryRun")
    runtime.shutdown()                              # kills every worker

:class:`FunctionConfig` is what moto stores for a function (name, ARN, handler, zip bytes,
environment, timeout, memory, role, region, account, log group). Asynchronous (``Event``)
invocations go through :class:`emulator.dataplane.lambda_async.AsyncInvoker`.

Wiring into moto's ``Invoke`` (a sketch; ``emulator/lambda_invoke.py`` would hold it)::

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        fn = self.get_function(function_name, qualifier)      # moto's LambdaFunction
        config = FunctionConfig(
            function_name=fn.function_name, function_arn=fn.function_arn,
            handler=fn.handler, code=fn.code_bytes, runtime=fn.run_time,
            code_sha256=base64.b64decode(fn.code_sha_256).hex(),  # moto's is base64
            environment=fn.environment_vars, timeout=fn.timeout,
            memory_size=fn.memory_size, region=fn.region, account_id=fn.account_id,
            role_arn=fn.role, log_group=fn.emulator_logging_config["LogGroup"])
        kind = headers.get("x-amz-invocation-type", "RequestResponse")
        try:
            if kind == "Event":
                result = async_invoker.submit(config, body)
            else:
                result = runtime.invoke(config, body, invocation_type=kind,
                                        log_type=headers.get("x-amz-log-type"),
                                        client_context=headers.get("x-amz-client-context"))
        except LambdaServiceError as error:
            raise <moto LambdaClientError>(error.error_type, error.message) with error.status_code
        response_headers["x-amz-executed-version"] = result.executed_version
        if result.function_error: response_headers["x-amz-function-error"] = result.function_error
        if result.log_result: response_headers["x-amz-log-result"] = result.log_result
        return result.status_code, result.payload

What the results look like (as Lambda answers):

* success: 200, the handler's JSON result;
* an exception in the handler: 200, ``FunctionError: Unhandled``, the error JSON awslambdaric
  posted (``errorMessage``, ``errorType``, ``requestId``, ``stackTrace``);
* a failed init (import error, exception at module level): the init error JSON, after
  Lambda's second, "suppressed" init inside the invocation (``INIT_REPORT`` for both);
* past the timeout: the worker is killed with SIGKILL and the result is
  ``{"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: <id> Error: Task timed out
  after 3.00 seconds"}``, ``REPORT ... Status: timeout``;
* the process exiting mid-invocation: ``{"errorType": "Runtime.ExitError", "errorMessage":
  "RequestId: <id> Error: Runtime exited with error: exit status 3"}`` (``signal: killed``,
  ...), ``REPORT ... Status: error\\tError Type: Runtime.ExitError``.

After a timeout or a crash the environment is *reset* as Lambda resets it: same log stream
and ``/tmp``, a new process whose init counts in the next invocation's duration.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import json
import math
import os
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

from .credentials import Credentials
from .host_builds import HostBuildError, host_shim
from .lambda_logs import (
    LogEvent,
    LogSink,
    LogStreamRef,
    end_line,
    init_report_line,
    init_start_line,
    report_line,
    start_line,
)
from .lambda_runtime_api import Invocation, RuntimeApi, RuntimeSignal
from .lambda_site import RuntimeSite
from .supervisor import Supervisor

__all__ = [
    "ASYNC_REQUEST_LIMIT",
    "SYNC_REQUEST_LIMIT",
    "SYNC_RESPONSE_LIMIT",
    "Credentials",
    "EnvironmentInfo",
    "FunctionConfig",
    "InvokeResult",
    "LambdaRuntime",
    "LambdaServiceError",
    "validate_payload",
]

# Invoke quotas: 6 MB for a synchronous request and response, 1 MB for an asynchronous
# request (raised from 256 KB in 2025). The response limit is the number Lambda's own error
# message states.
SYNC_REQUEST_LIMIT: Final = 6 * 1024 * 1024
SYNC_RESPONSE_LIMIT: Final = 6_291_556
ASYNC_REQUEST_LIMIT: Final = 1024 * 1024
INIT_PHASE_LIMIT_S: Final = 10.0  # Lambda's Init phase limit (on-demand functions)
LOG_TAIL_BYTES: Final = 4096  # LogType=Tail returns the last 4 KB
_RUNTIME_EXIT_GRACE_S: Final = 2.0  # awslambdaric exits right after posting an init error
_MARKER_WAIT_S: Final = 5.0

_FUNCTION_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HANDLER: Final = re.compile(r"^[^\s]{1,128}$")
_PYTHON_RUNTIME: Final = re.compile(r"^python3\.\d{1,2}$")
_ACCOUNT: Final = re.compile(r"^\d{12}$")
_SHA256_HEX: Final = re.compile(r"^[0-9a-f]{64}$")
# How Go's os/exec (Lambda's init process) names the signals a worker may die of.
_SIGNAL_NAMES: Final = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGTERM: "terminated",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
    signal.SIGINT: "interrupt",
}


class LambdaServiceError(Exception):
    """An Invoke that Lambda itself refuses (not a function error): HTTP status and type."""

    def __init__(
        self, status_code: int, error_type: str, message: str, reason: str | None = None
    ) -> None:
        super().__init__(f"{error_type}: {message}")
        self.status_code = status_code
        self.error_type = error_type
        self.message = message
        self.reason = reason


def _fail(name: str, message: str) -> ValueError:
    return ValueError(f"FunctionConfig.{name} {message}")


@dataclass(frozen=True)
class FunctionConfig:
    """What an invocation runs: a function's code and configuration as deployed.

    ``code`` is the zip's bytes or a path to it. ``code_sha256`` (hex) may be given when
    known; otherwise it is computed. ``log_group`` defaults to ``/aws/lambda/<name>``.
    """

    function_name: str
    function_arn: str
    handler: str
    code: bytes | Path
    role_arn: str
    region: str
    account_id: str
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout: int = 3
    memory_size: int = 128
    runtime: str = "python3.13"
    log_group: str = ""
    version: str = "$LATEST"
    code_sha256: str = ""

    def __post_init__(self) -> None:
        if not _FUNCTION_NAME.match(self.function_name):
            raise _fail("function_name", f"is not a function name: {self.function_name!r}")
        if not self.function_arn.startswith("arn:") or ":function:" not in self.function_arn:
            raise _fail("function_arn", f"is not a Lambda function ARN: {self.function_arn!r}")
        if not _HANDLER.match(self.handler) or "." not in self.handler:
            raise _fail("handler", f"must look like module.function, got {self.handler!r}")
        if not isinstance(self.code, (bytes, Path)) or not self.code:
            raise _fail("code", "must be the zip's bytes or a Path to it")
        if not self.role_arn.startswith("arn:"):
            raise _fail("role_arn", f"is not an ARN: {self.role_arn!r}")
        if not self.region:
            raise _fail("region", "is required")
        if not _ACCOUNT.match(self.account_id):
            raise _fail("account_id", f"must be 12 digits, got {self.account_id!r}")
        if not isinstance(self.timeout, int) or not 1 <= self.timeout <= 900:
            raise _fail("timeout", f"must be 1..900 seconds, got {self.timeout!r}")
        if not isinstance(self.memory_size, int) or not 128 <= self.memory_size <= 10240:
            raise _fail("memory_size", f"must be 128..10240 MB, got {self.memory_size!r}")
        if not _PYTHON_RUNTIME.match(self.runtime):
            raise _fail("runtime", f"must be a python3.x runtime, got {self.runtime!r}")
        environment = dict(self.environment)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in environment.items()):
            raise _fail("environment", "must map strings to strings")
        object.__setattr__(self, "environment", MappingProxyType(environment))
        if not self.log_group:
            object.__setattr__(self, "log_group", f"/aws/lambda/{self.function_name}")
        if self.code_sha256:
            if not _SHA256_HEX.match(self.code_sha256):
                raise _fail("code_sha256", "must be a hex SHA-256 digest")
        else:
            data = self.code if isinstance(self.code, bytes) else self.code.read_bytes()
            object.__setattr__(self, "code_sha256", hashlib.sha256(data).hexdigest())

    @property
    def fingerprint(self) -> str:
        """Changes with anything that changes what a worker runs: never reuse across it."""
        described = {
            "function_name": self.function_name,
            "function_arn": self.function_arn,
            "handler": self.handler,
            "code_sha256": self.code_sha256,
            "role_arn": self.role_arn,
            "region": self.region,
            "account_id": self.account_id,
            "environment": sorted(self.environment.items()),
            "timeout": self.timeout,
            "memory_size": self.memory_size,
            "runtime": self.runtime,
            "log_group": self.log_group,
            "version": self.version,
        }
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()

    def code_bytes(self) -> bytes:
        return self.code if isinstance(self.code, bytes) else self.code.read_bytes()


@dataclass(frozen=True)
class InvokeResult:
    """What Invoke answers: status, payload, and the X-Amz-* response headers' values."""

    status_code: int
    payload: bytes
    request_id: str
    function_error: str | None = None
    executed_version: str = "$LATEST"
    log_result: str | None = None


@dataclass(frozen=True)
class EnvironmentInfo:
    """One execution environment, as :meth:`LambdaRuntime.environments` reports it."""

    function_arn: str
    environment_id: str
    log_stream: str
    pid: int | None
    busy: bool
    invocations: int


def validate_payload(payload: bytes, limit: int) -> bytes:
    """The event as the function receives it, or the error Lambda answers Invoke with."""
    if len(payload) > limit:
        raise LambdaServiceError(
            413,
            "RequestEntityTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
        )
    if not payload:
        return b"{}"  # an Invoke without a payload delivers an empty object
    try:
        json.loads(payload)
    except ValueError as error:
        raise LambdaServiceError(
            400,
            "InvalidRequestContentException",
            f"Could not parse request body into json: Could not parse payload into json: {error}",
        ) from error
    return payload


def _client_context(encoded: str | None) -> str | None:
    if encoded is None:
        return None
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-8")
        if not isinstance(json.loads(text), dict):
            raise ValueError("not an object")
    except (binascii.Error, ValueError) as error:
        raise LambdaServiceError(
            400,
            "InvalidRequestContentException",
            "Client context must be a valid Base64-encoded JSON object.",
        ) from error
    return text


def _trace_id() -> str:
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=0"


def _exit_reason(exit_code: int) -> str:
    if exit_code == 0:
        return "Runtime exited without providing a reason"
    if exit_code < 0:
        try:
            name = _SIGNAL_NAMES.get(signal.Signals(-exit_code), signal.Signals(-exit_code).name)
        except ValueError:
            name = f"signal {-exit_code}"
        return f"Runtime exited with error: signal: {name}"
    return f"Runtime exited with error: exit status {exit_code}"


def _error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _shut_down() -> LambdaServiceError:
    return LambdaServiceError(503, "ServiceException", "The Lambda runtime is shut down.")


def _now_ms() -> int:
    return int(time.time() * 1000)


# --- code -----------------------------------------------------------------------------------


class _CodeStore:
    """Each distinct zip extracted once (by content), shared by the environments running it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def path_for(self, function: FunctionConfig) -> Path:
        target = self.root / function.code_sha256
        with self._lock:
            lock = self._locks.setdefault(function.code_sha256, threading.Lock())
        with lock:
            if target.is_dir():
                return target
            staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=self.root))
            try:
                source = function.code if isinstance(function.code, Path) else None
                with zipfile.ZipFile(source or io.BytesIO(function.code_bytes())) as archive:
                    for info in archive.infolist():
                        extracted = archive.extract(info, staging)
                        mode = (info.external_attr >> 16) & 0o777
                        if mode and not info.is_dir():  # Lambda keeps the zip's modes
                            os.chmod(extracted, mode)
                staging.rename(target)
            except (zipfile.BadZipFile, OSError) as error:
                raise LambdaServiceError(
                    400,
                    "InvalidParameterValueException",
                    f"Could not unzip uploaded file of {function.function_name}: {error}",
                ) from error
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            return target

    def shim_for(self, function: FunctionConfig, code_dir: Path, host_builds: Path) -> Path | None:
        """Host builds of the zip's foreign compiled distributions (see host_builds)."""
        with self._lock:
            lock = self._locks.setdefault(function.code_sha256, threading.Lock())
        with lock:
            shim_dir = self.root.parent / "shims" / function.code_sha256
            try:
                return host_shim(code_dir, host_builds, shim_dir, function.function_name)
            except HostBuildError as error:
                raise LambdaServiceError(500, "ServiceException", str(error)) from error


# --- logs -----------------------------------------------------------------------------------


@dataclass
class _Marker:
    """Platform lines queued behind everything the worker wrote before them."""

    lines: list[str]
    begin_capture: bool = False
    end_capture: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    captured: list[str] = field(default_factory=list)


class _LogPipe:
    """One environment's log stream: the worker's stdout and stderr, and Lambda's lines.

    Workers write into a pipe whose write end the environment keeps too: platform lines
    (START, END, REPORT, ...) enter the same pipe as markers, so they land in the stream
    exactly after whatever the worker printed before them, as on Lambda. One reader thread
    turns the pipe into events (a line each, ``\\r`` inside awslambdaric's error lines
    becoming the newlines Lambda shows) and writes them to the sink.
    """

    def __init__(self, sink: LogSink, stream: LogStreamRef) -> None:
        self.sink = sink
        self.stream = stream
        self._read_fd, self.write_fd = os.pipe()
        self._prefix = f"\x00acme-lambda-marker-{secrets.token_hex(8)}:".encode()
        self._lock = threading.Lock()
        self._markers: dict[int, _Marker] = {}
        self._sequence = 0
        self._capture: list[str] | None = None
        self._last_timestamp = 0
        self._stopping = False
        self._closed = False
        self._thread = threading.Thread(
            target=self._read, name=f"lambda-logs-{stream.log_stream[-8:]}", daemon=True
        )
        self._thread.start()

    def platform(
        self, lines: list[str], *, begin_capture: bool = False, end_capture: bool = False
    ) -> _Marker:
        marker = _Marker(lines, begin_capture, end_capture)
        with self._lock:
            if self._closed:  # the environment is gone: nothing more to write
                marker.done.set()
                return marker
            self._sequence += 1
            self._markers[self._sequence] = marker
            os.write(self.write_fd, self._prefix + str(self._sequence).encode() + b"\n")
        return marker

    def _timestamp(self) -> int:
        self._last_timestamp = max(self._last_timestamp, _now_ms())
        return self._last_timestamp

    def _emit(self, batch: list[LogEvent], message: str) -> None:
        batch.append(LogEvent(self._timestamp(), message))
        if self._capture is not None:
            self._capture.append(message)

    def _line(self, batch: list[LogEvent], done: list[_Marker], raw: bytes) -> None:
        text, found, sequence = raw.partition(self._prefix)
        if text or not found:
            message = text.decode("utf-8", "replace").replace("\r", "\n")
            self._emit(batch, message + "\n")
        if not found:
            return
        with self._lock:
            marker = self._markers.pop(int(sequence))
        if marker.begin_capture:
            self._capture = []
        for line in marker.lines:
            self._emit(batch, line)
        if marker.end_capture and self._capture is not None:
            marker.captured, self._capture = self._capture, None
        done.append(marker)

    def _flush(self, batch: list[LogEvent], done: list[_Marker]) -> None:
        if batch:
            try:
                self.sink.put(self.stream, batch)
            except Exception as error:  # a broken sink must not stop the function
                print(f"lambda logs: cannot write {self.stream}: {error}", file=sys.stderr)
        for marker in done:
            marker.done.set()

    def _read(self) -> None:
        pending = b""
        poller = select.poll()
        poller.register(self._read_fd, select.POLLIN)
        while True:
            if not poller.poll(200):
                if self._stopping:
                    break
                continue
            data = os.read(self._read_fd, 65536)
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            batch: list[LogEvent] = []
            done: list[_Marker] = []
            for raw in lines:
                self._line(batch, done, raw)
            self._flush(batch, done)
        batch, done = [], []
        if pending:
            self._line(batch, done, pending)
        self._flush(batch, done)
        os.close(self._read_fd)

    def close(self) -> None:
        """Stop after what is in the pipe now; the workers writing into it must be gone."""
        with self._lock:
            if self._closed:
                return
            self._closed = self._stopping = True
            os.close(self.write_fd)
        self._thread.join(timeout=2.0)


# --- execution environments -----------------------------------------------------------------


@dataclass(frozen=True)
class _Init:
    """How an init went: ``ok``, or the status and error Lambda reports for it."""

    ok: bool
    duration_ms: float
    status: Literal["ok", "error", "timeout"] = "ok"
    error_type: str | None = None
    payload: bytes = b""
    exit_code: int | None = None


@dataclass(frozen=True)
class _Request:
    request_id: str
    payload: bytes
    invoked_function_arn: str
    client_context: str | None
    sync: bool


@dataclass(frozen=True)
class _Outcome:
    payload: bytes
    function_error: str | None
    log_tail: str


class _Environment:
    """A worker process, its Runtime API and its log stream (one invocation at a time)."""

    def __init__(
        self,
        runtime: LambdaRuntime,
        function: FunctionConfig,
        code_dir: Path,
        shim_dir: Path | None = None,
    ) -> None:
        self.runtime = runtime
        self.function = function
        self.fingerprint = function.fingerprint
        self.code_dir = code_dir
        # Before the code: the host's build of the zip's foreign compiled distributions.
        self.python_path = os.pathsep.join(str(d) for d in (shim_dir, code_dir) if d)
        self.id = secrets.token_hex(16)
        created = datetime.now(UTC)
        self.log_stream = f"{created:%Y/%m/%d}/[{function.version}]{self.id}"
        self.dir = runtime.work_dir / "environments" / self.id
        self.tmp = self.dir / "tmp"
        self.tmp.mkdir(parents=True)
        self.busy = False
        self.retired = False
        self.last_used = time.monotonic()
        self.invocations = 0
        self.initialized = False  # True once an init succeeded: later inits are suppressed
        self.process: subprocess.Popen[bytes] | None = None
        self._generation = 0
        self._max_memory_kb = 0
        stream = LogStreamRef(
            function.account_id, function.region, function.log_group, self.log_stream
        )
        runtime.log_sink.create_stream(stream)
        self.api = RuntimeApi()
        self.logs = _LogPipe(runtime.log_sink, stream)

    # --- the process ---

    def _worker_env(self) -> dict[str, str]:
        fn = self.function
        credentials = self.runtime.credentials(fn.role_arn)
        base = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": self.python_path,
        }
        reserved = {
            "_HANDLER": fn.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.runtime}",
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": fn.version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": fn.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "LAMBDA_TASK_ROOT": str(self.code_dir),
            "LAMBDA_RUNTIME_DIR": str(self.runtime.site.site_packages),
            "AWS_ACCESS_KEY_ID": credentials.access_key_id,
            "AWS_ACCESS_KEY": credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
            # Lambda's /tmp belongs to the environment: it survives a reset, not a new one.
            "TMPDIR": str(self.tmp),
            # Lambda has no shared AWS config files; this machine's must not leak in.
            "AWS_CONFIG_FILE": str(self.dir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.dir / "no-aws-credentials"),
            "AWS_ENDPOINT_URL": self.runtime.endpoint_url,
        }
        if credentials.session_token:
            reserved["AWS_SESSION_TOKEN"] = credentials.session_token
        return {**base, **fn.environment, **reserved, **self.runtime.extra_env}

    def _spawn(self) -> None:
        self._generation = self.api.new_process()
        self._max_memory_kb = 0
        process = self.runtime.supervisor.spawn(
            f"lambda {self.function.function_name} {self.id[:8]}",
            # -P: not the working directory first on sys.path (`-m` puts it there) but
            # PYTHONPATH: the host builds' shim, then the code (as /var/task on Lambda).
            [str(self.runtime.site.python), "-P", "-m", "awslambdaric", self.function.handler],
            env=self._worker_env(),
            cwd=self.code_dir,
            stdin=subprocess.DEVNULL,
            stdout=self.logs.write_fd,
            stderr=subprocess.STDOUT,
        )
        self.process = process
        generation = self._generation
        threading.Thread(
            target=self._watch, args=(process, generation), name="lambda-worker-wait", daemon=True
        ).start()

    def _watch(self, process: subprocess.Popen[bytes], generation: int) -> None:
        self.api.process_exited(generation, process.wait())

    def _sample_memory(self) -> None:
        """Peak resident memory of the worker so far (``VmHWM``), for REPORT."""
        if self.process is None:
            return
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self._max_memory_kb = max(self._max_memory_kb, int(line.split()[1]))

    @property
    def max_memory_mb(self) -> int:
        return max(1, math.ceil(self._max_memory_kb / 1024))

    def _kill(self) -> None:
        if self.process is not None:
            self._sample_memory()
            self.runtime.supervisor.kill(self.process)
            self.process = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _init(self, limit_s: float) -> _Init:
        started = time.monotonic()
        self._spawn()
        signal = self.api.wait(
            frozenset({"ready", "init_error", "exit"}), deadline=started + limit_s
        )
        duration_ms = (min(signal.at, time.monotonic()) - started) * 1000
        if signal.kind == "ready":
            self._sample_memory()
            return _Init(True, duration_ms)
        if signal.kind == "init_error":
            ended = self.api.wait(frozenset({"exit"}), time.monotonic() + _RUNTIME_EXIT_GRACE_S)
            self._kill()
            return _Init(
                False,
                duration_ms,
                "error",
                signal.error_type,
                signal.payload,
                ended.exit_code,
            )
        if signal.kind == "exit":
            self._kill()
            return _Init(
                False, duration_ms, "error", "Runtime.ExitError", exit_code=signal.exit_code
            )
        if signal.kind == "closed":
            raise _shut_down()
        self._kill()
        return _Init(False, limit_s * 1000, "timeout")

    # --- one invocation ---

    def run(self, request: _Request) -> _Outcome:
        fn = self.function
        self.invocations += 1
        init_duration_ms: float | None = None
        if not self.running() and not self.initialized:
            # A new environment: the Init phase, limited to 10 s, reported in REPORT.
            self.logs.platform([init_start_line(*self.runtime.runtime_version(fn))])
            init = self._init(self.runtime.init_timeout_s)
            if init.ok:
                self.initialized = True
                init_duration_ms = init.duration_ms
            else:
                self.logs.platform(
                    [init_report_line(init.duration_ms, "init", init.status, init.error_type)]
                )
        started = time.monotonic()
        deadline = started + fn.timeout
        deadline_ms = _now_ms() + fn.timeout * 1000
        if not self.running():
            # Lambda's "suppressed init": inside the invocation, within the function timeout.
            init = self._init(fn.timeout)
            if not init.ok:
                return self._failed_init(request, init, started)
            self.initialized = True
        start = self.logs.platform([start_line(request.request_id, fn.version)], begin_capture=True)
        del start  # ordered by the pipe; nothing waits for it
        self.api.dispatch(
            Invocation(
                request_id=request.request_id,
                payload=request.payload,
                deadline_ms=deadline_ms,
                invoked_function_arn=request.invoked_function_arn,
                trace_id=_trace_id(),
                client_context=request.client_context,
            )
        )
        signal = self.api.wait(frozenset({"response", "error", "exit"}), deadline)
        if signal.kind == "closed":
            raise _shut_down()
        return self._finish(request, signal, started, init_duration_ms)

    def _failed_init(self, request: _Request, init: _Init, started: float) -> _Outcome:
        fn = self.function
        timed_out = init.status == "timeout"
        duration_ms = fn.timeout * 1000.0 if timed_out else (time.monotonic() - started) * 1000
        if timed_out:
            payload = _error_payload(
                "Sandbox.Timedout",
                f"RequestId: {request.request_id} Error: Task timed out after "
                f"{fn.timeout:.2f} seconds",
            )
        elif init.payload:
            payload = init.payload
        else:
            payload = _error_payload(
                "Runtime.ExitError",
                f"RequestId: {request.request_id} Error: {_exit_reason(init.exit_code or 0)}",
            )
        self.logs.platform(
            [
                init_report_line(init.duration_ms, "invoke", init.status, init.error_type),
                start_line(request.request_id, fn.version),
            ],
            begin_capture=True,
        )
        report = report_line(
            request.request_id,
            duration_ms=duration_ms,
            memory_size_mb=fn.memory_size,
            max_memory_used_mb=self.max_memory_mb,
            status=init.status,
            error_type=init.error_type,
        )
        return self._end(request, [end_line(request.request_id), report], payload, "Unhandled")

    def _finish(
        self,
        request: _Request,
        signal: RuntimeSignal,
        started: float,
        init_duration_ms: float | None,
    ) -> _Outcome:
        fn = self.function
        status: str | None = None
        error_type: str | None = None
        function_error: str | None = None
        if signal.kind in ("response", "error"):
            self._sample_memory()
            duration_ms = (signal.at - started) * 1000
            payload = signal.payload
            if signal.kind == "error":
                function_error = "Unhandled"
            elif request.sync and len(payload) > SYNC_RESPONSE_LIMIT:
                function_error = "Unhandled"
                payload = _error_payload(
                    "Function.ResponseSizeTooLarge",
                    "Response payload size exceeded maximum allowed payload size "
                    f"({SYNC_RESPONSE_LIMIT} bytes).",
                )
        elif signal.kind == "exit":
            duration_ms = (signal.at - started) * 1000
            self._kill()  # reaps it; the environment is reset
            status, error_type, function_error = "error", "Runtime.ExitError", "Unhandled"
            reason = _exit_reason(signal.exit_code or 0)
            payload = _error_payload(
                "Runtime.ExitError", f"RequestId: {request.request_id} Error: {reason}"
            )
        else:  # timeout
            self._kill()  # SIGKILL, as Lambda stops a timed-out runtime
            duration_ms = fn.timeout * 1000.0
            status, function_error = "timeout", "Unhandled"
            payload = _error_payload(
                "Sandbox.Timedout",
                f"RequestId: {request.request_id} Error: Task timed out after "
                f"{fn.timeout:.2f} seconds",
            )
        report = report_line(
            request.request_id,
            duration_ms=duration_ms,
            memory_size_mb=fn.memory_size,
            max_memory_used_mb=self.max_memory_mb,
            init_duration_ms=init_duration_ms,
            status=status,
            error_type=error_type,
        )
        return self._end(request, [end_line(request.request_id), report], payload, function_error)

    def _end(
        self, request: _Request, lines: list[str], payload: bytes, function_error: str | None
    ) -> _Outcome:
        marker = self.logs.platform(lines, end_capture=True)
        marker.done.wait(_MARKER_WAIT_S)
        tail = "".join(marker.captured).encode("utf-8")[-LOG_TAIL_BYTES:]
        return _Outcome(payload, function_error, base64.b64encode(tail).decode("ascii"))

    def destroy(self) -> None:
        self.api.close()
        if self.process is not None:
            self.runtime.supervisor.kill(self.process)
            self.process = None
        self.logs.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def info(self) -> EnvironmentInfo:
        pid = self.process.pid if self.running() and self.process is not None else None
        return EnvironmentInfo(
            self.function.function_arn, self.id, self.log_stream, pid, self.busy, self.invocations
        )


# --- the runtime ----------------------------------------------------------------------------


class LambdaRuntime:
    """Runs invocations in reusable execution environments (see the module docstring).

    ``max_environments_per_function`` caps concurrent invocations of one function; more wait
    up to ``concurrency_wait_s`` for a free environment, then fail as Lambda throttles
    (``TooManyRequestsException``). ``max_environments`` caps them all: the least recently
    used idle environment makes room. Idle environments are stopped after ``idle_timeout_s``.
    """

    def __init__(
        self,
        *,
        supervisor: Supervisor,
        site: RuntimeSite,
        endpoint_url: str,
        credentials: Callable[[str], Credentials],
        log_sink: LogSink,
        work_dir: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
        max_environments_per_function: int = 4,
        max_environments: int = 16,
        concurrency_wait_s: float = 60.0,
        idle_timeout_s: float = 600.0,
        init_timeout_s: float = INIT_PHASE_LIMIT_S,
    ) -> None:
        if not endpoint_url.startswith(("http://", "https://")):
            raise ValueError(f"endpoint_url must be an http(s) URL, got {endpoint_url!r}")
        if max_environments_per_function < 1 or max_environments < max_environments_per_function:
            raise ValueError("need 1 <= max_environments_per_function <= max_environments")
        self.supervisor = supervisor
        self.site = site
        self.endpoint_url = endpoint_url
        self.credentials = credentials
        self.log_sink = log_sink
        self.extra_env = dict(extra_env or {})
        self.max_environments_per_function = max_environments_per_function
        self.max_environments = max_environments
        self.concurrency_wait_s = concurrency_wait_s
        self.idle_timeout_s = idle_timeout_s
        self.init_timeout_s = init_timeout_s
        self._own_work_dir = work_dir is None
        self.work_dir = (
            Path(tempfile.mkdtemp(prefix="lambda-runtime-")) if work_dir is None else work_dir
        )
        self.work_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "code").mkdir(exist_ok=True)
        self._code = _CodeStore(self.work_dir / "code")
        self._cond = threading.Condition()
        self._environments: list[_Environment] = []
        self._closed = False
        self._reaper = threading.Thread(target=self._reap_loop, name="lambda-reaper", daemon=True)
        self._reaper.start()

    def runtime_version(self, function: FunctionConfig) -> tuple[str, str]:
        """INIT_START's version and ARN: says which interpreter really runs the code."""
        host = ".".join(str(part) for part in sys.version_info[:3])
        return (
            f"{function.runtime.replace('python', 'python:')}.emulator-host-python{host}",
            f"arn:aws:lambda:{function.region}::runtime:emulator",
        )

    # --- invoking ---

    def invoke(
        self,
        function: FunctionConfig,
        payload: bytes = b"",
        *,
        invocation_type: Literal["RequestResponse", "DryRun"] = "RequestResponse",
        log_type: str | None = None,
        client_context: str | None = None,
        invoked_function_arn: str | None = None,
        request_id: str | None = None,
    ) -> InvokeResult:
        """A synchronous Invoke. Raises :class:`LambdaServiceError` where Lambda refuses."""
        if invocation_type not in ("RequestResponse", "DryRun"):
            raise LambdaServiceError(
                400,
                "InvalidParameterValueException",
                f"Unsupported invocation type here: {invocation_type} (Event: AsyncInvoker)",
            )
        event = validate_payload(payload, SYNC_REQUEST_LIMIT)
        context = _client_context(client_context)
        request_id = request_id or str(uuid.uuid4())
        if invocation_type == "DryRun":
            return InvokeResult(204, b"", request_id, executed_version=function.version)
        outcome = self._run(
            function,
            _Request(
                request_id, event, invoked_function_arn or function.function_arn, context, True
            ),
        )
        return InvokeResult(
            200,
            outcome.payload,
            request_id,
            outcome.function_error,
            function.version,
            outcome.log_tail if log_type == "Tail" else None,
        )

    def run_event(self, function: FunctionConfig, payload: bytes, request_id: str) -> InvokeResult:
        """One attempt of an accepted asynchronous event (used by the Event queue)."""
        outcome = self._run(
            function, _Request(request_id, payload, function.function_arn, None, False)
        )
        return InvokeResult(200, outcome.payload, request_id, outcome.function_error)

    def _run(self, function: FunctionConfig, request: _Request) -> _Outcome:
        code_dir = self._code.path_for(function)
        shim_dir = self._code.shim_for(function, code_dir, self.site.host_builds)
        environment = self._acquire(function, code_dir, shim_dir)
        try:
            return environment.run(request)
        finally:
            self._release(environment)

    def _acquire(
        self, function: FunctionConfig, code_dir: Path, shim_dir: Path | None = None
    ) -> _Environment:
        give_up = time.monotonic() + self.concurrency_wait_s
        retire: list[_Environment] = []
        try:
            with self._cond:
                while True:
                    if self._closed:
                        raise _shut_down()
                    mine = [
                        e
                        for e in self._environments
                        if e.function.function_arn == function.function_arn
                    ]
                    for env in mine:  # another configuration or code: never reused
                        if env.fingerprint != function.fingerprint:
                            env.retired = True
                            if not env.busy:
                                self._environments.remove(env)
                                retire.append(env)
                    idle = [e for e in mine if not e.busy and not e.retired]
                    if idle:
                        chosen = max(idle, key=lambda e: e.last_used)
                        chosen.busy = True
                        return chosen
                    current = [
                        e
                        for e in self._environments
                        if e.function.function_arn == function.function_arn
                    ]
                    if len(current) < self.max_environments_per_function:
                        if len(self._environments) >= self.max_environments:
                            spare = [e for e in self._environments if not e.busy]
                            if spare:
                                oldest = min(spare, key=lambda e: e.last_used)
                                self._environments.remove(oldest)
                                retire.append(oldest)
                        if len(self._environments) < self.max_environments:
                            env = _Environment(self, function, code_dir, shim_dir)
                            env.busy = True
                            self._environments.append(env)
                            return env
                    remaining = give_up - time.monotonic()
                    if remaining <= 0:
                        raise LambdaServiceError(
                            429,
                            "TooManyRequestsException",
                            "Rate Exceeded.",
                            reason="ConcurrentInvocationLimitExceeded",
                        )
                    self._cond.wait(remaining)
        finally:
            for env in retire:
                env.destroy()

    def _release(self, environment: _Environment) -> None:
        destroy = False
        with self._cond:
            environment.busy = False
            environment.last_used = time.monotonic()
            if environment.retired or self._closed:
                with contextlib.suppress(ValueError):
                    self._environments.remove(environment)
                destroy = True
            self._cond.notify_all()
        if destroy:
            environment.destroy()

    # --- housekeeping ---

    def environments(self, function_arn: str | None = None) -> list[EnvironmentInfo]:
        with self._cond:
            return [
                env.info()
                for env in self._environments
                if function_arn in (None, env.function.function_arn)
            ]

    def reap_idle(self, max_idle_s: float | None = None) -> int:
        """Stop environments idle for longer than ``max_idle_s`` (default: idle_timeout_s)."""
        limit = self.idle_timeout_s if max_idle_s is None else max_idle_s
        now = time.monotonic()
        with self._cond:
            stale = [e for e in self._environments if not e.busy and now - e.last_used >= limit]
            for env in stale:
                self._environments.remove(env)
            self._cond.notify_all()
        for env in stale:
            env.destroy()
        return len(stale)

    def _reap_loop(self) -> None:
        interval = max(1.0, min(30.0, self.idle_timeout_s / 4))
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed, timeout=interval)
                if self._closed:
                    return
            self.reap_idle()

    def shutdown(self) -> None:
        """Kill every worker and stop serving (idempotent)."""
        with self._cond:
            self._closed = True
            environments, self._environments = self._environments, []
            self._cond.notify_all()
        for env in environments:
            env.destroy()
        self._reaper.join(timeout=2.0)
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
