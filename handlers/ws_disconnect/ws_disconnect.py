"""WebSocket $disconnect Lambda: removes the connection from the connections table.

Input: the API Gateway WebSocket $disconnect event (requestContext.routeKey
"$disconnect", eventType "DISCONNECT", connectionId, disconnectStatusCode,
disconnectReason, ...). Deleting an entry that is already gone is not an error.
$disconnect is best-effort on API Gateway's side (it may never arrive): the table's TTL
and the consumer's stale-connection cleanup cover that.

Returns {"statusCode": 200}.

Environment variables:
    CONNECTIONS_TABLE        required; DynamoDB table (partition key "connectionId", S).
    LOG_LEVEL                optional, default INFO (Powertools Logger).
    POWERTOOLS_SERVICE_NAME  optional, default telemetry-ws-disconnect.
    AWS_REGION               set by the runtime; used by boto3.

IAM: dynamodb:DeleteItem on the table.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

import boto3
from aws_lambda_powertools import Logger

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "telemetry-ws-disconnect")


class SettingsError(ValueError):
    """An environment variable of this function is missing or invalid."""


def connections_table(environ: Mapping[str, str]) -> str:
    table = environ.get("CONNECTIONS_TABLE", "").strip()
    if not table:
        raise SettingsError("CONNECTIONS_TABLE is required (the WebSocket connections table)")
    return table


def connection_id(event: Any) -> str:
    context = event.get("requestContext") if isinstance(event, Mapping) else None
    value = context.get("connectionId") if isinstance(context, Mapping) else None
    if not isinstance(value, str) or not value:
        raise ValueError("not an API Gateway WebSocket event: requestContext.connectionId missing")
    return value


@functools.cache
def _dynamodb() -> Any:
    return boto3.client("dynamodb")


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    table = connections_table(os.environ)
    cid = connection_id(event)
    _dynamodb().delete_item(TableName=table, Key={"connectionId": {"S": cid}})
    request = event.get("requestContext", {})
    logger.info(
        "disconnected",
        connection_id=cid,
        status_code=request.get("disconnectStatusCode"),
        reason=request.get("disconnectReason"),
    )
    return {"statusCode": 200}
