"""End to end on local stand-ins: topic admin -> producer -> Kafka -> consumer -> WebSocket.

Kafka is a real (tansu) broker; DynamoDB and the WebSocket management API are a moto
server process. Nothing in process is mocked.
"""

from __future__ import annotations

import json
import random
from collections import Counter

import consumer
import generator
import producer
import pytest
import topic_admin
from telemetry_contract import load_contract

from tests.support import moto_api
from tests.support.dynamodb import create_connections_table, put_connections
from tests.support.events import KafkaRecord, msk_event, new_connection_id
from tests.support.kafka_io import read_topic
from tests.support.lambda_context import FakeLambdaContext

EVENTS = 5000
PARTITIONS = 3
PERSONAL = {"ip_address", "customer_id", "device_id", "session_id"}


@pytest.mark.integration
def test_events_flow_from_producer_to_browsers(
    kafka_broker: str, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
):
    topic = load_contract().topic
    monkeypatch.setenv("BOOTSTRAP_SERVERS", kafka_broker)
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    monkeypatch.setenv("KAFKA_TOPIC", topic)

    # 1. Deploy-time topic creation (idempotent).
    request = {"topic": topic, "partitions": PARTITIONS, "replication_factor": 1}
    assert topic_admin.lambda_handler(request, FakeLambdaContext())["created"] is True
    assert topic_admin.lambda_handler(request, FakeLambdaContext())["created"] is False

    # 2. The generator's payloads, each published by one producer invocation.
    sent = generator.generate_events(EVENTS, random.Random(42))
    payloads = generator.chunk_payloads(sent, generator.DEFAULT_MAX_PAYLOAD_BYTES)
    published = sum(
        producer.lambda_handler(json.loads(p), FakeLambdaContext())["published"] for p in payloads
    )
    assert published == EVENTS

    # 3. Everything arrives exactly once.
    records = read_topic(kafka_broker, topic, expected=EVENTS)
    received = [json.loads(r.value) for r in records]
    counts = Counter(e["event_id"] for e in received)
    assert len(counts) == EVENTS and max(counts.values()) == 1
    assert {e["event_id"] for e in sent} == set(counts)
    by_id = {e["event_id"]: e for e in sent}
    assert all(by_id[e["event_id"]] == e for e in received)
    assert {r.partition for r in records} == set(range(PARTITIONS))

    # 4. The consumer gets them as MSK event source batches (one per partition here).
    table = create_connections_table()
    browsers = [new_connection_id() for _ in range(3)]
    put_connections(table, browsers)
    monkeypatch.setenv("CONNECTIONS_TABLE", table)
    monkeypatch.setenv("WEBSOCKET_CALLBACK_URL", aws_endpoint)
    moto_api.start_recording(aws_endpoint)
    try:
        totals: Counter[str] = Counter()
        for partition in range(PARTITIONS):
            batch = msk_event(
                KafkaRecord(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value)
                for r in records
                if r.partition == partition
            )
            totals.update(consumer.lambda_handler(batch, FakeLambdaContext()))
    finally:
        moto_api.stop_recording(aws_endpoint)
    assert totals["records"] == EVENTS and totals["malformed"] == 0
    assert totals["delivered"] == totals["connections"] == PARTITIONS * len(browsers)

    # 5. Every browser got one message per batch, within one 32 KB billing unit: summaries
    #    that add up to every event once, the batch's most recent events, no personal data.
    posted = moto_api.posted_to_connections(aws_endpoint)
    assert set(posted) == set(browsers)
    for messages in posted.values():
        assert len(messages) == PARTITIONS
        assert all(len(m) <= consumer.MAX_MESSAGE_BYTES for m in messages)
        decoded = [json.loads(m) for m in messages]
        assert sum(d["summary"]["events"] for d in decoded) == EVENTS
        by_type = sum((Counter(d["summary"]["by_event_type"]) for d in decoded), Counter())
        assert by_type == Counter(e["event_type"] for e in sent)
        shown = [e for d in decoded for e in d["events"]]
        assert len(shown) == PARTITIONS * consumer.RECENT_EVENTS
        assert {e["event_id"] for e in shown} <= set(counts)
        assert not any(PERSONAL & set(e) for e in shown)
    last_per_partition = {
        partition: [json.loads(r.value)["event_id"] for r in records if r.partition == partition][
            -consumer.RECENT_EVENTS :
        ]
        for partition in range(PARTITIONS)
    }
    first_browser = [json.loads(m) for m in posted[browsers[0]]]
    assert sorted([e["event_id"] for e in d["events"]] for d in first_browser) == sorted(
        last_per_partition.values()
    )
