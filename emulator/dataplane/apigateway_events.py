"""What API Gateway sends to a Lambda integration and how it reads the answer (pure functions).

Everything here is data in, data out: no sockets, no moto, no Lambda. The shapes follow what
API Gateway (v2: WebSocket and HTTP APIs) sends and accepts:

* WebSocket proxy events: ``$connect`` (headers, multiValueHeaders, query string),
  messages (body, isBase64Encoded, messageId) and ``$disconnect`` (disconnectStatusCode,
  disconnectReason, the fixed header set API Gateway sends), each with the requestContext
  (routeKey, eventType, connectionId, connectedAt, requestTimeEpoch, requestTime,
  extendedRequestId/requestId, messageDirection, stage, domainName, apiId, identity, and the
  authorizer's output when a Lambda authorizer allowed the connection);
* the WebSocket REQUEST authorizer event (``type: REQUEST``, ``methodArn``) and the reading of
  its IAM policy answer;
* HTTP API Lambda proxy events in payload format 2.0 and 1.0, and the two response formats,
  including 2.0's inference when the function returns no ``statusCode``;
* route selection: ``$request.body.<path>`` for WebSocket APIs, ``METHOD /path`` keys with
  ``{param}`` and ``{proxy+}`` for HTTP APIs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl

from .credentials import arn_like

__all__ = [
    "AuthorizerDecision",
    "ConnectionInfo",
    "HttpAnswer",
    "HttpRequestInfo",
    "MalformedResponse",
    "ProxyAnswer",
    "authorizer_decision",
    "authorizer_event",
    "clf_time",
    "connect_event",
    "disconnect_event",
    "function_arn_from_uri",
    "http_answer_v1",
    "http_answer_v2",
    "http_event_v1",
    "http_event_v2",
    "match_http_route",
    "message_event",
    "new_id",
    "select_route_key",
    "websocket_answer",
]

# API Gateway's ids (connectionId, requestId, messageId) are 11 random bytes in URL-safe
# base64, e.g. "L0SM9cOFvHcCIhw=", "cx6X9eL_IAMCIJQ=": safe in a URL path as they are.
_ID_BYTES: Final = 11
_LAMBDA_URI: Final = re.compile(
    r"^arn:(?P<partition>[a-z-]+):apigateway:(?P<region>[a-z0-9-]+):lambda:path/"
    r"2015-03-31/functions/(?P<function>arn:[^/]+)/invocations$"
)
_FUNCTION_ARN: Final = re.compile(r"^arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:function:[^:/]+$")
_BODY_EXPRESSION: Final = re.compile(r"^\$\{?request\.body\.(?P<path>[A-Za-z0-9_.\-]+)\}?$")
# Request bodies of these types reach an HTTP API function as text; anything else (including
# application/x-www-form-urlencoded, as on AWS) arrives base64-encoded.
_TEXT_TYPES: Final = re.compile(
    r"^(text/.*|application/(.*\+)?(json|xml|javascript|ecmascript|graphql|yaml))(;.*)?$",
    re.IGNORECASE,
)
# Headers that belong to the hop, not the request: API Gateway does not pass them on.
_HOP_BY_HOP: Final = frozenset({"connection", "upgrade", "keep-alive", "transfer-encoding"})


class MalformedResponse(ValueError):
    """A function answered something API Gateway cannot use (it answers 500/502 instead)."""


def new_id() -> str:
    """A connection, request or message id in API Gateway's form."""
    return base64.urlsafe_b64encode(secrets.token_bytes(_ID_BYTES)).decode("ascii")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def clf_time(epoch_ms: int) -> str:
    """``requestTime``: the Common Log Format date, e.g. ``09/Feb/2024:18:11:43 +0000``."""
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000))


def function_arn_from_uri(uri: str) -> str | None:
    """The function ARN of a Lambda integration URI (the invoke ARN, or a plain function ARN,
    which HTTP APIs accept too); None for anything else."""
    match = _LAMBDA_URI.match(uri or "")
    candidate = match.group("function") if match else uri
    return candidate if candidate and _FUNCTION_ARN.match(candidate) else None


def _header_maps(
    headers: Iterable[tuple[str, str]],
) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        if name.lower() in _HOP_BY_HOP:
            continue
        single[name] = value  # the last value, as API Gateway's "headers" holds
        multi.setdefault(name, []).append(value)
    return single, multi


def _query_maps(raw_query: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


# ---------------------------------------------------------------------------- WebSocket


@dataclass(frozen=True)
class ConnectionInfo:
    """What every event of one WebSocket connection shares."""

    api_id: str
    stage: str
    connection_id: str
    connected_at_ms: int
    domain_name: str
    source_ip: str
    user_agent: str | None = None
    # requestContext.authorizer: principalId, integrationLatency and the context's keys.
    authorizer: Mapping[str, Any] | None = None

    def identity(self) -> dict[str, str]:
        identity = {"sourceIp": self.source_ip}
        if self.user_agent is not None:
            identity["userAgent"] = self.user_agent
        return identity


def _request_context(
    connection: ConnectionInfo,
    *,
    route_key: str,
    event_type: str,
    request_id: str,
    request_ms: int,
    extra: Mapping[str, Any] | None = None,
    with_authorizer: bool = True,
) -> dict[str, Any]:
    context: dict[str, Any] = {"routeKey": route_key}
    context.update(extra or {})
    context.update(
        {
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": clf_time(request_ms),
            "messageDirection": "IN",
            "stage": connection.stage,
            "connectedAt": connection.connected_at_ms,
            "requestTimeEpoch": request_ms,
            "identity": connection.identity(),
            "requestId": request_id,
            "domainName": connection.domain_name,
            "connectionId": connection.connection_id,
            "apiId": connection.api_id,
        }
    )
    if with_authorizer and connection.authorizer is not None:
        context["authorizer"] = dict(connection.authorizer)
    return context


def connect_event(
    connection: ConnectionInfo,
    *,
    headers: Sequence[tuple[str, str]],
    raw_query: str,
    request_id: str,
    request_ms: int,
    stage_variables: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``$connect`` route's event: the upgrade request's headers and query string."""
    single, multi = _header_maps(headers)
    event: dict[str, Any] = {"headers": single, "multiValueHeaders": multi}
    if raw_query:
        query, multi_query = _query_maps(raw_query)
        if query:
            event["queryStringParameters"] = query
            event["multiValueQueryStringParameters"] = multi_query
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    event["requestContext"] = _request_context(
        connection,
        route_key="$connect",
        event_type="CONNECT",
        request_id=request_id,
        request_ms=request_ms,
    )
    event["isBase64Encoded"] = False
    return event


def message_event(
    connection: ConnectionInfo,
    *,
    route_key: str,
    data: str | bytes,
    request_id: str,
    message_id: str,
    request_ms: int,
    stage_variables: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A message's event: a text frame's body as is, a binary frame's base64-encoded."""
    binary = isinstance(data, bytes)
    body = base64.b64encode(data).decode("ascii") if isinstance(data, bytes) else data
    event: dict[str, Any] = {
        "requestContext": _request_context(
            connection,
            route_key=route_key,
            event_type="MESSAGE",
            request_id=request_id,
            request_ms=request_ms,
            extra={"messageId": message_id},
        ),
        "body": body,
        "isBase64Encoded": binary,
    }
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    return event


def disconnect_event(
    connection: ConnectionInfo,
    *,
    status_code: int,
    reason: str,
    request_id: str,
    request_ms: int,
    stage_variables: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``$disconnect``'s event; its headers are the fixed set API Gateway sends."""
    headers = {
        "Host": connection.domain_name,
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    event: dict[str, Any] = {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": _request_context(
            connection,
            route_key="$disconnect",
            event_type="DISCONNECT",
            request_id=request_id,
            request_ms=request_ms,
            extra={"disconnectStatusCode": status_code, "disconnectReason": reason},
        ),
        "isBase64Encoded": False,
    }
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    return event


def authorizer_event(
    connection: ConnectionInfo,
    *,
    method_arn: str,
    headers: Sequence[tuple[str, str]],
    raw_query: str,
    request_id: str,
    request_ms: int,
    stage_variables: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The REQUEST authorizer's event for a WebSocket ``$connect``."""
    single, multi = _header_maps(headers)
    query, multi_query = _query_maps(raw_query)
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "stageVariables": dict(stage_variables or {}),
        "requestContext": _request_context(
            connection,
            route_key="$connect",
            event_type="CONNECT",
            request_id=request_id,
            request_ms=request_ms,
            with_authorizer=False,
        ),
    }


def select_route_key(expression: str, data: str | bytes) -> str | None:
    """The route key a message selects with ``$request.body.<path>``, or None ($default).

    Only JSON text messages select: a binary frame, a body that is not a JSON object, a
    missing key or a non-string value all fall to ``$default``.
    """
    match = _BODY_EXPRESSION.match(expression.strip())
    if match is None or isinstance(data, bytes):
        return None
    try:
        value: Any = json.loads(data)
    except ValueError:
        return None
    for key in match.group("path").split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class ProxyAnswer:
    """A Lambda proxy result as API Gateway reads it for a WebSocket route.

    ``body`` is what a two-way route sends back: ``str`` as a text frame, ``bytes`` (from
    ``isBase64Encoded``) as a binary frame, None for nothing. ``status`` is None when the
    function returned no status (``null``, or an object without ``statusCode``).
    """

    status: int | None
    body: str | bytes | None
    headers: Mapping[str, str] = field(default_factory=dict)


def _status(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedResponse(f"statusCode must be an integer, got {value!r}")
    try:
        status = int(value)
    except ValueError:
        raise MalformedResponse(f"statusCode must be an integer, got {value!r}") from None
    if not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status} is not an HTTP status")
    return status


def _string_headers(value: Any, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedResponse(f"{name} must be an object")
    headers: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            headers[str(key)] = "true" if item else "false"
        elif isinstance(item, str | int | float):
            headers[str(key)] = str(item)
        else:
            raise MalformedResponse(f"{name}[{key!r}] must be a string")
    return headers


def _body(result: Mapping[str, Any]) -> str | bytes | None:
    body = result.get("body")
    if body is None:
        return None
    if not isinstance(body, str):
        raise MalformedResponse(f"body must be a string, got {type(body).__name__}")
    if result.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedResponse("isBase64Encoded is true but body is not base64") from None
    return body


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload) if payload.strip() else None
    except ValueError:
        raise MalformedResponse("the function's result is not JSON") from None


def websocket_answer(payload: bytes) -> ProxyAnswer:
    """Read a WebSocket route's AWS_PROXY result; :class:`MalformedResponse` when unusable."""
    result = _json(payload)
    if result is None:
        return ProxyAnswer(None, None)
    if not isinstance(result, dict):
        raise MalformedResponse(
            f"a proxy result must be a JSON object, got {type(result).__name__}"
        )
    status = _status(result["statusCode"]) if "statusCode" in result else None
    headers = _string_headers(result.get("headers"), "headers")
    return ProxyAnswer(status, _body(result), headers)


# ---------------------------------------------------------------------------- authorizer


@dataclass(frozen=True)
class AuthorizerDecision:
    allowed: bool
    principal_id: str
    # requestContext.authorizer of every later event (without integrationLatency).
    context: Mapping[str, Any]


def _statements(document: Any) -> list[Mapping[str, Any]]:
    if not isinstance(document, dict):
        raise MalformedResponse("policyDocument must be an object")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise MalformedResponse("policyDocument.Statement must be a list of objects")
    return statements


def _as_list(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str)]


def authorizer_decision(payload: bytes, method_arn: str) -> AuthorizerDecision:
    """Read a Lambda authorizer's IAM policy answer for ``method_arn``.

    An explicit Deny wins; otherwise any Allow of ``execute-api:Invoke`` (or a wildcard) on a
    resource matching ``method_arn`` allows. The context must map names to strings, numbers
    or booleans, as API Gateway requires (anything else is a malformed answer: 500).
    """
    result = _json(payload)
    if not isinstance(result, dict):
        raise MalformedResponse("an authorizer must return an object with a policyDocument")
    principal = result.get("principalId")
    if not isinstance(principal, str):
        raise MalformedResponse("an authorizer's answer needs a string principalId")
    allowed = False
    for statement in _statements(result.get("policyDocument")):
        actions = _as_list(statement.get("Action"))
        resources = _as_list(statement.get("Resource"))
        if not any(arn_like(a, "execute-api:Invoke") for a in actions):
            continue
        if not any(arn_like(r, method_arn) for r in resources):
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            allowed = False
            break
        allowed = allowed or effect == "Allow"
    context = result.get("context") or {}
    if not isinstance(context, dict) or not all(
        isinstance(v, str | int | float | bool) for v in context.values()
    ):
        raise MalformedResponse("an authorizer's context must map names to primitive values")
    return AuthorizerDecision(allowed, principal, {"principalId": principal, **context})


# ---------------------------------------------------------------------------- HTTP APIs


@dataclass(frozen=True)
class HttpRequestInfo:
    """One HTTP API request as the emulator received it."""

    method: str
    raw_path: str  # as sent, including a named stage's prefix
    path: str  # decoded, including a named stage's prefix
    raw_query: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str
    domain_name: str
    api_id: str
    account_id: str
    stage: str
    route_key: str
    request_id: str
    request_ms: int
    path_parameters: Mapping[str, str] = field(default_factory=dict)
    stage_variables: Mapping[str, str] = field(default_factory=dict)
    protocol: str = "HTTP/1.1"

    def content_type(self) -> str:
        return next((v for k, v in self.headers if k.lower() == "content-type"), "")

    def user_agent(self) -> str:
        return next((v for k, v in self.headers if k.lower() == "user-agent"), "")


def _http_body(request: HttpRequestInfo) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    if _TEXT_TYPES.match(request.content_type()):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode("ascii"), True


def http_event_v2(request: HttpRequestInfo) -> dict[str, Any]:
    """Payload format 2.0: lower-case headers, duplicates joined by commas, cookies apart."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key in _HOP_BY_HOP:
            continue
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(request.raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": request.route_key,
        "rawPath": request.path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": request.account_id,
        "apiId": request.api_id,
        "domainName": request.domain_name,
        "domainPrefix": request.api_id,
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.user_agent(),
        },
        "requestId": request.request_id,
        "routeKey": request.route_key,
        "stage": request.stage,
        "time": clf_time(request.request_ms),
        "timeEpoch": request.request_ms,
    }
    body, encoded = _http_body(request)
    if body is not None:
        event["body"] = body
    if request.path_parameters:
        event["pathParameters"] = dict(request.path_parameters)
    event["isBase64Encoded"] = encoded
    if request.stage_variables:
        event["stageVariables"] = dict(request.stage_variables)
    return event


def http_event_v1(request: HttpRequestInfo) -> dict[str, Any]:
    """Payload format 1.0 (the REST API proxy shape) for an HTTP API route."""
    single, multi = _header_maps(request.headers)
    query, multi_query = _query_maps(request.raw_query)
    resource = request.route_key.split(" ", 1)[-1] if " " in request.route_key else "/"
    body, encoded = _http_body(request)
    return {
        "version": "1.0",
        "resource": resource if request.route_key != "$default" else request.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "requestContext": {
            "accountId": request.account_id,
            "apiId": request.api_id,
            "domainName": request.domain_name,
            "domainPrefix": request.api_id,
            "extendedRequestId": request.request_id,
            "httpMethod": request.method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": request.source_ip,
                "user": None,
                "userAgent": request.user_agent(),
                "userArn": None,
            },
            "path": request.path,
            "protocol": request.protocol,
            "requestId": request.request_id,
            "requestTime": clf_time(request.request_ms),
            "requestTimeEpoch": request.request_ms,
            "resourceId": request.route_key,
            "resourcePath": resource,
            "stage": request.stage,
        },
        "pathParameters": dict(request.path_parameters) or None,
        "stageVariables": dict(request.stage_variables) or None,
        "body": body,
        "isBase64Encoded": encoded,
    }


@dataclass(frozen=True)
class HttpAnswer:
    """The HTTP response an HTTP API sends for a function's result."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def _body_bytes(result: Mapping[str, Any]) -> bytes:
    body = _body(result)
    if body is None:
        return b""
    return body if isinstance(body, bytes) else body.encode("utf-8")


def _multi_headers(value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise MalformedResponse("multiValueHeaders must be an object")
    pairs: list[tuple[str, str]] = []
    for name, values in value.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] must be a list")
        pairs.extend((str(name), str(v)) for v in values)
    return pairs


def http_answer_v2(payload: bytes) -> HttpAnswer:
    """Read a payload format 2.0 result.

    With a ``statusCode`` it is the structured response (statusCode, headers,
    multiValueHeaders, cookies, body, isBase64Encoded). Without one, API Gateway infers: any
    valid JSON (an object without statusCode, a string, a number, ...) becomes a 200 with
    ``content-type: application/json`` and the function's JSON as the body.
    """
    result = _json(payload)
    if not isinstance(result, dict) or "statusCode" not in result:
        body = payload if payload.strip() else b"null"
        return HttpAnswer(200, (("content-type", "application/json"),), body)
    status = _status(result["statusCode"])
    headers = list(_string_headers(result.get("headers"), "headers").items())
    headers.extend(_multi_headers(result.get("multiValueHeaders")))
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise MalformedResponse("cookies must be a list of strings")
    headers.extend(("set-cookie", cookie) for cookie in cookies)
    return HttpAnswer(status, tuple(headers), _body_bytes(result))


def http_answer_v1(payload: bytes) -> HttpAnswer:
    """Read a payload format 1.0 result: it must be the proxy response object."""
    result = _json(payload)
    if not isinstance(result, dict) or "statusCode" not in result:
        raise MalformedResponse("payload format 1.0 needs an object with statusCode")
    status = _status(result["statusCode"])
    single = _string_headers(result.get("headers"), "headers")
    multi = _multi_headers(result.get("multiValueHeaders"))
    names = {name.lower() for name, _ in multi}
    headers = [(k, v) for k, v in single.items() if k.lower() not in names] + multi
    return HttpAnswer(status, tuple(headers), _body_bytes(result))


def _route_pattern(template: str) -> tuple[re.Pattern[str], list[str], int, bool]:
    """A route path as a regex, its parameter names (groups g0, g1, ...), its count of literal
    segments and whether it ends greedy (``{name+}``)."""
    parts: list[str] = []
    names: list[str] = []
    literals = 0
    greedy = False
    for segment in template.strip("/").split("/") if template != "/" else []:
        if segment.startswith("{") and segment.endswith("}"):
            greedy = segment.endswith("+}")
            names.append(segment[1:-2] if greedy else segment[1:-1])
            parts.append(f"(?P<g{len(names) - 1}>{'.+' if greedy else '[^/]+'})")
        else:
            parts.append(re.escape(segment))
            literals += 1
    return re.compile("/" + "/".join(parts)), names, literals, greedy


def match_http_route(
    route_keys: Iterable[str], method: str, path: str
) -> tuple[str, dict[str, str]] | None:
    """The HTTP API route a request takes, with its path parameters.

    The most specific route wins: more literal segments, then not greedy, then an exact
    method over ``ANY``; ``$default`` catches the rest.
    """
    best: tuple[tuple[int, int, int], str, dict[str, str]] | None = None
    has_default = False
    for key in route_keys:
        if key == "$default":
            has_default = True
            continue
        route_method, _, template = key.partition(" ")
        if not template.startswith("/") or route_method not in ("ANY", method.upper()):
            continue
        pattern, names, literals, greedy = _route_pattern(template)
        match = pattern.fullmatch(path)
        if match is None:
            continue
        rank = (literals, 0 if greedy else 1, 1 if route_method != "ANY" else 0)
        if best is None or rank > best[0]:
            best = (rank, key, {name: match.group(f"g{i}") for i, name in enumerate(names)})
    if best is not None:
        return best[1], best[2]
    return ("$default", {}) if has_default else None
