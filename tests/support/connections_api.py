"""A loopback stand-in for API Gateway's @connections management API (PostToConnection).

``python -m tests.support.connections_api --port PORT [--delay 0.03] [--gone ID ...]`` serves
``POST /<stage>/@connections/<connection id>`` (any stage prefix): it waits ``--delay``
seconds, as API Gateway takes to hand a frame to a connection, then answers 200, or 410
for a connection listed with ``--gone`` (API Gateway's GoneException). ``GET /stats``
answers what arrived: ``{"posts": n, "connections": distinct ids, "bodies": {sha256: n},
"unsigned": n}`` (``unsigned`` counts posts without a SigV4 Authorization header);
``DELETE /stats`` resets it.

It is an aiohttp (low-level) server in its own process, so its CPU is not the client's.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from collections import Counter
from urllib.parse import unquote

from aiohttp import web


class ConnectionsApi:
    """The request handler and what it has seen (aiohttp's low-level server: no router)."""

    def __init__(self, delay: float, gone: frozenset[str]) -> None:
        self.delay = delay
        self.gone = gone
        self.posts: Counter[str] = Counter()
        self.bodies: Counter[str] = Counter()
        self.unsigned = 0

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        _, marker, connection_id = request.raw_path.partition("/@connections/")
        if marker and request.method == "POST" and connection_id:
            return await self.post(unquote(connection_id), request)
        if request.path == "/stats" and request.method in ("GET", "DELETE"):
            return self.stats(reset=request.method == "DELETE")
        return web.json_response({"message": "Not Found"}, status=404)

    async def post(self, connection_id: str, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read()
        if not request.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
            self.unsigned += 1
        await asyncio.sleep(self.delay)
        if connection_id in self.gone:
            return web.json_response({"message": "Gone"}, status=410)
        self.posts[connection_id] += 1
        self.bodies[hashlib.sha256(body).hexdigest()] += 1
        return web.Response(status=200)

    def stats(self, *, reset: bool) -> web.StreamResponse:
        if reset:
            self.posts.clear()
            self.bodies.clear()
            self.unsigned = 0
            return web.json_response({})
        return web.json_response(
            {
                "posts": sum(self.posts.values()),
                "connections": len(self.posts),
                "bodies": dict(self.bodies),
                "unsigned": self.unsigned,
            }
        )


async def serve(host: str, port: int, api: ConnectionsApi) -> None:
    runner = web.ServerRunner(web.Server(api, access_log=None))
    await runner.setup()
    await web.TCPSite(runner, host, port, backlog=1024).start()
    await asyncio.Event().wait()  # until the process is stopped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.03)
    parser.add_argument("--gone", nargs="*", default=[])
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, ConnectionsApi(args.delay, frozenset(args.gone))))


if __name__ == "__main__":
    main()
