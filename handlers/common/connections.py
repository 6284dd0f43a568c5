"""What the WebSocket handlers, consumer and broadcaster share about the connections table.

The table (partition key ``connectionId``, S) is named by CONNECTIONS_TABLE; a connection
is identified by the ``requestContext.connectionId`` of API Gateway's WebSocket events,
read with Powertools' APIGatewayWebSocketEvent data class.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from typing import Any

from settings import SettingsError


def connections_table(environ: Mapping[str, str]) -> str:
    table = environ.get("CONNECTIONS_TABLE", "").strip()
    if not table:
        raise SettingsError("CONNECTIONS_TABLE is required (the WebSocket connections table)")
    return table


def connection_id(event: Any) -> str:
    """The connection an API Gateway WebSocket event (a dict or the data class) is about."""
    # Imported on first use: the broadcaster shares this module but reads no WebSocket
    # event, and the data classes are about 40 modules to compile at a cold start.
    from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent

    try:
        value = APIGatewayWebSocketEvent(event).request_context.connection_id
    except (KeyError, TypeError):  # no requestContext or connectionId; not an object
        value = None
    if not isinstance(value, str) or not value:
        raise ValueError("not an API Gateway WebSocket event: requestContext.connectionId missing")
    return value


def callback_url(environ: Mapping[str, str]) -> str:
    """WEBSOCKET_CALLBACK_URL: the stage's connection management endpoint, no trailing /."""
    url = environ.get("WEBSOCKET_CALLBACK_URL", "").strip().rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise SettingsError(
            "WEBSOCKET_CALLBACK_URL must be the connection management endpoint "
            "https://{api-id}.execute-api.{region}.amazonaws.com/{stage}, "
            f"got {url!r}"
        )
    return url


_dynamodb_lock = threading.Lock()


@functools.cache
def dynamodb_client() -> Any:
    """The function's DynamoDB client, created on first use.

    boto3 is imported here, not at import: it is most of a cold import's time. Posting
    threads may meet gone connections at the same moment, and boto3's default session is
    not safe to create clients from concurrently: one thread at a time creates it.
    """
    with _dynamodb_lock:
        import boto3

        return boto3.client("dynamodb")


def remove_connection(dynamodb: Any, table: str, connection_id: str) -> str | None:
    """Delete a connection API Gateway reports gone; None, or why it failed (never raises).

    ``dynamodb`` is a boto3 DynamoDB client.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        dynamodb.delete_item(TableName=table, Key={"connectionId": {"S": connection_id}})
    except (ClientError, BotoCoreError) as exc:
        return f"removing the gone connection failed: {exc}"
    return None
