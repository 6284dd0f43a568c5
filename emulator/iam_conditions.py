"""Policy conditions evaluated as IAM evaluates them, and bucket policies given a request
context, added to moto 5.2.5.

Written for moto 5.2.5 (``moto.iam``, ``moto.s3``); :func:`install` checks the version.
moto's policy evaluator knows one condition operator (``StringEquals``) and ignores the rest,
treats a condition key missing from the request as a match, and answers DENIED for a
statement whose condition does not hold, whatever its effect. So a bucket policy denying
``s3:*`` when ``aws:SecureTransport`` is ``false`` denied every request, and an Allow with an
unmet condition denied too. Here, as in IAM:

* a statement applies only when all its conditions hold; otherwise it neither allows nor
  denies;
* a key the request does not carry makes its condition false, except for ``...IfExists``
  operators and ``Null``;
* operators: ``String(Not)Equals(IgnoreCase)``, ``String(Not)Like``, ``Arn(Not)Equals``,
  ``Arn(Not)Like``, ``Bool``, ``Null``, each with ``IfExists``; any other operator makes its
  condition false (the statement does not apply) and is logged.

Bucket policies get the request context ``aws:SecureTransport = true``: the emulator's API
stands in for AWS's, which clients reach over TLS, though this loopback endpoint is plain
HTTP (README: what the local platform does not prove).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from moto.s3.models import FakeBucket

from ._compat import check_moto_version
from ._compat import patch_attribute as _patch

__all__ = ["condition_holds", "install", "statement_decision"]

log = logging.getLogger("emulator.iam")

BUCKET_REQUEST_CONTEXT = {"aws:SecureTransport": "true"}

_installed = False


def _like(pattern: str, value: str) -> bool:
    expression = "".join(
        ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern
    )
    return re.fullmatch(expression, value, re.DOTALL) is not None


_MATCHERS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda expected, actual: expected == actual,
    "StringEqualsIgnoreCase": lambda expected, actual: expected.lower() == actual.lower(),
    "StringLike": _like,
    "ArnEquals": lambda expected, actual: expected == actual,
    "ArnLike": _like,
    "Bool": lambda expected, actual: expected.lower() == actual.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _listed(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, str]) -> bool:
    """One ``operator: {key: expected}`` condition against the request context."""
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    actual = next((v for k, v in context.items() if k.lower() == key.lower()), None)
    if base == "Null":
        wants_absent = any(value.lower() == "true" for value in _listed(expected))
        return (actual is None) == wants_absent
    if actual is None:
        return if_exists
    if base in _NEGATED:
        matcher = _MATCHERS[_NEGATED[base]]
        return not any(matcher(value, actual) for value in _listed(expected))
    matcher_or_none = _MATCHERS.get(base)
    if matcher_or_none is None:
        log.warning("policy condition operator %s is not evaluated here: no match", operator)
        return False
    return any(matcher_or_none(value, actual) for value in _listed(expected))


def statement_decision(
    self: IAMPolicyStatement,
    action: str,
    resource: str = "*",
    principal: str | None = None,
    incoming_condition_values: dict[str, str] | None = None,
) -> PermissionResult:
    """moto's statement evaluation, with IAM's condition semantics (see the docstring)."""
    statement = self._statement
    if "NotAction" in statement:
        concerned = not self._check_element_matches("NotAction", action)
    else:
        concerned = bool(self._check_element_matches("Action", action))
    if not concerned:
        return PermissionResult.NEUTRAL
    if self.is_unknown_principal(statement.get("Principal")):
        return PermissionResult.NEUTRAL
    if principal and not self._check_principal(principal):
        return PermissionResult.NEUTRAL
    context = incoming_condition_values or {}
    for operator, tests in (statement.get("Condition") or {}).items():
        for key, expected in (tests or {}).items():
            if not condition_holds(operator, key, expected, context):
                return PermissionResult.NEUTRAL
    if statement.get("Resource") and not self._check_element_matches("Resource", resource):
        return PermissionResult.NEUTRAL
    if statement.get("Effect") == "Deny":
        return PermissionResult.DENIED
    return PermissionResult.PERMITTED


def _bucket_permission(self: FakeBucket, action: str, resource: str) -> Any:
    from moto.iam.access_control import IAMPolicy

    if self.policy is None:
        return PermissionResult.NEUTRAL
    return IAMPolicy(self.policy.decode()).is_action_permitted(
        action, resource, incoming_condition_values=BUCKET_REQUEST_CONTEXT
    )


def install() -> None:
    """Patch moto's statement evaluation and bucket permission check. Idempotent."""
    global _installed
    check_moto_version(__name__)
    if _installed:
        return
    _patch(IAMPolicyStatement, "is_action_permitted", statement_decision)
    _patch(FakeBucket, "get_permission", _bucket_permission)
    _installed = True
