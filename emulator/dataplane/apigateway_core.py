"""What the WebSocket and HTTP API servers share: settings, the API model, Lambda calls.

The servers never keep an API's routes: every request reads a fresh :class:`ApiSpec` through
the injected :data:`ApiSource` (over moto's apigatewayv2 backend in the emulator, see
:mod:`.apigateway_moto`), so a route, integration or stage changed after deployment applies
to the next message. Lambda functions run through the injected :data:`Invoke` on a thread
pool, with the integration's timeout (at most API Gateway's 29 s / 30 s).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from .apigateway_events import function_arn_from_uri
from .credentials import CredentialsLookup

log = logging.getLogger("emulator.apigateway")

__all__ = [
    "ApiRef",
    "ApiSource",
    "ApiSpec",
    "AuthorizerSpec",
    "CredentialsLookup",
    "Decisions",
    "GatewaySettings",
    "IntegrationFailed",
    "IntegrationSpec",
    "IntegrationTimeout",
    "Integrations",
    "Invoke",
    "InvokePermission",
    "IsAllowed",
    "RouteSpec",
    "StageSpec",
]

# (function ARN, event JSON) -> (the function's result JSON, its FunctionError or None).
Invoke = Callable[[str, bytes], tuple[bytes, str | None]]
# (function ARN, source ARN) -> may apigateway.amazonaws.com invoke it for that source?
InvokePermission = Callable[[str, str], bool]
# (principal ARN, action, resource ARN) -> allowed? (an Authorizer's is_allowed)
IsAllowed = Callable[[str, str, str], bool]

KIB: Final = 1024
WEBSOCKET_INTEGRATION_LIMIT_S: Final = 29.0
HTTP_INTEGRATION_LIMIT_S: Final = 30.0


@dataclass(frozen=True)
class GatewaySettings:
    """API Gateway's limits as the emulator enforces them; the defaults are AWS's.

    Frames and messages are measured in bytes of payload: a client frame over
    ``max_frame_bytes`` or a message over ``max_message_bytes`` closes the connection with
    1009, and a ``@connections`` POST over ``max_message_bytes`` is refused (413). Messages
    the emulator sends that are larger than a frame go out in ``max_frame_bytes`` fragments.
    ``send_buffer_bytes`` is how much may wait unsent for a slow client before a POST
    answers 429 ``LimitExceededException`` (AWS does not publish its buffer size).
    """

    host: str = "127.0.0.1"
    max_frame_bytes: int = 32 * KIB
    max_message_bytes: int = 128 * KIB
    idle_timeout_s: float = 600.0
    max_connection_s: float = 7200.0
    http_max_body_bytes: int = 10 * KIB * KIB
    send_buffer_bytes: int = 4 * KIB * KIB
    invoke_threads: int = 32
    # An IAM decision is reused this long: a changed policy applies within it.
    decision_ttl_s: float = 1.0

    def __post_init__(self) -> None:
        if self.host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError(f"GatewaySettings.host must be a loopback address, got {self.host!r}")
        if not 0 < self.max_frame_bytes <= self.max_message_bytes:
            raise ValueError("GatewaySettings needs 0 < max_frame_bytes <= max_message_bytes")
        for name in ("idle_timeout_s", "max_connection_s", "decision_ttl_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"GatewaySettings.{name} must be positive, got {value!r}")
        for name in ("http_max_body_bytes", "send_buffer_bytes", "invoke_threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"GatewaySettings.{name} must be a positive integer")


@dataclass(frozen=True)
class ApiRef:
    """Which API: moto keeps APIs per account and region."""

    account_id: str
    region: str
    api_id: str

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    @property
    def execution_arn(self) -> str:
        """``aws_apigatewayv2_api.execution_arn``: the prefix of every source ARN."""
        return f"arn:{self.partition}:execute-api:{self.region}:{self.account_id}:{self.api_id}"


@dataclass(frozen=True)
class StageSpec:
    name: str
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IntegrationSpec:
    integration_id: str
    integration_type: str
    uri: str
    payload_format_version: str = "1.0"
    timeout_ms: int | None = None


@dataclass(frozen=True)
class RouteSpec:
    route_key: str
    integration_id: str | None
    authorization_type: str = "NONE"
    authorizer_id: str | None = None
    # A route response exists and the route selects it: the integration's answer goes back
    # to the client (WebSocket "two-way" route).
    two_way: bool = False


@dataclass(frozen=True)
class AuthorizerSpec:
    authorizer_id: str
    authorizer_type: str
    uri: str
    identity_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiSpec:
    """One API as deployed, read at request time."""

    ref: ApiRef
    protocol: str  # WEBSOCKET or HTTP
    route_selection_expression: str
    stages: Mapping[str, StageSpec]
    routes: Mapping[str, RouteSpec]
    integrations: Mapping[str, IntegrationSpec]
    authorizers: Mapping[str, AuthorizerSpec] = field(default_factory=dict)


ApiSource = Callable[[ApiRef], ApiSpec | None]


class IntegrationFailed(Exception):
    """The integration could not run (configuration, permission, invocation error)."""


class IntegrationTimeout(IntegrationFailed):
    """The function did not answer within the integration's timeout."""


class Integrations:
    """Runs AWS_PROXY Lambda integrations for the servers, off the event loop."""

    def __init__(
        self,
        *,
        invoke: Invoke,
        permission: InvokePermission | None,
        threads: int,
    ) -> None:
        self._invoke = invoke
        self._permission = permission
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="apigw-invoke")

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def call_function(
        self, function_arn: str, source_arn: str, event: Mapping[str, Any], timeout_s: float
    ) -> tuple[bytes, str | None]:
        """Invoke ``function_arn`` as API Gateway does for ``source_arn``."""
        if self._permission is not None and not self._permission(function_arn, source_arn):
            raise IntegrationFailed(
                f"Invalid permissions on Lambda function: {function_arn} does not allow "
                f"apigateway.amazonaws.com to invoke it for {source_arn}"
            )
        payload = json.dumps(event, separators=(",", ":")).encode("utf-8")
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._pool, self._invoke, function_arn, payload), timeout_s
            )
        except TimeoutError:
            raise IntegrationTimeout(
                f"{function_arn} did not answer within {timeout_s:.1f} s"
            ) from None
        except Exception as error:
            raise IntegrationFailed(f"invoking {function_arn} failed: {error}") from error
        finally:
            log.debug("%s answered in %.1f ms", function_arn, (time.monotonic() - started) * 1e3)

    async def call(
        self,
        api: ApiSpec,
        integration_id: str | None,
        source_arn: str,
        event: Mapping[str, Any],
        limit_s: float,
    ) -> tuple[bytes, str | None, IntegrationSpec]:
        """Run a route's integration; :class:`IntegrationFailed` says why it could not."""
        integration = api.integrations.get(integration_id or "")
        if integration is None:
            raise IntegrationFailed(f"the route targets no integration ({integration_id!r})")
        if integration.integration_type != "AWS_PROXY":
            raise IntegrationFailed(
                f"integration type {integration.integration_type} is not emulated "
                "(only AWS_PROXY to Lambda)"
            )
        function_arn = function_arn_from_uri(integration.uri)
        if function_arn is None:
            raise IntegrationFailed(f"{integration.uri!r} is not a Lambda integration URI")
        timeout_s = min(limit_s, (integration.timeout_ms or limit_s * 1000) / 1000)
        payload, error = await self.call_function(function_arn, source_arn, event, timeout_s)
        return payload, error, integration


class Decisions:
    """IAM decisions through ``is_allowed``, each reused for ``ttl_s`` (the @connections path
    asks the same question for every message of a broadcast)."""

    def __init__(self, is_allowed: IsAllowed, ttl_s: float) -> None:
        self._is_allowed = is_allowed
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, str], tuple[float, bool]] = {}

    def allowed(self, principal_arn: str, action: str, resource: str) -> bool:
        key = (principal_arn, action, resource)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > now:
                return cached[1]
            if len(self._cache) > 50_000:
                self._cache.clear()
        decision = self._is_allowed(principal_arn, action, resource)
        with self._lock:
            self._cache[key] = (now + self._ttl_s, decision)
        return decision


def json_response(
    status: int,
    body: Mapping[str, Any] | None,
    *,
    error_type: str | None = None,
    request_id: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> web.Response:
    """An answer with a JSON body (or none), in API Gateway's error style."""
    headers: dict[str, str] = {}
    if error_type:
        headers["x-amzn-ErrorType"] = error_type
    if request_id:
        headers["x-amzn-RequestId"] = request_id
    headers.update(extra_headers or {})
    if body is None:
        return web.Response(status=status, headers=headers)
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode("utf-8"),
        content_type="application/json",
        headers=headers,
    )


async def read_body(request: web.BaseRequest, limit: int) -> bytes | None:
    """The request body, or None when it is longer than ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * KIB):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
