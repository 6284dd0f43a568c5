"""Faults injected into the running data plane, for the fault suite (``ops.faults``).

``POST /moto-api/acme/faults`` with one JSON body acts at once:

* ``{"fault": "broker-kill"}``: SIGKILL every MSK cluster's broker (tansu); the front door
  stays, so clients see connections refused and reset, as with a crashed broker host;
* ``{"fault": "broker-restart"}``: start the brokers again, same port, same storage;
* ``{"fault": "worker-kill", "function": NAME_OR_ARN, "wait_seconds": 20}``: wait until an
  invocation of the function runs, then SIGKILL its worker (Lambda's ``Runtime.ExitError``);

or switches a failure on for ``seconds`` (it ends by itself, or on ``{"fault": "clear"}``):

* ``{"fault": "dynamodb", "mode": "throttle" | "error", "table": NAME, "seconds": 20}``:
  DynamoDB calls naming the table answer 400 ``ProvisionedThroughputExceededException`` or
  500 ``InternalServerError``;
* ``{"fault": "connections", "status": 500 | 429, "seconds": 20}``: every WebSocket API's
  ``POST @connections`` answers that status (``InternalServerErrorException`` or
  ``LimitExceededException``) and delivers nothing;
* ``{"fault": "firehose-s3", "seconds": 75}``: Firehose's writes to S3 fail (delivery retries,
  and never moves past records it has not written).

``GET`` answers the failures switched on now. Bad bodies answer 400 naming the problem.
The switched failures live in :data:`injected`, which the services consult on each call.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .lambda_runtime import EnvironmentInfo

FAULTS_PATH: Final = "/moto-api/acme/faults"
MAX_SECONDS: Final = 3600
TIMED: Final = ("dynamodb", "connections", "firehose-s3")
DYNAMODB_MODES: Final = {
    "throttle": (
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    ),
    "error": (500, "InternalServerError", "Internal server error"),
}
CONNECTION_ERRORS: Final = {
    500: ("InternalServerErrorException", "Internal server error"),
    429: ("LimitExceededException", "Rate exceeded"),
}


class FaultError(ValueError):
    """A fault body the emulator cannot act on; the message names the problem."""


@dataclass(frozen=True)
class SwitchedFault:
    kind: str
    until: float  # time.monotonic()
    detail: tuple[tuple[str, Any], ...]

    def get(self, key: str) -> Any:
        return dict(self.detail).get(key)


class InjectedFaults:
    """The failures switched on now; each ends at its deadline. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._faults: dict[str, SwitchedFault] = {}

    def switch_on(self, kind: str, seconds: float, **detail: Any) -> SwitchedFault:
        fault = SwitchedFault(kind, self._clock() + seconds, tuple(sorted(detail.items())))
        with self._lock:
            self._faults[kind] = fault
        return fault

    def active(self, kind: str) -> SwitchedFault | None:
        with self._lock:
            fault = self._faults.get(kind)
            if fault is not None and fault.until <= self._clock():
                del self._faults[kind]
                return None
            return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def status(self) -> list[dict[str, Any]]:
        now = self._clock()
        active = [self.active(kind) for kind in TIMED]
        return [
            {"fault": f.kind, "seconds_left": round(f.until - now, 1), **dict(f.detail)}
            for f in active
            if f is not None
        ]

    # --- what the services ask ---

    def dynamodb_error(self, tables: Iterable[str]) -> tuple[int, str, str] | None:
        """(status, error type, message) for a DynamoDB call naming ``tables``, or None."""
        fault = self.active("dynamodb")
        if fault is None or fault.get("table") not in set(tables):
            return None
        return DYNAMODB_MODES[str(fault.get("mode"))]

    def connections_error(self) -> tuple[int, str, str] | None:
        fault = self.active("connections")
        if fault is None:
            return None
        status = int(fault.get("status"))
        return (status, *CONNECTION_ERRORS[status])

    def firehose_s3_failing(self) -> bool:
        return self.active("firehose-s3") is not None


# The process's one registry: the emulator serves one data plane per process.
injected: Final = InjectedFaults()


class Brokers:
    """What the faults need of the MSK clusters (:class:`.msk.LocalMskCluster`)."""

    def __init__(self, clusters: Callable[[], dict[str, Any]]) -> None:
        self._clusters = clusters

    def kill(self) -> list[int]:
        return [cluster.kill_broker() for cluster in self._clusters().values()]

    def restart(self) -> list[int]:
        return [cluster.restart_broker() for cluster in self._clusters().values()]


class FaultControl:
    """Acts on one fault body (see the module's docstring); answers what it did."""

    def __init__(
        self,
        *,
        clusters: Callable[[], dict[str, Any]],
        environments: Callable[[], list[EnvironmentInfo]],
        faults: InjectedFaults = injected,
        kill: Callable[[int], None] = lambda pid: os.kill(pid, signal.SIGKILL),
    ) -> None:
        self.brokers = Brokers(clusters)
        self.environments = environments
        self.faults = faults
        self.kill = kill

    def act(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("fault"), str):
            raise FaultError('the body must be a JSON object with "fault": <name>')
        name = body["fault"]
        if name == "broker-kill":
            return {"fault": name, "killed": self._brokers(self.brokers.kill)}
        if name == "broker-restart":
            return {"fault": name, "started": self._brokers(self.brokers.restart)}
        if name == "worker-kill":
            return self._worker_kill(body)
        if name == "clear":
            self.faults.clear()
            return {"fault": name}
        if name in TIMED:
            seconds = _number(body, "seconds", 1, MAX_SECONDS)
            detail = self._timed_detail(name, body)
            self.faults.switch_on(name, seconds, **detail)
            return {"fault": name, "seconds": seconds, **detail}
        known = ["broker-kill", "broker-restart", "worker-kill", *TIMED, "clear"]
        raise FaultError(f"unknown fault {name!r}; known: {', '.join(known)}")

    def _brokers(self, action: Callable[[], list[int]]) -> list[int]:
        try:
            pids = action()
        except RuntimeError as error:  # MskClusterError: not running, already running
            raise FaultError(str(error)) from error
        if not pids:
            raise FaultError("no MSK cluster is served")
        return pids

    @staticmethod
    def _timed_detail(name: str, body: dict[str, Any]) -> dict[str, Any]:
        if name == "dynamodb":
            mode, table = body.get("mode"), body.get("table")
            if mode not in DYNAMODB_MODES:
                raise FaultError(f"dynamodb mode must be one of {sorted(DYNAMODB_MODES)}: {mode!r}")
            if not isinstance(table, str) or not table:
                raise FaultError('dynamodb needs "table": the table name')
            return {"mode": mode, "table": table}
        if name == "connections":
            status = body.get("status")
            if status not in CONNECTION_ERRORS:
                raise FaultError(f"connections status must be one of {sorted(CONNECTION_ERRORS)}")
            return {"status": status}
        return {}

    def _worker_kill(self, body: dict[str, Any]) -> dict[str, Any]:
        function = body.get("function")
        if not isinstance(function, str) or not function:
            raise FaultError('worker-kill needs "function": a function name or ARN')
        wait = _number(body, "wait_seconds", 0, 900, default=20)
        deadline = time.monotonic() + wait
        while True:
            busy = [
                env
                for env in self.environments()
                if env.busy and env.pid and _names(env.function_arn, function)
            ]
            if busy:
                break
            if time.monotonic() >= deadline:
                raise FaultError(f"no invocation of {function} ran within {wait:g} s")
            time.sleep(0.02)
        target = busy[0]
        assert target.pid is not None
        self.kill(target.pid)
        return {"fault": "worker-kill", "function": target.function_arn, "killed": target.pid}


def _names(function_arn: str, function: str) -> bool:
    return function in (function_arn, function_arn.split(":")[6] if ":" in function_arn else "")


def _number(
    body: dict[str, Any], key: str, low: float, high: float, default: float | None = None
) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise FaultError(f'"{key}" must be a number of seconds from {low:g} to {high:g}: {value!r}')
    return float(value)


def dynamodb_table_names(params: Any) -> list[str]:
    """The tables a DynamoDB request names (TableName, or the keys of RequestItems)."""
    if not isinstance(params, dict):
        return []
    names = [params["TableName"]] if isinstance(params.get("TableName"), str) else []
    items = params.get("RequestItems")
    if isinstance(items, dict):
        names += [name for name in items if isinstance(name, str)]
    return names


def dynamodb_error_response(error: tuple[int, str, str]) -> tuple[int, dict[str, str], str]:
    status, error_type, message = error
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{error_type}", "message": message}
    return status, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(body)


def install_dynamodb_faults(faults: InjectedFaults = injected) -> None:
    """DynamoDB requests naming a failing table answer its error before moto serves them."""
    from moto.dynamodb.responses import DynamoHandler

    from .._compat import patch_attribute

    serve = DynamoHandler.call_action

    def call_action(handler: DynamoHandler) -> Any:
        params = getattr(handler, "params", None)
        if params is None:
            try:
                params = json.loads(handler.body or b"{}")
            except ValueError:
                params = {}
        error = faults.dynamodb_error(dynamodb_table_names(params))
        if error is not None:
            return dynamodb_error_response(error)
        return serve(handler)

    patch_attribute(DynamoHandler, "call_action", call_action)
