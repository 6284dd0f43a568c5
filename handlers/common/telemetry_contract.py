"""The telemetry event contract, loaded from telemetry_event.json at run time.

contracts/telemetry_event.json is the single source of truth for the topic name and the
event fields with their Glue types (string, int, double). Handlers never copy the field
list: they ask this module.

Where the file is looked for, in order:
1. beside this module (the Lambda zip is flat: the packaging code puts
   telemetry_event.json next to telemetry_contract.py at the zip root);
2. the path in the environment variable TELEMETRY_CONTRACT_PATH (tests and local runs).

Environment variables:
    TELEMETRY_CONTRACT_PATH  optional; path of telemetry_event.json when it is not beside
                             this module.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

CONTRACT_FILE_NAME: Final = "telemetry_event.json"
CONTRACT_PATH_ENV: Final = "TELEMETRY_CONTRACT_PATH"
GLUE_TYPES: Final = frozenset({"string", "int", "double"})

# Glue/Hive "int" is a signed 32-bit integer.
INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1


class ContractNotFoundError(FileNotFoundError):
    """telemetry_event.json is neither beside this module nor at TELEMETRY_CONTRACT_PATH."""


class ContractFormatError(ValueError):
    """telemetry_event.json exists but does not describe a usable contract."""


class ContractViolation(ValueError):
    """One or more events do not match the contract. ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        shown = "; ".join(errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        super().__init__(f"{len(errors)} contract violation(s): {shown}{more}")


@dataclass(frozen=True)
class Field:
    name: str
    glue_type: str
    description: str


@dataclass(frozen=True)
class TelemetryContract:
    version: int
    topic: str
    fields: tuple[Field, ...]
    source: str

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def field_types(self) -> dict[str, str]:
        """Field name -> Glue type, in contract order."""
        return {f.name: f.glue_type for f in self.fields}

    def fields_of_type(self, glue_type: str) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.glue_type == glue_type)

    @functools.cached_property
    def _names_by_type(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        return (
            self.fields_of_type("string"),
            self.fields_of_type("int"),
            self.fields_of_type("double"),
        )

    def conforms(self, event: object) -> bool:
        """True when ``event`` is a plain dict that matches the contract exactly.

        The quick check the producer makes for every event: exact JSON types only (str,
        int, float as json.loads makes them), so anything unusual (a subclass, a Mapping
        that is not a dict) reads False and event_errors decides, with the reasons.
        """
        if type(event) is not dict or len(event) != len(self.fields):
            return False
        strings, ints, doubles = self._names_by_type
        get = event.get
        for name in strings:
            if type(get(name)) is not str:
                return False
        for name in ints:
            value = get(name)
            if type(value) is not int or not INT32_MIN <= value <= INT32_MAX:
                return False
        for name in doubles:
            value = get(name)
            kind = type(value)
            if kind is float:
                if not math.isfinite(cast(float, value)):
                    return False
            elif kind is not int:
                return False
        # Every contract field is present and the sizes match: there is nothing extra.
        return True

    def event_errors(self, event: object, *, label: str = "event") -> list[str]:
        """Every way ``event`` breaks the contract (empty when it matches).

        ``label`` prefixes each message, e.g. "event 3".
        """
        if self.conforms(event):
            return []
        if not isinstance(event, Mapping):
            return [f"{label}: expected a JSON object, got {type(event).__name__}"]
        errors: list[str] = []
        types = self.field_types
        for name, glue_type in types.items():
            if name not in event:
                errors.append(f"{label}: missing field {name!r}")
                continue
            problem = value_type_error(glue_type, event[name])
            if problem:
                errors.append(f"{label}: field {name!r} {problem}")
        errors.extend(
            f"{label}: unexpected field {key!r} (not in the contract)"
            for key in event
            if key not in types
        )
        return errors

    def validate_event(self, event: object, *, label: str = "event") -> None:
        errors = self.event_errors(event, label=label)
        if errors:
            raise ContractViolation(errors)


def value_type_error(glue_type: str, value: object) -> str | None:
    """Why ``value`` cannot be stored in a Glue column of ``glue_type`` (None when it can).

    Events travel as JSON, so a double column accepts any finite JSON number (an int such
    as 5 reads as 5.0); an int column accepts only 32-bit integers. bool is rejected for
    both even though Python treats it as an int.
    """
    if glue_type == "string":
        return None if isinstance(value, str) else _wanted("string", value)
    if glue_type == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return _wanted("int", value)
        if not INT32_MIN <= value <= INT32_MAX:
            return f"must be a 32-bit int, got {value}"
        return None
    if glue_type == "double":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return _wanted("double (a number)", value)
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, got {value}"
        return None
    raise ContractFormatError(f"unknown Glue type {glue_type!r}")


def _wanted(expected: str, value: object) -> str:
    return f"must be {expected}, got {type(value).__name__} {value!r:.40}"


def contract_path() -> Path:
    """Where telemetry_event.json is: beside this module, else TELEMETRY_CONTRACT_PATH."""
    beside = Path(__file__).with_name(CONTRACT_FILE_NAME)
    if beside.is_file():
        return beside
    configured = os.environ.get(CONTRACT_PATH_ENV, "").strip()
    if configured:
        path = Path(configured)
        if path.is_file():
            return path
        raise ContractNotFoundError(
            f"{CONTRACT_PATH_ENV}={configured!r} does not point at a file "
            f"(and there is no {CONTRACT_FILE_NAME} beside {Path(__file__).name})"
        )
    raise ContractNotFoundError(
        f"telemetry contract not found: no {CONTRACT_FILE_NAME} at {beside} and "
        f"{CONTRACT_PATH_ENV} is not set. The Lambda package must include the contract "
        f'(bundle.json: "contract": true); locally, set {CONTRACT_PATH_ENV} to '
        "contracts/telemetry_event.json."
    )


def parse_contract(document: Any, *, source: str = "<memory>") -> TelemetryContract:
    """Check and convert the parsed JSON document of the contract."""

    def fail(message: str) -> ContractFormatError:
        return ContractFormatError(f"{source}: {message}")

    if not isinstance(document, dict):
        raise fail("the contract must be a JSON object")
    topic = document.get("topic")
    if not isinstance(topic, str) or not topic:
        raise fail("'topic' must be a non-empty string")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise fail("'version' must be an integer")
    raw_fields = document.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise fail("'fields' must be a non-empty list")
    fields: list[Field] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_fields):
        if not isinstance(raw, dict):
            raise fail(f"fields[{index}] must be an object")
        name, glue_type = raw.get("name"), raw.get("type")
        if not isinstance(name, str) or not name:
            raise fail(f"fields[{index}].name must be a non-empty string")
        if name in seen:
            raise fail(f"field {name!r} is declared twice")
        if glue_type not in GLUE_TYPES:
            raise fail(
                f"field {name!r} has type {glue_type!r}; expected one of {sorted(GLUE_TYPES)}"
            )
        seen.add(name)
        fields.append(Field(name, str(glue_type), str(raw.get("description", ""))))
    return TelemetryContract(version=version, topic=topic, fields=tuple(fields), source=source)


@functools.cache
def load_contract() -> TelemetryContract:
    """The contract, read once per process (call ``load_contract.cache_clear()`` to reread)."""
    path = contract_path()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ContractFormatError(f"{path}: not valid JSON: {exc}") from exc
    return parse_contract(document, source=str(path))
