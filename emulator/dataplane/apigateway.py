"""API Gateway's data plane: every deployed WebSocket and HTTP API served on loopback.

Each API gets its own port on 127.0.0.1 when it is created, kept for the emulator's life,
and moto reports it as the API's endpoint (``ws://127.0.0.1:<port>`` for a WEBSOCKET API,
``http://127.0.0.1:<port>`` for an HTTP API, where AWS reports
``wss://<id>.execute-api.<region>.amazonaws.com`` and ``https://...``). So Terraform's
``api_endpoint`` carries the local address, and a URL built from it opens here:

* WebSocket: ``<api_endpoint>/<stage>`` to connect (:mod:`.apigateway_ws`), and
  ``http://127.0.0.1:<port>/<stage>`` (the same endpoint with ``ws`` -> ``http``) for the
  ``@connections`` API that ``apigatewaymanagementapi`` calls;
* HTTP: ``<api_endpoint>/`` for the ``$default`` stage, ``<api_endpoint>/<stage>/`` for a
  named one (:mod:`.apigateway_http`).

Usage (the integrator creates one gateway per emulator process)::

    from emulator.dataplane import apigateway_moto
    from emulator.dataplane.apigateway import ApiGateway, GatewaySettings
    from emulator.dataplane.credentials import IamPolicyAuthorizer, MotoIdentities

    identities = MotoIdentities()
    gateway = ApiGateway(
        apis=apigateway_moto.MotoApis(),                 # routes etc. read per request
        invoke=invoke,                                   # (function ARN, event) -> (result, error)
        credentials=identities.lookup,                   # SigV4 keys of @connections callers
        is_allowed=IamPolicyAuthorizer(identities.policies).is_allowed,  # execute-api grants
        permission=apigateway_moto.lambda_permission,    # the functions' resource policies
        settings=GatewaySettings(),                      # AWS's limits by default
    )
    gateway.start()
    apigateway_moto.install(gateway)    # CreateApi serves the API, ApiEndpoint = its address
    ...
    apigateway_moto.uninstall()
    gateway.stop()                      # closes every socket (1001) and every port

``invoke`` is the Lambda runtime:
``lambda arn, event: (r := runtime.invoke(config_for(arn), event)).payload, r.function_error``
where ``config_for`` builds the :class:`~emulator.dataplane.lambda_runtime.FunctionConfig` of
the function moto stores under that ARN. It is called on the gateway's thread pool, never on
its event loop; an exception it raises is an integration failure (500 / "Internal server
error"), as a failed Invoke is on AWS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

from aiohttp import WSCloseCode, web

from .apigateway_core import (
    ApiRef,
    ApiSource,
    CredentialsLookup,
    Decisions,
    GatewaySettings,
    Integrations,
    Invoke,
    InvokePermission,
    IsAllowed,
)
from .apigateway_http import HttpApi
from .apigateway_ws import WebSocketApi

__all__ = ["ApiGateway", "ApiRef", "GatewaySettings", "ServedApi"]

log = logging.getLogger("emulator.apigateway")

PROTOCOLS: Final = ("WEBSOCKET", "HTTP")
_T = TypeVar("_T")


class _Served(Protocol):
    protocol: str

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse: ...

    def connection_ids(self) -> list[str]: ...

    async def close_all(self, code: int, reason: str) -> None: ...

    def cancel_background(self) -> None: ...


@dataclass
class ServedApi:
    """One API's server: where it listens and what it serves."""

    ref: ApiRef
    protocol: str
    port: int
    endpoint: str
    api: _Served
    runner: web.ServerRunner


class ApiGateway:
    """Owns the event loop thread and every API's server (see the module docstring)."""

    def __init__(
        self,
        *,
        apis: ApiSource,
        invoke: Invoke,
        credentials: CredentialsLookup,
        is_allowed: IsAllowed,
        permission: InvokePermission | None = None,
        settings: GatewaySettings | None = None,
    ) -> None:
        self.settings = settings or GatewaySettings()
        self._apis = apis
        self._credentials = credentials
        self._decisions = Decisions(is_allowed, self.settings.decision_ttl_s)
        self._integrations = Integrations(
            invoke=invoke, permission=permission, threads=self.settings.invoke_threads
        )
        self._lock = threading.Lock()
        self._served: dict[ApiRef, ServedApi] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the event loop thread (idempotent; :meth:`serve` starts it too)."""
        with self._lock:
            if self._thread is not None:
                return
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            self._thread = threading.Thread(target=run, name="apigateway", daemon=True)
            self._loop = loop
            self._thread.start()
            ready.wait()

    def stop(self, timeout: float = 10.0) -> None:
        """Close every socket (1001 "Going away"), every port, then the loop. Idempotent."""
        with self._lock:
            loop, thread = self._loop, self._thread
            served = list(self._served.values())
            self._served.clear()
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stop_all(served), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()
        self._integrations.shutdown()

    async def _stop_all(self, served: list[ServedApi]) -> None:
        await asyncio.gather(*(self._stop_one(item) for item in served), return_exceptions=True)

    @staticmethod
    async def _stop_one(item: ServedApi) -> None:
        await item.api.close_all(WSCloseCode.GOING_AWAY, "Going away")
        await item.runner.cleanup()
        item.api.cancel_background()

    def _run(self, coroutine: Coroutine[Any, Any, _T], timeout: float = 10.0) -> _T:
        loop = self._loop
        if loop is None:
            raise RuntimeError("the API gateway is not started")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

    # ------------------------------------------------------------------ APIs

    def serve(self, ref: ApiRef, protocol: str) -> str:
        """Serve an API on a new loopback port (once; later calls return the same address).

        Returns the endpoint moto reports: ``ws://127.0.0.1:<port>`` or ``http://...``.
        """
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        self.start()
        with self._lock:
            existing = self._served.get(ref)
            if existing is not None:
                return existing.endpoint
            served = self._run(self._listen(ref, protocol))
            self._served[ref] = served
        log.info("%s API %s served at %s", protocol, ref.api_id, served.endpoint)
        return served.endpoint

    async def _listen(self, ref: ApiRef, protocol: str) -> ServedApi:
        api: _Served
        if protocol == "WEBSOCKET":
            api = WebSocketApi(
                ref,
                settings=self.settings,
                apis=self._apis,
                integrations=self._integrations,
                credentials=self._credentials,
                decisions=self._decisions,
            )
        else:
            api = HttpApi(
                ref, settings=self.settings, apis=self._apis, integrations=self._integrations
            )
        family = socket.AF_INET6 if ":" in self.settings.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.settings.host, 0))
        port = int(sock.getsockname()[1])
        # A deleted API's server stops within 2 s even with a request still in a function.
        runner = web.ServerRunner(
            web.Server(api.handle), handle_signals=False, access_log=None, shutdown_timeout=2.0
        )
        await runner.setup()
        await web.SockSite(runner, sock).start()
        scheme = "ws" if protocol == "WEBSOCKET" else "http"
        host = f"[{self.settings.host}]" if family == socket.AF_INET6 else self.settings.host
        return ServedApi(ref, protocol, port, f"{scheme}://{host}:{port}", api, runner)

    def forget(self, ref: ApiRef) -> None:
        """Stop serving a deleted API: its sockets close (1001) and its port is freed."""
        with self._lock:
            served = self._served.pop(ref, None)
        if served is not None and self._loop is not None:
            try:
                self._run(self._stop_one(served))
            except Exception:  # DeleteApi must succeed even if a socket is slow to close
                log.exception("stopping the server of API %s", ref.api_id)

    def endpoint(self, ref: ApiRef) -> str | None:
        with self._lock:
            served = self._served.get(ref)
        return served.endpoint if served else None

    def served(self) -> list[ServedApi]:
        with self._lock:
            return list(self._served.values())

    def connection_ids(self, ref: ApiRef) -> list[str]:
        """The open WebSocket connections of an API (for tests and diagnostics)."""
        with self._lock:
            served = self._served.get(ref)
        if served is None or self._loop is None:
            return []

        async def read() -> list[str]:
            return served.api.connection_ids()

        return self._run(read())
