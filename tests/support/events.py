"""Event shapes as AWS delivers them to Lambda.

MSK event source batches follow "Using Lambda with Amazon MSK" (AWS Lambda developer
guide); WebSocket events follow the API Gateway WebSocket Lambda proxy integration.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

REGION = "eu-west-1"
ACCOUNT = "123456789012"
API_ID = "a1b2c3d4e5"
STAGE = "live"
CLUSTER_ARN = (
    f"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/acme-telemetry/"
    "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d-2"
)


@dataclass(frozen=True)
class KafkaRecord:
    """What a Kafka consumer returns, reduced to what the MSK event source passes on."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def msk_record(record: KafkaRecord) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp_ms,
        "timestampType": "CREATE_TIME",
        # Header values arrive as lists of byte values.
        "headers": [{k: list(v)} for k, v in record.headers],
    }
    if record.key is not None:
        shaped["key"] = b64(record.key)
    if record.value is not None:
        shaped["value"] = b64(record.value)
    return shaped


def msk_event(
    records: Iterable[KafkaRecord], bootstrap_servers: str = "b-1.acme:9098,b-2.acme:9098"
) -> dict[str, Any]:
    """An MSK event source mapping batch: records grouped under "<topic>-<partition>"."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        grouped.setdefault(f"{record.topic}-{record.partition}", []).append(msk_record(record))
    return {
        "eventSource": "aws:kafka",
        "eventSourceArn": CLUSTER_ARN,
        "bootstrapServers": bootstrap_servers,
        "records": grouped,
    }


def json_records(
    events: Iterable[Mapping[str, Any]], topic: str, partitions: int = 3
) -> list[KafkaRecord]:
    """Telemetry events as records spread over partitions, keyed by session_id."""
    offsets = [0] * partitions
    records = []
    now = int(time.time() * 1000)
    for index, event in enumerate(events):
        partition = index % partitions
        records.append(
            KafkaRecord(
                topic=topic,
                partition=partition,
                offset=offsets[partition],
                timestamp_ms=now,
                key=str(event.get("session_id", "")).encode(),
                value=json.dumps(event).encode(),
            )
        )
        offsets[partition] += 1
    return records


def _request_context(
    route_key: str, event_type: str, connection_id: str, **extra: Any
) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": "Xyz12AbCdEFgH=",
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
        "messageDirection": "IN",
        "stage": STAGE,
        "connectedAt": now_ms - 1500,
        "requestTimeEpoch": now_ms,
        "identity": {"userAgent": "Mozilla/5.0 (test)", "sourceIp": "198.51.100.23"},
        "requestId": "Xyz12AbCdEFgH=",
        "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
        "connectionId": connection_id,
        "apiId": API_ID,
        **extra,
    }


def new_connection_id() -> str:
    """Connection ids look like "L0SM9cOFvHcCIhw=" (base64 with padding).

    Kept free of "/" and "+": botocore sends "/" as %2F, which moto server's router
    decodes and then cannot match (real API Gateway is not affected).
    """
    return b64(uuid.uuid4().bytes[:10]).replace("/", "s").replace("+", "p")


def ws_connect_event(connection_id: str) -> dict[str, Any]:
    return {
        "headers": {
            "Host": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
            "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
            "X-Forwarded-For": "198.51.100.23",
            "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https",
        },
        "multiValueHeaders": {"Host": [f"{API_ID}.execute-api.{REGION}.amazonaws.com"]},
        "requestContext": _request_context("$connect", "CONNECT", connection_id),
        "isBase64Encoded": False,
    }


def ws_disconnect_event(connection_id: str) -> dict[str, Any]:
    return {
        "headers": {"Host": f"{API_ID}.execute-api.{REGION}.amazonaws.com"},
        "multiValueHeaders": {"Host": [f"{API_ID}.execute-api.{REGION}.amazonaws.com"]},
        "requestContext": _request_context(
            "$disconnect",
            "DISCONNECT",
            connection_id,
            disconnectStatusCode=1001,
            disconnectReason="Going away",
        ),
        "isBase64Encoded": False,
    }


def ws_message_event(
    connection_id: str, body: str, *, base64_encoded: bool = False
) -> dict[str, Any]:
    return {
        "requestContext": _request_context(
            "$default", "MESSAGE", connection_id, messageId="Xyz12MsgId0="
        ),
        "body": b64(body.encode()) if base64_encoded else body,
        "isBase64Encoded": base64_encoded,
    }
