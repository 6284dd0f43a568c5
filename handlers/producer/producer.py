"""Producer Lambda: validates telemetry events and publishes them to the MSK topic.

Input (asynchronous invocation by the generator): {"events": [event, ...]}.

Every event is checked against the telemetry contract first (all fields present, none
extra, values of the Glue type); if any event is invalid nothing is sent and ValueError
names the event index and the field. Then each event is sent with key = session_id (a
session's events stay in one partition, in order) and value = compact UTF-8 JSON, the
producer is flushed and every send's result is checked: any failure raises, so Lambda
retries the invocation and finally hands it to the on-failure destination.

Delivery is at-least-once: a retried invocation may publish some events twice (readers
deduplicate on event_id). The idempotent producer removes duplicates caused by its own
retries within one invocation.

Timeouts follow the Lambda deadline (context.get_remaining_time_in_millis() minus a safety
margin), so a broker outage makes the handler raise before Lambda kills it.

Environment variables:
    BOOTSTRAP_SERVERS        required; comma-separated host:port (MSK IAM brokers, 9098).
    KAFKA_TOPIC              optional; defaults to the contract's topic. When set it must
                             equal the contract's topic (catches stack/contract drift).
    KAFKA_SECURITY_PROTOCOL  optional, default SASL_SSL (PLAINTEXT for a local broker).
    KAFKA_SASL_MECHANISM     optional, default OAUTHBEARER (MSK IAM).
    LOG_LEVEL                optional, default INFO (Powertools Logger).
    POWERTOOLS_SERVICE_NAME  optional, default telemetry-producer.
    TELEMETRY_CONTRACT_PATH  optional; see telemetry_contract.
    AWS_REGION               set by the runtime; MSK IAM tokens are signed for it.

IAM (MSK IAM access control): kafka-cluster:Connect, kafka-cluster:DescribeTopic,
kafka-cluster:WriteData on the topic, and kafka-cluster:WriteDataIdempotently on the
cluster (the idempotent producer calls InitProducerId).

Returns {"published": n, "topic": topic}.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from settings import SettingsError, require_metrics_namespace
from telemetry_contract import ContractViolation, TelemetryContract, load_contract

SERVICE: Final = os.environ.get("POWERTOOLS_SERVICE_NAME") or "telemetry-producer"
logger = Logger(service=SERVICE)
# Embedded metric format on stdout; the namespace comes from POWERTOOLS_METRICS_NAMESPACE.
metrics = Metrics(service=SERVICE)

# Time kept back from the Lambda deadline to raise a clear error and log it.
SAFETY_MARGIN_MS: Final = 3_000
# Budget when there is no Lambda context (local runs).
DEFAULT_BUDGET_MS: Final = 60_000
MIN_BUDGET_MS: Final = 1_000
LINGER_MS: Final = 10
BATCH_SIZE_BYTES: Final = 128 * 1024


class PublishError(RuntimeError):
    """Kafka did not acknowledge every event (the invocation must fail and be retried)."""


def parse_events(event: Any) -> list[Any]:
    """The list under "events" in the invocation payload."""
    if not isinstance(event, Mapping):
        raise ValueError(
            f'payload must be a JSON object {{"events": [...]}}, got {type(event).__name__}'
        )
    events = event.get("events")
    if not isinstance(events, list):
        raise ValueError(f'payload must have "events": a list of events, got {events!r:.60}')
    return events


def validate_events(events: Sequence[Any], contract: TelemetryContract) -> None:
    """Raise ContractViolation (a ValueError) listing every invalid event and field."""
    errors: list[str] = []
    for index, event in enumerate(events):
        errors.extend(contract.event_errors(event, label=f"event {index}"))
    if errors:
        raise ContractViolation(errors)


# Compact UTF-8 JSON. One encoder for every event: json.dumps with these options builds a
# new JSONEncoder per call, a fifth of the cost of encoding an event.
_JSON: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_value(event: Mapping[str, Any]) -> bytes:
    return _JSON.encode(event).encode()


def resolve_topic(environ: Mapping[str, str], contract: TelemetryContract) -> str:
    topic: str = contract.topic
    configured = environ.get("KAFKA_TOPIC", "").strip()
    if configured and configured != topic:
        raise SettingsError(
            f"KAFKA_TOPIC={configured!r} differs from the contract's topic {topic!r}"
        )
    return topic


def producer_config(budget_ms: int) -> dict[str, Any]:
    """Reliability and batching settings; every wait fits inside ``budget_ms``."""
    delivery_ms = max(budget_ms, MIN_BUDGET_MS)
    return {
        "acks": "all",
        "enable_idempotence": True,
        # Retry transient errors until delivery_timeout_ms runs out (the Java default).
        "retries": 2**31 - 1,
        "max_in_flight_requests_per_connection": 5,
        "compression_type": "gzip",
        "linger_ms": LINGER_MS,
        "batch_size": BATCH_SIZE_BYTES,
        "delivery_timeout_ms": delivery_ms,
        "request_timeout_ms": max(min(30_000, delivery_ms - LINGER_MS), 500),
        "max_block_ms": min(60_000, delivery_ms),
        "bootstrap_timeout_ms": min(30_000, delivery_ms),
    }


def budget_ms(context: Any) -> int:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    total = remaining() if callable(remaining) else DEFAULT_BUDGET_MS
    return max(int(total) - SAFETY_MARGIN_MS, MIN_BUDGET_MS)


def publish(
    producer: Any, topic: str, events: Sequence[Mapping[str, Any]], timeout_s: float
) -> int:
    """Send, flush and check every send within ``timeout_s``; returns the number acknowledged.

    Raises PublishError when any send failed or was not acknowledged in time.
    """
    from kafka.errors import KafkaTimeoutError

    deadline = time.monotonic() + timeout_s
    futures = [
        producer.send(topic, key=str(event["session_id"]).encode(), value=encode_value(event))
        for event in events
    ]
    # flush(timeout) waits up to `timeout` for EACH pending batch, so with several
    # partitions it can overrun the Lambda deadline. flush(0) hands every batch to the
    # network thread at once; the futures are then awaited under one deadline.
    with contextlib.suppress(KafkaTimeoutError):
        producer.flush(timeout=0)
    failures: list[BaseException] = []
    for future in futures:
        try:
            future.get(timeout=max(deadline - time.monotonic(), 0.0))
        except Exception as exc:
            failures.append(exc)
    if failures:
        raise PublishError(
            f"{len(failures)} of {len(futures)} events were not acknowledged by Kafka "
            f"within {timeout_s:.1f}s; first error: {failures[0]!r}"
        ) from failures[0]
    return len(futures)


_producer: Any = None
_producer_lock = threading.Lock()


def _get_producer(budget: int) -> Any:
    """The KafkaProducer kept for warm invocations (created on first use).

    kafka-python and the MSK IAM settings are imported here, with the first producer, not
    at import: kafka-python alone is most of this package's import time (about 250 ms
    here), and an invocation whose events fail validation never needs it.
    """
    global _producer
    with _producer_lock:
        if _producer is None:
            from kafka import KafkaProducer
            from msk_iam import kafka_client_settings

            _producer = KafkaProducer(**kafka_client_settings(), **producer_config(budget))
        return _producer


def discard_producer() -> None:
    """Close and forget the cached producer (after a failure, or between tests)."""
    global _producer
    with _producer_lock:
        producer, _producer = _producer, None
    if producer is None:
        return
    try:
        producer.close(timeout=0)
    except Exception:
        # kafka-python 3 flushes inside close() and raises while records are still
        # pending (broker unreachable): stop the network thread and abort those records.
        sender = getattr(producer, "_sender", None)
        if sender is not None:
            sender.force_close()
            sender.join(timeout=2)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    require_metrics_namespace(os.environ)
    contract = load_contract()
    topic = resolve_topic(os.environ, contract)
    events = parse_events(event)
    validate_events(events, contract)
    if not events:
        return {"published": 0, "topic": topic}
    budget = budget_ms(context)
    try:
        producer = _get_producer(budget)
        published = publish(producer, topic, events, timeout_s=budget_ms(context) / 1000)
    except Exception:
        # Unsent records must not linger in a cached producer and go out later: the
        # invocation is retried as a whole.
        discard_producer()
        logger.exception("publishing failed", events=len(events), topic=topic)
        metrics.add_metric(name="PublishFailures", unit=MetricUnit.Count, value=len(events))
        raise
    logger.info("events published", published=published, topic=topic)
    metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=published)
    return {"published": published, "topic": topic}
