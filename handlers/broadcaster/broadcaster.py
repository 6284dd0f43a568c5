"""Broadcaster Lambda: posts one dashboard message to a slice of WebSocket connections.

Invoked synchronously by the consumer when a batch must reach more connections than one
function should post to (more than BROADCAST_SLICE_SIZE): each invocation gets one slice,
and the slices run in parallel, one Lambda instance each.

Input: {"message": "<the message, JSON text>", "connectionIds": ["L0SM9cOFvHcCIhw=", ...]}
(the consumer's broadcaster_payload). The message is posted as it is, UTF-8, to every
connection (see websocket_posts: SigV4-signed requests over keep-alive connections, up to
64 in flight). A connection API Gateway reports gone (410) is deleted from the connections
table; other failures are counted and logged, never raised. Input that is not this shape
raises ValueError (the consumer counts the slice as failed).

Environment variables:
    CONNECTIONS_TABLE        required; DynamoDB table of connections (partition key
                             "connectionId", S).
    WEBSOCKET_CALLBACK_URL   required; the stage's connection management endpoint,
                             https://{api-id}.execute-api.{region}.amazonaws.com/{stage}
    LOG_LEVEL                optional, default INFO (Powertools Logger).
    POWERTOOLS_SERVICE_NAME  optional, default telemetry-broadcaster.
    AWS_REGION               set by the runtime; requests are signed for it.

IAM: execute-api:ManageConnections on
arn:aws:execute-api:{region}:{account}:{api-id}/{stage}/POST/@connections/*;
dynamodb:DeleteItem on the connections table.

Returns {"connections": n, "delivered": d, "stale_removed": s, "failed": f}.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from connections import callback_url, connections_table, dynamodb_client, remove_connection
from settings import require_metrics_namespace
from websocket_posts import ConnectionPoster, broadcast, poster_for

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "telemetry-broadcaster"
logger = Logger(service=SERVICE)
# Embedded metric format on stdout; the namespace comes from POWERTOOLS_METRICS_NAMESPACE.
metrics = Metrics(service=SERVICE)

# One invocation's slice; the consumer's slices are far smaller (BROADCAST_SLICE_SIZE).
MAX_CONNECTIONS: Final = 10_000


@dataclass(frozen=True)
class BroadcastRequest:
    message: bytes
    connection_ids: list[str]


def parse_request(event: Any) -> BroadcastRequest:
    """Check the invocation input; ValueError says what is wrong."""
    if not isinstance(event, Mapping):
        raise ValueError(
            'input must be {"message": str, "connectionIds": [str, ...]}, '
            f"got {type(event).__name__}"
        )
    message = event.get("message")
    if not isinstance(message, str) or not message:
        raise ValueError(f"'message' must be a non-empty string, got {message!r:.60}")
    ids = event.get("connectionIds")
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise ValueError(f"'connectionIds' must be a list of non-empty strings, got {ids!r:.60}")
    if len(ids) > MAX_CONNECTIONS:
        raise ValueError(f"at most {MAX_CONNECTIONS} connections per invocation, got {len(ids)}")
    return BroadcastRequest(message.encode(), ids)


def run(
    request: BroadcastRequest, poster: ConnectionPoster, dynamodb: Any, table: str
) -> dict[str, int]:
    result = broadcast(
        poster,
        request.connection_ids,
        request.message,
        lambda connection_id: remove_connection(dynamodb, table, connection_id),
    )
    for failure in result.failures:
        logger.warning(
            "post to connection failed",
            connection_id=failure.connection_id,
            reason=failure.reason,
        )
    counts: dict[str, int] = result.counts()
    logger.info("slice broadcast", extra={**counts, "bytes": len(request.message)})
    return counts


class _LazyDynamoDB:
    """The DynamoDB client, created only when a connection turns out to be gone."""

    def delete_item(self, **kwargs: Any) -> Any:
        return dynamodb_client().delete_item(**kwargs)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, int]:
    require_metrics_namespace(os.environ)
    request = parse_request(event)
    table = connections_table(os.environ)
    poster = poster_for(callback_url(os.environ))
    result = run(request, poster, _LazyDynamoDB(), table)
    for name, key in (
        ("MessagesDelivered", "delivered"),
        ("StaleConnectionsRemoved", "stale_removed"),
        ("DeliveryFailures", "failed"),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=result.get(key, 0))
    return result
