"""Consumer Lambda: MSK event source batch -> live dashboard over API Gateway WebSocket.

Input: an Amazon MSK event source mapping batch
    {"eventSource": "aws:kafka", "eventSourceArn": ..., "bootstrapServers": ...,
     "records": {"<topic>-<partition>": [{"topic", "partition", "offset", "timestamp",
                 "timestampType", "key" (base64, may be absent), "value" (base64),
                 "headers": [...]}, ...]}}

Each record value is base64 of a UTF-8 JSON telemetry event. A malformed record (no value,
bad base64, bad UTF-8, bad JSON, not a JSON object) is counted and logged with its topic,
partition and offset; it never stops the rest of the batch.

Browsers receive only a dashboard view of each event (DASHBOARD_FIELDS: no IP address, no
customer, device or session id) in messages
    {"type": "telemetry", "part": i, "parts": n, "events": [...], "summary": {...}}
where "summary" counts the events of that message, so a dashboard can simply add them up.
A large batch is split so every message stays under API Gateway's 128 KB WebSocket
message limit. Every connection in the connections table gets every message (connections
are served concurrently); a connection API Gateway reports gone (GoneException, 410) is
deleted from the table; other errors are counted and logged, never raised: the dashboard
is best-effort and must not block the partition. A failure to read the connections table
does raise (the batch is retried).

Environment variables:
    CONNECTIONS_TABLE        required; DynamoDB table of connections (partition key
                             "connectionId", string).
    WEBSOCKET_CALLBACK_URL   required; the stage's connection management endpoint,
                             https://{api-id}.execute-api.{region}.amazonaws.com/{stage}
    LOG_LEVEL                optional, default INFO (Powertools Logger).
    POWERTOOLS_SERVICE_NAME  optional, default telemetry-consumer.
    TELEMETRY_CONTRACT_PATH  optional; see telemetry_contract.
    AWS_REGION               set by the runtime; used by boto3.

IAM: dynamodb:Scan and dynamodb:DeleteItem on the table; execute-api:ManageConnections on
arn:aws:execute-api:{region}:{account}:{api-id}/{stage}/POST/@connections/*; plus what the
MSK event source mapping itself needs (kafka-cluster:Connect, DescribeGroup, AlterGroup,
DescribeTopic, ReadData, DescribeClusterDynamicConfiguration; kafka:DescribeClusterV2,
kafka:GetBootstrapBrokers; ec2 network interface actions for the VPC).

Returns {"records": n, "malformed": m, "connections": c, "delivered": d,
         "stale_removed": s, "failed": f}.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from connections import SettingsError, connections_table
from telemetry_contract import load_contract, value_type_error

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "telemetry-consumer")

# What a live dashboard shows. Personal data (ip_address, customer_id, device_id,
# session_id) is deliberately absent. Every name must exist in the contract.
DASHBOARD_FIELDS: Final = (
    "event_id",
    "event_type",
    "event_timestamp",
    "title_id",
    "title_type",
    "device_type",
    "device_os",
    "quality",
    "bandwidth_mbps",
    "buffering_events",
    "buffering_duration_seconds",
    "error_count",
    "watch_duration_seconds",
    "completion_percentage",
    "connection_type",
    "isp",
    "country",
    "state",
    "city",
)
# API Gateway's WebSocket message limit is 128 KB; stay clearly below it.
MAX_MESSAGE_BYTES: Final = 120_000
MAX_WORKERS: Final = 16
SUMMARY_COUNTS: Final = ("event_type", "device_type", "quality", "title_type", "state")


class MalformedRecord(ValueError):
    """A Kafka record whose value is not a base64-encoded JSON object."""


@dataclass(frozen=True)
class ConsumerSettings:
    connections_table: str
    callback_url: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ConsumerSettings:
        table = connections_table(environ)
        url = environ.get("WEBSOCKET_CALLBACK_URL", "").strip().rstrip("/")
        if not url.startswith(("https://", "http://")):
            raise SettingsError(
                "WEBSOCKET_CALLBACK_URL must be the connection management endpoint "
                "https://{api-id}.execute-api.{region}.amazonaws.com/{stage}, "
                f"got {url!r}"
            )
        return cls(table, url)


@dataclass(frozen=True)
class DecodedBatch:
    events: list[dict[str, Any]]
    records: int
    malformed: int


@dataclass(frozen=True)
class BroadcastResult:
    connections: int = 0
    delivered: int = 0
    stale_removed: int = 0
    failed: int = 0


# ---------------------------------------------------------------- decoding


def iter_records(msk_event: Any) -> Iterator[Mapping[str, Any]]:
    """Every record of the batch, partition by partition, in offset order."""
    if not isinstance(msk_event, Mapping):
        raise ValueError(
            f"expected an MSK event source batch object, got {type(msk_event).__name__}"
        )
    groups = msk_event.get("records") or {}
    if not isinstance(groups, Mapping):
        raise ValueError("'records' must map '<topic>-<partition>' to a list of records")
    for group in groups.values():
        for record in group if isinstance(group, list) else []:
            yield record if isinstance(record, Mapping) else {}


def decode_value(record: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON object in the record's base64 value; MalformedRecord says why not."""
    value = record.get("value")
    if not isinstance(value, str):
        raise MalformedRecord("record has no value")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedRecord(f"value is not valid base64: {exc}") from None
    try:
        decoded = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedRecord("value is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise MalformedRecord(f"value is not JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(decoded, dict):
        raise MalformedRecord(f"value is JSON {type(decoded).__name__}, not an object")
    return decoded


def decode_batch(msk_event: Any) -> DecodedBatch:
    events: list[dict[str, Any]] = []
    records = malformed = 0
    for record in iter_records(msk_event):
        records += 1
        try:
            events.append(decode_value(record))
        except MalformedRecord as exc:
            malformed += 1
            logger.warning(
                "malformed record skipped",
                topic=record.get("topic"),
                partition=record.get("partition"),
                offset=record.get("offset"),
                reason=str(exc),
            )
    return DecodedBatch(events, records, malformed)


# ---------------------------------------------------------------- messages


@functools.cache
def dashboard_field_types() -> dict[str, str]:
    """DASHBOARD_FIELDS with their contract types; fails loudly if the contract lost one."""
    types = load_contract().field_types
    missing = [name for name in DASHBOARD_FIELDS if name not in types]
    if missing:
        raise RuntimeError(f"dashboard fields not in the telemetry contract: {missing}")
    return {name: types[name] for name in DASHBOARD_FIELDS}


def dashboard_view(event: Mapping[str, Any]) -> dict[str, Any]:
    """Only the dashboard fields that are present with the contract's type."""
    return {
        name: event[name]
        for name, glue_type in dashboard_field_types().items()
        if name in event and value_type_error(glue_type, event[name]) is None
    }


def summarize(events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {"events": len(events)}
    for name in SUMMARY_COUNTS:
        counts = Counter(str(e[name]) for e in events if name in e)
        summary[f"by_{name}"] = dict(sorted(counts.items()))
    bandwidths = [float(e["bandwidth_mbps"]) for e in events if "bandwidth_mbps" in e]
    summary["avg_bandwidth_mbps"] = (
        round(sum(bandwidths) / len(bandwidths), 2) if bandwidths else None
    )
    summary["buffering_events"] = sum(int(e.get("buffering_events", 0)) for e in events)
    summary["errors"] = sum(int(e.get("error_count", 0)) for e in events)
    return summary


def _encode(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _message(views: Sequence[Mapping[str, Any]], part: int, parts: int) -> bytes:
    return _encode(
        {
            "type": "telemetry",
            "part": part,
            "parts": parts,
            "events": list(views),
            "summary": summarize(views),
        }
    )


def build_messages(
    views: Sequence[Mapping[str, Any]], max_bytes: int = MAX_MESSAGE_BYTES
) -> list[bytes]:
    """Broadcast messages, each at most ``max_bytes``, together carrying every view once."""
    if not views:
        return []
    # Room kept for the envelope and the summary: a subset's summary is never much longer
    # than the whole batch's (same or fewer keys, smaller counts).
    reserve = len(_message(views, 10**6, 10**6)) - len(_encode(list(views))) + 64
    sizes = [len(_encode(v)) for v in views]
    groups: list[list[Mapping[str, Any]]] = []
    current: list[Mapping[str, Any]] = []
    used = reserve
    for view, size in zip(views, sizes, strict=True):
        if reserve + size > max_bytes:
            logger.warning("event too large for a WebSocket message; skipped", bytes=size)
            continue
        if current and used + size + 1 > max_bytes:
            groups.append(current)
            current, used = [], reserve
        current.append(view)
        used += size + 1
    if current:
        groups.append(current)
    return _finish(groups, max_bytes)


def _finish(groups: list[list[Mapping[str, Any]]], max_bytes: int) -> list[bytes]:
    # The reserve is an estimate: halve any group that still ends up too long.
    while True:
        messages = [_message(g, i, len(groups)) for i, g in enumerate(groups, start=1)]
        too_long = [i for i, m in enumerate(messages) if len(m) > max_bytes and len(groups[i]) > 1]
        if not too_long:
            return [m for m in messages if len(m) <= max_bytes]
        index = too_long[0]
        group = groups[index]
        groups[index : index + 1] = [group[: len(group) // 2], group[len(group) // 2 :]]


# ---------------------------------------------------------------- broadcast


def scan_connection_ids(dynamodb: Any, table: str) -> list[str]:
    ids: list[str] = []
    paginator = dynamodb.get_paginator("scan")
    for page in paginator.paginate(TableName=table, ProjectionExpression="connectionId"):
        ids.extend(
            item["connectionId"]["S"] for item in page.get("Items", []) if "connectionId" in item
        )
    return ids


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def deliver(
    apigw: Any, dynamodb: Any, table: str, connection_id: str, messages: Iterable[bytes]
) -> str:
    """Post every message to one connection: "delivered", "stale" or "failed"."""
    for message in messages:
        try:
            apigw.post_to_connection(ConnectionId=connection_id, Data=message)
        except ClientError as exc:
            if _error_code(exc) == "GoneException":
                return _remove_stale(dynamodb, table, connection_id)
            logger.warning(
                "post to connection failed",
                connection_id=connection_id,
                error_code=_error_code(exc),
                error=str(exc),
            )
            return "failed"
        except BotoCoreError as exc:
            logger.warning("post to connection failed", connection_id=connection_id, error=str(exc))
            return "failed"
    return "delivered"


def _remove_stale(dynamodb: Any, table: str, connection_id: str) -> str:
    try:
        dynamodb.delete_item(TableName=table, Key={"connectionId": {"S": connection_id}})
    except (ClientError, BotoCoreError) as exc:
        logger.warning(
            "could not remove stale connection", connection_id=connection_id, error=str(exc)
        )
        return "failed"
    logger.info("stale connection removed", connection_id=connection_id)
    return "stale"


def broadcast(
    apigw: Any,
    dynamodb: Any,
    table: str,
    connection_ids: Sequence[str],
    messages: Sequence[bytes],
    max_workers: int = MAX_WORKERS,
) -> BroadcastResult:
    """Every message to every connection, connections served concurrently."""
    if not connection_ids or not messages:
        return BroadcastResult(connections=len(connection_ids))
    workers = max(1, min(max_workers, len(connection_ids)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ws-post") as pool:
        outcomes = Counter(
            pool.map(lambda cid: deliver(apigw, dynamodb, table, cid, messages), connection_ids)
        )
    return BroadcastResult(
        connections=len(connection_ids),
        delivered=outcomes["delivered"],
        stale_removed=outcomes["stale"],
        failed=outcomes["failed"],
    )


def process(
    msk_event: Any,
    apigw: Any,
    dynamodb: Any,
    table: str,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
) -> dict[str, int]:
    batch = decode_batch(msk_event)
    connection_ids = scan_connection_ids(dynamodb, table)
    messages = (
        build_messages([dashboard_view(e) for e in batch.events], max_message_bytes)
        if connection_ids
        else []
    )
    result = broadcast(apigw, dynamodb, table, connection_ids, messages)
    return {
        "records": batch.records,
        "malformed": batch.malformed,
        "connections": result.connections,
        "delivered": result.delivered,
        "stale_removed": result.stale_removed,
        "failed": result.failed,
    }


@functools.cache
def _clients(callback_url: str) -> tuple[Any, Any]:
    # boto3 is imported on first use, not at import: it is most of a cold import's time.
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=MAX_WORKERS,
        connect_timeout=3,
        read_timeout=5,
    )
    apigw = boto3.client("apigatewaymanagementapi", endpoint_url=callback_url, config=config)
    return apigw, boto3.client("dynamodb", config=config)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, int]:
    settings = ConsumerSettings.from_env(os.environ)
    apigw, dynamodb = _clients(settings.callback_url)
    result = process(event, apigw, dynamodb, settings.connections_table)
    logger.info("batch broadcast", extra=result)
    return result
