"""Post one message to many API Gateway WebSocket connections, cheaply.

API Gateway's connection management API (``POST {callback}/@connections/{connectionId}``,
signed with SigV4 for the ``execute-api`` service) takes one request per connection. Through
boto3 each post cost about 2-3 ms of CPU on the machines here, so a thousand connections
took seconds however many threads ran: the client pipeline (models, serializers, hooks) was
the ceiling. This module sends the same requests for about a tenth of that:

* the SigV4 signature is computed with a signing key derived once a day and the message's
  SHA-256 computed once per message, not once per connection (the tests check that it is
  the signature botocore's SigV4Auth makes for the same request);
* each request is one HTTP/1.1 write over a keep-alive connection (http.client writes the
  headers and the body separately and parses the answer with the email package: together
  twice the CPU of everything else here); connections are pooled and kept for warm
  invocations.

Outcome per connection: "delivered" (2xx), "gone" (410, API Gateway's GoneException: the
caller removes the connection) or "failed" (anything else after the retries: 429, 5xx and
connection errors are retried twice after a short jittered backoff).

Used by the consumer (few connections) and the broadcaster (a slice of many). Credentials
come from the environment as the Lambda runtime sets them; botocore's credential chain is
imported only when they are not there (local runs).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import os
import queue
import random
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote, urlsplit

SERVICE: Final = "execute-api"
MAX_WORKERS: Final = 64
# Status codes worth another try: throttling and API Gateway's own transient errors.
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
ATTEMPTS: Final = 3
BACKOFF_SECONDS: Final = 0.05
TIMEOUT_SECONDS: Final = 5.0
# Failures kept for the log per broadcast: enough to see the pattern, never thousands.
MAX_REPORTED_FAILURES: Final = 20
DELIVERED: Final = "delivered"
GONE: Final = "gone"
FAILED: Final = "failed"


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


@dataclass(frozen=True)
class PostFailure:
    connection_id: str
    reason: str


@dataclass(frozen=True)
class BroadcastResult:
    connections: int = 0
    delivered: int = 0
    stale_removed: int = 0
    failed: int = 0
    # A few failures for the log (at most MAX_REPORTED_FAILURES), never every one.
    failures: tuple[PostFailure, ...] = field(default=(), compare=False)

    def counts(self) -> dict[str, int]:
        return {
            "connections": self.connections,
            "delivered": self.delivered,
            "stale_removed": self.stale_removed,
            "failed": self.failed,
        }

    @classmethod
    def total(cls, results: Iterable[BroadcastResult]) -> BroadcastResult:
        results = list(results)
        return cls(
            connections=sum(r.connections for r in results),
            delivered=sum(r.delivered for r in results),
            stale_removed=sum(r.stale_removed for r in results),
            failed=sum(r.failed for r in results),
            failures=tuple(f for r in results for f in r.failures)[:MAX_REPORTED_FAILURES],
        )


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


class SigV4Signer:
    """AWS Signature Version 4 headers for requests to one region's ``execute-api``.

    The signing key depends only on the secret, the day, the region and the service, so it
    is derived once a day instead of once a request.
    """

    def __init__(self, credentials: Credentials, region: str, service: str = SERVICE) -> None:
        self._credentials = credentials
        self._region = region
        self._service = service
        self._day_key: tuple[str, bytes] = ("", b"")  # one tuple: never half updated

    def _signing_key(self, day: str) -> bytes:
        cached_day, key = self._day_key
        if cached_day != day:
            key = _hmac(f"AWS4{self._credentials.secret_key}".encode(), day)
            for part in (self._region, self._service, "aws4_request"):
                key = _hmac(key, part)
            self._day_key = (day, key)
        return key

    def headers(
        self, method: str, host: str, path: str, payload_sha256: str, amz_date: str
    ) -> dict[str, str]:
        """``X-Amz-Date``, ``Authorization`` (and ``X-Amz-Security-Token``) for the request.

        ``path`` is the request path as sent (its segments already percent-encoded);
        ``amz_date`` is ``YYYYMMDDTHHMMSSZ``. No query string.
        """
        token = self._credentials.token
        signed = {"host": host, "x-amz-date": amz_date}
        if token:
            signed["x-amz-security-token"] = token
        names = sorted(signed)
        signed_headers = ";".join(names)
        canonical = "\n".join(
            (
                method,
                # Services other than S3 encode each path segment twice: once in the
                # request, once more in the canonical request.
                quote(path, safe="/~"),
                "",
                "".join(f"{name}:{signed[name]}\n" for name in names),
                signed_headers,
                payload_sha256,
            )
        )
        day = amz_date[:8]
        scope = f"{day}/{self._region}/{self._service}/aws4_request"
        string_to_sign = (
            f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n"
            f"{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        signature = hmac.new(
            self._signing_key(day), string_to_sign.encode(), hashlib.sha256
        ).hexdigest()
        headers = {
            "X-Amz-Date": amz_date,
            "Authorization": (
                f"AWS4-HMAC-SHA256 Credential={self._credentials.access_key}/{scope}, "
                f"SignedHeaders={signed_headers}, Signature={signature}"
            ),
        }
        if token:
            headers["X-Amz-Security-Token"] = token
        return headers


_current_date: tuple[int, str] = (-1, "")  # (epoch second, its amz_date text)


def amz_date(now: datetime | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ`` for ``now`` (default: the current second, formatted once)."""
    global _current_date
    if now is not None:
        return now.strftime("%Y%m%dT%H%M%SZ")
    second = int(time.time())
    cached = _current_date  # one tuple: threads never see half of an update
    if cached[0] != second:
        cached = (second, datetime.fromtimestamp(second, UTC).strftime("%Y%m%dT%H%M%SZ"))
        _current_date = cached
    return cached[1]


class ProtocolError(OSError):
    """The server's answer is not HTTP/1.1 this client understands (the connection is dropped)."""


class _HttpConnection:
    """One keep-alive HTTP/1.1 connection, one request at a time.

    Only what PostToConnection needs: a request written in one piece, an answer read by
    Content-Length or in chunks. No redirects, proxies, 100-continue or pipelining.
    """

    def __init__(self, scheme: str, host: str, port: int) -> None:
        sock = socket.create_connection((host, port), timeout=TIMEOUT_SECONDS)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if scheme == "https":
            sock = _tls_context().wrap_socket(sock, server_hostname=host)
        self._sock = sock
        self._reader = sock.makefile("rb")
        self.reusable = True

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send ``request`` (head and body), return ``(status, body)`` of the answer."""
        self._sock.sendall(request)
        status_line = self._reader.readline(_MAX_LINE)
        if not status_line:
            raise ProtocolError("the server closed the connection without an answer")
        version, _, rest = status_line.partition(b" ")
        if not version.startswith(b"HTTP/1.") or not rest[:3].isdigit():
            raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        status = int(rest[:3])
        length: int | None = None
        chunked = False
        while True:
            line = self._reader.readline(_MAX_LINE)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise ProtocolError("the answer's headers were cut off")
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection" and b"close" in value.lower():
                self.reusable = False
        if chunked:
            body = self._read_chunks()
        elif length is not None:
            body = self._read_exactly(length)
        elif status in (204, 304) or status < 200:
            body = b""
        else:  # no length: the body runs to the end of the connection
            body = self._reader.read()
            self.reusable = False
        return status, body

    def _read_exactly(self, size: int) -> bytes:
        data = self._reader.read(size)
        if len(data) != size:
            raise ProtocolError(f"the answer's body was cut off ({len(data)} of {size} bytes)")
        return data

    def _read_chunks(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size_line = self._reader.readline(_MAX_LINE)
            try:
                size = int(size_line.split(b";", 1)[0], 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size line {size_line[:40]!r}") from None
            if size == 0:
                while self._reader.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self._read_exactly(size))
            self._read_exactly(2)  # the CRLF after each chunk

    def close(self) -> None:
        self.reusable = False
        with contextlib.suppress(OSError):
            self._reader.close()
            self._sock.close()


_MAX_LINE: Final = 65_536


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


class _ConnectionPool:
    """Idle keep-alive connections to one host, each lent to one thread at a time."""

    def __init__(self, scheme: str, host: str, port: int) -> None:
        self._scheme, self._host, self._port = scheme, host, port
        self._idle: queue.LifoQueue[_HttpConnection] = queue.LifoQueue()

    def take(self) -> _HttpConnection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return _HttpConnection(self._scheme, self._host, self._port)

    def give_back(self, connection: _HttpConnection) -> None:
        if connection.reusable:
            self._idle.put(connection)
        else:
            connection.close()


class ConnectionPoster:
    """Posts to ``{callback_url}/@connections/{id}`` (the stage's management endpoint)."""

    def __init__(
        self,
        callback_url: str,
        credentials: Credentials,
        region: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(callback_url.rstrip("/"))
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {callback_url!r}")
        self.host = parts.netloc
        self._base_path = parts.path
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self._pool = _ConnectionPool(parts.scheme, parts.hostname, port)
        self._signer = SigV4Signer(credentials, region)
        self._sleep = sleep

    def path(self, connection_id: str) -> str:
        return f"{self._base_path}/@connections/{quote(connection_id, safe='~')}"

    def request(self, connection_id: str, data: bytes, payload_sha256: str) -> bytes:
        """The whole HTTP request (head and body) posting ``data`` to one connection."""
        path = self.path(connection_id)
        headers = self._signer.headers("POST", self.host, path, payload_sha256, amz_date())
        head = "".join(
            [
                f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n",
                f"Content-Length: {len(data)}\r\n",
                *(f"{name}: {value}\r\n" for name, value in headers.items()),
                "\r\n",
            ]
        )
        return head.encode() + data

    def post(
        self, connection_id: str, data: bytes, payload_sha256: str | None = None
    ) -> tuple[str, str]:
        """``(outcome, reason)``: DELIVERED, GONE or FAILED, and why it failed.

        ``payload_sha256`` (hex) saves hashing the same message once per connection.
        """
        digest = payload_sha256 or hashlib.sha256(data).hexdigest()
        reason = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                self._sleep(BACKOFF_SECONDS * attempt * (1 + random.random()))
            request = self.request(connection_id, data, digest)  # signed anew each attempt
            try:
                connection = self._pool.take()
            except OSError as exc:
                reason = f"cannot connect: {exc}"
                continue
            try:
                status, body = connection.exchange(request)
            except OSError as exc:  # a keep-alive connection the server closed, or worse
                connection.close()
                reason = f"{type(exc).__name__}: {exc}"
                continue
            self._pool.give_back(connection)
            if 200 <= status < 300:
                return DELIVERED, ""
            if status == 410:
                return GONE, ""
            reason = f"HTTP {status}: {body[:200].decode(errors='replace')}"
            if status not in RETRY_STATUSES:
                break
        return FAILED, reason


def broadcast(
    poster: ConnectionPoster,
    connection_ids: Sequence[str],
    message: bytes,
    remove_stale: Callable[[str], str | None],
    max_workers: int = MAX_WORKERS,
) -> BroadcastResult:
    """``message`` to every connection, up to ``max_workers`` posts in flight.

    ``remove_stale(connection_id)`` is called for each connection API Gateway reports gone;
    it returns None, or why the removal failed (the connection then counts as failed).
    """
    if not connection_ids:
        return BroadcastResult()
    digest = hashlib.sha256(message).hexdigest()
    failures: list[PostFailure] = []
    lock = threading.Lock()

    def one(connection_id: str) -> str:
        outcome, reason = poster.post(connection_id, message, digest)
        if outcome == GONE:
            problem = remove_stale(connection_id)
            if problem is None:
                return GONE
            outcome, reason = FAILED, problem
        if outcome == FAILED:
            with lock:
                if len(failures) < MAX_REPORTED_FAILURES:
                    failures.append(PostFailure(connection_id, reason))
        return outcome

    # Each thread takes the next connection until none is left: one lock per post, where
    # an executor's futures and work queue cost more than signing the request.
    pending = iter(connection_ids)
    outcomes: Counter[str] = Counter()

    def work() -> None:
        done: Counter[str] = Counter()
        while True:
            with lock:
                connection_id = next(pending, None)
            if connection_id is None:
                break
            done[one(connection_id)] += 1
        with lock:
            outcomes.update(done)

    workers = max(1, min(max_workers, len(connection_ids)))
    threads = [
        threading.Thread(target=work, name=f"ws-post-{n}", daemon=True) for n in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return BroadcastResult(
        connections=len(connection_ids),
        delivered=outcomes[DELIVERED],
        stale_removed=outcomes[GONE],
        failed=outcomes[FAILED],
        failures=tuple(failures),
    )


def credentials_from_environment(environ: Mapping[str, str]) -> Credentials | None:
    """The Lambda runtime's credentials (AWS_ACCESS_KEY_ID, ...); None when not set."""
    access_key = environ.get("AWS_ACCESS_KEY_ID", "")
    secret_key = environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not access_key or not secret_key:
        return None
    return Credentials(access_key, secret_key, environ.get("AWS_SESSION_TOKEN") or None)


def resolve_credentials(environ: Mapping[str, str] | None = None) -> Credentials:
    """The runtime's credentials from the environment, else botocore's credential chain."""
    found = credentials_from_environment(os.environ if environ is None else environ)
    if found:
        return found
    import botocore.session

    resolved = botocore.session.get_session().get_credentials()
    if resolved is None:
        raise RuntimeError("no AWS credentials to sign @connections requests with")
    frozen = resolved.get_frozen_credentials()
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token)


@functools.cache
def _cached_poster(url: str, credentials: Credentials, region: str) -> ConnectionPoster:
    return ConnectionPoster(url, credentials, region)


def poster_for(url: str, environ: Mapping[str, str] | None = None) -> ConnectionPoster:
    """The poster for ``url`` with the current credentials and AWS_REGION.

    Kept while those stay the same, so its open connections serve warm invocations
    (``_cached_poster.cache_clear()`` forgets them).
    """
    env = os.environ if environ is None else environ
    return _cached_poster(url, resolve_credentials(env), env.get("AWS_REGION", ""))
