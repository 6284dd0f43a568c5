"""IAM's condition semantics in the emulator's policy evaluation (emulator/iam_conditions.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from emulator import iam_conditions
from emulator.iam_conditions import condition_holds

iam_conditions.install()

BUCKET = "arn:aws:s3:::b"


def decide(effect: str, condition: dict[str, Any], context: dict[str, str]) -> PermissionResult:
    statement = {
        "Effect": effect,
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [BUCKET, f"{BUCKET}/*"],
        "Condition": condition,
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return IAMPolicy(policy).is_action_permitted(
        "s3:GetObject", f"{BUCKET}/k", incoming_condition_values=context
    )


@pytest.mark.parametrize(
    ("operator", "expected", "actual", "holds"),
    [
        ("Bool", "false", "true", False),
        ("Bool", "true", "TRUE", True),
        ("StringEquals", ["a", "b"], "b", True),
        ("StringNotEquals", "a", "b", True),
        ("StringLike", "arn:aws:events:*:rule/x-*", "arn:aws:events:eu:1:rule/x-1", True),
        ("ArnNotLike", "arn:*:s3:::other*", "arn:aws:s3:::b", True),
        ("NumericLessThan", "3", "1", False),  # not evaluated here: never a match
    ],
)
def test_operators(operator: str, expected: Any, actual: str, holds: bool) -> None:
    assert condition_holds(operator, "aws:Key", expected, {"aws:key": actual}) is holds


def test_a_missing_key_fails_its_condition_unless_if_exists_or_null() -> None:
    assert not condition_holds("StringEquals", "aws:SourceArn", "x", {})
    assert condition_holds("StringEqualsIfExists", "aws:SourceArn", "x", {})
    assert condition_holds("Null", "aws:SourceArn", "true", {})
    assert not condition_holds("Null", "aws:SourceArn", "true", {"aws:SourceArn": "x"})


def test_an_unmet_condition_makes_the_statement_not_apply_whatever_its_effect() -> None:
    plain_http = {"Bool": {"aws:SecureTransport": "false"}}
    assert decide("Deny", plain_http, {"aws:SecureTransport": "true"}) == PermissionResult.NEUTRAL
    assert decide("Deny", plain_http, {"aws:SecureTransport": "false"}) == PermissionResult.DENIED
    from_rule = {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/generator"}}
    assert decide("Allow", from_rule, {}) == PermissionResult.NEUTRAL
    assert (
        decide("Allow", from_rule, {"aws:SourceArn": "arn:aws:events:eu:1:rule/generator"})
        == PermissionResult.PERMITTED
    )
