"""The MSK IAM listener in front of a local broker: TLS, SASL/OAUTHBEARER, then Kafka.

One :class:`FrontDoor` serves one cluster on an asyncio event loop of its own thread (it runs
inside the threaded werkzeug server, whose request threads must not carry it). For every
client connection it:

1. terminates TLS (the certificate of :mod:`emulator.dataplane.tls`);
2. answers the SASL exchange itself, as an MSK broker's IAM listener does: ApiVersions goes
   to the broker and comes back with SaslHandshake and SaslAuthenticate set to the versions
   answered here; SaslHandshake accepts OAUTHBEARER only; SaslAuthenticate carries the GS2
   message ``n,,\\x01auth=Bearer <token>\\x01\\x01`` whose token is verified by
   :func:`~emulator.dataplane.msk_auth.verify_token` and must be allowed
   ``kafka-cluster:Connect`` on the cluster. A refusal is a SaslAuthenticate error
   (SASL_AUTHENTICATION_FAILED, 58) with the reason, then the connection is closed. Any other
   request before authentication closes the connection, as a Kafka broker does;
3. after authentication relays Kafka requests to the broker and answers back, in order,
   each request first authorized per :mod:`emulator.dataplane.msk_authz` (skipped when the
   authorizer allows everything). The session lasts until the token expires (KIP-368:
   ``session_lifetime_ms`` tells the client, which re-authenticates on the same connection;
   a request after expiry closes it).

Responses are written in request order even when some are made here and some come from the
broker: every request queues a future for its answer, and one writer task drains them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import socket
import ssl
import struct
import threading
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future as ThreadFuture
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from kafka.protocol.api_key import ApiKey
from kafka.protocol.metadata import ApiVersionsResponse, MetadataRequest, MetadataResponse
from kafka.protocol.sasl import (
    SaslAuthenticateRequest,
    SaslAuthenticateResponse,
    SaslHandshakeRequest,
    SaslHandshakeResponse,
)

from . import msk_authz
from .credentials import Authorizer, CredentialsLookup
from .msk_auth import AllowAll, ClusterArns, TokenRejected, VerifiedToken, verify_token

log = logging.getLogger("emulator.msk")

MECHANISM: Final = "OAUTHBEARER"
SASL_AUTHENTICATION_FAILED: Final = 58
UNSUPPORTED_SASL_MECHANISM: Final = 33
ILLEGAL_SASL_STATE: Final = 34
# Versions answered here (kafka-python's classes go this far; tansu advertises the same).
SASL_HANDSHAKE_VERSIONS: Final = (0, 1)
SASL_AUTHENTICATE_VERSIONS: Final = (0, 2)
# Kafka's limits: sasl.server.max.receive.size before authentication, socket.request.max.bytes
# after it.
MAX_UNAUTHENTICATED_FRAME: Final = 512 * 1024
MAX_FRAME: Final = 100 * 1024 * 1024
TLS_HANDSHAKE_TIMEOUT: Final = 10.0
_SIZE = struct.Struct(">i")
_HEADER = struct.Struct(">hhi")  # api key, api version, correlation id


@dataclass(frozen=True)
class FrontDoorSettings:
    """Where the front door listens and what it guards. Frozen and checked."""

    arns: ClusterArns
    broker_host: str
    broker_port: int
    ssl_context: ssl.SSLContext

    def __post_init__(self) -> None:
        if not 0 < self.broker_port < 65536:
            raise ValueError(f"broker_port must be a TCP port, got {self.broker_port}")
        if not self.broker_host:
            raise ValueError("broker_host is empty")

    @property
    def region(self) -> str:
        return self.arns.region


class _Close(Exception):
    """End this client connection (after the answers already queued); the reason is logged."""


class FrontDoor:
    """TLS + MSK IAM authentication (+ authorization) in front of one broker."""

    def __init__(
        self,
        settings: FrontDoorSettings,
        *,
        credentials: CredentialsLookup,
        authorizer: Authorizer | None = None,
        clock: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.authorizer: Authorizer = authorizer or AllowAll()
        self.authorizing = not isinstance(self.authorizer, AllowAll)
        self.clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self.topic_names: dict[uuid.UUID, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._address: tuple[str, int] | None = None

    # --- lifecycle (called from any thread) -------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        if self._address is None:
            raise RuntimeError("the front door is not started")
        return self._address

    def start(self, listener: socket.socket) -> None:
        """Serve on ``listener`` (bound and listening) from a thread of our own."""
        if self._thread is not None:
            raise RuntimeError("the front door is already started")
        started: ThreadFuture[None] = ThreadFuture()
        self._thread = threading.Thread(
            target=self._run, args=(listener, started), name="msk-front-door", daemon=True
        )
        self._thread.start()
        started.result(timeout=10)
        host, port = listener.getsockname()[:2]
        self._address = (str(host), int(port))

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every connection; idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
        thread.join(timeout)
        self._loop = self._thread = None

    def _run(self, listener: socket.socket, started: ThreadFuture[None]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(
                    self._serve,
                    sock=listener,
                    ssl=self.settings.ssl_context,
                    ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT,
                )
            )
        except BaseException as error:
            started.set_exception(error)
            loop.close()
            return
        started.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())  # token checks
            loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=2)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        asyncio.get_running_loop().stop()

    # --- connections ------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        connection = _Connection(self, reader, writer)
        try:
            await connection.run()
        except asyncio.CancelledError:
            pass
        finally:
            self._connections.discard(task)
            await connection.close()

    async def resolve_topic_ids(self, ids: set[uuid.UUID]) -> None:
        """Learn the names of topic ids the front door has not seen (asks the broker)."""
        if ids <= self.topic_names.keys():
            return
        request = MetadataRequest(version=12, topics=None, allow_auto_topic_creation=False)
        request.with_header(correlation_id=1, client_id="msk-front-door")
        try:
            reader, writer = await asyncio.open_connection(
                self.settings.broker_host, self.settings.broker_port
            )
        except OSError:
            return
        try:
            writer.write(bytes(request.encode(header=True, framed=True)))
            await writer.drain()
            payload = await _read_frame(reader, MAX_FRAME)
            if payload is None:
                return
            response = MetadataResponse.decode(payload, version=12, header=True)
            self.learn_topics({t.topic_id: t.name for t in response.topics if t.name})
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def learn_topics(self, names_by_id: dict[uuid.UUID, str]) -> None:
        self.topic_names.update(names_by_id)


async def _read_frame(reader: asyncio.StreamReader, limit: int) -> bytes | None:
    """One size-prefixed Kafka frame's payload, or None at a clean end of stream."""
    try:
        size_bytes = await reader.readexactly(4)
    except asyncio.IncompleteReadError as error:
        if error.partial:
            raise _Close("connection closed inside a frame size") from error
        return None
    (size,) = _SIZE.unpack(size_bytes)
    if size < 0 or size > limit:
        raise _Close(f"frame of {size} bytes is over the {limit}-byte limit (not Kafka over TLS?)")
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError as error:
        raise _Close("connection closed inside a frame") from error


class _Connection:
    """One client connection: SASL state, the ordered answers, the broker connection."""

    def __init__(
        self, door: FrontDoor, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.door = door
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.token: VerifiedToken | None = None
        self.handshake_version: int | None = None  # set between SaslHandshake and Authenticate
        self.answers: asyncio.Queue[asyncio.Future[bytes | None]] = asyncio.Queue()
        self.waiting: deque[tuple[asyncio.Future[bytes | None], msk_authz.ResponseRewrite | None]]
        self.waiting = deque()
        self.upstream_writer: asyncio.StreamWriter | None = None
        self.upstream_task: asyncio.Task[None] | None = None
        self.writer_task: asyncio.Task[None] | None = None
        self.closing = False

    # Gate (for msk_authz) --------------------------------------------------------------------

    @property
    def arns(self) -> ClusterArns:
        return self.door.settings.arns

    def allowed(self, action: str, resource_arn: str) -> bool:
        assert self.token is not None
        allowed = self.door.authorizer.is_allowed(self.token.principal_arn, action, resource_arn)
        if not allowed:
            log.info(
                "%s: %s denied %s on %s", self.peer, self.token.principal_arn, action, resource_arn
            )
        return allowed

    def topic_name(self, topic_id: uuid.UUID) -> str | None:
        return self.door.topic_names.get(topic_id)

    def learn_topics(self, names_by_id: dict[uuid.UUID, str]) -> None:
        self.door.learn_topics(names_by_id)

    # Main loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        self.writer_task = asyncio.create_task(self._write_answers())
        try:
            while not self.closing:
                limit = MAX_FRAME if self.token is not None else MAX_UNAUTHENTICATED_FRAME
                payload = await _read_frame(self.reader, limit)
                if payload is None:
                    break
                await self._handle(payload)
        except _Close as reason:
            log.warning("%s: closing the connection: %s", self.peer, reason)
        except (ConnectionError, ssl.SSLError) as error:
            log.info("%s: connection lost: %s", self.peer, error)
        except Exception as error:  # a request kafka-python's classes cannot read, ...
            log.warning("%s: closing the connection: unreadable request (%r)", self.peer, error)
        # Let the answers already queued go out, then end.
        self._answer_now(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self.writer_task), 5)

    async def close(self) -> None:
        self.closing = True
        for task in (self.writer_task, self.upstream_task):
            if task is not None and not task.done():
                task.cancel()
        for future, _ in self.waiting:
            if not future.done():
                future.set_result(None)
        self.waiting.clear()
        for stream in (self.upstream_writer, self.writer):
            if stream is not None:
                stream.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(stream.wait_closed(), 1)

    async def _write_answers(self) -> None:
        while True:
            future = await self.answers.get()
            data = await future
            if data is None:
                self.closing = True
                with contextlib.suppress(Exception):
                    self.writer.close()
                return
            self.writer.write(data)
            await self.writer.drain()

    def _answer_now(self, data: bytes | None) -> None:
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        future.set_result(data)
        self.answers.put_nowait(future)

    def _refuse(self, reason: str) -> NoReturn:
        """Close after the answers already queued (and any just added)."""
        self._answer_now(None)
        raise _Close(reason)

    # Requests --------------------------------------------------------------------------------

    async def _handle(self, payload: bytes) -> None:
        if self.handshake_version == 0:
            # SaslHandshake v0: the next frame is the bare SASL token, not a Kafka request.
            self.handshake_version = None
            await self._authenticate(bytes(payload), request=None)
            return
        if len(payload) < _HEADER.size:
            raise _Close("request shorter than a Kafka request header")
        api_key, version, _ = _HEADER.unpack_from(payload)
        if api_key == ApiKey.ApiVersions:
            await self._forward(payload, rewrite=_api_versions_rewrite(version))
            return
        if api_key == ApiKey.SaslHandshake:
            self._handshake(payload, version)
            return
        if api_key == ApiKey.SaslAuthenticate:
            if self.handshake_version is None:
                self._refuse("SaslAuthenticate without a SaslHandshake before it")
            request = SaslAuthenticateRequest.decode(payload, version=version, header=True)
            self.handshake_version = None
            await self._authenticate(bytes(request.auth_bytes), request=request)
            return
        if self.token is None:
            self._refuse(
                f"{msk_authz._api_name(api_key)} request before SASL authentication "
                "(this listener is SASL_SSL with OAUTHBEARER: MSK IAM)"
            )
        if self.door.clock() >= self.token.expires_at:
            self._refuse("the SASL session expired (the client did not re-authenticate)")
        if not self.door.authorizing and api_key != ApiKey.Produce:
            await self._forward(payload)
            return
        await self._authorized_forward(payload, api_key, version)

    async def _authorized_forward(self, payload: bytes, api_key: int, version: int) -> None:
        try:
            request = msk_authz.decode_request(api_key, version, payload)
        except Exception as error:
            if self.door.authorizing:
                self._refuse(
                    f"cannot read {msk_authz._api_name(api_key)} v{version} to authorize it "
                    f"({error!r})"
                )
            await self._forward(payload)
            return
        if not self.door.authorizing:  # Produce only: does it expect an answer?
            expects = msk_authz.produce_expects_response(request)
            await self._forward(payload, expects_response=expects)
            return
        ids = msk_authz.topic_ids_in(request)
        if ids:
            await self.door.resolve_topic_ids(ids)
        verdict = msk_authz.authorize(request, self)
        if verdict.close is not None:
            self._refuse(f"{self.token.principal_arn if self.token else '?'}: {verdict.close}")
        if verdict.local is not None:
            self._answer_now(verdict.local)
            return
        await self._forward(
            verdict.payload if verdict.payload is not None else payload,
            rewrite=verdict.rewrite,
            expects_response=verdict.expects_response,
        )

    def _handshake(self, payload: bytes, version: int) -> None:
        if version not in range(SASL_HANDSHAKE_VERSIONS[0], SASL_HANDSHAKE_VERSIONS[1] + 1):
            self._refuse(f"SaslHandshake v{version} is not supported")
        request = SaslHandshakeRequest.decode(payload, version=version, header=True)
        if request.mechanism != MECHANISM:
            response = SaslHandshakeResponse(
                version=version, error_code=UNSUPPORTED_SASL_MECHANISM, mechanisms=[MECHANISM]
            )
            self._answer_now(msk_authz.encode_response(response, request.header.correlation_id))
            self._refuse(f"SASL mechanism {request.mechanism!r} asked; only {MECHANISM} is served")
        if self.token is not None and version == 0:
            self._refuse("re-authentication needs SaslHandshake v1")
        response = SaslHandshakeResponse(version=version, error_code=0, mechanisms=[MECHANISM])
        self._answer_now(msk_authz.encode_response(response, request.header.correlation_id))
        self.handshake_version = version

    async def _authenticate(self, auth_bytes: bytes, request: Any) -> None:
        """Verify the OAUTHBEARER message; answer; close on refusal."""
        loop = asyncio.get_running_loop()
        now = self.door.clock()
        try:
            token = _bearer_token(auth_bytes)
            # The credentials lookup may block (moto's models, a file, ...): not on the loop.
            verified = await loop.run_in_executor(
                None,
                lambda: verify_token(
                    token,
                    region=self.door.settings.region,
                    credentials=self.door.credentials,
                    now=now,
                ),
            )
            if self.token is not None and verified.principal_arn != self.token.principal_arn:
                raise TokenRejected(
                    f"re-authentication as {verified.principal_arn} on a connection of "
                    f"{self.token.principal_arn}: principals cannot change"
                )
            arns = self.door.settings.arns
            allowed = await loop.run_in_executor(
                None,
                self.door.authorizer.is_allowed,
                verified.principal_arn,
                msk_authz.CONNECT,
                arns.cluster_arn,
            )
            if not allowed:
                raise TokenRejected(
                    f"{verified.principal_arn} is not allowed {msk_authz.CONNECT} on "
                    f"{arns.cluster_arn}"
                )
        except TokenRejected as rejected:
            message = f"MSK IAM authentication failed: {rejected}"
            if request is not None:
                response = SaslAuthenticateResponse(
                    version=request.API_VERSION,
                    error_code=SASL_AUTHENTICATION_FAILED,
                    error_message=message,
                    auth_bytes=b"",
                    session_lifetime_ms=0,
                )
                self._answer_now(msk_authz.encode_response(response, request.header.correlation_id))
            self._refuse(message)
            return
        first = self.token is None
        self.token = verified
        lifetime_ms = verified.lifetime_ms(now)
        log.info(
            "%s: %s as %s (session %d s)",
            self.peer,
            "authenticated" if first else "re-authenticated",
            verified.principal_arn,
            lifetime_ms // 1000,
        )
        if request is None:  # SaslHandshake v0: the answer is a bare, empty SASL frame
            self._answer_now(_SIZE.pack(0))
            return
        response = SaslAuthenticateResponse(
            version=request.API_VERSION,
            error_code=0,
            error_message=None,
            auth_bytes=b"",
            session_lifetime_ms=lifetime_ms,
        )
        self._answer_now(msk_authz.encode_response(response, request.header.correlation_id))

    # Broker side -----------------------------------------------------------------------------

    async def _forward(
        self,
        payload: bytes,
        *,
        rewrite: msk_authz.ResponseRewrite | None = None,
        expects_response: bool = True,
    ) -> None:
        if self.upstream_writer is None:
            settings = self.door.settings
            try:
                upstream_reader, self.upstream_writer = await asyncio.open_connection(
                    settings.broker_host, settings.broker_port
                )
            except OSError as error:
                self._refuse(
                    f"the broker at {settings.broker_host}:{settings.broker_port} "
                    f"is not reachable: {error}"
                )
            self.upstream_task = asyncio.create_task(self._read_upstream(upstream_reader))
        if expects_response:
            future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
            self.waiting.append((future, rewrite))
            self.answers.put_nowait(future)
        assert self.upstream_writer is not None
        self.upstream_writer.write(_SIZE.pack(len(payload)))
        self.upstream_writer.write(payload)
        await self.upstream_writer.drain()

    async def _read_upstream(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                payload = await _read_frame(reader, MAX_FRAME)
                if payload is None:
                    break
                if not self.waiting:
                    log.warning("%s: the broker answered a request nobody waits for", self.peer)
                    break
                future, rewrite = self.waiting.popleft()
                if rewrite is None:
                    future.set_result(_SIZE.pack(len(payload)) + payload)
                    continue
                try:
                    future.set_result(rewrite(payload))
                except Exception:
                    log.exception("%s: cannot rewrite the broker's answer", self.peer)
                    future.set_result(None)
        except (_Close, ConnectionError) as error:
            log.info("%s: broker connection ended: %s", self.peer, error)
        # The broker is gone: the client gets no more answers; close it after those queued.
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_result(None)
        self._answer_now(None)
        self.closing = True


def _bearer_token(auth_bytes: bytes) -> str:
    """The token of an OAUTHBEARER client first message (RFC 7628)."""
    try:
        message = auth_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TokenRejected("the SASL message is not UTF-8") from error
    gs2_header, sep, rest = message.partition("\x01")
    if not sep or not gs2_header.startswith(("n,", "y,")):
        raise TokenRejected("not an OAUTHBEARER client message (GS2 header missing)")
    for pair in rest.split("\x01"):
        key, _, value = pair.partition("=")
        if key == "auth":
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise TokenRejected("the auth value is not 'Bearer <token>'")
            return token.strip()
    raise TokenRejected("the OAUTHBEARER message carries no auth=Bearer token")


def _api_versions_rewrite(version: int) -> msk_authz.ResponseRewrite:
    """Set SaslHandshake and SaslAuthenticate to the versions the front door answers, and
    cap every API at the newest version kafka-python can read (so authorization can)."""

    def rewrite(payload: bytes) -> bytes:
        response = ApiVersionsResponse.decode(payload, version=version, header=True)
        if response.error_code != 0:
            return _SIZE.pack(len(payload)) + payload
        entry_class = type(response.api_keys[0]) if response.api_keys else None
        entries = {int(e.api_key): e for e in response.api_keys}
        for key, (low, high) in (
            (int(ApiKey.SaslHandshake), SASL_HANDSHAKE_VERSIONS),
            (int(ApiKey.SaslAuthenticate), SASL_AUTHENTICATE_VERSIONS),
        ):
            if key in entries:
                entries[key].min_version, entries[key].max_version = low, high
            elif entry_class is not None:
                entries[key] = entry_class(
                    version=version, api_key=key, min_version=low, max_version=high
                )
        for key, entry in entries.items():
            request_class = msk_authz.REQUEST_CLASSES.get(key)
            if request_class is not None and entry.max_version > request_class.max_version:
                entry.max_version = request_class.max_version
        response.api_keys = sorted(entries.values(), key=lambda e: int(e.api_key))
        return bytes(response.encode(header=True, framed=True))

    return rewrite
