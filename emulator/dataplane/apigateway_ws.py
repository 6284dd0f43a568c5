"""One WebSocket API on a loopback port: its stages' sockets and the ``@connections`` API.

``GET /<stage>`` with an upgrade runs the API's ``$connect`` route (its Lambda authorizer
first, when it has one) before the handshake is answered: a refusal is the HTTP status the
client sees. Messages are routed by the API's route selection expression; a two-way route
sends its integration's body back. Closing, from either side, runs ``$disconnect``.

``POST|GET|DELETE /<stage>/@connections/<id>`` on the same port is the management API the
backend calls through ``apigatewaymanagementapi``: SigV4-authenticated, authorized for
``execute-api:ManageConnections`` on
``arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/@connections/<id>``.

The limits API Gateway applies hold: a frame over 32 KB or a message over 128 KB closes the
connection with 1009 "Message too big"; 10 idle minutes (no message either way) or 2 hours
in all close it with 1001 "Going away". Messages the emulator sends that are larger than a
frame are fragmented.

aiohttp (3.14) serves the sockets. Its reader checks only whole messages, so
:class:`_FrameLimiter` sits between the connection and aiohttp's parser and reads each frame
header as it arrives: an oversized frame is refused before any of its payload is buffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final
from urllib.parse import unquote

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, hdrs, web

from .apigateway_core import (
    WEBSOCKET_INTEGRATION_LIMIT_S,
    ApiRef,
    ApiSource,
    ApiSpec,
    CredentialsLookup,
    Decisions,
    GatewaySettings,
    IntegrationFailed,
    Integrations,
    IntegrationTimeout,
    RouteSpec,
    StageSpec,
    json_response,
    read_body,
)
from .apigateway_events import (
    ConnectionInfo,
    MalformedResponse,
    authorizer_decision,
    authorizer_event,
    connect_event,
    disconnect_event,
    function_arn_from_uri,
    message_event,
    new_id,
    now_ms,
    select_route_key,
    websocket_answer,
)
from .apigateway_sigv4 import SignatureRejected, verify_request
from .credentials import Credentials
from .faults import injected

log = logging.getLogger("emulator.apigateway")

# _LimitedWebSocket reaches into aiohttp's WebSocketResponse (_post_start, the protocol's
# _payload_parser, the writer's transport); tests/emulator/dataplane checks it still works.
WRITTEN_FOR_AIOHTTP: Final = "3.14.5"
MESSAGE_TOO_BIG: Final = "Message too big"
GOING_AWAY: Final = "Going away"
MANAGE_ACTION: Final = "execute-api:ManageConnections"
_DATA_OPCODES: Final = (0x0, 0x1, 0x2)
_OP_TEXT: Final = 0x1
_OP_BINARY: Final = 0x2


class _FrameLimiter:
    """Wraps aiohttp's WebSocket parser; refuses a frame or message over the limits.

    Frames are followed by their headers only (payload bytes are counted, not copied). On a
    violation nothing more reaches aiohttp's parser and ``on_violation`` is called once; it
    closes the socket with 1009.
    """

    def __init__(
        self,
        inner: Any,
        *,
        max_frame: int,
        max_message: int,
        on_violation: Callable[[], None],
    ) -> None:
        self._inner = inner
        self._max_frame = max_frame
        self._max_message = max_message
        self._on_violation = on_violation
        self._header = bytearray()
        self._payload_left = 0
        self._message_size = 0
        self._violated = False

    def feed_eof(self) -> None:
        self._inner.feed_eof()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self._violated:
            return False, b""
        position, end = 0, len(data)
        while position < end:
            if self._payload_left:
                step = min(self._payload_left, end - position)
                self._payload_left -= step
                position += step
                continue
            header_start = position - len(self._header)
            position = self._read_header(data, position)
            if self._header_complete() and not self._check_frame():
                self._violated = True
                if header_start > 0:
                    self._inner.feed_data(data[:header_start])
                self._on_violation()
                return False, b""
        return self._inner.feed_data(data)  # type: ignore[no-any-return]

    def _header_length(self) -> int:
        if len(self._header) < 2:
            return 2
        length_code = self._header[1] & 0x7F
        extended = 2 if length_code == 126 else 8 if length_code == 127 else 0
        return 2 + extended + (4 if self._header[1] & 0x80 else 0)

    def _read_header(self, data: bytes, position: int) -> int:
        while position < len(data) and len(self._header) < self._header_length():
            take = min(self._header_length() - len(self._header), len(data) - position)
            self._header += data[position : position + take]
            position += take
        return position

    def _header_complete(self) -> bool:
        return len(self._header) >= 2 and len(self._header) == self._header_length()

    def _check_frame(self) -> bool:
        """Account for the complete header in ``_header``; False on a violation."""
        header = self._header
        fin, opcode = header[0] & 0x80, header[0] & 0x0F
        length_code = header[1] & 0x7F
        if length_code == 126:
            length = int.from_bytes(header[2:4], "big")
        elif length_code == 127:
            length = int.from_bytes(header[2:10], "big")
        else:
            length = length_code
        self._header = bytearray()
        self._payload_left = length
        if opcode not in _DATA_OPCODES:
            return True  # control frames: aiohttp enforces their 125-byte limit
        if length > self._max_frame:
            return False
        self._message_size = length if opcode else self._message_size + length
        if self._message_size > self._max_message:
            return False
        if fin:
            self._message_size = 0
        return True


class _LimitedWebSocket(web.WebSocketResponse):
    """aiohttp's WebSocketResponse with API Gateway's frame and message limits."""

    def __init__(
        self,
        *,
        settings: GatewaySettings,
        on_too_big: Callable[[], None],
        protocols: tuple[str, ...] = (),
    ) -> None:
        # API Gateway does not negotiate permessage-deflate; aiohttp's own message check
        # stays as a backstop one byte above the limit _FrameLimiter enforces.
        super().__init__(
            autoping=True,
            compress=False,
            max_msg_size=settings.max_message_bytes + 1,
            protocols=protocols,
        )
        self._limits = settings
        self._on_too_big = on_too_big

    def _post_start(self, request: web.BaseRequest, protocol: str | None, writer: Any) -> None:
        super()._post_start(request, protocol, writer)
        handler: Any = request.protocol
        if getattr(handler, "_payload_parser", None) is None:
            raise RuntimeError(
                f"aiohttp {aiohttp.__version__} no longer keeps the WebSocket parser where "
                f"the frame limits expect it (written for aiohttp {WRITTEN_FOR_AIOHTTP})"
            )
        handler._payload_parser = _FrameLimiter(
            handler._payload_parser,
            max_frame=self._limits.max_frame_bytes,
            max_message=self._limits.max_message_bytes,
            on_violation=self._on_too_big,
        )

    def buffered(self) -> int:
        """Bytes written but not yet sent to the client."""
        writer: Any = self._writer
        transport = getattr(writer, "transport", None)
        return int(transport.get_write_buffer_size()) if transport is not None else 0

    async def send_message(self, data: str | bytes) -> None:
        """One message, in frames of at most ``max_frame_bytes`` (as API Gateway sends)."""
        payload = data.encode("utf-8") if isinstance(data, str) else data
        limit = self._limits.max_frame_bytes
        if len(payload) <= limit:
            if isinstance(data, str):
                await self.send_str(data)
            else:
                await self.send_bytes(data)
            return
        writer: Any = self._writer
        if writer is None or self.closed or writer._closing:
            raise ConnectionResetError("the connection is closing")
        opcode = _OP_TEXT if isinstance(data, str) else _OP_BINARY
        # Written in one go, so no other message can interleave with the fragments.
        writer.transport.write(_fragments(payload, opcode, limit))
        await asyncio.sleep(0)


def _fragments(payload: bytes, opcode: int, size: int) -> bytes:
    """A message as unmasked server frames of at most ``size`` payload bytes each."""
    out = bytearray()
    for start in range(0, len(payload), size):
        chunk = payload[start : start + size]
        first = (0x80 if start + size >= len(payload) else 0) | (opcode if start == 0 else 0)
        length = len(chunk)
        if length < 126:
            out += bytes((first, length))
        elif length < 65536:
            out += bytes((first, 126)) + length.to_bytes(2, "big")
        else:
            out += bytes((first, 127)) + length.to_bytes(8, "big")
        out += chunk
    return bytes(out)


def _iso(epoch_s: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch_s, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(eq=False)
class _Connection:
    info: ConnectionInfo
    ws: _LimitedWebSocket
    variables: Mapping[str, str]
    connected_at: float = field(default_factory=time.time)
    last_active: float = field(default_factory=time.time)
    last_active_mono: float = field(default_factory=time.monotonic)
    open: bool = True
    # Set when the emulator closes the connection (DELETE, limits): what $disconnect reports.
    close_code: int | None = None
    close_reason: str = ""
    timers: list[asyncio.TimerHandle] = field(default_factory=list)

    @property
    def connection_id(self) -> str:
        return self.info.connection_id

    def touch(self) -> None:
        self.last_active = time.time()
        self.last_active_mono = time.monotonic()


class _Refused(Exception):
    """The upgrade is answered with this response instead of 101."""

    def __init__(self, response: web.StreamResponse, reason: str) -> None:
        super().__init__(reason)
        self.response = response


class WebSocketApi:
    """Serves one WEBSOCKET API (every stage) and its ``@connections`` endpoint."""

    protocol = "WEBSOCKET"

    def __init__(
        self,
        ref: ApiRef,
        *,
        settings: GatewaySettings,
        apis: ApiSource,
        integrations: Integrations,
        credentials: CredentialsLookup,
        decisions: Decisions,
    ) -> None:
        self.ref = ref
        self.settings = settings
        self._apis = apis
        self._integrations = integrations
        self._credentials = credentials
        self._decisions = decisions
        self._connections: dict[str, _Connection] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._stopping = False

    # ------------------------------------------------------------------ entry point

    def connection_ids(self) -> list[str]:
        return [cid for cid, conn in self._connections.items() if conn.open]

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        api = self._apis(self.ref)
        if api is None:
            return json_response(403, {"message": "Forbidden"})
        path = request.raw_path.partition("?")[0]
        segments = path.split("/")[1:]
        if len(segments) == 3 and segments[1] == "@connections":
            return await self._manage(request, api, unquote(segments[0]), unquote(segments[2]))
        if len(segments) in (1, 2) and segments[0] and segments[1:] in ([], [""]):
            stage = api.stages.get(unquote(segments[0]))
            if stage is not None:
                return await self._websocket(request, api, stage)
        return json_response(403, {"message": "Forbidden"})

    async def close_all(self, code: int, reason: str) -> None:
        """Close every socket (the emulator is stopping: no $disconnect runs)."""
        self._stopping = True
        for conn in list(self._connections.values()):
            await self._server_close(conn, code, reason)

    def cancel_background(self) -> None:
        for task in list(self._background):
            task.cancel()

    # ------------------------------------------------------------------ the socket

    async def _websocket(
        self, request: web.BaseRequest, api: ApiSpec, stage: StageSpec
    ) -> web.StreamResponse:
        if request.headers.get(hdrs.UPGRADE, "").lower() != "websocket":
            return json_response(426, {"message": "Upgrade Required"})
        connected = now_ms()
        info = ConnectionInfo(
            api_id=api.ref.api_id,
            stage=stage.name,
            connection_id=new_id(),
            connected_at_ms=connected,
            domain_name=request.host,
            source_ip=request.remote or "",
            user_agent=request.headers.get(hdrs.USER_AGENT),
        )
        headers = [*request.headers.items(), *self._forwarded(request, info)]
        raw_query = request.query_string
        try:
            info, protocols = await self._connect(api, stage, info, headers, raw_query)
        except _Refused as refused:
            log.info("%s: $connect refused: %s", api.ref.api_id, refused)
            return refused.response
        holder: list[_Connection] = []

        def too_big() -> None:
            if holder:
                self._spawn(
                    self._server_close(holder[0], WSCloseCode.MESSAGE_TOO_BIG, MESSAGE_TOO_BIG)
                )

        ws = _LimitedWebSocket(settings=self.settings, on_too_big=too_big, protocols=protocols)
        conn = _Connection(info=info, ws=ws, variables=stage.variables)
        try:
            await ws.prepare(request)
        except (ConnectionError, RuntimeError) as gone:
            # The client left while $connect ran: $connect succeeded, so $disconnect runs.
            log.info("%s: the client left during $connect: %s", api.ref.api_id, gone)
            self._forget(conn)
            self._spawn(self._disconnect(conn, WSCloseCode.ABNORMAL_CLOSURE, "Going away"))
            return ws
        holder.append(conn)
        self._connections[info.connection_id] = conn
        self._arm_timers(conn)
        client_code: int | None = None
        client_reason = ""
        try:
            while True:
                msg = await ws.receive()
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    conn.touch()
                    self._spawn(self._on_message(conn, msg.data))
                elif msg.type is WSMsgType.CLOSE:
                    client_code, client_reason = int(msg.data or 0), str(msg.extra or "")
                    await ws.close()
                    break
                elif msg.type is WSMsgType.ERROR:
                    # A protocol error: aiohttp closed with the code that names it.
                    client_code, client_reason = ws.close_code or 1002, str(msg.data)
                    break
                elif msg.type in (WSMsgType.CLOSING, WSMsgType.CLOSED):
                    break
        finally:
            self._forget(conn)
            code, reason = self._disconnect_status(conn, client_code, client_reason)
            self._spawn(self._disconnect(conn, code, reason))
        return ws

    def _forwarded(self, request: web.BaseRequest, info: ConnectionInfo) -> list[tuple[str, str]]:
        port = request.host.rpartition(":")[2] if ":" in request.host else "80"
        return [
            ("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{new_id()[:12].encode().hex()}"),
            ("X-Forwarded-For", info.source_ip),
            ("X-Forwarded-Port", port),
            ("X-Forwarded-Proto", "http"),
        ]

    @staticmethod
    def _disconnect_status(
        conn: _Connection, client_code: int | None, client_reason: str
    ) -> tuple[int, str]:
        if conn.close_code is not None:
            return conn.close_code, conn.close_reason
        if client_code is None:
            return WSCloseCode.ABNORMAL_CLOSURE, "Connection closed abnormally"
        if client_code == 0:
            return 1005, "Client-side close frame status not set"
        return client_code, client_reason

    def _arm_timers(self, conn: _Connection) -> None:
        loop = asyncio.get_running_loop()

        def idle_check() -> None:
            remaining = conn.last_active_mono + self.settings.idle_timeout_s - time.monotonic()
            if not conn.open:
                return
            if remaining <= 0:
                self._spawn(self._server_close(conn, WSCloseCode.GOING_AWAY, GOING_AWAY))
            else:
                conn.timers.append(loop.call_later(remaining, idle_check))

        def lifetime_over() -> None:
            self._spawn(self._server_close(conn, WSCloseCode.GOING_AWAY, GOING_AWAY))

        conn.timers.append(loop.call_later(self.settings.idle_timeout_s, idle_check))
        conn.timers.append(loop.call_later(self.settings.max_connection_s, lifetime_over))

    def _forget(self, conn: _Connection) -> None:
        conn.open = False
        if self._connections.get(conn.connection_id) is conn:
            del self._connections[conn.connection_id]
        for timer in conn.timers:
            timer.cancel()

    async def _server_close(self, conn: _Connection, code: int, reason: str) -> None:
        if not conn.open:
            return
        conn.close_code, conn.close_reason = code, reason
        self._forget(conn)
        with contextlib.suppress(Exception):
            await conn.ws.close(code=code, message=reason.encode("utf-8"))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ routes

    def _source_arn(self, stage: str, route_key: str) -> str:
        return f"{self.ref.execution_arn}/{stage}/{route_key}"

    async def _connect(
        self,
        api: ApiSpec,
        stage: StageSpec,
        info: ConnectionInfo,
        headers: list[tuple[str, str]],
        raw_query: str,
    ) -> tuple[ConnectionInfo, tuple[str, ...]]:
        route = api.routes.get("$connect")
        if route is None:
            return info, ()
        if route.authorization_type == "CUSTOM":
            info = await self._authorize(api, stage, route, info, headers, raw_query)
        elif route.authorization_type not in ("NONE", "", None):
            raise _Refused(
                json_response(403, {"message": "Forbidden"}),
                f"authorization type {route.authorization_type} is not emulated",
            )
        event = connect_event(
            info,
            headers=headers,
            raw_query=raw_query,
            request_id=new_id(),
            request_ms=now_ms(),
            stage_variables=stage.variables,
        )
        try:
            payload, error, _ = await self._integrations.call(
                api,
                route.integration_id,
                self._source_arn(stage.name, "$connect"),
                event,
                WEBSOCKET_INTEGRATION_LIMIT_S,
            )
        except IntegrationTimeout as failure:
            raise _Refused(
                _message_response(504, "Endpoint request timed out"), str(failure)
            ) from None
        except IntegrationFailed as failure:
            raise _Refused(_message_response(500, "Internal server error"), str(failure)) from None
        if error is not None:
            raise _Refused(
                _message_response(502, "Internal server error"),
                f"the $connect function failed ({error}): {payload[:300]!r}",
            )
        try:
            answer = websocket_answer(payload)
        except MalformedResponse as malformed:
            raise _Refused(
                _message_response(502, "Internal server error"), str(malformed)
            ) from None
        if answer.status is not None and not 200 <= answer.status < 300:
            body = answer.body if answer.body is not None else ""
            response = web.Response(status=answer.status, body=body)
            raise _Refused(response, f"the $connect function answered {answer.status}")
        protocol = next(
            (v for k, v in answer.headers.items() if k.lower() == "sec-websocket-protocol"), None
        )
        return info, ((protocol,) if protocol else ())

    async def _authorize(
        self,
        api: ApiSpec,
        stage: StageSpec,
        route: RouteSpec,
        info: ConnectionInfo,
        headers: list[tuple[str, str]],
        raw_query: str,
    ) -> ConnectionInfo:
        authorizer = api.authorizers.get(route.authorizer_id or "")
        function_arn = function_arn_from_uri(authorizer.uri) if authorizer else None
        if authorizer is None or authorizer.authorizer_type != "REQUEST" or not function_arn:
            raise _Refused(
                _message_response(500, "Internal server error"),
                f"authorizer {route.authorizer_id!r} is missing or not a REQUEST Lambda",
            )
        if not _identity_present(authorizer.identity_sources, headers, raw_query, stage):
            raise _Refused(_message_response(401, "Unauthorized"), "identity source missing")
        method_arn = self._source_arn(stage.name, "$connect")
        event = authorizer_event(
            info,
            method_arn=method_arn,
            headers=headers,
            raw_query=raw_query,
            request_id=new_id(),
            request_ms=now_ms(),
            stage_variables=stage.variables,
        )
        started = time.monotonic()
        try:
            payload, error = await self._integrations.call_function(
                function_arn,
                f"{self.ref.execution_arn}/authorizers/{authorizer.authorizer_id}",
                event,
                WEBSOCKET_INTEGRATION_LIMIT_S,
            )
        except IntegrationFailed as failure:
            raise _Refused(_message_response(500, "Internal server error"), str(failure)) from None
        if error is not None:
            # A function failing with the message "Unauthorized" is API Gateway's 401.
            if _error_message(payload) == "Unauthorized":
                raise _Refused(_message_response(401, "Unauthorized"), "authorizer: Unauthorized")
            raise _Refused(
                _message_response(500, "Internal server error"), f"authorizer failed: {error}"
            )
        try:
            decision = authorizer_decision(payload, method_arn)
        except MalformedResponse as malformed:
            raise _Refused(
                _message_response(500, "Internal server error"), str(malformed)
            ) from None
        if not decision.allowed:
            raise _Refused(_message_response(403, "Forbidden"), "the authorizer's policy denies")
        latency = int((time.monotonic() - started) * 1000)
        return replace(info, authorizer={**decision.context, "integrationLatency": latency})

    async def _on_message(self, conn: _Connection, data: str | bytes) -> None:
        api = self._apis(self.ref)
        if api is None:
            return
        request_id = new_id()
        selected = select_route_key(api.route_selection_expression, data)
        # $connect and $disconnect are never selected by a message.
        if selected in ("$connect", "$disconnect"):
            selected = None
        route = api.routes.get(selected or "$default") or api.routes.get("$default")
        if route is None:
            await self._send_error(conn, "Forbidden", request_id)
            return
        event = message_event(
            conn.info,
            route_key=route.route_key,
            data=data,
            request_id=request_id,
            message_id=new_id(),
            request_ms=now_ms(),
            stage_variables=conn.variables,
        )
        try:
            payload, error, _ = await self._integrations.call(
                api,
                route.integration_id,
                self._source_arn(conn.info.stage, route.route_key),
                event,
                WEBSOCKET_INTEGRATION_LIMIT_S,
            )
            if error is not None:
                raise IntegrationFailed(f"the function failed ({error}): {payload[:300]!r}")
            answer = websocket_answer(payload)
        except IntegrationTimeout as failure:
            log.info("%s %s: %s", api.ref.api_id, route.route_key, failure)
            await self._send_error(conn, "Endpoint request timed out", request_id)
            return
        except (IntegrationFailed, MalformedResponse) as failure:
            log.info("%s %s: %s", api.ref.api_id, route.route_key, failure)
            await self._send_error(conn, "Internal server error", request_id)
            return
        if route.two_way and answer.body is not None:
            await self._deliver(conn, answer.body)

    async def _send_error(self, conn: _Connection, message: str, request_id: str) -> None:
        text = (
            f'{{"message": "{message}", "connectionId":"{conn.connection_id}", '
            f'"requestId":"{request_id}"}}'
        )
        await self._deliver(conn, text)

    async def _deliver(self, conn: _Connection, data: str | bytes) -> bool:
        if not conn.open:
            return False
        try:
            await conn.ws.send_message(data)
        except (ConnectionError, RuntimeError):
            return False
        conn.touch()
        return True

    async def _disconnect(self, conn: _Connection, code: int, reason: str) -> None:
        if self._stopping:
            return
        api = self._apis(self.ref)
        route = api.routes.get("$disconnect") if api is not None else None
        if api is None or route is None:
            return
        event = disconnect_event(
            conn.info,
            status_code=code,
            reason=reason,
            request_id=new_id(),
            request_ms=now_ms(),
            stage_variables=conn.variables,
        )
        try:
            _, error, _ = await self._integrations.call(
                api,
                route.integration_id,
                self._source_arn(conn.info.stage, "$disconnect"),
                event,
                WEBSOCKET_INTEGRATION_LIMIT_S,
            )
        except IntegrationFailed as failure:
            log.info("%s $disconnect: %s", api.ref.api_id, failure)
            return
        if error is not None:
            log.info("%s $disconnect: the function failed (%s)", api.ref.api_id, error)

    # ------------------------------------------------------------------ @connections

    def _lookup(self, access_key_id: str) -> Credentials | None:
        try:
            return self._credentials(access_key_id)
        except Exception:  # an unknown key, as far as the caller can tell
            log.exception("looking up access key %s", access_key_id)
            return None

    def _allowed(self, principal_arn: str, resource: str) -> bool:
        try:
            return self._decisions.allowed(principal_arn, MANAGE_ACTION, resource)
        except Exception:  # no decision is a deny
            log.exception("evaluating %s for %s on %s", MANAGE_ACTION, principal_arn, resource)
            return False

    async def _manage(
        self, request: web.BaseRequest, api: ApiSpec, stage_name: str, connection_id: str
    ) -> web.StreamResponse:
        request_id = new_id()
        method = request.method
        if method not in ("POST", "GET", "DELETE") or stage_name not in api.stages:
            return json_response(403, {"message": "Forbidden"}, error_type="ForbiddenException")
        body = await read_body(request, self.settings.max_message_bytes)
        if body is None:
            return json_response(
                413,
                {"message": "Message too long"},
                error_type="PayloadTooLargeException",
                request_id=request_id,
            )
        try:
            caller = verify_request(
                method=method,
                url=f"http://{request.host}{request.raw_path}",
                headers=request.headers,
                body=body,
                region=self.ref.region,
                lookup=self._lookup,
            )
        except SignatureRejected as rejected:
            return json_response(
                403,
                {"message": rejected.message},
                error_type=rejected.error_type,
                request_id=request_id,
            )
        resource = f"{self.ref.execution_arn}/{stage_name}/{method}/@connections/{connection_id}"
        if not self._allowed(caller.principal_arn, resource):
            return json_response(
                403,
                {
                    "Message": f"User: {caller.principal_arn} is not authorized to perform: "
                    f"{MANAGE_ACTION} on resource: {resource}"
                },
                error_type="AccessDeniedException",
                request_id=request_id,
            )
        conn = self._connections.get(connection_id)
        if conn is None or not conn.open or conn.info.stage != stage_name:
            return json_response(410, None, error_type="GoneException", request_id=request_id)
        if method == "GET":
            return json_response(
                200,
                {
                    "connectedAt": _iso(conn.connected_at),
                    "identity": {
                        "sourceIp": conn.info.source_ip,
                        "userAgent": conn.info.user_agent or "",
                    },
                    "lastActiveAt": _iso(conn.last_active),
                },
                request_id=request_id,
            )
        if method == "DELETE":
            self._spawn(self._server_close(conn, WSCloseCode.OK, ""))
            return json_response(204, None, request_id=request_id)
        failing = injected.connections_error()
        if failing is not None:  # the fault suite's: the management API itself fails
            status, error_type, message = failing
            return json_response(
                status, {"message": message}, error_type=error_type, request_id=request_id
            )
        if conn.ws.buffered() > self.settings.send_buffer_bytes:
            return json_response(
                429,
                {"message": "the client is not reading: its send buffer is full"},
                error_type="LimitExceededException",
                request_id=request_id,
            )
        try:
            data: str | bytes = body.decode("utf-8")
        except UnicodeDecodeError:
            data = body
        if not await self._deliver(conn, data):
            return json_response(410, None, error_type="GoneException", request_id=request_id)
        return json_response(200, None, request_id=request_id)


def _error_message(payload: bytes) -> str | None:
    """The errorMessage of a function error's payload."""
    try:
        error = json.loads(payload)
    except ValueError:
        return None
    message = error.get("errorMessage") if isinstance(error, dict) else None
    return message if isinstance(message, str) else None


def _message_response(status: int, message: str) -> web.Response:
    return json_response(status, {"message": message})


def _identity_present(
    sources: tuple[str, ...],
    headers: list[tuple[str, str]],
    raw_query: str,
    stage: StageSpec,
) -> bool:
    """Every identity source of a WebSocket REQUEST authorizer has a non-empty value."""
    from urllib.parse import parse_qs

    query = parse_qs(raw_query, keep_blank_values=True)
    lowered = {name.lower(): value for name, value in headers}
    for source in sources:
        for part in (p.strip() for p in source.split(",")):
            if part.startswith("route.request.querystring."):
                values = query.get(part.removeprefix("route.request.querystring."), [])
                if not any(values):
                    return False
            elif part.startswith("route.request.header."):
                if not lowered.get(part.removeprefix("route.request.header.").lower()):
                    return False
            elif part.startswith("stageVariables.") and not stage.variables.get(
                part.removeprefix("stageVariables.")
            ):
                return False
    return True
