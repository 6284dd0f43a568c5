"""What the WebSocket handlers and the consumer share about the connections table.

The table (partition key ``connectionId``, S) is named by CONNECTIONS_TABLE; a connection
is identified by the ``requestContext.connectionId`` of API Gateway's WebSocket events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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
