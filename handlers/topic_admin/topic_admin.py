"""Topic admin Lambda: creates a Kafka topic at deploy time (idempotent).

Invoked by Terraform's aws_lambda_invocation (synchronously, RequestResponse) with:
    {"topic": str, "partitions": int, "replication_factor": int, "configs": {str: str}}
"configs" is optional (topic-level settings such as retention.ms). With
lifecycle_scope = "CRUD" Terraform adds {"tf": {"action": "create"|"update"|"delete",
"prev_input": {...}}}: create and update ensure the topic exists; delete leaves the topic
(and its data) alone.

A topic that already exists counts as success: {"topic": name, "created": false}. The
existing topic's partitions and configs are not changed.

Environment variables:
    BOOTSTRAP_SERVERS        required; comma-separated host:port (MSK IAM brokers, 9098).
    KAFKA_SECURITY_PROTOCOL  optional, default SASL_SSL (PLAINTEXT for a local broker).
    KAFKA_SASL_MECHANISM     optional, default OAUTHBEARER (MSK IAM).
    LOG_LEVEL                optional, default INFO (Powertools Logger).
    POWERTOOLS_SERVICE_NAME  optional, default telemetry-topic-admin.
    AWS_REGION               set by the runtime; MSK IAM tokens are signed for it.

IAM (MSK IAM access control): kafka-cluster:Connect on the cluster (the controller is found
with a Metadata request), kafka-cluster:CreateTopic and kafka-cluster:DescribeTopic on the
topic.

Returns {"topic": name, "created": bool}.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aws_lambda_powertools import Logger

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "telemetry-topic-admin")

TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
ALLOWED_KEYS: Final = frozenset({"topic", "partitions", "replication_factor", "configs", "tf"})
TF_ACTIONS: Final = frozenset({"create", "update", "delete"})
REQUEST_TIMEOUT_MS: Final = 30_000
# Kept back from the Lambda deadline so a failure is reported, not a timeout.
SAFETY_MARGIN_MS: Final = 3_000


@dataclass(frozen=True)
class TopicRequest:
    topic: str
    partitions: int
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)
    action: str = "create"


def parse_request(event: Any) -> TopicRequest:
    """Check the invocation input; ValueError says exactly what is wrong."""
    if not isinstance(event, Mapping):
        raise ValueError(
            "input must be a JSON object "
            '{"topic": str, "partitions": int, "replication_factor": int, "configs": {}}'
            f", got {type(event).__name__}"
        )
    unknown = sorted(set(event) - ALLOWED_KEYS)
    if unknown:
        raise ValueError(f"unknown input key(s) {unknown}; allowed: {sorted(ALLOWED_KEYS)}")

    topic = event.get("topic")
    if not isinstance(topic, str) or not TOPIC_NAME.fullmatch(topic) or topic in {".", ".."}:
        raise ValueError(
            f"'topic' must be 1-249 characters of letters, digits, '.', '_' or '-', got {topic!r}"
        )
    partitions = _positive_int(event, "partitions")
    replication_factor = _positive_int(event, "replication_factor")

    configs = event.get("configs", {})
    if configs is None:
        configs = {}
    if not isinstance(configs, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in configs.items()
    ):
        raise ValueError(
            "'configs' must be an object of string keys to string values "
            f'(e.g. {{"retention.ms": "604800000"}}), got {configs!r:.80}'
        )

    action = "create"
    tf = event.get("tf")
    if tf is not None:
        if not isinstance(tf, Mapping) or tf.get("action") not in TF_ACTIONS:
            raise ValueError(f"'tf.action' must be one of {sorted(TF_ACTIONS)}, got {tf!r:.80}")
        action = str(tf["action"])
    return TopicRequest(topic, partitions, replication_factor, dict(configs), action)


def _positive_int(event: Mapping[str, Any], key: str) -> int:
    value = event.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{key!r} must be a positive integer, got {value!r}")
    return value


def create_topic(admin: Any, request: TopicRequest, timeout_ms: int = REQUEST_TIMEOUT_MS) -> bool:
    """Create the topic; True if created, False if it already existed."""
    import kafka.errors as kafka_errors

    response = admin.create_topics(
        {
            request.topic: {
                "num_partitions": request.partitions,
                "replication_factor": request.replication_factor,
                "configs": request.configs,
            }
        },
        timeout_ms=timeout_ms,
        raise_errors=False,
    )
    results = {t["name"]: t for t in response.get("topics", [])}
    result = results.get(request.topic)
    if result is None:
        raise RuntimeError(f"the broker's CreateTopics answer does not mention {request.topic!r}")
    error_type = kafka_errors.for_code(result["error_code"])
    if error_type is kafka_errors.NoError:
        return True
    if error_type is kafka_errors.TopicAlreadyExistsError:
        return False
    raise error_type(
        f"creating topic {request.topic!r} failed: {result.get('error_message') or error_type}"
    )


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    request = parse_request(event)
    if request.action == "delete":
        logger.info("delete requested: topic left in place", topic=request.topic)
        return {"topic": request.topic, "created": False}
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    budget_ms = int(remaining()) - SAFETY_MARGIN_MS if callable(remaining) else REQUEST_TIMEOUT_MS
    timeout_ms = max(min(REQUEST_TIMEOUT_MS, budget_ms // 2), 1_000)
    # kafka-python is imported on use, not at import: it is most of this package's import
    # time, and a request that fails validation (or a delete) never needs it.
    from kafka import KafkaAdminClient
    from msk_iam import kafka_client_settings

    admin = KafkaAdminClient(
        **kafka_client_settings(),
        client_id="telemetry-topic-admin",
        # Connecting and the CreateTopics request each get half of the time left.
        bootstrap_timeout_ms=timeout_ms,
        request_timeout_ms=timeout_ms,
    )
    try:
        created = create_topic(admin, request, timeout_ms)
    finally:
        admin.close()
    # The message says whether it was created: "created" is a LogRecord attribute, which
    # the standard logging module does not let a log call set.
    logger.info(
        "topic created" if created else "topic already exists",
        topic=request.topic,
        partitions=request.partitions,
        replication_factor=request.replication_factor,
    )
    return {"topic": request.topic, "created": created}
