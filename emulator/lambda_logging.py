"""Lambda ``LoggingConfig``, added to moto 5.2.5.

Written for moto 5.2.5 (``moto.awslambda``); :func:`install` checks the installed version.
moto 5.2.5 drops ``LoggingConfig`` from CreateFunction and UpdateFunctionConfiguration and
never returns it, so every ``aws_lambda_function`` with a ``logging_config`` block plans an
in-place update after each apply (the toolchain notes list it as permanent drift). This
module stores the block and returns it in the function configuration:

* as sent, plus ``LogGroup`` defaulting to ``/aws/lambda/<function name>`` as in AWS;
* ``{"LogFormat": "Text", "LogGroup": "/aws/lambda/<name>"}`` when none was sent, as AWS does.

Log levels are returned only when sent. Nothing is logged anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.awslambda.models import LambdaFunction

from ._compat import check_moto_version
from ._compat import patch_attribute as _patch

__all__ = ["install"]

_ATTRIBUTE = "emulator_logging_config"
_installed = False


def _normalise(config: dict[str, Any] | None, function_name: str) -> dict[str, Any]:
    result = {k: v for k, v in (config or {}).items() if v is not None}
    result.setdefault("LogFormat", "Text")
    result.setdefault("LogGroup", f"/aws/lambda/{function_name}")
    return result


def _wrap_init(original: Callable[..., None]) -> Callable[..., None]:
    def __init__(self: LambdaFunction, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        # moto 5.2.5: LambdaFunction(account_id, spec, region, version=1), often by keyword.
        spec: dict[str, Any] = kwargs["spec"] if "spec" in kwargs else args[1]
        setattr(self, _ATTRIBUTE, _normalise(spec.get("LoggingConfig"), self.function_name))

    return __init__


def _wrap_update(
    original: Callable[[LambdaFunction, dict[str, Any]], dict[str, Any]],
) -> Callable[[LambdaFunction, dict[str, Any]], dict[str, Any]]:
    def update_configuration(
        self: LambdaFunction, config_updates: dict[str, Any]
    ) -> dict[str, Any]:
        if "LoggingConfig" in config_updates:
            current = getattr(self, _ATTRIBUTE, None) or {}
            merged = {**current, **(config_updates["LoggingConfig"] or {})}
            setattr(self, _ATTRIBUTE, _normalise(merged, self.function_name))
        return original(self, config_updates)

    return update_configuration


def _wrap_get(
    original: Callable[[LambdaFunction, bool], dict[str, Any]],
) -> Callable[[LambdaFunction, bool], dict[str, Any]]:
    def get_configuration(self: LambdaFunction, on_create: bool = False) -> dict[str, Any]:
        config = original(self, on_create)
        logging_config = getattr(self, _ATTRIBUTE, None)
        config["LoggingConfig"] = dict(logging_config or _normalise(None, self.function_name))
        return config

    return get_configuration


def install() -> None:
    """Patch moto's LambdaFunction model (shared by the no-Docker backend). Idempotent."""
    global _installed
    check_moto_version(__name__)
    if _installed:
        return
    _patch(LambdaFunction, "__init__", _wrap_init(LambdaFunction.__init__))
    _patch(
        LambdaFunction, "update_configuration", _wrap_update(LambdaFunction.update_configuration)
    )
    _patch(LambdaFunction, "get_configuration", _wrap_get(LambdaFunction.get_configuration))
    _installed = True
