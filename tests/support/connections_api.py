"""A loopback stand-in for API Gateway's @connections management API (PostToConnection).

``python -m tests.support.connections_api --port PORT [--delay 0.03] [--gone ID ...]`` serves
``POST /<stage>/@connections/<connection id>`` (any stage prefix): it waits ``--delay``
seconds, as API Gateway takes to hand a frame to a connection, then answers 200, or 410
for a connection listed with ``--gone`` (API Gateway's GoneException). ``GET /stats``
answers what arrived: ``{"posts": n, "connections": distinct ids, "bodies": {sha256: n},
"unsigned": n}`` (``unsigned`` counts posts without a SigV4 Authorization header);
``DELETE /stats`` resets it.

It is an aiohttp server in its own process, so its CPU is not the client's.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from collections import Counter

from aiohttp import web


def make_app(delay: float, gone: frozenset[str]) -> web.Application:
    posts: Counter[str] = Counter()
    bodies: Counter[str] = Counter()
    unsigned = [0]

    async def post(request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        body = await request.read()
        if not request.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
            unsigned[0] += 1
        await asyncio.sleep(delay)
        if connection_id in gone:
            return web.json_response({"message": "Gone"}, status=410)
        posts[connection_id] += 1
        bodies[hashlib.sha256(body).hexdigest()] += 1
        return web.Response(status=200)

    async def stats(request: web.Request) -> web.Response:
        if request.method == "DELETE":
            posts.clear()
            bodies.clear()
            unsigned[0] = 0
            return web.json_response({})
        return web.json_response(
            {
                "posts": sum(posts.values()),
                "connections": len(posts),
                "bodies": dict(bodies),
                "unsigned": unsigned[0],
            }
        )

    app = web.Application()
    app.router.add_post("/{stage:.*}@connections/{connection_id}", post)
    app.router.add_route("*", "/stats", stats)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.03)
    parser.add_argument("--gone", nargs="*", default=[])
    args = parser.parse_args()
    web.run_app(
        make_app(args.delay, frozenset(args.gone)),
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
        backlog=1024,
    )


if __name__ == "__main__":
    main()
