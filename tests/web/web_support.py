"""Loopback stand-ins for the dashboard page tests: API Gateway's HTTP API in front of a
Lambda, API Gateway's WebSocket API, and what the browser test needs around Chromium.

``LambdaHttpServer``  http.server turning each request into an HTTP API payload 2.0 event
                      for a Lambda handler, and its response back into HTTP;
``FakeWebSocketApi``  a ``websockets`` server playing the WebSocket API: on each new
                      connection it sends that connection's scripted messages, then answers
                      every client frame the way the $default route does (the real
                      ws_default.handle_message: a pong, or an error);

Everything listens on 127.0.0.1 only, and every ``start`` has a ``stop`` that the fixtures
call at teardown.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest

LOOPBACK = "127.0.0.1"
# ---------------------------------------------------------------- HTTP API stand-in


def http_api_event(
    method: str,
    raw_path: str,
    raw_query: str = "",
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    source_ip: str = LOOPBACK,
    stage: str = "$default",
) -> dict[str, Any]:
    """An API Gateway HTTP API event, payload format 2.0, as the $default route sends it.

    As API Gateway does, the query is there twice: as sent (rawQueryString) and parsed
    (queryStringParameters, a repeated name's values joined by commas; absent when empty).
    """
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    now = datetime.now(UTC)
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "localapi",
            "domainName": lowered.get("host", "localapi.execute-api.local"),
            "domainPrefix": "localapi",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": "$default",
            "stage": stage,
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": bool(body),
    }
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = base64.b64encode(body).decode()
    return event


LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


class LambdaHttpServer(ThreadingHTTPServer):
    """Loopback HTTP server answering every request with a Lambda's HTTP API response."""

    daemon_threads = True

    def __init__(self, handler: LambdaHandler) -> None:
        super().__init__((LOOPBACK, 0), _AdapterRequestHandler)
        self.lambda_handler = handler
        self.requests: list[tuple[str, str]] = []  # (method, path with query)
        self._thread = threading.Thread(target=self.serve_forever, name="http-api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"

    def start(self) -> LambdaHttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


class _AdapterRequestHandler(BaseHTTPRequestHandler):
    server: LambdaHttpServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        self.server.requests.append((self.command, self.path))
        event = http_api_event(self.command, path, query, headers, body, self.client_address[0])
        try:
            response = self.server.lambda_handler(event, None)
        except Exception as exc:  # what API Gateway does with a failed invocation
            response = {"statusCode": 500, "body": f"Internal Server Error: {exc}"}
        payload = str(response.get("body") or "")
        data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        self.send_response(int(response["statusCode"]))
        for name, value in (response.get("headers") or {}).items():
            self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are recorded in server.requests


# ---------------------------------------------------------------- WebSocket API stand-in


@dataclass
class FakeWebSocketApi:
    """API Gateway's WebSocket API as the page sees it, on a loopback port.

    ``scripts[i]`` is sent to the i-th connection as soon as it opens (later connections get
    nothing); a float in a script is a pause of that many seconds, to pace a stream. Client
    frames are answered like the $default route with its route response.
    ``stop()`` closes every connection (1001, going away, as API Gateway does after two
    hours) and the listening socket; ``start()`` listens again on the same port.
    ``paths`` records every handshake's path and query (refused ones too); ``refuse(path)``
    true answers the handshake 401, as API Gateway does when the $connect authorizer refuses.
    """

    scripts: Sequence[Sequence[str | float]]
    port: int = 0
    received: list[tuple[int, str]] = field(default_factory=list)  # (connection, frame)
    origins: list[str | None] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    refuse: Callable[[str], bool] | None = None
    _server: Any = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"ws://{LOOPBACK}:{self.port}"

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self.origins)

    def frames(self, connection: int) -> list[str]:
        with self._lock:
            return [frame for index, frame in self.received if index == connection]

    def start(self) -> FakeWebSocketApi:
        from websockets.sync.server import serve

        self._server = serve(
            self._handle,
            LOOPBACK,
            self.port,
            compression=None,
            process_request=self._process_request,
        )
        self.port = int(self._server.socket.getsockname()[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="websocket-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _process_request(self, connection: Any, request: Any) -> Any:
        with self._lock:
            self.paths.append(request.path)
        if self.refuse is not None and self.refuse(request.path):
            return connection.respond(401, "Unauthorized\n")
        return None

    def _handle(self, connection: Any) -> None:
        import ws_default
        from websockets.exceptions import ConnectionClosed

        with self._lock:
            index = len(self.origins)
            self.origins.append(connection.request.headers.get("Origin"))
        connection_id = f"conn-{index}="
        try:
            for message in self.scripts[index] if index < len(self.scripts) else ():
                if isinstance(message, float):  # a pause in the script: pace a stream
                    time.sleep(message)
                    continue
                connection.send(message)
            for frame in connection:
                text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
                with self._lock:
                    self.received.append((index, text))
                answer = ws_default.handle_message(
                    {"requestContext": {"connectionId": connection_id}, "body": text}
                )
                connection.send(answer["body"])
        except ConnectionClosed:
            pass


@contextlib.contextmanager
def websocket_api(
    scripts: Sequence[Sequence[str | float]], refuse: Callable[[str], bool] | None = None
) -> Iterator[FakeWebSocketApi]:
    api = FakeWebSocketApi(scripts, refuse=refuse).start()
    try:
        yield api
    finally:
        api.stop()


# ---------------------------------------------------------------- browser


def wait_until(
    condition: Callable[[], Any], timeout: float = 5.0, message: str = "condition"
) -> Any:
    """Poll condition until it returns something truthy; fail with message after timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout}s waiting for {message} (last value: {last!r})")


def send_json(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))
