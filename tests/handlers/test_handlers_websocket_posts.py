"""websocket_posts: SigV4 signatures, the HTTP/1.1 exchange, and broadcasting to connections."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from unittest import mock

import pytest
import websocket_posts
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials
from websocket_posts import ConnectionPoster, Credentials, broadcast

from tests.support.services import connections_api, connections_api_stats

CALLBACK = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/live"
MOMENT = datetime(2026, 11, 30, 23, 59, 58, tzinfo=UTC)


# ------------------------------------------------------------------ signatures


@pytest.mark.parametrize(
    "token", [None, "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ=="]
)
@pytest.mark.parametrize(
    "connection_id", ["L0SM9cOFvHcCIhw=", "a+b/c=", "plain", "with space~tilde"]
)
def test_signature_is_the_one_botocore_makes(connection_id: str, token: str | None):
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    poster = ConnectionPoster(CALLBACK, credentials, "eu-west-1")
    body = b'{"type":"telemetry","events":[],"summary":{"events":0}}'
    path = poster.path(connection_id)
    ours = websocket_posts.SigV4Signer(credentials, "eu-west-1").headers(
        "POST", poster.host, path, hashlib.sha256(body).hexdigest(), "20261130T235958Z"
    )

    theirs = AWSRequest(method="POST", url=f"https://{poster.host}{path}", data=body)
    with mock.patch("botocore.auth.get_current_datetime", return_value=MOMENT):
        SigV4Auth(
            BotocoreCredentials(credentials.access_key, credentials.secret_key, token),
            "execute-api",
            "eu-west-1",
        ).add_auth(theirs)
    assert ours["Authorization"] == theirs.headers["Authorization"]
    assert ours["X-Amz-Date"] == theirs.headers["X-Amz-Date"]
    assert ours.get("X-Amz-Security-Token") == theirs.headers.get("X-Amz-Security-Token")


def test_the_connection_id_is_one_encoded_path_segment():
    poster = ConnectionPoster(CALLBACK, Credentials("a", "b"), "eu-west-1")
    assert poster.path("a+b/c=") == "/live/@connections/a%2Bb%2Fc%3D"
    assert poster.host == "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"


def test_the_signing_key_is_derived_once_a_day():
    signer = websocket_posts.SigV4Signer(Credentials("a", "b"), "eu-west-1")
    with mock.patch.object(websocket_posts, "_hmac", wraps=websocket_posts._hmac) as derive:
        for second in range(3):
            signer.headers("POST", "h", "/p", "0" * 64, f"20261130T00000{second}Z")
        assert derive.call_count == 4  # date, region, service, "aws4_request"
        signer.headers("POST", "h", "/p", "0" * 64, "20261201T000000Z")
        assert derive.call_count == 8


def test_credentials_come_from_the_runtime_environment():
    environ = {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"}
    assert websocket_posts.credentials_from_environment(environ) == Credentials("AKID", "s", "t")
    assert websocket_posts.credentials_from_environment({"AWS_ACCESS_KEY_ID": "AKID"}) is None


def test_bad_callback_urls_are_refused():
    with pytest.raises(ValueError, match="not an http"):
        ConnectionPoster("wss://x.example/live", Credentials("a", "b"), "eu-west-1")


# ------------------------------------------------------------------ the HTTP exchange

Answer = Callable[[bytes], tuple[bytes, bool]]  # request -> (raw answer, close afterwards)


@contextlib.contextmanager
def scripted_server(answers: list[Answer]) -> Iterator[tuple[str, list[bytes], list[int]]]:
    """A raw HTTP server on loopback answering requests in order from ``answers``.

    Yields (base URL, requests received, how many TCP connections were accepted so far).
    """
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received: list[bytes] = []
    accepted = [0]
    script = iter(answers)

    def read_request(reader) -> bytes | None:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = reader.readline()
            if not line:
                return None
            head += line
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        body: bytes = reader.read(length)
        return head + body

    def serve_connection(conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader:
            while (request := read_request(reader)) is not None:
                received.append(request)
                answer, close = next(script)(request)
                conn.sendall(answer)
                if close:
                    return

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted[0] += 1
            threading.Thread(target=serve_connection, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/live", received, accepted
    finally:
        listener.close()


def answer(status: int, body: bytes = b"", *, close: bool = False, chunked: bool = False) -> Answer:
    def reply(_: bytes) -> tuple[bytes, bool]:
        head = f"HTTP/1.1 {status} X\r\n".encode()
        if chunked:
            middle = len(body) // 2
            data = b"".join(
                f"{len(part):x}\r\n".encode() + part + b"\r\n"
                for part in (body[:middle], body[middle:])
                if part
            )
            return head + b"Transfer-Encoding: chunked\r\n\r\n" + data + b"0\r\n\r\n", close
        extra = b"Connection: close\r\n" if close else b""
        return head + extra + f"Content-Length: {len(body)}\r\n\r\n".encode() + body, close

    return reply


def poster_for(url: str) -> ConnectionPoster:
    return ConnectionPoster(url, Credentials("AKID", "secret"), "eu-west-1", sleep=lambda _: None)


def test_one_request_per_post_over_one_kept_connection():
    with scripted_server([answer(200)] * 3) as (url, received, accepted):
        poster = poster_for(url)
        outcomes = [poster.post(cid, b"hello") for cid in ("a", "b=", "c")]
    assert outcomes == [("delivered", "")] * 3
    assert accepted[0] == 1  # keep-alive
    first = received[0].decode()
    assert first.startswith("POST /live/@connections/a HTTP/1.1\r\n")
    assert "\r\nContent-Length: 5\r\n" in first and first.endswith("\r\n\r\nhello")
    assert "Authorization: AWS4-HMAC-SHA256 Credential=AKID/" in first
    assert received[1].startswith(b"POST /live/@connections/b%3D HTTP/1.1")


def test_chunked_answers_and_connection_close_are_understood():
    script = [answer(410, b'{"message":"Gone"}', chunked=True), answer(200, close=True)]
    script += [answer(200)]
    with scripted_server(script) as (url, _, accepted):
        poster = poster_for(url)
        assert poster.post("gone", b"x") == ("gone", "")
        assert poster.post("a", b"x") == ("delivered", "")
        assert poster.post("b", b"x") == ("delivered", "")
    assert accepted[0] == 2  # the server said close: a new connection for the third post


def test_throttling_is_retried_and_other_errors_are_not():
    script = [answer(429, b"slow down"), answer(200), answer(403, b'{"message":"Forbidden"}')]
    with scripted_server(script) as (url, received, _):
        poster = poster_for(url)
        assert poster.post("a", b"x") == ("delivered", "")
        outcome, reason = poster.post("b", b"x")
    assert outcome == "failed" and reason == 'HTTP 403: {"message":"Forbidden"}'
    assert len(received) == 3


def test_giving_up_after_three_attempts():
    with scripted_server([answer(503, b"busy")] * 3) as (url, received, _):
        assert poster_for(url).post("a", b"x") == ("failed", "HTTP 503: busy")
    assert len(received) == 3


def test_a_connection_the_server_dropped_is_replaced():
    def drop(_: bytes) -> tuple[bytes, bool]:
        return b"", True  # closes without answering, as an idle keep-alive may

    with scripted_server([answer(200), drop, answer(200)]) as (url, received, accepted):
        poster = poster_for(url)
        assert poster.post("a", b"x") == ("delivered", "")
        assert poster.post("b", b"x") == ("delivered", "")
    assert accepted[0] == 2 and len(received) == 3


def test_nothing_listening_is_a_failure_not_an_exception():
    port = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{port.getsockname()[1]}/live"
    port.close()
    outcome, reason = poster_for(url).post("a", b"x")
    assert outcome == "failed" and "connect" in reason


# ------------------------------------------------------------------ broadcast


@pytest.mark.integration
def test_broadcast_reaches_every_connection_and_removes_the_gone_ones():
    ids = [f"conn-{i:04d}=" for i in range(300)]
    gone = set(ids[::50])
    broken = ids[25]  # gone, but its removal fails
    removed: list[str] = []

    def remove(connection_id: str) -> str | None:
        if connection_id == broken:
            return "removing the gone connection failed: throttled"
        removed.append(connection_id)
        return None

    message = b'{"type":"telemetry"}'
    with connections_api(delay=0.01, gone=sorted(gone | {broken})) as url:
        poster = ConnectionPoster(url, Credentials("AKID", "secret", "token"), "eu-west-1")
        result = broadcast(poster, ids, message, remove, max_workers=32)
        stats = connections_api_stats(url)
    assert result.counts() == {
        "connections": 300,
        "delivered": 300 - len(gone) - 1,
        "stale_removed": len(gone),
        "failed": 1,
    }
    assert sorted(removed) == sorted(gone)
    assert result.failures == (
        websocket_posts.PostFailure(broken, "removing the gone connection failed: throttled"),
    )
    assert stats["posts"] == stats["connections"] == 300 - len(gone) - 1
    assert stats["bodies"] == {hashlib.sha256(message).hexdigest(): stats["posts"]}
    assert stats["unsigned"] == 0


def test_only_a_few_failures_are_kept_for_the_log():
    with scripted_server([answer(403)] * 30) as (url, _, _):
        result = broadcast(poster_for(url), [f"c{i}" for i in range(30)], b"x", lambda _: None)
    assert result.failed == 30
    assert len(result.failures) == websocket_posts.MAX_REPORTED_FAILURES


def test_no_connections_no_posts():
    assert broadcast(poster_for("http://127.0.0.1:9/live"), [], b"x", lambda _: None) == (
        websocket_posts.BroadcastResult()
    )
