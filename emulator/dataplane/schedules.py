"""EventBridge scheduled rules fire their targets, on schedule.

A thread looks at moto's rules every second. An ENABLED rule with a schedule expression
and at least one target fires a few seconds after it is first seen (so a fresh deploy
produces data at once, where AWS waits up to one period), then every period of a
``rate(...)`` expression, or at each minute a ``cron(...)`` expression matches (UTC).
:meth:`Schedules.fire` fires a rule now (``python -m emulator fire-rule <name>``).

Firing sends EventBridge's scheduled event (or the target's constant ``Input``) to each
target. Lambda targets are invoked asynchronously, as EventBridge invokes them, and only if
the function's resource policy lets ``events.amazonaws.com`` invoke it from this rule;
other target types are logged and skipped.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from moto.events.models import Rule, events_backends

log = logging.getLogger("emulator.events")

FIRST_FIRE_DELAY_SECONDS: Final = 3.0
TICK_SECONDS: Final = 1.0
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS: Final = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleError(ValueError):
    """A schedule expression this emulator cannot evaluate."""


def rate_seconds(expression: str) -> int | None:
    """The period of ``rate(N unit)``, or None for another expression."""
    match = _RATE.match(expression.strip())
    if match is None:
        return None
    value, unit = int(match.group(1)), match.group(2).rstrip("s")
    if value < 1 or (value == 1) != (not match.group(2).endswith("s")):
        raise ScheduleError(f"{expression}: use 'rate(1 {unit})' or 'rate(N {unit}s)'")
    return value * _UNIT_SECONDS[unit]


@dataclass(frozen=True)
class CronField:
    values: frozenset[int] | None  # None: any value

    def matches(self, value: int) -> bool:
        return self.values is None or value in self.values


def _cron_field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> CronField:
    if text in ("*", "?"):
        return CronField(None)
    values: set[int] = set()
    for part in text.split(","):
        if any(mark in part for mark in ("L", "W", "#")):
            raise ScheduleError(f"cron field {text!r}: L, W and # are not emulated")
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _cron_value(first, names), _cron_value(last, names)
        else:
            start = _cron_value(base, names)
            end = high if step_text else start
        if not low <= start <= end <= high or step < 1:
            raise ScheduleError(f"cron field {text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return CronField(frozenset(values))


def _cron_value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    return int(text)


_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}


@dataclass(frozen=True)
class Cron:
    """``cron(minutes hours day-of-month month day-of-week year)``, AWS's six fields (UTC)."""

    minutes: CronField
    hours: CronField
    day_of_month: CronField
    month: CronField
    day_of_week: CronField  # 1 = Sunday, as in AWS
    year: CronField

    @classmethod
    def parse(cls, expression: str) -> Cron:
        body = expression.strip()
        if not (body.startswith("cron(") and body.endswith(")")):
            raise ScheduleError(f"{expression}: not a cron(...) expression")
        fields = body[5:-1].split()
        if len(fields) != 6:
            raise ScheduleError(f"{expression}: AWS cron expressions have six fields")
        try:
            return cls(
                _cron_field(fields[0], 0, 59),
                _cron_field(fields[1], 0, 23),
                _cron_field(fields[2], 1, 31),
                _cron_field(fields[3], 1, 12, _MONTHS),
                _cron_field(fields[4], 1, 7, _DAYS),
                _cron_field(fields[5], 1970, 2199),
            )
        except ValueError as error:
            raise ScheduleError(f"{expression}: {error}") from None

    def matches(self, moment: datetime) -> bool:
        day_of_week = moment.isoweekday() % 7 + 1
        return (
            self.minutes.matches(moment.minute)
            and self.hours.matches(moment.hour)
            and self.day_of_month.matches(moment.day)
            and self.month.matches(moment.month)
            and self.day_of_week.matches(day_of_week)
            and self.year.matches(moment.year)
        )

    def next_after(self, moment: datetime) -> datetime | None:
        """The first whole minute after ``moment`` that matches (within five years)."""
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(5 * 366 * 24 * 60):
            if self.matches(candidate):
                return candidate
            candidate += timedelta(minutes=1)
        return None


def scheduled_event(rule: Rule, moment: datetime) -> dict[str, Any]:
    """What EventBridge sends a target for a scheduled rule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule.account_id,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": rule.region_name,
        "resources": [rule.arn],
        "detail": {},
    }


@dataclass
class _Tracked:
    first_seen: float
    next_fire: float | None = None  # None: an expression this emulator cannot evaluate


InvokeLambda = Callable[[str, bytes], None]  # function ARN, payload: an Event invocation
# (function ARN, rule ARN) -> may EventBridge invoke the function for this rule?
Permitted = Callable[[str, str], bool]


class Schedules:
    """Fires every scheduled rule moto holds (see the module docstring)."""

    def __init__(self, invoke: InvokeLambda, permitted: Permitted) -> None:
        self.invoke = invoke
        self.permitted = permitted
        self._tracked: dict[str, _Tracked] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="schedules", daemon=True)
        self.fired: list[tuple[str, str]] = []  # (rule ARN, UTC time), for the status report

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    @staticmethod
    def rules() -> list[Rule]:
        found: list[Rule] = []
        for account in list(events_backends.keys()):
            for region in list(events_backends[account].keys()):
                for bus in list(events_backends[account][region].event_buses.values()):
                    found.extend(bus.rules.values())
        return found

    def find(self, name_or_arn: str) -> Rule:
        for rule in self.rules():
            if name_or_arn in (rule.name, rule.arn):
                return rule
        raise KeyError(f"no EventBridge rule named {name_or_arn!r}")

    def fire(self, rule: Rule, moment: datetime | None = None) -> int:
        """Send the scheduled event to every target of ``rule`` now; returns targets reached."""
        moment = moment or datetime.now(UTC)
        event = scheduled_event(rule, moment)
        reached = 0
        for target in list(rule.targets):
            arn = target["Arn"]
            if arn.split(":")[2] != "lambda":
                log.warning("rule %s: target %s is not a Lambda function: skipped", rule.name, arn)
                continue
            if not self.permitted(arn, rule.arn):
                log.warning(
                    "rule %s: %s's resource policy does not let events.amazonaws.com invoke "
                    "it (EventBridge counts a FailedInvocation)",
                    rule.name,
                    arn,
                )
                continue
            payload = target.get("Input") or json.dumps(event)
            self.invoke(arn, payload.encode())
            reached += 1
        with self._lock:
            self.fired.append((rule.arn, moment.strftime("%Y-%m-%dT%H:%M:%SZ")))
        log.info("rule %s fired: %d target(s)", rule.name, reached)
        return reached

    def _next(self, rule: Rule, after: float) -> float | None:
        expression = rule.scheduled_expression or ""
        period = rate_seconds(expression)
        if period is not None:
            return after + period
        moment = Cron.parse(expression).next_after(datetime.fromtimestamp(after, UTC))
        return moment.timestamp() if moment else None

    def tick(self, now: float) -> None:
        live = set()
        for rule in self.rules():
            if not rule.scheduled_expression or rule.state != "ENABLED" or not rule.targets:
                continue
            live.add(rule.arn)
            tracked = self._tracked.get(rule.arn)
            if tracked is None:
                tracked = self._tracked[rule.arn] = _Tracked(first_seen=now)
                try:
                    self._next(rule, now)  # refuses what cannot be evaluated, once
                    tracked.next_fire = now + FIRST_FIRE_DELAY_SECONDS
                except ScheduleError as error:
                    log.warning("rule %s: %s: never fired here", rule.name, error)
            if tracked.next_fire is None or now < tracked.next_fire:
                continue
            try:
                self.fire(rule)
            except Exception:
                log.exception("rule %s: firing failed", rule.name)
            tracked.next_fire = self._next(rule, max(tracked.next_fire, now - 1))
        for arn in list(self._tracked):
            if arn not in live:
                del self._tracked[arn]  # deleted or disabled: starts afresh when enabled

    def _loop(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            try:
                self.tick(time.time())
            except Exception:
                log.exception("schedules: tick failed")
