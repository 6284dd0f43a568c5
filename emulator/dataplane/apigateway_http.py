"""One HTTP API on a loopback port: routes to Lambda proxy integrations.

A request's stage is the first path segment when a stage of that name exists, else the
``$default`` stage (served at ``/``). The route is the most specific ``METHOD /path`` key
(``ANY``, ``{param}`` and greedy ``{proxy+}`` segments), else ``$default``. The function gets
payload format 2.0 or 1.0, as the integration declares, and its result is read with that
format's rules. API Gateway's own answers keep their shape: 404 ``{"message":"Not Found"}``,
500 ``{"message":"Internal Server Error"}``, 503 ``{"message":"Service Unavailable"}`` when
the function times out, 413 over the 10 MB payload limit.
"""

from __future__ import annotations

import logging
from typing import Final
from urllib.parse import unquote

from aiohttp import web

from .apigateway_core import (
    HTTP_INTEGRATION_LIMIT_S,
    ApiRef,
    ApiSource,
    ApiSpec,
    GatewaySettings,
    IntegrationFailed,
    Integrations,
    IntegrationTimeout,
    StageSpec,
    json_response,
    read_body,
)
from .apigateway_events import (
    HttpAnswer,
    HttpRequestInfo,
    MalformedResponse,
    http_answer_v1,
    http_answer_v2,
    http_event_v1,
    http_event_v2,
    match_http_route,
    new_id,
    now_ms,
)

log = logging.getLogger("emulator.apigateway")

DEFAULT_CONTENT_TYPE: Final = "text/plain; charset=utf-8"
# Not the function's to set: the emulator's HTTP server writes these itself.
_SERVER_HEADERS: Final = frozenset({"content-length", "transfer-encoding", "connection"})


class HttpApi:
    """Serves one HTTP API (every stage)."""

    protocol = "HTTP"

    def __init__(
        self,
        ref: ApiRef,
        *,
        settings: GatewaySettings,
        apis: ApiSource,
        integrations: Integrations,
    ) -> None:
        self.ref = ref
        self.settings = settings
        self._apis = apis
        self._integrations = integrations

    def connection_ids(self) -> list[str]:
        return []

    async def close_all(self, code: int, reason: str) -> None:
        return None

    def cancel_background(self) -> None:
        return None

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        request_id = new_id()
        api = self._apis(self.ref)
        if api is None:
            return _error(404, "Not Found", request_id)
        raw_path, _, raw_query = request.raw_path.partition("?")
        path = unquote(raw_path)
        stage, route_path = self._stage(api, path)
        if stage is None:
            return _error(404, "Not Found", request_id)
        body = await read_body(request, self.settings.http_max_body_bytes)
        if body is None:
            return _error(413, "Request Entity Too Large", request_id)
        matched = match_http_route(api.routes, request.method, route_path)
        if matched is None:
            return _error(404, "Not Found", request_id)
        route_key, parameters = matched
        route = api.routes[route_key]
        if route.authorization_type not in ("NONE", ""):
            # Refused rather than served open: JWT, Lambda and IAM authorization of HTTP API
            # routes are not emulated.
            log.info("%s %s: authorization %s is not emulated", api.ref.api_id, route_key,
                     route.authorization_type)  # fmt: skip
            return _error(403, "Forbidden", request_id)
        integration = api.integrations.get(route.integration_id or "")
        info = HttpRequestInfo(
            method=request.method,
            raw_path=raw_path,
            path=path,
            raw_query=raw_query,
            headers=[*request.headers.items(), *_forwarded(request)],
            body=body,
            source_ip=request.remote or "",
            domain_name=request.host,
            api_id=api.ref.api_id,
            account_id=api.ref.account_id,
            stage=stage.name,
            route_key=route_key,
            request_id=request_id,
            request_ms=now_ms(),
            path_parameters=parameters,
            stage_variables=stage.variables,
        )
        version = integration.payload_format_version if integration else "2.0"
        event = http_event_v1(info) if version == "1.0" else http_event_v2(info)
        try:
            payload, error, _ = await self._integrations.call(
                api,
                route.integration_id,
                self._source_arn(stage.name, route_key),
                event,
                HTTP_INTEGRATION_LIMIT_S,
            )
            if error is not None:
                raise IntegrationFailed(f"the function failed ({error}): {payload[:300]!r}")
            answer = http_answer_v1(payload) if version == "1.0" else http_answer_v2(payload)
        except IntegrationTimeout as failure:
            log.info("%s %s: %s", api.ref.api_id, route_key, failure)
            return _error(503, "Service Unavailable", request_id)
        except (IntegrationFailed, MalformedResponse) as failure:
            log.info("%s %s: %s", api.ref.api_id, route_key, failure)
            return _error(500, "Internal Server Error", request_id)
        return await _respond(request, answer, request_id)

    def _source_arn(self, stage: str, route_key: str) -> str:
        """``<execution ARN>/<stage>/$default`` or ``.../<stage>/GET/pets/{id}``."""
        return f"{self.ref.execution_arn}/{stage}/{route_key.replace(' ', '', 1)}"

    @staticmethod
    def _stage(api: ApiSpec, path: str) -> tuple[StageSpec | None, str]:
        first, _, rest = path.lstrip("/").partition("/")
        named = api.stages.get(first) if first and first != "$default" else None
        if named is not None:
            return named, "/" + rest
        return api.stages.get("$default"), path or "/"


def _forwarded(request: web.BaseRequest) -> list[tuple[str, str]]:
    port = request.host.rpartition(":")[2] if ":" in request.host else "80"
    return [
        ("X-Amzn-Trace-Id", f"Root=1-{new_id()[:8].encode().hex()}-{new_id().encode().hex()}"),
        ("X-Forwarded-For", request.remote or ""),
        ("X-Forwarded-Port", port),
        ("X-Forwarded-Proto", "http"),
    ]


def _error(status: int, message: str, request_id: str) -> web.Response:
    return json_response(
        status, {"message": message}, extra_headers={"apigw-requestid": request_id}
    )


async def _respond(
    request: web.BaseRequest, answer: HttpAnswer, request_id: str
) -> web.StreamResponse:
    response = web.StreamResponse(status=answer.status)
    for name, value in answer.headers:
        if name.lower() not in _SERVER_HEADERS:
            response.headers.add(name, value)
    response.headers["apigw-requestid"] = request_id
    if "Content-Type" not in response.headers:
        # Assumed: what HTTP APIs send when the function names no type (aiohttp would say
        # application/octet-stream).
        response.headers["Content-Type"] = DEFAULT_CONTENT_TYPE
    bodiless = request.method == "HEAD" or answer.status in (204, 304)
    if not bodiless:
        response.content_length = len(answer.body)
    await response.prepare(request)
    if not bodiless and answer.body:
        await response.write(answer.body)
    await response.write_eof()
    return response
