"""EventBridge schedule expressions, EventBridge's invoke permission, and firing on time."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from emulator.dataplane.schedules import (
    FIRST_FIRE_DELAY_SECONDS,
    Cron,
    ScheduleError,
    Schedules,
    rate_seconds,
    scheduled_event,
)

RULE_ARN = "arn:aws:events:us-west-2:123456789012:rule/acme-data-dev-generator-schedule"
FUNCTION_ARN = "arn:aws:lambda:us-west-2:123456789012:function:acme-data-dev-generator"


def test_rate_expressions() -> None:
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(1 hour)") == 3600
    assert rate_seconds("rate(2 days)") == 172800
    assert rate_seconds("cron(0 * * * ? *)") is None
    for bad in ("rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)"):
        with pytest.raises(ScheduleError):
            rate_seconds(bad)


def test_cron_expressions_match_aws_fields() -> None:
    every_quarter = Cron.parse("cron(0/15 * * * ? *)")
    assert every_quarter.next_after(datetime(2026, 12, 1, 10, 7, tzinfo=UTC)) == datetime(
        2026, 12, 1, 10, 15, tzinfo=UTC
    )
    weekdays_at_nine = Cron.parse("cron(0 9 ? * MON-FRI *)")
    saturday = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert weekdays_at_nine.next_after(saturday) == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    for bad in ("cron(garbage)", "cron(0 9 * *)", "cron(0 9 L * ? *)", "cron(61 * * * ? *)"):
        with pytest.raises(ScheduleError):
            Cron.parse(bad)


class FakeRule:
    name = "acme-data-dev-generator-schedule"
    arn = RULE_ARN
    account_id = "123456789012"
    region_name = "us-west-2"
    state = "ENABLED"
    scheduled_expression = "rate(5 minutes)"
    targets: ClassVar[list[dict[str, str]]] = [{"Id": "generator", "Arn": FUNCTION_ARN}]


def test_a_rule_fires_soon_after_it_appears_then_every_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    invoked: list[tuple[str, dict[str, Any]]] = []
    schedules = Schedules(
        lambda arn, payload: invoked.append((arn, json.loads(payload))),
        lambda function, rule: (function, rule) == (FUNCTION_ARN, RULE_ARN),
    )
    monkeypatch.setattr(Schedules, "rules", staticmethod(lambda: [FakeRule()]))
    start = 1_000_000.0
    schedules.tick(start)
    assert invoked == []
    schedules.tick(start + FIRST_FIRE_DELAY_SECONDS)
    assert [arn for arn, _ in invoked] == [FUNCTION_ARN]
    event = invoked[0][1]
    assert event["detail-type"] == "Scheduled Event" and event["resources"] == [RULE_ARN]
    schedules.tick(start + FIRST_FIRE_DELAY_SECONDS + 299)
    assert len(invoked) == 1
    schedules.tick(start + FIRST_FIRE_DELAY_SECONDS + 300)
    assert len(invoked) == 2


def test_without_the_invoke_permission_nothing_is_invoked(monkeypatch: pytest.MonkeyPatch) -> None:
    invoked: list[str] = []
    schedules = Schedules(lambda arn, payload: invoked.append(arn), lambda function, rule: False)
    monkeypatch.setattr(Schedules, "rules", staticmethod(lambda: [FakeRule()]))
    assert schedules.fire(FakeRule()) == 0  # type: ignore[arg-type]
    assert invoked == []


def test_scheduled_event_shape() -> None:
    event = scheduled_event(FakeRule(), datetime(2026, 12, 1, 2, 3, 4, tzinfo=UTC))  # type: ignore[arg-type]
    assert event["source"] == "aws.events" and event["time"] == "2026-12-01T02:03:04Z"
    assert event["account"] == "123456789012" and event["region"] == "us-west-2"
