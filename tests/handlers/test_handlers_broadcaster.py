"""Broadcaster: its input, and posting a slice against a stand-in @connections API."""

from __future__ import annotations

import hashlib
import io
import json
import random
from typing import Any

import broadcaster
import consumer
import generator
import pytest
import websocket_posts
from connections import SettingsError

from tests.support.dynamodb import create_connections_table, items, put_connections
from tests.support.events import new_connection_id
from tests.support.lambda_context import FakeLambdaContext
from tests.support.services import connections_api, connections_api_stats


def message() -> bytes:
    views = [consumer.dashboard_view(e) for e in generator.generate_events(30, random.Random(4))]
    built: bytes | None = consumer.build_message(views)
    assert built is not None
    return built


def test_input_is_the_consumers_payload():
    payload = consumer.broadcaster_payload(b'{"type":"telemetry"}', ["a", "b"])
    request = broadcaster.parse_request(payload)
    assert request == broadcaster.BroadcastRequest(b'{"type":"telemetry"}', ["a", "b"])


@pytest.mark.parametrize(
    ("event", "complaint"),
    [
        ([], "input must be"),
        ({"connectionIds": ["a"]}, "'message' must be a non-empty string"),
        ({"message": "", "connectionIds": ["a"]}, "'message' must be a non-empty string"),
        ({"message": "{}"}, "'connectionIds' must be a list"),
        ({"message": "{}", "connectionIds": ["a", ""]}, "'connectionIds' must be a list"),
        ({"message": "{}", "connectionIds": "a"}, "'connectionIds' must be a list"),
        ({"message": "{}", "connectionIds": ["c"] * 10_001}, "at most 10000"),
    ],
)
def test_bad_input_is_a_clear_error(event: Any, complaint: str):
    with pytest.raises(ValueError, match=complaint):
        broadcaster.parse_request(event)


@pytest.mark.integration
def test_a_slice_is_posted_and_gone_connections_are_removed(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    table = create_connections_table()
    ids = [new_connection_id() for _ in range(120)]
    gone = ids[::40]
    put_connections(table, ids)
    monkeypatch.setenv("CONNECTIONS_TABLE", table)
    body = message()
    with connections_api(delay=0.01, gone=gone) as url:
        monkeypatch.setenv("WEBSOCKET_CALLBACK_URL", url)
        result = broadcaster.lambda_handler(
            consumer.broadcaster_payload(body, ids), FakeLambdaContext()
        )
        stats = connections_api_stats(url)
    assert result == {"connections": 120, "delivered": 117, "stale_removed": 3, "failed": 0}
    assert set(items(table)) == set(ids) - set(gone)
    assert stats["posts"] == stats["connections"] == 117
    assert stats["bodies"] == {hashlib.sha256(body).hexdigest(): 117}
    assert stats["unsigned"] == 0


def test_failures_are_counted_and_logged_not_raised(monkeypatch: pytest.MonkeyPatch):
    output = io.StringIO()
    for handler in broadcaster.logger.handlers:  # Powertools writes JSON lines to stdout
        monkeypatch.setattr(handler, "stream", output)
    monkeypatch.setenv("CONNECTIONS_TABLE", "connections")
    # Nothing listens here: every post fails after its retries.
    monkeypatch.setenv("WEBSOCKET_CALLBACK_URL", "http://127.0.0.1:9/live")
    monkeypatch.setattr(websocket_posts, "BACKOFF_SECONDS", 0.0)
    result = broadcaster.lambda_handler(
        {"message": "{}", "connectionIds": ["a", "b"]}, FakeLambdaContext()
    )
    assert result == {"connections": 2, "delivered": 0, "stale_removed": 0, "failed": 2}
    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    failed = [line for line in lines if line["message"] == "post to connection failed"]
    assert sorted(line["connection_id"] for line in failed) == ["a", "b"]
    assert all("connect" in line["reason"] for line in failed)


def test_settings_are_required(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CONNECTIONS_TABLE", raising=False)
    with pytest.raises(SettingsError, match="CONNECTIONS_TABLE"):
        broadcaster.lambda_handler({"message": "{}", "connectionIds": ["a"]}, FakeLambdaContext())
