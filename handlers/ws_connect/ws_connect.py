"""WebSocket $connect Lambda: records the new connection in the connections table.

Input: the API Gateway WebSocket $connect event (requestContext.routeKey "$connect",
eventType "CONNECT", connectionId, connectedAt in epoch ms, domainName, stage, ...).
Stores {"connectionId": S, "connectedAt": ISO-8601 UTC, "ttl": N (epoch seconds)} so
DynamoDB TTL removes entries whose $disconnect never ran. API Gateway closes a WebSocket
connection after 2 hours at most, hence the 7200 s default.

Returns {"statusCode": 200} (API Gateway then accepts the connection); an error raises,
and API Gateway refuses the connection.

Environment variables:
    CONNECTIONS_TABLE        required; DynamoDB table (partition key "connectionId", S).
    CONNECTION_TTL_SECONDS   optional, default 7200; positive integer.
    LOG_LEVEL                optional, default INFO (Powertools Logger).
    POWERTOOLS_SERVICE_NAME  optional, default telemetry-ws-connect.
    AWS_REGION               set by the runtime; used by boto3.

IAM: dynamodb:PutItem on the table.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent
from connections import connection_id, connections_table, dynamodb_client
from settings import SettingsError as SettingsError  # what the settings readers raise
from settings import int_setting

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "telemetry-ws-connect")

DEFAULT_TTL_SECONDS: Final = 7200


def ttl_seconds(environ: Mapping[str, str]) -> int:
    ttl: int = int_setting(environ, "CONNECTION_TTL_SECONDS", DEFAULT_TTL_SECONDS)
    return ttl


def connection_item(event: Any, ttl: int, now: Callable[[], float] = time.time) -> dict[str, Any]:
    """The DynamoDB item (low-level attribute values) for the connecting client."""
    cid = connection_id(event)
    current = now()
    try:
        connected_ms = APIGatewayWebSocketEvent(event).request_context.connected_at
    except KeyError:
        connected_ms = None
    connected = (
        connected_ms / 1000
        if isinstance(connected_ms, int | float) and not isinstance(connected_ms, bool)
        else current
    )
    connected_at = datetime.fromtimestamp(connected, UTC).isoformat(timespec="milliseconds")
    return {
        "connectionId": {"S": cid},
        "connectedAt": {"S": connected_at.replace("+00:00", "Z")},
        "ttl": {"N": str(int(current) + ttl)},
    }


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    table = connections_table(os.environ)
    item = connection_item(event, ttl_seconds(os.environ))
    dynamodb_client().put_item(TableName=table, Item=item)
    logger.info("connected", connection_id=item["connectionId"]["S"])
    return {"statusCode": 200}
