"""Generator Lambda: synthetic video-streaming telemetry, handed to the producer Lambda.

Runs on a schedule. Builds BATCH_SIZE events with every field of the telemetry contract
(telemetry_event.json), splits them into payloads {"events": [...]} of at most
MAX_PAYLOAD_BYTES, and invokes the producer asynchronously (InvocationType="Event") once
per payload. Every invocation must be accepted (HTTP 202) or the handler raises.

Environment variables:
    PRODUCER_FUNCTION_NAME  required; name or ARN of the producer Lambda.
    BATCH_SIZE              optional, default 1000; events per run (1..100000).
    MAX_PAYLOAD_BYTES       optional, default 200000; largest producer payload in bytes
                            (1..1048576). Lambda accepts asynchronous payloads up to 1 MB;
                            200 KB also keeps the record an on-failure destination receives
                            (payload plus about 1 KB of metadata) under 256 KB.
    LOG_LEVEL               optional, default INFO (Powertools Logger).
    POWERTOOLS_SERVICE_NAME optional, default telemetry-generator.
    TELEMETRY_CONTRACT_PATH optional; see telemetry_contract.
    AWS_REGION              set by the runtime; used by boto3.

Returns {"generated": n, "chunks": k, "invocations_accepted": k}.
"""

from __future__ import annotations

import functools
import json
import os
import random
from bisect import bisect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from settings import SettingsError, int_setting, require_metrics_namespace
from telemetry_contract import load_contract

SERVICE: Final = os.environ.get("POWERTOOLS_SERVICE_NAME") or "telemetry-generator"
logger = Logger(service=SERVICE)
# Embedded metric format on stdout; the namespace comes from POWERTOOLS_METRICS_NAMESPACE,
# which the stacks set on every function.
metrics = Metrics(service=SERVICE)

DEFAULT_BATCH_SIZE: Final = 1000
MAX_BATCH_SIZE: Final = 100_000
DEFAULT_MAX_PAYLOAD_BYTES: Final = 200_000
# Lambda's limit for an asynchronous (InvocationType="Event") payload.
ASYNC_PAYLOAD_LIMIT_BYTES: Final = 1_048_576


@dataclass(frozen=True)
class Weighted:
    """A categorical distribution: values with relative weights (they need not sum to 1)."""

    values: tuple[str, ...]
    weights: tuple[float, ...]

    @classmethod
    def of(cls, weights: Mapping[str, float]) -> Weighted:
        if not weights or any(w <= 0 for w in weights.values()):
            raise ValueError("weights must be positive")
        return cls(tuple(weights), tuple(weights.values()))

    @functools.cached_property
    def _bounds(self) -> tuple[float, ...]:
        """Cumulative probabilities: value i covers draws in [bounds[i-1], bounds[i]).

        The last bound is exactly 1.0 (a sum of floats may fall a hair short of it), so
        every draw in [0, 1) lands on a value.
        """
        total = sum(self.weights)
        bounds = [cumulative / total for cumulative in accumulate(self.weights)]
        bounds[-1] = 1.0
        return tuple(bounds)

    def probability(self, value: str) -> float:
        return self.weights[self.values.index(value)] / sum(self.weights)

    def pick(self, uniform: float) -> str:
        """The value a uniform draw in [0, 1) lands on (``pick(rng.random())``).

        The same rule as rng.choices(values, weights), without its per-call setup.
        """
        return self.values[bisect(self._bounds, uniform)]


# Distributions from the original design (event, device, quality and title types) ...
EVENT_TYPES: Final = Weighted.of(
    {"start": 0.30, "pause": 0.15, "resume": 0.15, "stop": 0.25, "complete": 0.15}
)
DEVICE_TYPES: Final = Weighted.of({"mobile": 0.35, "web": 0.30, "tv": 0.25, "tablet": 0.10})
QUALITIES: Final = Weighted.of({"SD": 0.20, "HD": 0.50, "4K": 0.30})
TITLE_TYPES: Final = Weighted.of({"movie": 0.60, "series": 0.30, "documentary": 0.10})
# ... and explicit weights where the original drew uniformly.
CONNECTION_TYPES: Final = Weighted.of(
    {"wifi": 0.40, "cable": 0.20, "fiber": 0.15, "mobile": 0.15, "dsl": 0.07, "satellite": 0.03}
)
ISPS: Final = Weighted.of(
    {
        "Comcast": 0.27,
        "Spectrum": 0.22,
        "AT&T": 0.18,
        "Verizon": 0.15,
        "Cox": 0.10,
        "CenturyLink": 0.08,
    }
)
# Roughly by population.
US_STATES: Final = Weighted.of(
    {
        "CA": 0.22,
        "TX": 0.17,
        "FL": 0.13,
        "NY": 0.11,
        "PA": 0.07,
        "IL": 0.07,
        "OH": 0.06,
        "GA": 0.06,
        "NC": 0.06,
        "MI": 0.05,
    }
)
CITIES: Final[Mapping[str, tuple[str, ...]]] = {
    "CA": ("Los Angeles", "San Francisco", "San Diego"),
    "TX": ("Houston", "Dallas", "Austin"),
    "FL": ("Miami", "Orlando", "Tampa"),
    "NY": ("New York", "Buffalo", "Albany"),
    "PA": ("Philadelphia", "Pittsburgh", "Allentown"),
    "IL": ("Chicago", "Aurora", "Springfield"),
    "OH": ("Columbus", "Cleveland", "Cincinnati"),
    "GA": ("Atlanta", "Savannah", "Augusta"),
    "NC": ("Charlotte", "Raleigh", "Greensboro"),
    "MI": ("Detroit", "Grand Rapids", "Ann Arbor"),
}
# The original's operating systems, drawn only where they fit the device type.
DEVICE_OS: Final[Mapping[str, tuple[str, ...]]] = {
    "mobile": ("iOS", "Android"),
    "tablet": ("iOS", "Android"),
    "web": ("Windows", "macOS", "Linux"),
    "tv": ("tvOS", "Roku", "Android"),
}
COUNTRY: Final = "US"


@dataclass(frozen=True)
class GeneratorSettings:
    producer_function_name: str
    batch_size: int = DEFAULT_BATCH_SIZE
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GeneratorSettings:
        producer = environ.get("PRODUCER_FUNCTION_NAME", "").strip()
        if not producer:
            raise SettingsError("PRODUCER_FUNCTION_NAME is required (the producer Lambda)")
        return cls(
            producer_function_name=producer,
            batch_size=int_setting(environ, "BATCH_SIZE", DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE),
            max_payload_bytes=int_setting(
                environ, "MAX_PAYLOAD_BYTES", DEFAULT_MAX_PAYLOAD_BYTES, ASYNC_PAYLOAD_LIMIT_BYTES
            ),
        )


# Speed matters here (issue 8: at least 50,000 events per CPU-second), so the hot path draws
# its numbers one way throughout: ``draw = rng.random`` and ``int(draw() * n)`` for an
# integer uniform in 0..n-1. That is one C call per number, where rng.randint and rng.choice
# cost several Python-level calls each; the bias of a float draw (under n / 2**53) is far
# below anything measurable. Decimal values are uniform over their hundredths, e.g.
# (500 + int(draw() * 9501)) / 100 for 5.00..100.00: what round(uniform(5, 100), 2) gives,
# except that its two end values come half as often, at a third of round()'s cost.

# RFC 4122 variant: the top two bits of a UUID's byte 8 are 10, so its first hex digit is
# one of 8, 9, a, b. Maps a random hex digit to one of those, uniformly.
_VARIANT_DIGIT: Final = {digit: "89ab"[int(digit, 16) % 4] for digit in "0123456789abcdef"}


def _uuid4(hex32: str) -> str:
    """A version 4 UUID string, as str(uuid.UUID(...)) prints it, from 32 random hex digits.

    Formatting the string directly is several times cheaper than building uuid.UUID objects.
    """
    h = hex32
    return f"{h[0:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:32]}"


def utc_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with millisecond precision and a Z suffix."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_MILLISECOND: Final = timedelta(milliseconds=1)


class _TimestampText:
    """utc_timestamp(now()) for each event, formatted once per millisecond.

    A batch of a thousand events is made within a few milliseconds: most events share their
    millisecond, and formatting a datetime costs more than drawing an event's numbers.
    """

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._start: datetime | None = None  # the millisecond self._text shows
        self._end: datetime | None = None
        self._text = ""

    def __call__(self) -> str:
        moment = self._now()
        if self._start is None or self._end is None or not self._start <= moment < self._end:
            self._start = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
            self._end = self._start + _MILLISECOND
            self._text = utc_timestamp(moment)
        return self._text


def _field_values(rng: random.Random, timestamp: str) -> dict[str, Any]:
    """One event's values, in the contract's field order (generate_events checks it)."""
    draw = rng.random  # int(draw() * n): uniform in 0..n-1 (see above)
    event_type = EVENT_TYPES.pick(draw())
    device_type = DEVICE_TYPES.pick(draw())
    state = US_STATES.pick(draw())
    buffering_events = int(draw() * 6)  # 0..5
    ids = rng.randbytes(48).hex()  # event, session and device ids
    return {
        "event_id": _uuid4(ids[0:32]),
        "event_type": event_type,
        "event_timestamp": timestamp,
        "customer_id": f"cust_{1 + int(draw() * 100_000):06d}",  # 1..100000
        "title_id": f"title_{1 + int(draw() * 10_000):05d}",  # 1..10000
        "session_id": _uuid4(ids[32:64]),
        "device_id": _uuid4(ids[64:96]),
        "title_type": TITLE_TYPES.pick(draw()),
        "device_type": device_type,
        "device_os": _one_of(DEVICE_OS[device_type], draw()),
        # 1..5 . 0..9 . 0..99
        "app_version": f"{1 + int(draw() * 5)}.{int(draw() * 10)}.{int(draw() * 100)}",
        "quality": QUALITIES.pick(draw()),
        "bandwidth_mbps": (500 + int(draw() * 9501)) / 100,  # 5.00..100.00
        "buffering_events": buffering_events,
        "buffering_duration_seconds": (
            (50 + int(draw() * 2951)) / 100 if buffering_events else 0.0  # 0.50..30.00
        ),
        "error_count": int(draw() * 3),  # 0..2
        "watch_duration_seconds": int(draw() * 7201),  # 0..7200
        "position_seconds": int(draw() * 7201),  # 0..7200
        "completion_percentage": (
            100.0 if event_type == "complete" else int(draw() * 10001) / 100  # 0.00..100.00
        ),
        # 1..223 . 0..255 . 0..255 . 1..254
        "ip_address": (
            f"{1 + int(draw() * 223)}.{int(draw() * 256)}."
            f"{int(draw() * 256)}.{1 + int(draw() * 254)}"
        ),
        "isp": ISPS.pick(draw()),
        "connection_type": CONNECTION_TYPES.pick(draw()),
        "country": COUNTRY,
        "state": state,
        "city": _one_of(CITIES[state], draw()),
    }


def _one_of(values: Sequence[str], uniform: float) -> str:
    """The value a uniform draw in [0, 1) lands on: a uniform choice."""
    return values[int(uniform * len(values))]


def _in_contract_order(values: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """``values`` in contract order; RuntimeError if its keys are not the contract's."""
    if len(values) != len(names) or values.keys() != set(names):
        missing = sorted(set(names) - values.keys())
        extra = sorted(values.keys() - set(names))
        raise RuntimeError(
            "the generator is out of step with the telemetry contract: "
            f"no value for {missing}; not in the contract: {extra}"
        )
    return {name: values[name] for name in names}


def generate_events(
    count: int,
    rng: random.Random,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[dict[str, Any]]:
    """``count`` events, each with exactly the contract's fields, in the contract's order."""
    names = load_contract().field_names
    timestamp = _TimestampText(now)
    events = [_field_values(rng, timestamp()) for _ in range(count)]
    # Every event comes from the same dict literal, so the first one's keys are all of
    # theirs: in contract order (the usual case, checked once), or reordered here, or a
    # RuntimeError that names what the contract and the generator disagree on.
    if events and tuple(events[0]) != names:
        events = [_in_contract_order(values, names) for values in events]
    return events


_OPEN: Final = b'{"events":['
_CLOSE: Final = b"]}"


# Compact UTF-8 JSON. One encoder for every event: json.dumps with these options builds a
# new JSONEncoder per call, a fifth of the cost of encoding an event.
_JSON: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_event(event: Mapping[str, Any]) -> bytes:
    return _JSON.encode(event).encode()


def chunk_payloads(events: Iterable[Mapping[str, Any]], max_bytes: int) -> list[bytes]:
    """Producer payloads ``{"events": [...]}``, each at most ``max_bytes`` long.

    Events keep their order; each lands in exactly one payload. Raises ValueError when a
    single event cannot fit.
    """
    overhead = len(_OPEN) + len(_CLOSE)
    payloads: list[bytes] = []
    current: list[bytes] = []
    size = overhead
    for index, event in enumerate(events):
        encoded = encode_event(event)
        if overhead + len(encoded) > max_bytes:
            raise ValueError(
                f"event {index} alone needs {overhead + len(encoded)} bytes, "
                f"more than MAX_PAYLOAD_BYTES={max_bytes}"
            )
        extra = len(encoded) + (1 if current else 0)  # 1 for the comma
        if size + extra > max_bytes:
            payloads.append(_OPEN + b",".join(current) + _CLOSE)
            current, size, extra = [], overhead, len(encoded)
        current.append(encoded)
        size += extra
    if current:
        payloads.append(_OPEN + b",".join(current) + _CLOSE)
    return payloads


def invoke_producer(lambda_client: Any, function_name: str, payloads: Sequence[bytes]) -> int:
    """Invoke the producer asynchronously once per payload; returns the number accepted.

    Raises RuntimeError at the first invocation Lambda does not accept with 202.
    """
    for number, payload in enumerate(payloads, start=1):
        response = lambda_client.invoke(
            FunctionName=function_name, InvocationType="Event", Payload=payload
        )
        status = response.get("StatusCode")
        if status != 202:
            raise RuntimeError(
                f"asynchronous invocation {number}/{len(payloads)} of {function_name} "
                f"was not accepted: StatusCode {status} (expected 202)"
            )
    return len(payloads)


@functools.cache
def _lambda_client() -> Any:
    # boto3 is imported on first use, not at import: it is most of a cold import's time.
    import boto3
    from botocore.config import Config

    return boto3.client("lambda", config=Config(retries={"mode": "standard"}))


def run(
    settings: GeneratorSettings,
    lambda_client: Any,
    rng: random.Random,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, int]:
    events = generate_events(settings.batch_size, rng, now)
    payloads = chunk_payloads(events, settings.max_payload_bytes)
    accepted = invoke_producer(lambda_client, settings.producer_function_name, payloads)
    result = {"generated": len(events), "chunks": len(payloads), "invocations_accepted": accepted}
    extra = {**result, "producer": settings.producer_function_name}
    logger.info("events handed to the producer", extra=extra)
    return result


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, int]:
    require_metrics_namespace(os.environ)
    settings = GeneratorSettings.from_env(os.environ)
    result = run(settings, _lambda_client(), random.Random())
    metrics.add_metric(name="EventsGenerated", unit=MetricUnit.Count, value=result["generated"])
    return result
