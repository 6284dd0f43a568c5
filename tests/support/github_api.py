"""A stand-in for the few GitHub REST endpoints CI calls, on a loopback port.

Holds issue comments (list with Link pagination, create, update) and workflow artifacts,
checks the bearer token, and records every request so tests can assert what was sent.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "test-token"
REPO = "acme/telemetry"


@dataclass
class FakeGitHub:
    url: str = ""
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    fail_with: int | None = None
    next_id: int = 1000

    def add_comment(self, pr: int, body: str, user: str = "someone") -> int:
        self.next_id += 1
        self.comments.setdefault(pr, []).append(
            {"id": self.next_id, "body": body, "user": {"login": user}}
        )
        return self.next_id


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    prefix = f"/repos/{REPO}/"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet test output
            pass

        def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body: Any = json.loads(self.rfile.read(length)) if length else None
            state.requests.append((method, self.path, body))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._reply(401, {"message": "Bad credentials"})
            if state.fail_with is not None:
                return self._reply(state.fail_with, {"message": "Resource not accessible"})
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if not parts.path.startswith(prefix):
                return self._reply(404, {"message": "Not Found"})
            path = parts.path[len(prefix) :]
            if m := re.fullmatch(r"issues/(\d+)/comments", path):
                pr = int(m.group(1))
                if method == "GET":
                    per_page = int(query.get("per_page", ["30"])[0])
                    page = int(query.get("page", ["1"])[0])
                    items = state.comments.get(pr, [])
                    chunk = items[(page - 1) * per_page : page * per_page]
                    headers = {}
                    if page * per_page < len(items):
                        nxt = f"{state.url}{prefix}{path}?per_page={per_page}&page={page + 1}"
                        headers["Link"] = f'<{nxt}>; rel="next"'
                    return self._reply(200, chunk, headers)
                if method == "POST":
                    new_id = state.add_comment(pr, body["body"], "github-actions[bot]")
                    return self._reply(201, {"id": new_id, "body": body["body"]})
            if (m := re.fullmatch(r"issues/comments/(\d+)", path)) and method == "PATCH":
                for items in state.comments.values():
                    for comment in items:
                        if comment["id"] == int(m.group(1)):
                            comment["body"] = body["body"]
                            return self._reply(200, comment)
                return self._reply(404, {"message": "Not Found"})
            if path == "actions/artifacts" and method == "GET":
                name = query.get("name", [""])[0]
                found = [a for a in state.artifacts if a["name"] == name]
                return self._reply(200, {"total_count": len(found), "artifacts": found})
            if (m := re.fullmatch(r"actions/runs/(\d+)", path)) and method == "GET":
                run = state.runs.get(int(m.group(1)))
                if run is None:
                    return self._reply(404, {"message": "Not Found"})
                return self._reply(200, {"id": int(m.group(1)), **run})
            return self._reply(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    state = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
