"""Reads the telemetry event contract (contracts/telemetry_event.json).

The same file is copied into the Lambda packages, so the stacks and the handlers agree on the
topic name and the 25 event fields without two copies kept in step by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTRACT_PATH = REPO_ROOT / "contracts" / "telemetry_event.json"
GLUE_TYPES = ("string", "int", "double")


@dataclass(frozen=True)
class EventField:
    """One column of the event, named as the handlers' contract reader names it."""

    name: str
    glue_type: str
    description: str


@dataclass(frozen=True)
class TelemetryContract:
    topic: str
    fields: tuple[EventField, ...]


def load_contract(path: Path = CONTRACT_PATH) -> TelemetryContract:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        fields = tuple(
            EventField(item["name"], item["type"], item.get("description", ""))
            for item in document["fields"]
        )
        topic = document["topic"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"cannot read the telemetry contract {path}: {error}") from error
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: duplicate field names in {names}")
    for item in fields:
        if item.glue_type not in GLUE_TYPES:
            raise ValueError(
                f"{path}: field {item.name!r} has type {item.glue_type!r}; "
                f"allowed: {', '.join(GLUE_TYPES)}"
            )
    return TelemetryContract(topic=topic, fields=fields)
