"""Lambda's Invoke runs the deployed code: moto's API in front of the Lambda runtime.

moto keeps the functions (code, handler, environment, timeout, role, event invoke config);
this module patches its ``Invoke`` so that

* ``RequestResponse`` runs the function in :class:`~.lambda_runtime.LambdaRuntime` and
  answers its result, or Lambda's error shape with ``X-Amz-Function-Error``;
* ``Event`` is accepted (202) into :class:`~.lambda_async.AsyncInvoker`, which retries as
  Lambda does and then hands Lambda's invocation record to the function's destinations
  (SQS queues: the only destination type the platform uses);
* ``DryRun`` answers 204.

Other data-plane services (schedules, event source mappings, API Gateway) invoke functions
through :meth:`LambdaService.invoke` and :meth:`LambdaService.invoke_async`, so every
invocation runs the same way whoever makes it.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.awslambda.utils import get_backend
from moto.sqs.models import sqs_backends

from .._compat import patch_attribute
from .credentials import arn_like
from .lambda_async import AsyncInvoker, AsyncTarget, EventInvokeConfig
from .lambda_runtime import FunctionConfig, InvokeResult, LambdaRuntime, LambdaServiceError

log = logging.getLogger("emulator.lambda")


class _ServiceError(LambdaClientError):
    """A refusal by the Lambda service itself, with its HTTP status."""

    def __init__(self, error: LambdaServiceError) -> None:
        super().__init__(error.error_type, error.message)
        self.code = error.status_code


def _arn_parts(arn: str) -> tuple[str, str]:
    """(account, region) of an ARN."""
    parts = arn.split(":")
    return parts[4], parts[3]


def lambda_backend(account: str, region: str) -> LambdaBackend:
    """The backend moto's own Lambda API uses (without Docker: moto's "simple" one)."""
    return get_backend(account, region)


def lambda_backends() -> list[LambdaBackend]:
    """Every account's and region's Lambda backend that holds anything."""
    from moto.awslambda_simple.models import lambda_simple_backends

    found: list[LambdaBackend] = []
    for account in list(lambda_simple_backends.keys()):
        for region in list(lambda_simple_backends[account].keys()):
            found.append(lambda_backend(account, region))
    return found


def function_config(fn: LambdaFunction) -> FunctionConfig:
    """What the runtime runs, from what moto stores for a function."""
    return FunctionConfig(
        function_name=fn.function_name,
        function_arn=fn.function_arn,
        handler=fn.handler or "",
        code=fn.code_bytes,
        code_sha256=base64.b64decode(fn.code_sha_256).hex(),
        role_arn=fn.role,
        region=fn.region,
        account_id=fn.account_id,
        environment=dict(fn.environment_vars or {}),
        timeout=int(fn.timeout),
        memory_size=int(fn.memory_size),
        runtime=fn.run_time or "python3.13",
        log_group=fn.logs_group_name,
    )


_INVOKE_ACTIONS = ("lambda:InvokeFunction", "lambda:*", "*")


def invoke_permitted(function_arn: str, service: str, source_arn: str) -> bool:
    """Does the function's resource policy let ``service`` invoke it for ``source_arn``?

    A statement allows when its principal is the service (or ``*``), its action covers
    ``lambda:InvokeFunction``, and its conditions hold (``ArnLike``/``ArnEquals``/
    ``StringLike``/``StringEquals`` on ``AWS:SourceArn``, ``StringEquals`` on
    ``AWS:SourceAccount``); an explicit Deny wins. A function without a policy allows
    nothing, as on AWS. EventBridge and API Gateway both ask this before invoking.
    """
    parts = function_arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda":
        return False
    account, region, name = parts[4], parts[3], parts[6]
    try:
        function = lambda_backend(account, region).get_function(name)
    except Exception:
        return False
    allowed = False
    for statement in list(function.policy.statements if function.policy else []):
        if not _statement_applies(statement, service, source_arn, account):
            continue
        if statement.get("Effect", "Allow") == "Deny":
            return False
        allowed = True
    return allowed


def _listed(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value is not None else []


def _statement_applies(
    statement: Mapping[str, Any], service: str, source_arn: str, account: str
) -> bool:
    principal = statement.get("Principal")
    services = (
        _listed(principal.get("Service")) + _listed(principal.get("AWS"))
        if isinstance(principal, dict)
        else _listed(principal)
    )
    if not any(p in (service, "*") for p in services):
        return False
    if not any(a in _INVOKE_ACTIONS for a in _listed(statement.get("Action"))):
        return False
    conditions = statement.get("Condition") or {}
    values = {"aws:sourcearn": source_arn, "aws:sourceaccount": account}
    for operator, tests in conditions.items():
        for key, expected in (tests or {}).items():
            actual = values.get(str(key).lower())
            if actual is None:
                return False
            patterns = _listed(expected)
            if operator in ("ArnLike", "StringLike"):
                matched = any(arn_like(p, actual) for p in patterns)
            elif operator in ("ArnEquals", "StringEquals"):
                matched = actual in patterns
            else:
                log.info("Lambda policy condition %s is not evaluated: no match", operator)
                matched = False
            if not matched:
                return False
    return True


class LambdaService:
    """Invocations of the functions moto holds, by any caller."""

    def __init__(self, runtime: LambdaRuntime, *, time_scale: float) -> None:
        self.runtime = runtime
        self.events = AsyncInvoker(runtime, self._async_target, self.deliver, time_scale=time_scale)

    # --- lookups ---

    def function(self, name_or_arn: str, account: str = "", region: str = "") -> LambdaFunction:
        """moto's function by ARN, or by name in ``account``/``region``."""
        if name_or_arn.startswith("arn:"):
            account, region = _arn_parts(name_or_arn)
        fn: LambdaFunction = lambda_backend(account, region).get_function(name_or_arn)
        return fn

    def _async_target(self, function_arn: str) -> AsyncTarget | None:
        try:
            fn = self.function(function_arn)
        except LambdaClientError:
            return None  # deleted while its events waited: Lambda drops them
        settings: dict[str, Any] = (
            fn.event_invoke_config[0].config if fn.event_invoke_config else {}
        )
        destinations = settings.get("DestinationConfig") or {}
        return AsyncTarget(
            function_config(fn),
            EventInvokeConfig(
                maximum_retry_attempts=int(settings.get("MaximumRetryAttempts", 2)),
                maximum_event_age_in_seconds=int(settings.get("MaximumEventAgeInSeconds", 21600)),
                on_success=(destinations.get("OnSuccess") or {}).get("Destination"),
                on_failure=(destinations.get("OnFailure") or {}).get("Destination"),
            ),
        )

    def deliver(self, destination_arn: str, record: str) -> None:
        service = destination_arn.split(":")[2]
        if service != "sqs":
            log.warning("destination %s: only SQS destinations are emulated", destination_arn)
            return
        account, region = _arn_parts(destination_arn)
        queue_name = destination_arn.split(":")[5]
        sqs_backends[account][region].send_message(queue_name, record)

    # --- invoking ---

    def invoke(self, fn: LambdaFunction, payload: bytes, **options: Any) -> InvokeResult:
        """A synchronous invocation (RequestResponse or DryRun)."""
        return self.runtime.invoke(function_config(fn), payload, **options)

    def invoke_async(self, fn: LambdaFunction, payload: bytes) -> InvokeResult:
        """An Event invocation: accepted now, run with Lambda's retries and destinations."""
        return self.events.submit(function_config(fn), payload)

    def shutdown(self) -> None:
        self.events.shutdown()
        self.runtime.shutdown()

    # --- moto's Invoke API ---

    def install(self) -> None:
        service = self

        def invoke(response: LambdaResponse) -> tuple[int, dict[str, str], bytes]:
            name = response.path.rsplit("/", 2)[-2]
            fn = response.backend.get_function(unquote(name), response._get_param("qualifier"))
            body = response.body if isinstance(response.body, bytes) else response.body.encode()
            kind = response.headers.get("X-Amz-Invocation-Type", "RequestResponse")
            try:
                if kind == "Event":
                    result = service.invoke_async(fn, body)
                else:
                    result = service.invoke(
                        fn,
                        body,
                        invocation_type=kind,
                        log_type=response.headers.get("X-Amz-Log-Type"),
                        client_context=response.headers.get("X-Amz-Client-Context"),
                    )
            except LambdaServiceError as error:
                raise _ServiceError(error) from error
            headers = {
                # moto's dispatcher takes the HTTP status from this header when present.
                "status": str(result.status_code),
                "content-type": "application/json",
                "x-amz-executed-version": result.executed_version,
                "x-amzn-requestid": result.request_id,
            }
            if result.function_error:
                headers["x-amz-function-error"] = result.function_error
            if result.log_result:
                headers["x-amz-log-result"] = result.log_result
            return result.status_code, headers, result.payload

        def invoke_async(response: LambdaResponse) -> tuple[int, dict[str, str], bytes]:
            # The deprecated InvokeAsync API: an Event invocation with a 202 and {"Status": 202}.
            index = -3 if response.path.endswith("/") else -2
            name = response.path.rsplit("/", 3)[index]
            fn = response.backend.get_function(name, None)
            body = response.body if isinstance(response.body, bytes) else response.body.encode()
            try:
                service.invoke_async(fn, body)
            except LambdaServiceError as error:
                raise _ServiceError(error) from error
            headers = {"status": "202", "content-type": "application/json"}
            return 202, headers, json.dumps({"Status": 202}).encode()

        patch_attribute(LambdaResponse, "invoke", invoke)
        patch_attribute(LambdaResponse, "invoke_async", invoke_async)
