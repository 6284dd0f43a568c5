"""Known emulator drift: changes a second plan shows only because moto does not return a field.

`make deploy-local`'s second-plan check (ops/local.py) uses this list to tell
drift caused by the emulator from real differences between configuration and state. An
entry means: after a clean apply against the emulator, ``terraform plan`` shows a change to
``attribute`` of a ``resource_type`` resource that sets it, because moto 5.2.5 (with the
extensions in this package) does not store or return that field, with the AWS provider
5.100.0. Anything not listed here is a real diff.

``attribute`` is a path in the resource's attributes as in ``terraform show -json``, with
``*`` for any list or set index: ``origin.*.origin_access_control_id``.

Keep the list short: where the fix is simple, fix the emulator instead. Fixed so far, and so
not listed: every MSK, event source mapping and Firehose MSK-source field of
tests/emulator/tf/msk_stack, and ``aws_lambda_function.logging_config`` (see
:mod:`emulator.lambda_logging`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DriftEntry:
    resource_type: str
    attribute: str
    reason: str
    evidence: str  # how it was established


# Empty: after a clean apply of all five stacks the second plan is empty with no entry.
# moto's CloudFront origin drops origin_access_control_id (the toolchain notes), but the
# platform has no CloudFront distribution, so that entry would explain nothing here.
KNOWN_EMULATOR_DRIFT: tuple[DriftEntry, ...] = ()


_UNSET: Any = object()


def _parts(path: str) -> list[str]:
    """``origin[0].x`` / ``origin.0.x`` -> ``["origin", "*", "x"]``."""
    dotted = re.sub(r"\[(\d+|\"[^\"]*\")\]", r".\1", path)
    return ["*" if p.isdigit() else p for p in dotted.split(".") if p]


def _covers(listed: list[str], given: list[str]) -> bool:
    return all(want == "*" or want == got for want, got in zip(listed, given, strict=False))


def _mask(value: Any, rest: list[str]) -> Any:
    """``value`` with the leaves at path ``rest`` (``*`` = every element) set to None."""
    if not rest:
        return None
    head, tail = rest[0], rest[1:]
    if isinstance(value, list):
        return [_mask(v, tail) if head == "*" else v for v in value]
    if isinstance(value, dict):
        return {k: (_mask(v, tail) if head in ("*", k) else v) for k, v in value.items()}
    return value


def is_known_drift(
    resource_type: str, attribute: str, before: Any = _UNSET, after: Any = _UNSET
) -> bool:
    """True when a planned change at ``attribute`` of ``resource_type`` is emulator drift.

    ``attribute`` is a path (``origin.0.origin_access_control_id``,
    ``origin[0].origin_access_control_id``) or a top-level name (``origin``):

    * at or below a listed path: True;
    * above a listed path (``origin`` for ``origin.*.origin_access_control_id``): with the
      attribute's ``before`` and ``after`` values (from the plan's ``resource_changes``),
      True only when they differ in the listed leaves alone; without them, True (coarse:
      the change is somewhere under a path that holds known drift).
    """
    given = _parts(attribute)
    for entry in KNOWN_EMULATOR_DRIFT:
        if entry.resource_type != resource_type:
            continue
        listed = _parts(entry.attribute)
        if len(given) >= len(listed):
            if _covers(listed, given):
                return True
            continue
        if not _covers(given, listed):
            continue
        if before is _UNSET or after is _UNSET:
            return True
        rest = listed[len(given) :]
        if _mask(before, rest) == _mask(after, rest):
            return True
    return False
