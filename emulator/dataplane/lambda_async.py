"""Lambda's asynchronous (``Event``) invocations: the queue, the retries, the destinations.

An ``Invoke`` with ``InvocationType=Event`` is accepted at once (202, empty payload) and the
event runs in the background, as Lambda runs it from its internal queue:

* a function error (an exception, a timeout, a crash, a failed init) is retried up to the
  function's ``MaximumRetryAttempts`` (0 to 2, default 2), Lambda waiting 1 minute before the
  first retry and 2 minutes before the second;
* an event older than ``MaximumEventAgeInSeconds`` (60 to 21,600, default 6 hours) when its
  turn comes is not run again;
* a throttled attempt (no free execution environment) goes back to the queue without
  counting as an attempt;
* then the outcome goes to the configured destination: ``OnSuccess`` after a success,
  ``OnFailure`` once retries are exhausted (``condition: RetriesExhausted``) or the event got
  too old (``EventAgeExceeded``), as Lambda's invocation record::

    {"version": "1.0", "timestamp": "2026-11-30T10:00:00.000Z",
     "requestContext": {"requestId": ..., "functionArn": "arn:...:function:f:$LATEST",
                        "condition": "RetriesExhausted", "approximateInvokeCount": 3},
     "requestPayload": {...},
     "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                         "functionError": "Unhandled"},
     "responsePayload": {"errorMessage": ..., "errorType": ...}}

Time runs faster here: every delay and age of the queue is multiplied by ``time_scale``
(1/60 by default, so the retries come after 1 and 2 seconds and an event expires after
``MaximumEventAgeInSeconds`` / 60 seconds). The ratios between retry delays and event ages,
which decide what happens to an event, stay those of Lambda.

Injected: ``runner`` (a :class:`~emulator.dataplane.lambda_runtime.LambdaRuntime`),
``resolve(function_arn)`` returning the function's *current* configuration and event invoke
configuration before each attempt (``None`` once the function is deleted: its events are
dropped), and ``deliver(destination_arn, record_json)`` (the integrator sends to SQS, SNS,
EventBridge or Lambda in moto).
"""

from __future__ import annotations

import heapq
import itertools
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol

from .lambda_runtime import (
    ASYNC_REQUEST_LIMIT,
    FunctionConfig,
    InvokeResult,
    LambdaServiceError,
    validate_payload,
)

__all__ = [
    "DEFAULT_TIME_SCALE",
    "LAMBDA_RETRY_DELAYS_S",
    "AsyncInvoker",
    "AsyncTarget",
    "EventInvokeConfig",
    "EventRunner",
    "destination_record",
]

LAMBDA_RETRY_DELAYS_S: Final = (60.0, 120.0)  # before the first and the second retry
DEFAULT_TIME_SCALE: Final = 1 / 60
_THROTTLE_BACKOFF_S: Final = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0)  # Lambda: 1 s up to 5 min

Condition = Literal["Success", "RetriesExhausted", "EventAgeExceeded"]


@dataclass(frozen=True)
class EventInvokeConfig:
    """A function's asynchronous invocation settings (PutFunctionEventInvokeConfig)."""

    maximum_retry_attempts: int = 2
    maximum_event_age_in_seconds: int = 21600
    on_success: str | None = None
    on_failure: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.maximum_retry_attempts <= 2:
            raise ValueError(
                f"EventInvokeConfig.maximum_retry_attempts must be 0..2, "
                f"got {self.maximum_retry_attempts}"
            )
        if not 60 <= self.maximum_event_age_in_seconds <= 21600:
            raise ValueError(
                f"EventInvokeConfig.maximum_event_age_in_seconds must be 60..21600, "
                f"got {self.maximum_event_age_in_seconds}"
            )
        for name in ("on_success", "on_failure"):
            value = getattr(self, name)
            if value is not None and not value.startswith("arn:"):
                raise ValueError(f"EventInvokeConfig.{name} must be an ARN, got {value!r}")


@dataclass(frozen=True)
class AsyncTarget:
    """What ``resolve`` answers: the function as it is now, and its async settings."""

    function: FunctionConfig
    config: EventInvokeConfig = field(default_factory=EventInvokeConfig)


class EventRunner(Protocol):
    def run_event(self, function: FunctionConfig, payload: bytes, request_id: str) -> InvokeResult:
        """Run one attempt of an accepted event."""
        ...


@dataclass
class _Event:
    request_id: str
    function_arn: str
    payload: bytes
    accepted: float  # time.monotonic()
    attempts: int = 0
    throttles: int = 0
    last: InvokeResult | None = None


def _json_or_text(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")


def destination_record(
    function: FunctionConfig,
    request_id: str,
    payload: bytes,
    condition: Condition,
    attempts: int,
    last: InvokeResult | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Lambda's invocation record for a destination."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{function.function_arn}:{function.version}",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": _json_or_text(payload),
    }
    if last is not None:
        context: dict[str, Any] = {
            "statusCode": last.status_code,
            "executedVersion": last.executed_version,
        }
        if last.function_error:
            context["functionError"] = last.function_error
        record["responseContext"] = context
        record["responsePayload"] = _json_or_text(last.payload)
    return record


class AsyncInvoker:
    """Lambda's event queue for every function of the emulator (see the module docstring)."""

    def __init__(
        self,
        runner: EventRunner,
        resolve: Callable[[str], AsyncTarget | None],
        deliver: Callable[[str, str], None],
        *,
        time_scale: float = DEFAULT_TIME_SCALE,
        workers: int = 2,
    ) -> None:
        if not 0 < time_scale <= 1:
            raise ValueError(f"time_scale must be in (0, 1], got {time_scale}")
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.runner = runner
        self.resolve = resolve
        self.deliver = deliver
        self.time_scale = time_scale
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, _Event]] = []
        self._order = itertools.count()
        self._running = 0
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"lambda-async-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(
        self, function: FunctionConfig, payload: bytes, *, request_id: str | None = None
    ) -> InvokeResult:
        """Accept an event (202), or refuse it as Lambda does (:class:`LambdaServiceError`)."""
        event = _Event(
            request_id or str(uuid.uuid4()),
            function.function_arn,
            validate_payload(payload, ASYNC_REQUEST_LIMIT),
            time.monotonic(),
        )
        self._schedule(event, 0.0)
        return InvokeResult(202, b"", event.request_id, executed_version=function.version)

    def _schedule(self, event: _Event, delay_s: float) -> None:
        with self._cond:
            if self._closed:
                raise LambdaServiceError(
                    503, "ServiceException", "The Lambda runtime is shut down."
                )
            due = time.monotonic() + delay_s * self.time_scale
            heapq.heappush(self._queue, (due, next(self._order), event))
            self._cond.notify_all()

    def pending(self) -> int:
        """Events accepted and not yet settled (queued or running)."""
        with self._cond:
            return len(self._queue) + self._running

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every accepted event has settled; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._running, timeout)

    def _take(self) -> _Event | None:
        with self._cond:
            while not self._closed:
                if self._queue:
                    due = self._queue[0][0]
                    now = time.monotonic()
                    if due <= now:
                        self._running += 1
                        return heapq.heappop(self._queue)[2]
                    self._cond.wait(due - now)
                else:
                    self._cond.wait()
            return None

    def _work(self) -> None:
        while (event := self._take()) is not None:
            try:
                self._attempt(event)
            except Exception as error:  # one bad event must not stop the queue
                print(f"lambda async: event {event.request_id} dropped: {error!r}", file=sys.stderr)
            finally:
                with self._cond:
                    self._running -= 1
                    self._cond.notify_all()

    def _attempt(self, event: _Event) -> None:
        target = self.resolve(event.function_arn)
        if target is None:  # the function was deleted: Lambda drops its events
            return
        config = target.config
        age_s = (time.monotonic() - event.accepted) / self.time_scale
        if age_s >= config.maximum_event_age_in_seconds:
            self._settle(target, event, "EventAgeExceeded")
            return
        try:
            result = self.runner.run_event(target.function, event.payload, event.request_id)
        except LambdaServiceError as error:
            if error.status_code not in (429, 500, 502, 503) or self._closed:
                raise
            # Throttles and service errors go back to the queue; they are not attempts.
            backoff = _THROTTLE_BACKOFF_S[min(event.throttles, len(_THROTTLE_BACKOFF_S) - 1)]
            event.throttles += 1
            self._schedule(event, backoff)
            return
        event.attempts += 1
        event.last = result
        if result.function_error is None:
            self._settle(target, event, "Success")
        elif event.attempts > config.maximum_retry_attempts:
            self._settle(target, event, "RetriesExhausted")
        else:
            self._schedule(event, LAMBDA_RETRY_DELAYS_S[event.attempts - 1])

    def _settle(self, target: AsyncTarget, event: _Event, condition: Condition) -> None:
        destination = (
            target.config.on_success if condition == "Success" else target.config.on_failure
        )
        if destination is None:
            return
        record = destination_record(
            target.function,
            event.request_id,
            event.payload,
            condition,
            event.attempts,
            event.last,
        )
        try:
            self.deliver(destination, json.dumps(record))
        except Exception as error:  # Lambda does not fail the event over its destination
            print(
                f"lambda async: cannot deliver {event.request_id} to {destination}: {error!r}",
                file=sys.stderr,
            )

    def shutdown(self) -> None:
        """Stop the workers; events still queued are dropped (idempotent)."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=5.0)
