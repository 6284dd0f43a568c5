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

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent
from connections import connection_id, connections_table, dynamodb_client

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "telemetry-ws-disconnect")


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    table = connections_table(os.environ)
    cid = connection_id(event)
    dynamodb_client().delete_item(TableName=table, Key={"connectionId": {"S": cid}})
    request = APIGatewayWebSocketEvent(event).request_context
    logger.info(
        "disconnected",
        connection_id=cid,
        status_code=request.disconnect_status_code,
        reason=request.disconnect_reason,
    )
    return {"statusCode": 200}
