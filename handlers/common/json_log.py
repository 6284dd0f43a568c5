"""Minimal structured (one JSON object per line) logging on the standard library.

Used by the small handlers (generator, producer, topic_admin) instead of AWS Lambda
Powertools: they log a handful of lines per invocation, so a 60-line formatter is cheaper
than packaging Powertools and its dependencies. The consumer and the WebSocket handlers,
which log per record / per connection with Lambda context, use Powertools Logger.

Environment variables:
    LOG_LEVEL  optional, default INFO.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else came in through ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "fields"}


def fields(**values: Any) -> dict[str, Any]:
    """``extra=`` for structured fields; any name is safe (even "created" or "name").

    ``log.info("topic created", extra=fields(topic="t", created=True))``
    """
    return {"fields": values}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            (key, value) for key, value in vars(record).items() if key not in _STANDARD_ATTRS
        )
        structured = getattr(record, "fields", None)
        if isinstance(structured, dict):
            entry.update(structured)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


def get_logger(name: str) -> logging.Logger:
    """A logger writing JSON lines to stdout (captured by Lambda into CloudWatch Logs).

    Structured fields go through ``extra=fields(...)``:
    ``log.info("sent", extra=fields(count=3))``.
    """
    logger = logging.getLogger(name)
    if not any(getattr(h, "_json_log", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        handler._json_log = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        # The Lambda runtime puts its own handler on the root logger: don't log twice.
        logger.propagate = False
    level = os.environ.get("LOG_LEVEL", "INFO").strip().upper()
    logger.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    return logger
