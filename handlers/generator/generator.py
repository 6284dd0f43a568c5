"""Generator Lambda: synthetic video-streaming telemetry, handed to the producer Lambda.

Runs on a schedule. Builds BATCH_SIZE events with every field of the telemetry contract
(telemetry_event.json), made by viewing sessions that start and end within the run (see
"viewing sessions" below: each session's events are in order, so the producer, keying by
session_id, keeps them in order in one partition), splits them into payloads
{"events": [...]} of at most MAX_PAYLOAD_BYTES, and invokes the producer asynchronously
(InvocationType="Event") once per payload. Every invocation must be accepted (HTTP 202)
or the handler raises.

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
import ipaddress
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


# ------------------------------------------------------------------ viewing sessions
#
# Events come from viewing sessions. A session has one customer, device (type, OS, app
# version, id), title, quality, network (ISP, connection type, IP address) and place, and
# plays out as a player would report it:
#
#     start (pause (resume | stop) | stop resume)* (stop | complete)
#
# A pause ends the session with a stop two times in three, and a stop may be followed by a
# resume (the viewer stopped and came back), so a stop need not end a session. From playing,
# each step is a pause with probability 3/9, a stop then resume 2/9, the end 4/9 (complete
# three times in four, stop otherwise). Per session that is on average 1 start, 0.5 pauses,
# 0.5 resumes, 0.83 stops and 0.5 completes: the seeds' event-type weights 0.30, 0.15,
# 0.15, 0.25 and 0.15, in 3.33 events a session.
_PAUSE: Final = 3 / 9
_STOP_RESUME: Final = _PAUSE + 2 / 9
_PAUSE_RESUMES: Final = 1 / 3
_COMPLETES: Final = 3 / 4
# Sessions open at once in a run; their events interleave, each session's stay in order.
CONCURRENT_SESSIONS: Final = 64
# A session starts from the beginning of its title this often, else where it was left.
_FROM_THE_BEGINNING: Final = 0.7

# Titles: a fixed catalogue, so a title has one type and one running time everywhere. The
# types hold the seeds' title-type weights exactly (6,000 movies, 3,000 series episodes and
# 1,000 documentaries, shuffled); running times in seconds by type.
TITLE_COUNT: Final = 10_000
TITLE_SECONDS: Final[Mapping[str, tuple[int, int]]] = {
    "movie": (80 * 60, 150 * 60),
    "series": (20 * 60, 60 * 60),
    "documentary": (40 * 60, 110 * 60),
}
# Seconds a stall lasts, by connection type (buffering_duration_seconds is their sum).
STALL_SECONDS: Final[Mapping[str, tuple[float, float]]] = {
    "fiber": (0.5, 2.0),
    "cable": (0.5, 3.0),
    "wifi": (0.5, 4.0),
    "dsl": (1.0, 6.0),
    "mobile": (1.0, 8.0),
    "satellite": (2.0, 10.0),
}


def _title_catalogue() -> tuple[tuple[str, int], ...]:
    """(title type, running seconds) of title_00001 .. title_10000 (index 0 is title 1)."""
    rng = random.Random(14)  # fixed: the same catalogue in every run and every Lambda
    types = [
        value
        for value, weight in zip(TITLE_TYPES.values, TITLE_TYPES.weights, strict=True)
        for _ in range(round(weight / sum(TITLE_TYPES.weights) * TITLE_COUNT))
    ]
    rng.shuffle(types)
    return tuple((t, rng.randint(*TITLE_SECONDS[t])) for t in types)


TITLES: Final = _title_catalogue()


def title_of(title_id: str) -> tuple[str, int]:
    """(title type, running seconds) of a title_id such as "title_00042"."""
    return TITLES[int(title_id.removeprefix("title_")) - 1]


# IPv4 ranges that are not public unicast (IANA special-purpose registry, multicast and
# reserved space), as (first, last) integers. A session's address is drawn outside them.
_NOT_PUBLIC: Final = tuple(
    (int(net.network_address), int(net.broadcast_address))
    for net in map(
        ipaddress.IPv4Network,
        [
            "0.0.0.0/8",  # "this network"
            "10.0.0.0/8",  # private
            "100.64.0.0/10",  # carrier-grade NAT
            "127.0.0.0/8",  # loopback
            "169.254.0.0/16",  # link-local
            "172.16.0.0/12",  # private
            "192.0.0.0/24",  # IETF protocol assignments
            "192.0.2.0/24",  # documentation (TEST-NET-1)
            "192.31.196.0/24",  # AS112
            "192.52.193.0/24",  # AMT
            "192.88.99.0/24",  # 6to4 relay anycast
            "192.168.0.0/16",  # private
            "192.175.48.0/24",  # AS112 direct delegation
            "198.18.0.0/15",  # benchmarking
            "198.51.100.0/24",  # documentation (TEST-NET-2)
            "203.0.113.0/24",  # documentation (TEST-NET-3)
            "224.0.0.0/4",  # multicast
            "240.0.0.0/4",  # reserved, and the broadcast address
        ],
    )
)
_NOT_PUBLIC_FIRSTS: Final = tuple(first for first, _ in _NOT_PUBLIC)


def public_ipv4(draw: Callable[[], float]) -> str:
    """A uniformly drawn public unicast IPv4 address (dotted quad)."""
    while True:
        n = int(draw() * 4_294_967_296)
        i = bisect(_NOT_PUBLIC_FIRSTS, n) - 1
        if i < 0 or n > _NOT_PUBLIC[i][1]:
            return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def _session_plan(draw: Callable[[], float]) -> list[str]:
    """The event types of one session, in order (see the grammar above)."""
    plan = ["start"]
    while True:
        step = draw()
        if step < _PAUSE:
            plan.append("pause")
            if draw() >= _PAUSE_RESUMES:
                plan.append("stop")
                return plan
            plan.append("resume")
        elif step < _STOP_RESUME:
            plan.append("stop")
            plan.append("resume")
        else:
            plan.append("complete" if draw() < _COMPLETES else "stop")
            return plan


def _filler_plan(length: int) -> list[str]:
    """A session of exactly ``length`` (>= 2) events, for the end of a run."""
    middle = ["pause", "resume"] * ((length - 2) // 2) + ["pause"] * ((length - 2) % 2)
    return ["start", *middle, "stop"]


def _plans(count: int, draw: Callable[[], float]) -> list[list[str]]:
    """Session plans of exactly ``count`` events in all.

    The last session is shortened to fit; when one event is left over, the session before
    it gets one more (a pause before its stop). Only ``count`` = 1 makes a session that
    does not end.
    """
    plans: list[list[str]] = []
    left = count
    while left > 0:
        plan = _session_plan(draw)
        if len(plan) > left:
            if left >= 2:
                plan = _filler_plan(left)
            elif plans:
                last = plans[-1]
                last[-1:] = ["resume", "stop"] if last[-2] == "pause" else ["pause", "stop"]
                break
            else:
                plan = ["start"]
        plans.append(plan)
        left -= len(plan)
    return plans


class _Session:
    """One viewing session: what stays the same, and where its playhead is."""

    __slots__ = (
        "app_version",
        "city",
        "connection_type",
        "customer_id",
        "device_id",
        "device_os",
        "device_type",
        "ip_address",
        "isp",
        "next",
        "offset",
        "plan",
        "playing",
        "position",
        "quality",
        "running",
        "session_id",
        "stall",
        "stall_min",
        "state",
        "title_id",
        "title_type",
    )

    def __init__(self, rng: random.Random, plan: list[str]) -> None:
        draw = rng.random
        ids = rng.randbytes(32).hex()
        number = int(draw() * TITLE_COUNT)
        title_type, running = TITLES[number]
        device_type = DEVICE_TYPES.pick(draw())
        state = US_STATES.pick(draw())
        connection = CONNECTION_TYPES.pick(draw())
        low, high = STALL_SECONDS[connection]
        self.plan = plan
        self.next = 0
        self.session_id = _uuid4(ids[0:32])
        self.device_id = _uuid4(ids[32:64])
        self.customer_id = f"cust_{1 + int(draw() * 100_000):06d}"  # 1..100000
        self.title_id = f"title_{number + 1:05d}"
        self.title_type = title_type
        self.running = running
        self.device_type = device_type
        self.device_os = _one_of(DEVICE_OS[device_type], draw())
        # 1..5 . 0..9 . 0..99
        self.app_version = f"{1 + int(draw() * 5)}.{int(draw() * 10)}.{int(draw() * 100)}"
        self.quality = QUALITIES.pick(draw())
        self.ip_address = public_ipv4(draw)
        self.isp = ISPS.pick(draw())
        self.connection_type = connection
        self.state = state
        self.city = _one_of(CITIES[state], draw())
        # A stall lasts stall_min .. stall_min + stall hundredths of a second.
        self.stall_min = round(low * 100)
        self.stall = round((high - low) * 100)
        self.position = 0 if draw() < _FROM_THE_BEGINNING else int(draw() * running * 0.9)
        self.offset = self.position  # position - watch time, fixed for the session
        self.playing = False


def _session_event(
    session: _Session, draw: Callable[[], float], event_hex: str, timestamp: str
) -> dict[str, Any]:
    """The session's next event, in the contract's field order (generate_events checks it)."""
    event_type = session.plan[session.next]
    session.next += 1
    running = session.running
    position = session.position
    if event_type == "complete":
        position = running
        session.playing = False
    elif event_type == "start" or event_type == "resume":
        session.playing = True
    elif session.playing:  # pause or stop while playing: the playhead moved on
        position += int(draw() * (running - position) * 0.6)
        session.playing = False
    session.position = position
    buffering_events = int(draw() * 6)  # 0..5
    # Their total time: uniform between n shortest and n longest stalls (one draw).
    stalls = buffering_events * session.stall_min + int(
        draw() * (buffering_events * session.stall + 1)
    )
    return {
        "event_id": _uuid4(event_hex),
        "event_type": event_type,
        "event_timestamp": timestamp,
        "customer_id": session.customer_id,
        "title_id": session.title_id,
        "session_id": session.session_id,
        "device_id": session.device_id,
        "title_type": session.title_type,
        "device_type": session.device_type,
        "device_os": session.device_os,
        "app_version": session.app_version,
        "quality": session.quality,
        "bandwidth_mbps": (500 + int(draw() * 9501)) / 100,  # 5.00..100.00
        "buffering_events": buffering_events,
        "buffering_duration_seconds": stalls / 100,
        "error_count": int(draw() * 3),  # 0..2
        "watch_duration_seconds": position - session.offset,
        "position_seconds": position,
        "completion_percentage": int(position * 10_000 / running + 0.5) / 100,
        "ip_address": session.ip_address,
        "isp": session.isp,
        "connection_type": session.connection_type,
        "country": COUNTRY,
        "state": session.state,
        "city": session.city,
    }


def _session_events(
    count: int, rng: random.Random, timestamp: Callable[[], str]
) -> list[dict[str, Any]]:
    """``count`` events of interleaved sessions; each session's events in order."""
    draw = rng.random
    waiting = _plans(count, draw)
    waiting.reverse()  # pop() takes the next plan
    open_sessions = [
        _Session(rng, waiting.pop()) for _ in range(min(CONCURRENT_SESSIONS, len(waiting)))
    ]
    ids = rng.randbytes(16 * count).hex()  # every event_id's random digits
    events: list[dict[str, Any]] = []
    append = events.append
    while open_sessions:
        index = int(draw() * len(open_sessions))
        session = open_sessions[index]
        at = len(events) * 32
        append(_session_event(session, draw, ids[at : at + 32], timestamp()))
        if session.next == len(session.plan):
            if waiting:
                open_sessions[index] = _Session(rng, waiting.pop())
            else:
                open_sessions[index] = open_sessions[-1]
                open_sessions.pop()
    return events


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
    events = _session_events(count, rng, timestamp)
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
