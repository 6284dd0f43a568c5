"""Consumer Lambda: MSK event source batch -> live dashboard over API Gateway WebSocket.

Input: an Amazon MSK event source mapping batch
    {"eventSource": "aws:kafka", "eventSourceArn": ..., "bootstrapServers": ...,
     "records": {"<topic>-<partition>": [{"topic", "partition", "offset", "timestamp",
                 "timestampType", "key" (base64, may be absent), "value" (base64),
                 "headers": [...]}, ...]}}

Each record value is base64 of a UTF-8 JSON telemetry event, read with Powertools'
KafkaEvent data class (``KafkaEventRecord.json_value``; like base64.b64decode's default it
ignores characters outside the base64 alphabet). A malformed record (no value, bad base64,
bad UTF-8, bad JSON, not a JSON object) is counted and logged with its topic, partition and
offset; it never stops the rest of the batch.

One message per batch, built once, goes to every connection:
    {"type": "telemetry", "events": [the batch's last RECENT_EVENTS events], "summary": {...}}
where "summary" counts every event of the batch, so a dashboard adds the summaries up and
lists the recent events. Events carry only DASHBOARD_FIELDS (no IP address, no customer,
device or session id). A message stays within MAX_MESSAGE_BYTES (one 32 KB billing unit of
API Gateway); if the recent events would not fit, fewer are sent.

Fan-out: the connections table is scanned; up to BROADCAST_SLICE_SIZE connections are posted
by this function itself; more are split into slices of that size, each handed to one
synchronous invocation of the broadcaster Lambda (all slices at once, in parallel), which
posts to its slice. Posting signs requests itself (see websocket_posts): a tenth of
boto3's CPU per post. A connection API Gateway reports gone (410) is deleted from the table;
other errors are counted and logged, never raised: the dashboard is best-effort and must not
block the partition. A failure to read the connections table does raise (the batch is
retried); a failed broadcaster invocation counts its whole slice as failed.

Environment variables:
    CONNECTIONS_TABLE         required; DynamoDB table of connections (partition key
                              "connectionId", string).
    WEBSOCKET_CALLBACK_URL    required; the stage's connection management endpoint,
                              https://{api-id}.execute-api.{region}.amazonaws.com/{stage}
    BROADCASTER_FUNCTION_NAME optional; name or ARN of the broadcaster Lambda. Unset: this
                              function posts to every connection itself.
    BROADCAST_SLICE_SIZE      optional, default 500 (1..10000); connections per slice.
    LOG_LEVEL                 optional, default INFO (Powertools Logger).
    POWERTOOLS_SERVICE_NAME   optional, default telemetry-consumer.
    TELEMETRY_CONTRACT_PATH   optional; see telemetry_contract.
    AWS_REGION                set by the runtime; requests are signed for it.

IAM: dynamodb:Scan and dynamodb:DeleteItem on the table; execute-api:ManageConnections on
arn:aws:execute-api:{region}:{account}:{api-id}/{stage}/POST/@connections/*;
lambda:InvokeFunction on the broadcaster; plus what the MSK event source mapping itself
needs (kafka-cluster:Connect, DescribeGroup, AlterGroup, DescribeTopic, ReadData,
DescribeClusterDynamicConfiguration; kafka:DescribeClusterV2, kafka:GetBootstrapBrokers;
ec2 network interface actions for the VPC).

An event that decodes but breaks the telemetry contract (a missing field, a wrong type) is
counted as "rejected", logged with its position and the first errors, and never broadcast.
Recent events left out to keep the message within its size are counted and logged.

Returns {"records": n, "malformed": m, "rejected": r, "dropped_for_size": z,
         "connections": c, "delivered": d, "stale_removed": s, "failed": f,
         "broadcasters": b} (b: broadcaster invocations).
"""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import KafkaEvent
from aws_lambda_powertools.utilities.data_classes.kafka_event import KafkaEventRecord
from connections import callback_url, connections_table, remove_connection
from settings import SettingsError as SettingsError  # what the settings readers raise
from settings import int_setting, require_metrics_namespace
from telemetry_contract import load_contract, value_type_error
from websocket_posts import BroadcastResult, broadcast, poster_for

SERVICE: Final = os.environ.get("POWERTOOLS_SERVICE_NAME") or "telemetry-consumer"
logger = Logger(service=SERVICE)
# Embedded metric format on stdout; the namespace comes from POWERTOOLS_METRICS_NAMESPACE.
metrics = Metrics(service=SERVICE)

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
# The page lists the 20 most recent events; a message carries no more than that.
RECENT_EVENTS: Final = 20
# API Gateway bills WebSocket messages in 32 KB units (and refuses frames over 128 KB): a
# message stays within one unit. 20 events take about 10 KB.
MAX_MESSAGE_BYTES: Final = 32_768
# More connections than this are split into slices of this size, one broadcaster each.
DEFAULT_SLICE_SIZE: Final = 500
MAX_SLICE_SIZE: Final = 10_000
# Broadcaster invocations in flight at once (each a Lambda instance of its own).
MAX_PARALLEL_INVOCATIONS: Final = 100
SUMMARY_COUNTS: Final = (
    "event_type",
    "device_type",
    "quality",
    "title_type",
    "state",
    "isp",
    "connection_type",
)
# Titles with the most watch time that a summary names (the deployed batch size is 100, so
# a batch's summary names every title it watched).
TOP_TITLES: Final = 100


# Metric name -> key of process()'s result, published once per batch.
BATCH_METRICS: Final = (
    ("RecordsMalformed", "malformed"),
    ("EventsRejected", "rejected"),
    ("EventsBroadcast", "broadcast_events"),
    ("MessagesDelivered", "delivered"),
    ("StaleConnectionsRemoved", "stale_removed"),
    ("DeliveryFailures", "failed"),
    ("OpenConnections", "connections"),
)


class MalformedRecord(ValueError):
    """A Kafka record whose value is not a base64-encoded JSON object."""


@dataclass(frozen=True)
class ConsumerSettings:
    connections_table: str
    callback_url: str
    broadcaster_function: str | None = None
    slice_size: int = DEFAULT_SLICE_SIZE

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ConsumerSettings:
        table = connections_table(environ)
        url = callback_url(environ)
        broadcaster = environ.get("BROADCASTER_FUNCTION_NAME", "").strip() or None
        size = int_setting(environ, "BROADCAST_SLICE_SIZE", DEFAULT_SLICE_SIZE, MAX_SLICE_SIZE)
        return cls(table, url, broadcaster, size)


@dataclass(frozen=True)
class DecodedBatch:
    events: list[dict[str, Any]]  # only events that keep the contract
    records: int
    malformed: int
    rejected: int = 0  # decoded, but breaking the contract: never broadcast


# ---------------------------------------------------------------- decoding


def iter_records(msk_event: Any) -> Iterator[KafkaEventRecord]:
    """Every record of the batch, partition by partition, in offset order.

    Powertools' KafkaEvent walks the batch; a '<topic>-<partition>' entry that is not a
    list of records is skipped.
    """
    if not isinstance(msk_event, Mapping):
        raise ValueError(
            f"expected an MSK event source batch object, got {type(msk_event).__name__}"
        )
    groups = msk_event.get("records") or {}
    if not isinstance(groups, Mapping):
        raise ValueError("'records' must map '<topic>-<partition>' to a list of records")
    lists = {key: group for key, group in groups.items() if isinstance(group, list)}
    yield from KafkaEvent({**msk_event, "records": lists}).records


def decode_value(record: KafkaEventRecord) -> dict[str, Any]:
    """The JSON object in the record's base64 value; MalformedRecord says why not."""
    try:
        decoded = record.json_value
    except (KeyError, TypeError):  # no value (a tombstone), or not a record object at all
        raise MalformedRecord("record has no value") from None
    except UnicodeDecodeError:
        raise MalformedRecord("value is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise MalformedRecord(f"value is not JSON: {exc.msg} at position {exc.pos}") from None
    except ValueError as exc:  # binascii.Error, or a non-ASCII string
        raise MalformedRecord(f"value is not valid base64: {exc}") from None
    if not isinstance(decoded, dict):
        raise MalformedRecord(f"value is JSON {type(decoded).__name__}, not an object")
    return decoded


def record_position(record: KafkaEventRecord) -> dict[str, Any]:
    """topic, partition and offset of a record, None for any that it lacks."""
    position: dict[str, Any] = {}
    for name in ("topic", "partition", "offset"):
        try:
            position[name] = getattr(record, name)
        except (KeyError, TypeError):
            position[name] = None
    return position


def decode_batch(msk_event: Any) -> DecodedBatch:
    contract = load_contract()
    events: list[dict[str, Any]] = []
    records = malformed = rejected = 0
    for record in iter_records(msk_event):
        records += 1
        try:
            event = decode_value(record)
        except MalformedRecord as exc:
            malformed += 1
            logger.warning("malformed record skipped", **record_position(record), reason=str(exc))
            continue
        errors = contract.event_errors(event)
        if errors:
            # The producer validates before publishing; anything else on the topic (another
            # writer, an old schema) is counted and shown nowhere.
            rejected += 1
            logger.warning(
                "event breaks the contract, not broadcast",
                **record_position(record),
                errors=errors[:5],
            )
            continue
        events.append(event)
    return DecodedBatch(events, records, malformed, rejected)


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


def _sum(events: Sequence[Mapping[str, Any]], name: str) -> float:
    return sum(float(e[name]) for e in events if name in e)


def summarize(events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What a dashboard adds up, computed once per batch rather than in every browser.

    Every figure is a sum or a count over the whole batch, so summaries add up exactly across
    batches: rates and ratios are derived from the sums by the page. ``top_titles`` holds
    the TOP_TITLES titles with the most watch seconds in this batch (all of them when the
    batch has no more, as with the deployed batch size of 100).
    """
    summary: dict[str, Any] = {"events": len(events)}
    for name in SUMMARY_COUNTS:
        counts = Counter(str(e[name]) for e in events if name in e)
        summary[f"by_{name}"] = dict(sorted(counts.items()))
    bandwidths = [float(e["bandwidth_mbps"]) for e in events if "bandwidth_mbps" in e]
    summary["bandwidth_events"] = len(bandwidths)
    summary["bandwidth_mbps_sum"] = round(sum(bandwidths), 2)
    summary["watch_seconds"] = round(_sum(events, "watch_duration_seconds"), 2)
    summary["buffering_seconds"] = round(_sum(events, "buffering_duration_seconds"), 2)
    summary["events_buffering"] = sum(1 for e in events if int(e.get("buffering_events", 0)) > 0)
    summary["events_with_errors"] = sum(1 for e in events if int(e.get("error_count", 0)) > 0)
    watched: dict[str, float] = {}
    for e in events:
        if "title_id" in e and "watch_duration_seconds" in e:
            title = str(e["title_id"])
            watched[title] = watched.get(title, 0.0) + float(e["watch_duration_seconds"])
    most = sorted(watched.items(), key=lambda item: (-item[1], item[0]))[:TOP_TITLES]
    summary["top_titles"] = {title: round(seconds, 2) for title, seconds in most}
    timestamps = sorted(str(e["event_timestamp"]) for e in events if "event_timestamp" in e)
    summary["first_event_at"] = timestamps[0] if timestamps else None
    summary["last_event_at"] = timestamps[-1] if timestamps else None
    return summary


def _encode(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class FittedMessage:
    message: bytes | None
    dropped: int  # recent events left out so the message stays within its size


def fit_message(
    views: Sequence[Mapping[str, Any]],
    max_bytes: int = MAX_MESSAGE_BYTES,
    recent: int = RECENT_EVENTS,
) -> FittedMessage:
    """The one message for a batch: its summary and its last ``recent`` events.

    Fewer events are sent when they would not fit in ``max_bytes`` (the oldest go first);
    no message when even the summary alone does not fit (or there are no events).
    """
    if not views:
        return FittedMessage(None, 0)
    summary = summarize(views)
    wanted = list(views[-recent:]) if recent > 0 else []
    shown = wanted
    while True:
        message = _encode({"type": "telemetry", "events": shown, "summary": summary})
        if len(message) <= max_bytes:
            return FittedMessage(message, len(wanted) - len(shown))
        if not shown:
            logger.warning("batch summary too large for a WebSocket message", bytes=len(message))
            return FittedMessage(None, len(wanted))
        shown = shown[1:]


def build_message(
    views: Sequence[Mapping[str, Any]],
    max_bytes: int = MAX_MESSAGE_BYTES,
    recent: int = RECENT_EVENTS,
) -> bytes | None:
    return fit_message(views, max_bytes, recent).message


# ---------------------------------------------------------------- fan-out


def scan_connection_ids(dynamodb: Any, table: str) -> list[str]:
    ids: list[str] = []
    paginator = dynamodb.get_paginator("scan")
    for page in paginator.paginate(TableName=table, ProjectionExpression="connectionId"):
        ids.extend(
            item["connectionId"]["S"] for item in page.get("Items", []) if "connectionId" in item
        )
    return ids


def split(connection_ids: Sequence[str], size: int) -> list[list[str]]:
    """Consecutive slices of at most ``size`` connections."""
    return [list(connection_ids[i : i + size]) for i in range(0, len(connection_ids), size)]


def broadcaster_payload(message: bytes, connection_ids: Sequence[str]) -> dict[str, Any]:
    """The broadcaster's input: the message text and the slice of connection ids."""
    return {"message": message.decode(), "connectionIds": list(connection_ids)}


def fan_out(
    invoke: Callable[[dict[str, Any]], Mapping[str, Any]],
    message: bytes,
    slices: Sequence[Sequence[str]],
    max_parallel: int = MAX_PARALLEL_INVOCATIONS,
) -> BroadcastResult:
    """One broadcaster invocation per slice, all in flight together; their results added up.

    ``invoke(payload)`` returns the broadcaster's result (its counts) or raises; a slice
    whose invocation raised counts as failed, connection by connection.
    """

    def one(ids: Sequence[str]) -> BroadcastResult:
        try:
            answer = invoke(broadcaster_payload(message, ids))
            return BroadcastResult(
                connections=len(ids),
                delivered=int(answer["delivered"]),
                stale_removed=int(answer["stale_removed"]),
                failed=int(answer["failed"]),
            )
        except Exception as exc:  # one slice's failure must not stop the others
            logger.warning("broadcaster invocation failed", connections=len(ids), error=str(exc))
            return BroadcastResult(connections=len(ids), failed=len(ids))

    if not slices:
        return BroadcastResult()
    workers = max(1, min(max_parallel, len(slices)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="broadcaster") as pool:
        return BroadcastResult.total(pool.map(one, slices))


def lambda_invoker(lambda_client: Any, function_name: str) -> Callable[[dict[str, Any]], Any]:
    """``invoke(payload)`` for fan_out: a synchronous invocation of the broadcaster."""

    def invoke(payload: dict[str, Any]) -> Any:
        response = lambda_client.invoke(
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(payload, separators=(",", ":")).encode(),
        )
        body = response["Payload"].read()
        if response.get("FunctionError"):
            raise RuntimeError(f"{function_name} failed: {body[:300].decode(errors='replace')}")
        return json.loads(body)

    return invoke


def process(
    msk_event: Any,
    *,
    scan: Callable[[], list[str]],
    post_all: Callable[[Sequence[str], bytes], BroadcastResult],
    invoke: Callable[[dict[str, Any]], Mapping[str, Any]] | None,
    slice_size: int = DEFAULT_SLICE_SIZE,
) -> dict[str, int]:
    """Decode the batch, build its message, and get it to every connection ``scan`` lists.

    Up to ``slice_size`` connections (or without ``invoke``): ``post_all`` here. More:
    slices of ``slice_size``, one ``invoke`` (broadcaster invocation) each.
    """
    batch = decode_batch(msk_event)
    connection_ids = scan()
    fitted = (
        fit_message([dashboard_view(e) for e in batch.events])
        if connection_ids
        else FittedMessage(None, 0)
    )
    message = fitted.message
    if fitted.dropped:
        logger.warning(
            "recent events left out of the message for its size",
            dropped=fitted.dropped,
            max_bytes=MAX_MESSAGE_BYTES,
        )
    broadcasters = 0
    if message is None:
        result = BroadcastResult(connections=len(connection_ids))
    elif invoke is None or len(connection_ids) <= slice_size:
        result = post_all(connection_ids, message)
    else:
        slices = split(connection_ids, slice_size)
        broadcasters = len(slices)
        result = fan_out(invoke, message, slices)
    for failure in result.failures:
        logger.warning(
            "post to connection failed",
            connection_id=failure.connection_id,
            reason=failure.reason,
        )
    return {
        "records": batch.records,
        "malformed": batch.malformed,
        "rejected": batch.rejected,
        "dropped_for_size": fitted.dropped,
        # Events of the batch that reached at least one browser (through its summary).
        "broadcast_events": len(batch.events) if result.delivered else 0,
        **result.counts(),
        "broadcasters": broadcasters,
    }


# ---------------------------------------------------------------- AWS clients


@functools.cache
def _boto3_client(service: str, max_pool_connections: int = 10, read_timeout: int = 60) -> Any:
    # boto3 is imported on first use, not at import: it is most of a cold import's time.
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 2},
        max_pool_connections=max_pool_connections,
        connect_timeout=3,
        read_timeout=read_timeout,
    )
    return boto3.client(service, config=config)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, int]:
    require_metrics_namespace(os.environ)
    settings = ConsumerSettings.from_env(os.environ)
    dynamodb = _boto3_client("dynamodb")
    poster = poster_for(settings.callback_url)
    table = settings.connections_table
    invoke = (
        lambda_invoker(
            _boto3_client("lambda", MAX_PARALLEL_INVOCATIONS), settings.broadcaster_function
        )
        if settings.broadcaster_function
        else None
    )
    result = process(
        event,
        scan=lambda: scan_connection_ids(dynamodb, table),
        post_all=lambda ids, message: broadcast(
            poster, ids, message, lambda cid: remove_connection(dynamodb, table, cid)
        ),
        invoke=invoke,
        slice_size=settings.slice_size,
    )
    logger.info("batch broadcast", extra=result)
    for name, key in BATCH_METRICS:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=result[key])
    return result
