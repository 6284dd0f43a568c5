"""Consumer: MSK batch decoding, the dashboard message, fan-out and stale connections."""

from __future__ import annotations

import io
import json
import os
import random
import threading
import uuid
import zipfile
from collections import Counter
from typing import Any

import boto3
import consumer
import generator
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from telemetry_contract import load_contract

from tests.support import moto_api
from tests.support.dynamodb import create_connections_table, items, put_connections
from tests.support.events import KafkaRecord, b64, json_records, msk_event, new_connection_id
from tests.support.lambda_context import FakeLambdaContext
from tests.support.services import connections_api, connections_api_stats

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


def test_one_small_message_per_batch_with_its_summary_and_recent_events():
    batch = events(100)
    views = [consumer.dashboard_view(e) for e in batch]
    message = consumer.build_message(views)
    assert message is not None and len(message) <= consumer.MAX_MESSAGE_BYTES
    decoded = json.loads(message)
    assert set(decoded) == {"type", "events", "summary"} and decoded["type"] == "telemetry"
    assert decoded["events"] == views[-consumer.RECENT_EVENTS :]  # the batch's latest, in order
    summary = decoded["summary"]
    assert summary == consumer.summarize(views)  # the whole batch, not just what is shown
    assert summary["events"] == 100
    assert summary["by_event_type"] == dict(sorted(Counter(e["event_type"] for e in batch).items()))
    for name in ("state", "isp", "connection_type", "quality"):
        assert summary[f"by_{name}"] == dict(sorted(Counter(e[name] for e in batch).items()))
    # Counts of events, never sums of per-event counters: they can't exceed the events.
    assert summary["events_buffering"] == sum(1 for e in batch if e["buffering_events"] > 0)
    assert summary["events_with_errors"] == sum(1 for e in batch if e["error_count"] > 0)
    assert summary["events_with_errors"] <= summary["events"]
    # Sums, so the page derives exact ratios over any number of batches.
    assert summary["watch_seconds"] == pytest.approx(
        sum(e["watch_duration_seconds"] for e in batch)
    )
    assert summary["buffering_seconds"] == pytest.approx(
        sum(e["buffering_duration_seconds"] for e in batch)
    )
    assert summary["bandwidth_events"] == 100
    assert summary["bandwidth_mbps_sum"] == pytest.approx(sum(e["bandwidth_mbps"] for e in batch))
    watched: Counter[str] = Counter()
    for e in batch:
        watched[e["title_id"]] += e["watch_duration_seconds"]
    assert summary["top_titles"] == pytest.approx(dict(watched))  # every title of 100 events
    stamps = sorted(e["event_timestamp"] for e in batch)
    assert (summary["first_event_at"], summary["last_event_at"]) == (stamps[0], stamps[-1])
    assert not any(PERSONAL & set(e) for e in decoded["events"])
    assert b"ip_address" not in message


def test_a_summary_names_at_most_top_titles_titles_the_most_watched():
    batch = [
        dict(e, title_id=f"t{n:05d}", watch_duration_seconds=n) for n, e in enumerate(events(300))
    ]
    summary = consumer.summarize([consumer.dashboard_view(e) for e in batch])
    assert len(summary["top_titles"]) == consumer.TOP_TITLES
    assert min(summary["top_titles"].values()) == 300 - consumer.TOP_TITLES


def test_the_message_size_does_not_grow_with_the_batch():
    small = consumer.build_message([consumer.dashboard_view(e) for e in events(20)])
    large = consumer.build_message([consumer.dashboard_view(e) for e in events(5000)])
    assert small is not None and large is not None
    assert len(large) < 2 * len(small) < consumer.MAX_MESSAGE_BYTES


def test_fewer_recent_events_when_they_would_not_fit():
    views = [consumer.dashboard_view(e) for e in events(40, seed=9)]
    views[-1]["city"] = "x" * 3000  # an oversized latest event
    whole = consumer.build_message(views)
    assert whole is not None
    message = consumer.build_message(views, max_bytes=len(whole) - 1)
    assert message is not None and len(message) <= len(whole) - 1
    decoded = json.loads(message)
    assert decoded["events"] == views[-consumer.RECENT_EVENTS + 1 :]  # the oldest went first
    assert decoded["summary"]["events"] == 40
    tiny = consumer.build_message(views, max_bytes=len(_summary_only(views)))
    assert tiny is not None and json.loads(tiny)["events"] == []
    assert consumer.build_message(views, max_bytes=100) is None  # not even the summary


def _summary_only(views: list[dict[str, Any]]) -> bytes:
    document = {"type": "telemetry", "events": [], "summary": consumer.summarize(views)}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def test_no_events_no_message():
    assert consumer.build_message([]) is None


# ------------------------------------------------------------------ fan-out


def test_connections_are_split_into_slices():
    ids = [f"c{i}" for i in range(1001)]
    slices = consumer.split(ids, 500)
    assert [len(s) for s in slices] == [500, 500, 1]
    assert [c for s in slices for c in s] == ids
    assert consumer.split([], 500) == []


def record_calls(result: consumer.BroadcastResult | None = None):
    calls: list[tuple[list[str], bytes]] = []

    def post_all(ids, message):
        calls.append((list(ids), message))
        return result or consumer.BroadcastResult(connections=len(ids), delivered=len(ids))

    return calls, post_all


def test_few_connections_are_posted_by_the_consumer_itself():
    calls, post_all = record_calls()
    invoked: list[dict[str, Any]] = []
    result = consumer.process(
        msk_event(json_records(events(30), topic="acme-telemetry")),
        scan=lambda: ["a", "b", "c"],
        post_all=post_all,
        invoke=invoked.append,
        slice_size=3,
    )
    assert result == {
        "records": 30,
        "malformed": 0,
        "rejected": 0,
        "dropped_for_size": 0,
        "broadcast_events": 30,
        "connections": 3,
        "delivered": 3,
        "stale_removed": 0,
        "failed": 0,
        "broadcasters": 0,
    }
    assert invoked == [] and len(calls) == 1 and calls[0][0] == ["a", "b", "c"]
    assert json.loads(calls[0][1])["summary"]["events"] == 30


def test_many_connections_go_to_broadcasters_one_slice_each():
    ids = [f"c{i:03d}" for i in range(25)]
    payloads: list[dict[str, Any]] = []
    lock = threading.Lock()

    def invoke(payload: dict[str, Any]) -> dict[str, int]:
        with lock:
            payloads.append(payload)
        count = len(payload["connectionIds"])
        return {"connections": count, "delivered": count - 1, "stale_removed": 1, "failed": 0}

    calls, post_all = record_calls()
    result = consumer.process(
        msk_event(json_records(events(30), topic="acme-telemetry")),
        scan=lambda: ids,
        post_all=post_all,
        invoke=invoke,
        slice_size=10,
    )
    assert calls == []
    assert sorted(len(p["connectionIds"]) for p in payloads) == [5, 10, 10]
    assert sorted(c for p in payloads for c in p["connectionIds"]) == ids
    assert len({p["message"] for p in payloads}) == 1  # built once, the same for all
    assert json.loads(payloads[0]["message"])["summary"]["events"] == 30
    assert result["connections"] == 25 and result["broadcasters"] == 3
    assert (result["delivered"], result["stale_removed"], result["failed"]) == (22, 3, 0)


def test_a_failed_broadcaster_counts_its_slice_as_failed(caplog: pytest.LogCaptureFixture):
    def invoke(payload: dict[str, Any]) -> dict[str, int]:
        if "c00" in payload["connectionIds"]:
            raise RuntimeError("broadcaster failed: Task timed out")
        count = len(payload["connectionIds"])
        return {"connections": count, "delivered": count, "stale_removed": 0, "failed": 0}

    result = consumer.fan_out(invoke, b"{}", [["c00", "c01"], ["c02", "c03", "c04"]])
    assert result.counts() == {"connections": 5, "delivered": 3, "stale_removed": 0, "failed": 2}
    warnings = [r for r in caplog.records if r.getMessage() == "broadcaster invocation failed"]
    assert len(warnings) == 1 and "Task timed out" in vars(warnings[0])["error"]


def test_without_a_broadcaster_every_connection_is_posted_here():
    calls, post_all = record_calls()
    ids = [f"c{i}" for i in range(50)]
    result = consumer.process(
        msk_event(json_records(events(5), topic="acme-telemetry")),
        scan=lambda: ids,
        post_all=post_all,
        invoke=None,
        slice_size=10,
    )
    assert len(calls) == 1 and calls[0][0] == ids and result["broadcasters"] == 0


def test_nothing_is_posted_without_connections_or_events():
    calls, post_all = record_calls()
    for scan, batch in (
        (list, events(5)),  # no connections
        (lambda: ["a"], []),  # no events
    ):
        result = consumer.process(
            msk_event(json_records(batch, topic="acme-telemetry")),
            scan=scan,
            post_all=post_all,
            invoke=None,
        )
        assert result["delivered"] == 0
    assert calls == []


@pytest.mark.integration
def test_the_broadcaster_is_invoked_synchronously_with_its_slice(aws_endpoint: str):
    # moto (without Docker) answers an invocation with its payload: what was sent comes back.
    name = create_echo_function()
    invoke = consumer.lambda_invoker(boto3.client("lambda"), name)
    payload = consumer.broadcaster_payload(b'{"type":"telemetry"}', ["a", "b"])
    assert invoke(payload) == {"message": '{"type":"telemetry"}', "connectionIds": ["a", "b"]}


def test_a_broadcaster_function_error_raises():
    client = boto3.client("lambda", region_name="eu-west-1")
    with Stubber(client) as stub:
        stub.add_response(
            "invoke",
            {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": StreamingBody(io.BytesIO(b'{"errorMessage":"boom"}'), 23),
            },
        )
        with pytest.raises(RuntimeError, match="boom"):
            consumer.lambda_invoker(client, "broadcaster")({"message": "{}", "connectionIds": []})


def create_echo_function() -> str:
    from tests.support import moto_api as api

    api.configure(os.environ["AWS_ENDPOINT_URL"], {"lambda": {"use_docker": False}})
    role = boto3.client("iam").create_role(
        RoleName=f"role-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("broadcaster.py", "def lambda_handler(event, context):\n    return {}\n")
    name = f"broadcaster-{uuid.uuid4().hex[:8]}"
    boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="broadcaster.lambda_handler",
        Code={"ZipFile": code.getvalue()},
    )
    return name


# ------------------------------------------------------------------ the handler


def emitted_metrics(stdout: str, namespace: str = "AcmeTelemetry") -> dict[str, float]:
    """Metric name -> value from the EMF lines a handler printed (one namespace)."""
    found: dict[str, float] = {}
    for line in stdout.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == namespace
            assert ["service"] in directive["Dimensions"]
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                found[metric["Name"]] = value[0] if isinstance(value, list) else value
    return found


@pytest.mark.integration
def test_handler_broadcasts_to_every_connection_and_removes_gone_ones(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    table = create_connections_table()
    connections = [new_connection_id() for _ in range(25)]
    gone = connections[:3]
    put_connections(table, connections)
    monkeypatch.setenv("CONNECTIONS_TABLE", table)
    batch = events(40)
    records = json_records(batch, topic="acme-telemetry", partitions=2)
    event = msk_event(records)
    event["records"]["acme-telemetry-0"].append(
        {"topic": "acme-telemetry", "partition": 0, "offset": 999, "value": b64(b"oops")}
    )
    with connections_api(delay=0.005, gone=gone) as url:
        monkeypatch.setenv("WEBSOCKET_CALLBACK_URL", url)
        result = consumer.lambda_handler(event, FakeLambdaContext())
        stats = connections_api_stats(url)

    assert result == {
        "records": 41,
        "malformed": 1,
        "rejected": 0,
        "dropped_for_size": 0,
        "broadcast_events": 40,
        "connections": 25,
        "delivered": 22,
        "stale_removed": 3,
        "failed": 0,
        "broadcasters": 0,
    }
    assert set(items(table)) == set(connections) - set(gone)  # gone ones deleted
    assert stats["posts"] == stats["connections"] == 22 and stats["unsigned"] == 0
    # The invocation printed its metrics in CloudWatch's embedded metric format.
    assert emitted_metrics(capsys.readouterr().out) == {
        "RecordsMalformed": 1,
        "EventsRejected": 0,
        "EventsBroadcast": 40,
        "MessagesDelivered": 22,
        "StaleConnectionsRemoved": 3,
        "DeliveryFailures": 0,
        "OpenConnections": 25,
    }
    assert len(stats["bodies"]) == 1  # every connection got the same message


@pytest.mark.integration
def test_handler_posts_through_the_management_api(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
):
    # moto's own @connections endpoint: the request is one it understands as PostToConnection.
    table = create_connections_table()
    connections = [new_connection_id() for _ in range(3)]
    put_connections(table, connections)
    monkeypatch.setenv("CONNECTIONS_TABLE", table)
    monkeypatch.setenv("WEBSOCKET_CALLBACK_URL", aws_endpoint)
    batch = events(40)
    moto_api.start_recording(aws_endpoint)
    try:
        result = consumer.lambda_handler(
            msk_event(json_records(batch, topic="acme-telemetry", partitions=1)),
            FakeLambdaContext(),
        )
    finally:
        moto_api.stop_recording(aws_endpoint)
    assert result["delivered"] == 3
    posted = moto_api.posted_to_connections(aws_endpoint)
    assert set(posted) == set(connections)
    for messages in posted.values():
        assert len(messages) == 1
        message = json.loads(messages[0])
        assert message["summary"]["events"] == 40
        assert [e["event_id"] for e in message["events"]] == [
            e["event_id"] for e in batch[-consumer.RECENT_EVENTS :]
        ]


def test_settings_are_required(monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(consumer.SettingsError, match="CONNECTIONS_TABLE"):
        consumer.ConsumerSettings.from_env({})
    with pytest.raises(consumer.SettingsError, match="WEBSOCKET_CALLBACK_URL"):
        consumer.ConsumerSettings.from_env({"CONNECTIONS_TABLE": "t"})
    with pytest.raises(consumer.SettingsError, match="WEBSOCKET_CALLBACK_URL"):
        consumer.ConsumerSettings.from_env(
            {"CONNECTIONS_TABLE": "t", "WEBSOCKET_CALLBACK_URL": "wss://x.example/live"}
        )
    base = {
        "CONNECTIONS_TABLE": "t",
        "WEBSOCKET_CALLBACK_URL": "https://a1.execute-api.eu-west-1.amazonaws.com/live/",
    }
    settings = consumer.ConsumerSettings.from_env(base)
    assert settings.callback_url == "https://a1.execute-api.eu-west-1.amazonaws.com/live"
    assert settings.broadcaster_function is None
    assert settings.slice_size == consumer.DEFAULT_SLICE_SIZE
    settings = consumer.ConsumerSettings.from_env(
        {**base, "BROADCASTER_FUNCTION_NAME": " b ", "BROADCAST_SLICE_SIZE": "250"}
    )
    assert (settings.broadcaster_function, settings.slice_size) == ("b", 250)
    for bad in ("0", "many", "10001"):
        with pytest.raises(consumer.SettingsError, match="BROADCAST_SLICE_SIZE"):
            consumer.ConsumerSettings.from_env({**base, "BROADCAST_SLICE_SIZE": bad})


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
        "rejected": 0,
        "dropped_for_size": 0,
        "broadcast_events": 0,
        "connections": 0,
        "delivered": 0,
        "stale_removed": 0,
        "failed": 0,
        "broadcasters": 0,
    }
    assert moto_api.posted_to_connections(aws_endpoint) == {}


def test_an_event_that_breaks_the_contract_is_counted_logged_and_never_broadcast(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import logging

    from aws_lambda_powertools import Logger

    written = io.StringIO()
    logger = Logger(service="consumer-contract-test", logger_handler=logging.StreamHandler(written))
    monkeypatch.setattr(consumer, "logger", logger)
    batch = events(5)
    broken = dict(batch[2], bandwidth_mbps="fast", event_id="broken-event")
    missing = {k: v for k, v in batch[3].items() if k != "event_type"}
    calls, post_all = record_calls()
    result = consumer.process(
        msk_event(json_records([batch[0], batch[1], broken, missing, batch[4]], topic="t")),
        scan=lambda: ["a"],
        post_all=post_all,
        invoke=None,
    )
    assert (result["records"], result["rejected"], result["malformed"]) == (5, 2, 0)
    sent = json.loads(calls[0][1])
    assert sent["summary"]["events"] == 3
    assert "broken-event" not in calls[0][1].decode()
    logged = [json.loads(line) for line in written.getvalue().splitlines() if line.startswith("{")]
    refusals = [line for line in logged if line["message"].startswith("event breaks the contract")]
    assert len(refusals) == 2 and all("offset" in line for line in refusals)
    assert any("bandwidth_mbps" in " ".join(line["errors"]) for line in refusals)


def test_recent_events_left_out_for_size_are_counted() -> None:
    views = [consumer.dashboard_view(e) for e in events(30)]
    whole = consumer.build_message(views)
    assert whole is not None
    fitted = consumer.fit_message(views, max_bytes=len(whole) - 1)
    assert fitted.message is not None and fitted.dropped == 1
    assert len(json.loads(fitted.message)["events"]) == consumer.RECENT_EVENTS - 1
