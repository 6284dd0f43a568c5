"""Consumer: MSK batch decoding, dashboard messages, broadcast and stale connections."""

from __future__ import annotations

import json
import random
from typing import Any

import boto3
import consumer
import generator
import pytest
from botocore.stub import Stubber
from telemetry_contract import load_contract

from tests.support import moto_api
from tests.support.dynamodb import create_connections_table, items, put_connections
from tests.support.events import KafkaRecord, b64, json_records, msk_event, new_connection_id
from tests.support.lambda_context import FakeLambdaContext

PERSONAL = {"ip_address", "customer_id", "device_id", "session_id"}


def events(count: int, seed: int = 3) -> list[dict[str, Any]]:
    generated: list[dict[str, Any]] = generator.generate_events(count, random.Random(seed))
    return generated


# ------------------------------------------------------------------ decoding


def test_decodes_a_realistic_msk_batch():
    batch = events(30)
    event = msk_event(json_records(batch, topic="acme-telemetry", partitions=3))
    assert set(event["records"]) == {"acme-telemetry-0", "acme-telemetry-1", "acme-telemetry-2"}
    decoded = consumer.decode_batch(event)
    assert decoded.records == 30 and decoded.malformed == 0
    assert sorted(e["event_id"] for e in decoded.events) == sorted(e["event_id"] for e in batch)


def test_malformed_records_are_counted_logged_and_skipped(caplog: pytest.LogCaptureFixture):
    good = events(4)
    records = json_records(good, topic="acme-telemetry", partitions=1)
    bad_values = {
        101: b"\xff\xfe not utf-8",
        102: b'{"event_id": ',
        103: b"[1, 2, 3]",
        104: None,  # a tombstone: no value at all
    }
    for offset, value in bad_values.items():
        records.append(KafkaRecord("acme-telemetry", 1, offset, 0, None, value))
    event = msk_event(records)
    # Not base64 at all:
    event["records"]["acme-telemetry-1"].append(
        {"topic": "acme-telemetry", "partition": 1, "offset": 105, "value": "@@not base64@@"}
    )
    decoded = consumer.decode_batch(event)
    assert (decoded.records, decoded.malformed, len(decoded.events)) == (9, 5, 4)

    # Powertools passes the structured keys as LogRecord attributes.
    warnings = [vars(r) for r in caplog.records if r.getMessage() == "malformed record skipped"]
    assert sorted(w["offset"] for w in warnings) == [101, 102, 103, 104, 105]
    assert all(w["topic"] == "acme-telemetry" and w["partition"] == 1 for w in warnings)
    reasons = {w["offset"]: w["reason"] for w in warnings}
    assert "UTF-8" in reasons[101]
    assert "not JSON" in reasons[102]
    assert "not an object" in reasons[103]
    assert "no value" in reasons[104]
    assert "base64" in reasons[105]


def test_key_may_be_absent_or_null():
    event = msk_event(json_records(events(2), topic="t", partitions=1))
    records = event["records"]["t-0"]
    del records[0]["key"]
    records[1]["key"] = None
    assert consumer.decode_batch(event).malformed == 0


# ------------------------------------------------------------------ messages


def test_dashboard_fields_exist_in_the_contract_and_exclude_personal_data():
    assert set(consumer.DASHBOARD_FIELDS) <= set(load_contract().field_names)
    assert not PERSONAL & set(consumer.DASHBOARD_FIELDS)


def test_dashboard_view_drops_personal_and_wrongly_typed_values():
    event = events(1)[0]
    event["bandwidth_mbps"] = "fast"
    view = consumer.dashboard_view(event)
    assert not PERSONAL & set(view)
    assert "bandwidth_mbps" not in view
    assert view["event_type"] == event["event_type"]


def test_large_batches_are_split_under_the_limit():
    batch = events(3000)
    views = [consumer.dashboard_view(e) for e in batch]
    messages = consumer.build_messages(views)
    assert len(messages) > 1
    assert all(len(m) <= consumer.MAX_MESSAGE_BYTES for m in messages)
    decoded = [json.loads(m) for m in messages]
    assert [d["part"] for d in decoded] == list(range(1, len(messages) + 1))
    assert {d["parts"] for d in decoded} == {len(messages)}
    assert {d["type"] for d in decoded} == {"telemetry"}
    carried = [e["event_id"] for d in decoded for e in d["events"]]
    assert sorted(carried) == sorted(e["event_id"] for e in batch)  # each exactly once
    for d in decoded:  # each summary describes its own message
        assert d["summary"]["events"] == len(d["events"])
        assert sum(d["summary"]["by_event_type"].values()) == len(d["events"])
    assert not any(PERSONAL & set(e) for d in decoded for e in d["events"])


@pytest.mark.parametrize("limit", [2_000, 5_000, 30_000])
def test_small_limits_still_hold(limit):
    views = [consumer.dashboard_view(e) for e in events(400, seed=9)]
    messages = consumer.build_messages(views, max_bytes=limit)
    assert all(len(m) <= limit for m in messages)
    assert sum(len(json.loads(m)["events"]) for m in messages) == 400


def test_no_events_no_messages():
    assert consumer.build_messages([]) == []


# ------------------------------------------------------------------ broadcast


@pytest.mark.integration
def test_gone_connection_is_removed_and_other_errors_counted(aws_endpoint: str):
    # DynamoDB is the moto server; API Gateway's GoneException (410) cannot come from moto,
    # so only the management API client is stubbed.
    table = create_connections_table()
    alive, gone, broken = new_connection_id(), new_connection_id(), new_connection_id()
    put_connections(table, [alive, gone, broken])
    dynamodb = boto3.client("dynamodb")
    order = consumer.scan_connection_ids(dynamodb, table)

    messages = consumer.build_messages([consumer.dashboard_view(e) for e in events(5)])
    apigw = boto3.client("apigatewaymanagementapi", endpoint_url="https://example.invalid/live")
    with Stubber(apigw) as stub:
        for connection_id in order:  # one worker: posts happen in scan order
            params = {"ConnectionId": connection_id, "Data": messages[0]}
            if connection_id == gone:
                stub.add_client_error(
                    "post_to_connection",
                    "GoneException",
                    http_status_code=410,
                    expected_params=params,
                )
            elif connection_id == broken:
                stub.add_client_error(
                    "post_to_connection",
                    "LimitExceededException",
                    http_status_code=429,
                    expected_params=params,
                )
            else:
                stub.add_response("post_to_connection", {}, params)
        result = consumer.broadcast(apigw, dynamodb, table, order, messages, max_workers=1)
        stub.assert_no_pending_responses()

    assert result == consumer.BroadcastResult(connections=3, delivered=1, stale_removed=1, failed=1)
    assert set(items(table)) == {alive, broken}


@pytest.mark.integration
def test_handler_broadcasts_to_every_connection(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    table = create_connections_table()
    connections = [new_connection_id() for _ in range(25)]  # more than one page of workers
    put_connections(table, connections)
    monkeypatch.setenv("CONNECTIONS_TABLE", table)
    monkeypatch.setenv("WEBSOCKET_CALLBACK_URL", aws_endpoint)  # moto's management API
    batch = events(40)
    records = json_records(batch, topic="acme-telemetry", partitions=2)
    event = msk_event(records)
    event["records"]["acme-telemetry-0"].append(
        {"topic": "acme-telemetry", "partition": 0, "offset": 999, "value": b64(b"oops")}
    )

    moto_api.start_recording(aws_endpoint)
    try:
        result = consumer.lambda_handler(event, FakeLambdaContext())
    finally:
        moto_api.stop_recording(aws_endpoint)

    assert result == {
        "records": 41,
        "malformed": 1,
        "connections": 25,
        "delivered": 25,
        "stale_removed": 0,
        "failed": 0,
    }
    posted = moto_api.posted_to_connections(aws_endpoint)
    assert set(posted) == set(connections)
    for messages in posted.values():
        assert len(messages) == 1
        message = json.loads(messages[0])
        assert sorted(e["event_id"] for e in message["events"]) == sorted(
            e["event_id"] for e in batch
        )
        assert not any(PERSONAL & set(e) for e in message["events"])
        assert b"ip_address" not in messages[0]


def test_settings_are_required(monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(consumer.SettingsError, match="CONNECTIONS_TABLE"):
        consumer.ConsumerSettings.from_env({})
    with pytest.raises(consumer.SettingsError, match="WEBSOCKET_CALLBACK_URL"):
        consumer.ConsumerSettings.from_env({"CONNECTIONS_TABLE": "t"})
    with pytest.raises(consumer.SettingsError, match="WEBSOCKET_CALLBACK_URL"):
        consumer.ConsumerSettings.from_env(
            {"CONNECTIONS_TABLE": "t", "WEBSOCKET_CALLBACK_URL": "wss://x.example/live"}
        )
    settings = consumer.ConsumerSettings.from_env(
        {
            "CONNECTIONS_TABLE": "t",
            "WEBSOCKET_CALLBACK_URL": "https://a1.execute-api.eu-west-1.amazonaws.com/live/",
        }
    )
    assert settings.callback_url == "https://a1.execute-api.eu-west-1.amazonaws.com/live"


@pytest.mark.integration
def test_no_connections_means_no_posts(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CONNECTIONS_TABLE", create_connections_table())
    monkeypatch.setenv("WEBSOCKET_CALLBACK_URL", aws_endpoint)
    event = msk_event(json_records(events(20), topic="acme-telemetry"))
    moto_api.start_recording(aws_endpoint)
    try:
        result = consumer.lambda_handler(event, FakeLambdaContext())
    finally:
        moto_api.stop_recording(aws_endpoint)
    assert result == {
        "records": 20,
        "malformed": 0,
        "connections": 0,
        "delivered": 0,
        "stale_removed": 0,
        "failed": 0,
    }
    assert moto_api.posted_to_connections(aws_endpoint) == {}
