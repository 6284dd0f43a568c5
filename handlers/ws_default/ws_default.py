"""WebSocket $default Lambda: answers client messages (two-way route).

The stack gives the $default route a route response (route_response_selection_expression
"$default"), so the body this function returns is sent back to the calling client.

Client message (the frame text, in the event's "body"):
    {"action": "ping"}  ->  200, {"type": "pong", "connectionId": ..., "serverTime": ISO}
Anything else (not JSON, not an object, no or unknown action) -> 400 with
    {"type": "error", "error": "<what is wrong>; supported: ping"}

Environment variables:
    LOG_LEVEL                optional, default INFO (Powertools Logger).
    POWERTOOLS_SERVICE_NAME  optional, default telemetry-ws-default.

IAM: none beyond logging.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent
from connections import connection_id

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "telemetry-ws-default")

SUPPORTED_ACTIONS: Final = ("ping",)


def _now() -> datetime:
    return datetime.now(UTC)


def _response(status: int, body: Mapping[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "body": json.dumps(body, separators=(",", ":"))}


def _error(message: str) -> dict[str, Any]:
    supported = ", ".join(SUPPORTED_ACTIONS)
    return _response(400, {"type": "error", "error": f"{message}; supported: {supported}"})


def sender(event: Any) -> str | None:
    """The connection the message came from; None when the event names none."""
    try:
        cid: str = connection_id(event)
    except ValueError:
        return None
    return cid


def client_message(event: Mapping[str, Any]) -> Any:
    """The frame's JSON (Powertools' data class decodes a base64 body); None if it has none.

    API Gateway always sets isBase64Encoded; an event built by hand without it is text.
    """
    try:
        return APIGatewayWebSocketEvent({"isBase64Encoded": False, **event}).json_body
    except (AttributeError, TypeError, ValueError):  # not text, base64, UTF-8 or JSON
        return None


def handle_message(event: Any, now: Callable[[], datetime] = _now) -> dict[str, Any]:
    """The route response for one client message."""
    if not isinstance(event, Mapping):
        return _error("invalid event")
    message = client_message(event)
    if not isinstance(message, dict):
        return _error('invalid message: expected JSON like {"action": "ping"}')
    action = message.get("action")
    if action == "ping":
        server_time = now().astimezone(UTC).isoformat(timespec="milliseconds")
        return _response(
            200,
            {
                "type": "pong",
                "connectionId": sender(event),
                "serverTime": server_time.replace("+00:00", "Z"),
            },
        )
    if action is None:
        return _error("missing 'action'")
    return _error(f"unknown action {str(action)[:64]!r}")


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    response = handle_message(event)
    logger.info("message answered", connection_id=sender(event), status_code=response["statusCode"])
    return response
