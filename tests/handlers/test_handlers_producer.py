"""Producer: payload validation, client settings, and failure handling against a broker."""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

import generator
import producer
import pytest
import topic_admin
from kafka.errors import KafkaError
from telemetry_contract import ContractViolation, load_contract

from tests.support.kafka_io import read_topic
from tests.support.lambda_context import FakeLambdaContext
from tests.support.services import tansu_broker


def events(count: int, seed: int = 1) -> list[dict[str, Any]]:
    generated: list[dict[str, Any]] = generator.generate_events(count, random.Random(seed))
    return generated


def test_payload_must_hold_an_events_list():
    with pytest.raises(ValueError, match="JSON object"):
        producer.parse_events([1, 2])
    with pytest.raises(ValueError, match='"events": a list'):
        producer.parse_events({"events": "nope"})
    assert producer.parse_events({"events": []}) == []


def test_validation_names_the_event_index_and_the_field():
    batch = events(5)
    batch[3]["bandwidth_mbps"] = "fast"
    del batch[1]["city"]
    batch[4]["extra"] = 1
    with pytest.raises(ContractViolation) as caught:
        producer.validate_events(batch, load_contract())
    assert caught.value.errors == [
        "event 1: missing field 'city'",
        "event 3: field 'bandwidth_mbps' must be double (a number), got str 'fast'",
        "event 4: unexpected field 'extra' (not in the contract)",
    ]
    assert isinstance(caught.value, ValueError)


def test_invalid_batch_is_rejected_before_any_kafka_connection(monkeypatch: pytest.MonkeyPatch):
    # No broker at this address: reaching Kafka at all would fail differently.
    monkeypatch.setenv("BOOTSTRAP_SERVERS", "127.0.0.1:9")
    batch = events(3)
    batch[2]["buffering_events"] = 2.5
    with pytest.raises(ValueError, match="event 2: field 'buffering_events' must be int"):
        producer.lambda_handler({"events": batch}, FakeLambdaContext())
    assert producer._producer is None


def test_topic_comes_from_the_contract():
    contract = load_contract()
    assert producer.resolve_topic({}, contract) == contract.topic
    assert producer.resolve_topic({"KAFKA_TOPIC": contract.topic}, contract) == contract.topic
    with pytest.raises(producer.SettingsError, match="differs from the contract"):
        producer.resolve_topic({"KAFKA_TOPIC": "other"}, contract)


def test_reliability_settings():
    config = producer.producer_config(budget_ms=20_000)
    assert config["acks"] == "all"
    assert config["enable_idempotence"] is True
    assert config["retries"] > 0
    assert config["compression_type"] == "gzip"
    assert config["linger_ms"] > 0 and config["batch_size"] >= 16_384
    assert config["delivery_timeout_ms"] == 20_000
    assert config["request_timeout_ms"] + config["linger_ms"] <= config["delivery_timeout_ms"]
    assert config["max_block_ms"] <= 20_000 and config["bootstrap_timeout_ms"] <= 20_000


def test_budget_follows_the_lambda_deadline():
    assert producer.budget_ms(FakeLambdaContext(timeout_seconds=30)) in range(26_900, 27_001)
    assert producer.budget_ms(None) == producer.DEFAULT_BUDGET_MS - producer.SAFETY_MARGIN_MS
    assert producer.budget_ms(FakeLambdaContext(timeout_seconds=1)) == producer.MIN_BUDGET_MS


def test_empty_batch_publishes_nothing(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BOOTSTRAP_SERVERS", "127.0.0.1:9")
    result = producer.lambda_handler({"events": []}, FakeLambdaContext())
    assert result == {"published": 0, "topic": load_contract().topic}


def kafka_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("kafka-python-producer")]


@pytest.mark.integration
def test_unreachable_broker_makes_the_handler_raise(monkeypatch: pytest.MonkeyPatch):
    topic = load_contract().topic
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    with tansu_broker() as address:
        monkeypatch.setenv("BOOTSTRAP_SERVERS", address)
        topic_admin.lambda_handler(
            {"topic": topic, "partitions": 2, "replication_factor": 1}, FakeLambdaContext()
        )
        first = producer.lambda_handler({"events": events(20)}, FakeLambdaContext())
        assert first == {"published": 20, "topic": topic}
        assert producer._producer is not None  # kept for the next (warm) invocation
    # The broker is gone (killed); the warm producer still holds its connection details.
    # Lambda deadline 4 s -> 1 s budget for Kafka.
    started = time.monotonic()
    with pytest.raises(producer.PublishError, match="20 of 20 events were not acknowledged"):
        producer.lambda_handler(
            {"events": events(20, seed=2)}, FakeLambdaContext(timeout_seconds=4)
        )
    assert time.monotonic() - started < 4  # raised before the Lambda deadline
    assert producer._producer is None  # discarded: no stale records go out later
    assert not kafka_threads()

    # A cold start against the dead address fails too, within the deadline.
    started = time.monotonic()
    with pytest.raises(KafkaError):
        producer.lambda_handler({"events": events(5, seed=3)}, FakeLambdaContext(timeout_seconds=4))
    assert time.monotonic() - started < 4
    assert producer._producer is None


@pytest.mark.integration
def test_invalid_batch_sends_nothing_and_valid_batch_arrives_once(
    kafka_broker: str, monkeypatch: pytest.MonkeyPatch
):
    topic = load_contract().topic
    monkeypatch.setenv("BOOTSTRAP_SERVERS", kafka_broker)
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    monkeypatch.setenv("KAFKA_TOPIC", topic)
    topic_admin.lambda_handler(
        {"topic": topic, "partitions": 3, "replication_factor": 1}, FakeLambdaContext()
    )
    rejected = events(50, seed=4)
    rejected[49]["error_count"] = None
    with pytest.raises(ValueError, match="event 49: field 'error_count'"):
        producer.lambda_handler({"events": rejected}, FakeLambdaContext())
    accepted = events(300, seed=5)
    assert producer.lambda_handler({"events": accepted}, FakeLambdaContext())["published"] == 300

    records = read_topic(kafka_broker, topic, expected=300)
    seen = [json.loads(r.value)["event_id"] for r in records]
    assert sorted(seen) == sorted(e["event_id"] for e in accepted)
    for record in records:
        event = json.loads(record.value)
        assert record.key == event["session_id"].encode()
        assert record.value == producer.encode_value(event)  # compact JSON


def test_values_are_compact_utf8_json():
    event = {**events(1)[0], "city": "Zürich"}
    assert producer.encode_value(event) == json.dumps(
        event, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert "Zürich".encode() in producer.encode_value(event)
    with pytest.raises(ValueError, match="JSON compliant"):
        producer.encode_value({**event, "bandwidth_mbps": float("nan")})
