"""Generator: event shape and distributions, payload chunking, producer invocation."""

from __future__ import annotations

import io
import itertools
import json
import math
import random
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import generator
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from telemetry_contract import load_contract

from tests.support import moto_api
from tests.support.lambda_context import FakeLambdaContext
from tests.support.paths import CONTRACT_PATH

SAMPLE_SIZE = 50_000
# Tolerance for a count: Z standard deviations of Binomial(n, p). With Z = 6 a false alarm
# has probability below 1e-8 per check, so the test cannot flake even with a random seed.
Z = 6.0


@pytest.fixture(scope="module")
def sample() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = generator.generate_events(SAMPLE_SIZE, random.Random(20261122))
    return events


@pytest.fixture(scope="module")
def session_starts(sample) -> list[dict[str, Any]]:
    """The first event of every session in the sample: one row per session."""
    first: dict[str, dict[str, Any]] = {}
    for event in sample:
        first.setdefault(event["session_id"], event)
    return list(first.values())


def assert_weights(values: list[str], distribution: generator.Weighted) -> None:
    n = len(values)
    counts = Counter(values)
    assert set(counts) == set(distribution.values), "unexpected or missing values"
    for value in distribution.values:
        p = distribution.probability(value)
        tolerance = Z * math.sqrt(n * p * (1 - p))
        assert abs(counts[value] - n * p) <= tolerance, (value, counts[value], n * p, tolerance)


def test_fields_are_exactly_the_contract_in_order(sample):
    names = load_contract().field_names
    assert all(tuple(event) == names for event in sample)


def test_values_have_the_glue_types(sample):
    python_type = {"string": str, "int": int, "double": float}
    for name, glue_type in load_contract().field_types.items():
        wanted = python_type[glue_type]
        assert all(type(event[name]) is wanted for event in sample), name


def test_every_event_passes_contract_validation(sample):
    contract = load_contract()
    assert all(not contract.event_errors(event) for event in sample[:2000])


@pytest.mark.parametrize(
    ("field", "distribution"),
    [
        ("device_type", generator.DEVICE_TYPES),
        ("quality", generator.QUALITIES),
        ("connection_type", generator.CONNECTION_TYPES),
        ("isp", generator.ISPS),
        ("state", generator.US_STATES),
    ],
)
def test_session_weights_hold_statistically(session_starts, field, distribution):
    # A session draws these once: its sessions, not its events, are the independent draws.
    assert_weights([e[field] for e in session_starts], distribution)


def test_original_weights_are_kept():
    assert generator.EVENT_TYPES.probability("start") == pytest.approx(0.30)
    assert generator.DEVICE_TYPES.probability("mobile") == pytest.approx(0.35)
    assert generator.QUALITIES.probability("HD") == pytest.approx(0.50)
    assert generator.TITLE_TYPES.probability("documentary") == pytest.approx(0.10)


def test_every_state_has_cities_and_cities_match_states(sample):
    assert set(generator.CITIES) == set(generator.US_STATES.values)
    seen = Counter((e["state"], e["city"]) for e in sample)
    for state, cities in generator.CITIES.items():
        for city in cities:
            assert seen[(state, city)] > 0, (state, city)
    assert all(e["city"] in generator.CITIES[e["state"]] for e in sample)
    assert {e["country"] for e in sample} == {"US"}


def test_operating_system_fits_the_device(sample):
    assert all(e["device_os"] in generator.DEVICE_OS[e["device_type"]] for e in sample)


def test_ranges_and_formats(sample):
    for e in sample[:5000]:
        assert uuid.UUID(e["event_id"]).version == 4
        assert uuid.UUID(e["session_id"]) and uuid.UUID(e["device_id"])
        assert e["event_timestamp"].endswith("Z")
        datetime.fromisoformat(e["event_timestamp"].replace("Z", "+00:00"))
        assert e["customer_id"].startswith("cust_") and len(e["customer_id"]) == 11
        assert e["title_id"].startswith("title_") and len(e["title_id"]) == 11
        assert 5.0 <= e["bandwidth_mbps"] <= 100.0
        assert 0 <= e["buffering_events"] <= 5
        assert (e["buffering_duration_seconds"] == 0.0) == (e["buffering_events"] == 0)
        assert 0 <= e["error_count"] <= 2
        assert 0.0 <= e["completion_percentage"] <= 100.0
        assert len(e["ip_address"].split(".")) == 4
        assert all(0 <= int(octet) <= 255 for octet in e["ip_address"].split("."))
        assert [int(p) for p in e["app_version"].split(".")] and e["app_version"].count(".") == 2
    assert len({e["event_id"] for e in sample}) == len(sample)


def assert_uniform_integers(values: list[int], low: int, high: int, bins: int = 0) -> None:
    """Every integer of low..high equally likely (grouped into ``bins`` equal bins if given)."""
    assert min(values) >= low and max(values) <= high
    span = high - low + 1
    groups = bins or span
    assert span % groups == 0, "bins must divide the range"
    counts = Counter((v - low) * groups // span for v in values)
    n, p = len(values), 1 / groups
    tolerance = Z * math.sqrt(n * p * (1 - p))
    for group in range(groups):
        assert abs(counts[group] - n * p) <= tolerance, (low, high, group, counts[group], n * p)


def assert_uniform_floats(values: list[float], low: float, high: float) -> None:
    """Uniform on [low, high], rounded to 2 decimals: ten equal bins hold a tenth each."""
    assert min(values) >= low and max(values) <= high
    assert all(round(v, 2) == v for v in values)
    n, p = len(values), 0.1
    counts = Counter(min(int((v - low) / (high - low) * 10), 9) for v in values)
    tolerance = Z * math.sqrt(n * p * (1 - p))
    for group in range(10):
        assert abs(counts[group] - n * p) <= tolerance, (low, high, group, counts[group])


@pytest.mark.parametrize(
    ("field", "low", "high", "bins"),
    [
        ("buffering_events", 0, 5, 0),
        ("error_count", 0, 2, 0),
    ],
)
def test_integer_fields_are_uniform(sample, field, low, high, bins):
    values = [e[field] for e in sample]
    assert {low, high} <= set(values)
    assert_uniform_integers(values, low, high, bins)


def test_identifier_numbers_and_versions_are_uniform(session_starts):
    customers = [int(e["customer_id"].removeprefix("cust_")) for e in session_starts]
    assert_uniform_integers(customers, 1, 100_000, bins=10)
    titles = [int(e["title_id"].removeprefix("title_")) for e in session_starts]
    assert_uniform_integers(titles, 1, 10_000, bins=10)
    parts = [tuple(map(int, e["app_version"].split("."))) for e in session_starts]
    assert_uniform_integers([p[0] for p in parts], 1, 5)
    assert_uniform_integers([p[1] for p in parts], 0, 9)
    assert_uniform_integers([p[2] for p in parts], 0, 99, bins=10)


def test_double_fields_are_uniform_and_rounded(sample):
    assert_uniform_floats([e["bandwidth_mbps"] for e in sample], 5.0, 100.0)
    assert {e["completion_percentage"] for e in sample if e["event_type"] == "complete"} == {100.0}
    assert all(round(e["completion_percentage"], 2) == e["completion_percentage"] for e in sample)


def test_buffering_time_is_the_stalls_of_the_connection(sample):
    for e in sample:
        low, high = generator.STALL_SECONDS[e["connection_type"]]
        n = e["buffering_events"]
        assert n * low - 1e-9 <= e["buffering_duration_seconds"] <= n * high + 1e-9, e
        assert round(e["buffering_duration_seconds"], 2) == e["buffering_duration_seconds"]


def test_operating_systems_and_cities_are_uniform_within_their_group(session_starts):
    for device, systems in generator.DEVICE_OS.items():
        chosen = [e["device_os"] for e in session_starts if e["device_type"] == device]
        assert_uniform_integers([systems.index(s) for s in chosen], 0, len(systems) - 1)
    for state, cities in generator.CITIES.items():
        chosen = [e["city"] for e in session_starts if e["state"] == state]
        assert_uniform_integers([cities.index(c) for c in chosen], 0, len(cities) - 1)


def test_ids_are_random_version_4_uuids(sample, session_starts):
    for name, rows in [
        ("event_id", sample),
        ("session_id", session_starts),
        ("device_id", session_starts),
    ]:
        ids = [e[name] for e in rows]
        assert len(set(ids)) == len(ids), name
        for text in ids[:5000]:
            parsed = uuid.UUID(text)
            assert str(parsed) == text
            assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        # Every random hex digit (all but the version digit) takes its 16 values evenly.
        digits = Counter(t.replace("-", "")[0] for t in ids)
        assert_uniform_integers([int(d, 16) for d in digits.elements()], 0, 15)
        variants = Counter(t[19] for t in ids)
        assert set(variants) == set("89ab")


def test_pick_maps_draws_onto_the_weights():
    weighted = generator.Weighted.of({"a": 1, "b": 2, "c": 1})
    assert weighted.pick(0.0) == "a"
    assert weighted.pick(0.2499) == "a"
    assert weighted.pick(0.25) == "b"
    assert weighted.pick(0.7499) == "b"
    assert weighted.pick(0.75) == "c"
    assert weighted.pick(0.9999999999999999) == "c"


def steady_clock(start: datetime, step: timedelta) -> Iterator[datetime]:
    moment = start
    while True:
        yield moment
        moment += step


def test_each_event_has_the_time_it_was_made():
    # 0.4 ms between events: several share a millisecond, none shows another's.
    clock = steady_clock(datetime(2026, 3, 1, 12, 0, 0, 999_000, tzinfo=UTC), timedelta(0, 0, 400))
    moments: list[datetime] = []

    def now() -> datetime:
        moments.append(next(clock))
        return moments[-1]

    events = generator.generate_events(40, random.Random(5), now=now)
    assert [e["event_timestamp"] for e in events] == [generator.utc_timestamp(m) for m in moments]
    assert events[0]["event_timestamp"] == "2026-03-01T12:00:00.999Z"
    assert events[3]["event_timestamp"] == "2026-03-01T12:00:01.000Z"
    assert len({e["event_timestamp"] for e in events}) == 16


def test_timestamps_of_other_time_zones_are_written_in_utc():
    moment = datetime(2026, 3, 1, 14, 30, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    events = generator.generate_events(2, random.Random(1), now=lambda: moment)
    assert {e["event_timestamp"] for e in events} == {"2026-03-01T12:30:05.123Z"}


def test_timestamps_are_utc_with_z():
    moment = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)
    events = generator.generate_events(1, random.Random(1), now=lambda: moment)
    assert events[0]["event_timestamp"] == "2026-03-01T12:30:05.123Z"


def test_injected_random_makes_runs_reproducible():
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    first = generator.generate_events(50, random.Random(7), now=lambda: moment)
    second = generator.generate_events(50, random.Random(7), now=lambda: moment)
    assert first == second


# ------------------------------------------------------------------ chunking


@pytest.mark.parametrize("max_bytes", [700, 1_500, 20_000, 200_000])
def test_chunks_stay_under_the_limit_and_keep_every_event_once(sample, max_bytes):
    events = sample[:3000]
    payloads = generator.chunk_payloads(events, max_bytes)
    assert all(len(p) <= max_bytes for p in payloads)
    decoded = [json.loads(p) for p in payloads]
    assert all(set(d) == {"events"} and d["events"] for d in decoded)
    assert [e for d in decoded for e in d["events"]] == events  # nothing lost, duplicated
    # Greedy packing: the next chunk's first event would not have fitted in the previous one.
    for previous, following in itertools.pairwise(decoded):
        grown = {"events": [*previous["events"], following["events"][0]]}
        assert len(json.dumps(grown, separators=(",", ":"), ensure_ascii=False)) > max_bytes


def test_an_event_larger_than_the_limit_is_an_error(sample):
    with pytest.raises(ValueError, match="event 0 alone needs"):
        generator.chunk_payloads(sample[:1], 100)


def test_no_events_no_payloads():
    assert generator.chunk_payloads([], 1000) == []


# ------------------------------------------------------------------ settings


def test_settings_defaults():
    settings = generator.GeneratorSettings.from_env({"PRODUCER_FUNCTION_NAME": "p"})
    assert settings == generator.GeneratorSettings("p", 1000, 200_000)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "PRODUCER_FUNCTION_NAME is required"),
        ({"PRODUCER_FUNCTION_NAME": "p", "BATCH_SIZE": "many"}, "BATCH_SIZE must be a positive"),
        ({"PRODUCER_FUNCTION_NAME": "p", "BATCH_SIZE": "0"}, "BATCH_SIZE must be between 1"),
        ({"PRODUCER_FUNCTION_NAME": "p", "BATCH_SIZE": "-3"}, "BATCH_SIZE must be between 1"),
        ({"PRODUCER_FUNCTION_NAME": "p", "BATCH_SIZE": "2.5"}, "BATCH_SIZE must be a positive"),
        ({"PRODUCER_FUNCTION_NAME": "p", "MAX_PAYLOAD_BYTES": "2000000"}, "MAX_PAYLOAD_BYTES"),
    ],
)
def test_bad_settings_are_clear_errors(env, message):
    with pytest.raises(generator.SettingsError, match=message):
        generator.GeneratorSettings.from_env(env)


# ------------------------------------------------------------------ invocation


def test_an_invocation_not_accepted_raises():
    # Lambda answers 202 to every accepted asynchronous invoke; moto cannot answer
    # otherwise, so this one response is stubbed.
    client = boto3.client("lambda", region_name="eu-west-1")
    with Stubber(client) as stub:
        stub.add_response("invoke", {"StatusCode": 202, "Payload": StreamingBody(io.BytesIO(), 0)})
        stub.add_response("invoke", {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(), 0)})
        with pytest.raises(RuntimeError, match=r"invocation 2/3 .* StatusCode 200"):
            generator.invoke_producer(client, "producer", [b"{}", b"{}", b"{}"])


@pytest.fixture
def producer_function(aws_endpoint: str) -> str:
    """A producer function in the moto server, whose Lambda answers without Docker."""
    moto_api.configure(aws_endpoint, {"lambda": {"use_docker": False}})
    iam = boto3.client("iam")
    name = f"producer-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("producer.py", "def lambda_handler(event, context):\n    return {}\n")
    boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="producer.lambda_handler",
        Code={"ZipFile": code.getvalue()},
    )
    return name


@pytest.mark.integration
def test_handler_invokes_the_producer_asynchronously_per_chunk(
    producer_function: str, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PRODUCER_FUNCTION_NAME", producer_function)
    monkeypatch.setenv("BATCH_SIZE", "1000")
    monkeypatch.setenv("MAX_PAYLOAD_BYTES", "60000")
    moto_api.start_recording(aws_endpoint)
    try:
        result = generator.lambda_handler({"source": "aws.scheduler"}, FakeLambdaContext())
    finally:
        moto_api.stop_recording(aws_endpoint)

    invocations = moto_api.lambda_invocations(aws_endpoint, producer_function)
    assert result == {
        "generated": 1000,
        "chunks": len(invocations),
        "invocations_accepted": len(invocations),
    }
    assert len(invocations) >= 10  # ~650 bytes an event, 60 KB a payload
    assert all(r.headers.get("X-Amz-Invocation-Type") == "Event" for r in invocations)
    assert all(len(r.body) <= 60000 for r in invocations)
    ids = [e["event_id"] for r in invocations for e in json.loads(r.body)["events"]]
    assert len(ids) == len(set(ids)) == 1000


def test_handler_default_settings_need_the_producer_name(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PRODUCER_FUNCTION_NAME", raising=False)
    with pytest.raises(generator.SettingsError, match="PRODUCER_FUNCTION_NAME"):
        generator.lambda_handler({}, FakeLambdaContext())


# ------------------------------------------------------------------ contract drift


def use_contract_fields(
    fields: list[dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point TELEMETRY_CONTRACT_PATH at a copy of the contract with other fields."""
    document = json.loads(CONTRACT_PATH.read_text())
    document["fields"] = fields
    path = tmp_path / "telemetry_event.json"
    path.write_text(json.dumps(document))
    monkeypatch.setenv("TELEMETRY_CONTRACT_PATH", str(path))
    load_contract.cache_clear()


def test_events_follow_a_contract_that_reorders_its_fields(tmp_path, monkeypatch):
    fields = list(reversed(json.loads(CONTRACT_PATH.read_text())["fields"]))
    use_contract_fields(fields, tmp_path, monkeypatch)
    events = generator.generate_events(3, random.Random(2))
    assert [tuple(e) for e in events] == [tuple(f["name"] for f in fields)] * 3


def test_a_contract_field_the_generator_lacks_is_a_clear_error(tmp_path, monkeypatch):
    fields = json.loads(CONTRACT_PATH.read_text())["fields"]
    use_contract_fields([*fields[1:], {"name": "mood", "type": "string"}], tmp_path, monkeypatch)
    with pytest.raises(
        RuntimeError, match=r"no value for \['mood'\]; not in the contract: \['event_id'\]"
    ):
        generator.generate_events(1, random.Random(2))
