"""Where a Lambda worker's output goes, and the platform lines Lambda writes around it.

Every execution environment writes to one log stream of its function's log group, named as
Lambda names it (``2026/11/30/[$LATEST]<32 hex digits>``). Around the code's own output
Lambda writes its platform lines, in the plain-text format (``LogFormat: Text``)::

    INIT_START Runtime Version: python:3.13.v43\\tRuntime Version ARN: arn:aws:lambda:...
    START RequestId: <id> Version: $LATEST
    END RequestId: <id>
    REPORT RequestId: <id>\\tDuration: 2.40 ms\\tBilled Duration: 130 ms\\tMemory Size: 128 MB\\t
        Max Memory Used: 39 MB\\tInit Duration: 127.36 ms
    INIT_REPORT Init Duration: 1236.04 ms\\tPhase: init\\tStatus: error\\tError Type: ...

``REPORT`` ends with ``\\tStatus: timeout`` after a timeout, ``\\tStatus: error\\tError Type:
Runtime.ExitError`` after a crash or a failed init (the current format, in AWS's
"Understanding the Lambda execution environment lifecycle"). Since August 2025 the billed
duration of a cold start includes its init. Every message ends with a newline, as Lambda's
do.

Sinks receive the events of one stream in order. :class:`MotoLogsSink` writes them into
moto's CloudWatch Logs backend in this process, so ``FilterLogEvents``, ``GetLogEvents`` and
``aws logs tail`` read them from the emulator; :class:`MemoryLogSink` keeps them for tests.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "LogEvent",
    "LogSink",
    "LogStreamRef",
    "MemoryLogSink",
    "MotoLogsSink",
    "end_line",
    "init_report_line",
    "init_start_line",
    "report_line",
    "start_line",
]


@dataclass(frozen=True)
class LogEvent:
    """One CloudWatch Logs event: milliseconds since the epoch and the message."""

    timestamp: int
    message: str

    def __post_init__(self) -> None:
        if not isinstance(self.timestamp, int) or self.timestamp < 0:
            raise ValueError(f"LogEvent.timestamp must be epoch milliseconds, got {self.timestamp}")
        if not isinstance(self.message, str) or not self.message:
            raise ValueError("LogEvent.message must be a non-empty string")


@dataclass(frozen=True)
class LogStreamRef:
    """Which stream: the function's account and region pick the CloudWatch Logs backend."""

    account_id: str
    region: str
    log_group: str
    log_stream: str

    def __post_init__(self) -> None:
        for name in ("account_id", "region", "log_group", "log_stream"):
            if not getattr(self, name):
                raise ValueError(f"LogStreamRef.{name} is required")


class LogSink(Protocol):
    """Receives a function's log events; calls for one stream come in the stream's order."""

    def create_stream(self, stream: LogStreamRef) -> None: ...

    def put(self, stream: LogStreamRef, events: Sequence[LogEvent]) -> None: ...


class MemoryLogSink:
    """Keeps every event in memory (tests, or a runtime without CloudWatch)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[tuple[str, str], list[LogEvent]] = {}

    def create_stream(self, stream: LogStreamRef) -> None:
        with self._lock:
            self._streams.setdefault((stream.log_group, stream.log_stream), [])

    def put(self, stream: LogStreamRef, events: Sequence[LogEvent]) -> None:
        with self._lock:
            self._streams.setdefault((stream.log_group, stream.log_stream), []).extend(events)

    def streams(self, log_group: str) -> list[str]:
        with self._lock:
            return [stream for group, stream in self._streams if group == log_group]

    def events(self, log_group: str, log_stream: str | None = None) -> list[LogEvent]:
        """The events of one stream, or of every stream of the group in time order."""
        with self._lock:
            found = [
                event
                for (group, stream), events in self._streams.items()
                if group == log_group and log_stream in (None, stream)
                for event in events
            ]
        return found if log_stream is not None else sorted(found, key=lambda e: e.timestamp)

    def messages(self, log_group: str, log_stream: str | None = None) -> list[str]:
        return [event.message for event in self.events(log_group, log_stream)]


class MotoLogsSink:
    """Writes into moto's CloudWatch Logs backends in this process (the emulator's own),
    the backend of each function's account and region.

    Lambda creates the function's log group when it is missing (the execution role's
    ``logs:CreateLogGroup``); so does this sink. moto's PutLogEvents drops events older than
    14 days, as AWS does; none here are.
    """

    def __init__(self) -> None:
        # moto's LogStream appends without a lock of its own.
        self._lock = threading.Lock()

    def _backend(self, stream: LogStreamRef) -> Any:  # moto's backends are not typed
        from moto.logs.models import logs_backends

        backend = logs_backends[stream.account_id][stream.region]
        backend.ensure_log_group(stream.log_group)
        backend.ensure_log_stream(stream.log_group, stream.log_stream)
        return backend

    def create_stream(self, stream: LogStreamRef) -> None:
        with self._lock:
            self._backend(stream)

    def put(self, stream: LogStreamRef, events: Sequence[LogEvent]) -> None:
        if not events:
            return
        with self._lock:
            self._backend(stream).put_log_events(
                stream.log_group,
                stream.log_stream,
                [{"timestamp": event.timestamp, "message": event.message} for event in events],
            )


def _ms(value: float) -> str:
    return f"{value:.2f} ms"


def init_start_line(runtime_version: str, runtime_version_arn: str) -> str:
    return (
        f"INIT_START Runtime Version: {runtime_version}\t"
        f"Runtime Version ARN: {runtime_version_arn}\n"
    )


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}\n"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}\n"


def init_report_line(
    duration_ms: float, phase: str, status: str, error_type: str | None = None
) -> str:
    line = f"INIT_REPORT Init Duration: {_ms(duration_ms)}\tPhase: {phase}\tStatus: {status}"
    if error_type:
        line += f"\tError Type: {error_type}"
    return line + "\n"


def report_line(
    request_id: str,
    *,
    duration_ms: float,
    memory_size_mb: int,
    max_memory_used_mb: int,
    init_duration_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    """Lambda's REPORT line. Billed duration: whole milliseconds up, init included."""
    billed = math.ceil(round(duration_ms + (init_duration_ms or 0.0), 6))
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {_ms(duration_ms)}",
        f"Billed Duration: {billed} ms",
        f"Memory Size: {memory_size_mb} MB",
        f"Max Memory Used: {max_memory_used_mb} MB",
    ]
    if init_duration_ms is not None:
        fields.append(f"Init Duration: {_ms(init_duration_ms)}")
    if status is not None:
        fields.append(f"Status: {status}")
    if error_type:
        fields.append(f"Error Type: {error_type}")
    return "\t".join(fields) + "\n"
