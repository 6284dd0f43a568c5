"""WebSocket route handlers on real API Gateway event shapes, DynamoDB on a moto server."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from typing import Any

import connections
import consumer
import generator
import pytest
import ws_connect
import ws_default
import ws_disconnect

from tests.support import moto_api
from tests.support.dynamodb import create_connections_table, items
from tests.support.events import (
    json_records,
    msk_event,
    new_connection_id,
    ws_connect_event,
    ws_disconnect_event,
    ws_message_event,
)
from tests.support.lambda_context import FakeLambdaContext


@pytest.fixture
def table(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    name = create_connections_table()
    monkeypatch.setenv("CONNECTIONS_TABLE", name)
    return name


# ------------------------------------------------------------------ $connect / $disconnect


@pytest.mark.integration
def test_connect_stores_the_connection_with_a_ttl(table: str):
    connection_id = new_connection_id()
    event = ws_connect_event(connection_id)
    before = int(time.time())
    assert ws_connect.lambda_handler(event, FakeLambdaContext()) == {"statusCode": 200}
    item = items(table)[connection_id]
    assert before + 7200 <= int(item["ttl"]) <= int(time.time()) + 7200
    connected_ms = event["requestContext"]["connectedAt"]
    expected = datetime.fromtimestamp(connected_ms / 1000, UTC).isoformat(timespec="milliseconds")
    assert item["connectedAt"] == expected.replace("+00:00", "Z")


@pytest.mark.integration
def test_connection_ttl_is_configurable(table: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CONNECTION_TTL_SECONDS", "60")
    connection_id = new_connection_id()
    ws_connect.lambda_handler(ws_connect_event(connection_id), FakeLambdaContext())
    assert int(items(table)[connection_id]["ttl"]) <= int(time.time()) + 60


@pytest.mark.integration
def test_disconnect_deletes_and_tolerates_unknown_connections(table: str):
    connection_id = new_connection_id()
    ws_connect.lambda_handler(ws_connect_event(connection_id), FakeLambdaContext())
    assert connection_id in items(table)
    response = ws_disconnect.lambda_handler(ws_disconnect_event(connection_id), FakeLambdaContext())
    assert response == {"statusCode": 200}
    assert connection_id not in items(table)
    # $disconnect for a connection already removed (e.g. by the consumer) is fine.
    assert ws_disconnect.lambda_handler(
        ws_disconnect_event(connection_id), FakeLambdaContext()
    ) == {"statusCode": 200}


@pytest.mark.integration
def test_connect_then_broadcast_then_disconnect(table: str, aws_endpoint: str, monkeypatch):
    staying, leaving = new_connection_id(), new_connection_id()
    for connection_id in (staying, leaving):
        ws_connect.lambda_handler(ws_connect_event(connection_id), FakeLambdaContext())
    ws_disconnect.lambda_handler(ws_disconnect_event(leaving), FakeLambdaContext())

    monkeypatch.setenv("WEBSOCKET_CALLBACK_URL", aws_endpoint)
    batch = generator.generate_events(10, random.Random(11))
    moto_api.start_recording(aws_endpoint)
    try:
        result = consumer.lambda_handler(
            msk_event(json_records(batch, "acme-telemetry")), FakeLambdaContext()
        )
    finally:
        moto_api.stop_recording(aws_endpoint)
    assert result["connections"] == result["delivered"] == 1
    assert set(moto_api.posted_to_connections(aws_endpoint)) == {staying}


def test_settings_errors(monkeypatch: pytest.MonkeyPatch):
    # Both read the table name through the shared common/connections.py.
    with pytest.raises(connections.SettingsError, match="CONNECTIONS_TABLE"):
        ws_connect.connections_table({})
    with pytest.raises(connections.SettingsError, match="CONNECTIONS_TABLE"):
        ws_disconnect.connections_table({})
    for bad in ("soon", "0", "-1"):
        with pytest.raises(ws_connect.SettingsError, match="CONNECTION_TTL_SECONDS"):
            ws_connect.ttl_seconds({"CONNECTION_TTL_SECONDS": bad})
    assert ws_connect.ttl_seconds({}) == 7200


def test_events_without_a_connection_id_are_rejected():
    with pytest.raises(ValueError, match=r"requestContext\.connectionId"):
        ws_connect.connection_item({"requestContext": {}}, 60)
    with pytest.raises(ValueError, match=r"requestContext\.connectionId"):
        ws_disconnect.connection_id({"body": "x"})


# ------------------------------------------------------------------ $default


def body(response: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(response["body"])
    return parsed


def test_ping_gets_a_pong():
    connection_id = new_connection_id()
    moment = datetime(2026, 5, 1, 8, 0, 0, 250000, tzinfo=UTC)
    response = ws_default.handle_message(
        ws_message_event(connection_id, '{"action": "ping"}'), now=lambda: moment
    )
    assert response["statusCode"] == 200
    assert body(response) == {
        "type": "pong",
        "connectionId": connection_id,
        "serverTime": "2026-05-01T08:00:00.250Z",
    }


def test_handler_answers_through_the_route_response():
    connection_id = new_connection_id()
    response = ws_default.lambda_handler(
        ws_message_event(connection_id, '{"action":"ping"}', base64_encoded=True),
        FakeLambdaContext(),
    )
    assert response["statusCode"] == 200
    assert body(response)["type"] == "pong"
    assert body(response)["serverTime"].endswith("Z")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"action": "subscribe"}', "unknown action 'subscribe'; supported: ping"),
        ('{"action": 7}', "unknown action '7'; supported: ping"),
        ('{"hello": 1}', "missing 'action'; supported: ping"),
        ("ping", 'invalid message: expected JSON like {"action": "ping"}; supported: ping'),
        ("[1, 2]", 'invalid message: expected JSON like {"action": "ping"}; supported: ping'),
        ("", 'invalid message: expected JSON like {"action": "ping"}; supported: ping'),
    ],
)
def test_anything_else_is_a_clear_400(text, error):
    response = ws_default.lambda_handler(
        ws_message_event(new_connection_id(), text), FakeLambdaContext()
    )
    assert response["statusCode"] == 400
    assert body(response) == {"type": "error", "error": error}
