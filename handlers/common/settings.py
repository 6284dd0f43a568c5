"""How every handler reads its environment variables: one error type, one integer parser.

Handlers read their settings when they run, never at import, and raise SettingsError with
the variable's name and what is wrong (Lambda reports the invocation as failed; the
message is in the function's log).
"""

from __future__ import annotations

from collections.abc import Mapping


class SettingsError(ValueError):
    """An environment variable of this function is missing or invalid."""


METRICS_NAMESPACE_VARIABLE = "POWERTOOLS_METRICS_NAMESPACE"


def require_metrics_namespace(environ: Mapping[str, str]) -> None:
    """Fail before any work when the stack did not set the metrics namespace: Powertools
    would otherwise fail the invocation at its very end, after its side effects, and a
    retried invocation would do them twice."""
    if not environ.get(METRICS_NAMESPACE_VARIABLE, "").strip():
        raise SettingsError(
            f"{METRICS_NAMESPACE_VARIABLE} is required (the handlers' metrics namespace, "
            "set by the stacks on every function)"
        )


def int_setting(
    environ: Mapping[str, str], name: str, default: int, maximum: int | None = None
) -> int:
    """A positive integer variable (at most ``maximum``); ``default`` when unset or blank."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a positive integer, got {raw!r}") from None
    if maximum is None and value < 1:
        raise SettingsError(f"{name} must be a positive integer, got {value}")
    if maximum is not None and not 1 <= value <= maximum:
        raise SettingsError(f"{name} must be between 1 and {maximum}, got {value}")
    return value
