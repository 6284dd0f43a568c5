"""Talk to a moto server's own API (``/moto-api/...``) over HTTP: no in-process mocks.

The recorder captures every request the server receives (URL, method, headers, body), which
is how tests see what a handler posted to a WebSocket connection or sent to Lambda Invoke.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit


def _post(endpoint: str, path: str, body: bytes = b"") -> bytes:
    request = urllib.request.Request(
        endpoint + path, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


def configure(endpoint: str, config: dict[str, Any]) -> None:
    """POST /moto-api/config, e.g. {"lambda": {"use_docker": False}}."""
    _post(endpoint, "/moto-api/config", json.dumps(config).encode())


def start_recording(endpoint: str) -> None:
    """Erase the recording and record every request from now on."""
    _post(endpoint, "/moto-api/recorder/reset-recording")
    _post(endpoint, "/moto-api/recorder/start-recording")


def stop_recording(endpoint: str) -> None:
    _post(endpoint, "/moto-api/recorder/stop-recording")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.url).path)


def recorded_requests(endpoint: str) -> list[RecordedRequest]:
    with urllib.request.urlopen(
        endpoint + "/moto-api/recorder/download-recording", timeout=10
    ) as response:
        text = response.read().decode()
    # The server appends one JSON object per request from several threads: decode the
    # stream object by object rather than trusting line boundaries.
    decoder = json.JSONDecoder()
    entries: list[RecordedRequest] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return entries
        entry, position = decoder.raw_decode(text, position)
        raw = entry.get("body") or ""
        body = base64.b64decode(raw) if entry.get("body_encoded") else raw.encode()
        entries.append(RecordedRequest(entry["method"], entry["url"], entry["headers"], body))


def posted_to_connections(endpoint: str) -> dict[str, list[bytes]]:
    """Connection id -> the messages posted to it (PostToConnection), in arrival order."""
    posted: dict[str, list[bytes]] = {}
    for request in recorded_requests(endpoint):
        if request.method == "POST" and "/@connections/" in request.path:
            connection_id = request.path.rsplit("/@connections/", 1)[1]
            posted.setdefault(connection_id, []).append(request.body)
    return posted


def lambda_invocations(endpoint: str, function_name: str) -> list[RecordedRequest]:
    """Recorded Invoke requests for one function."""
    suffix = f"/functions/{function_name}/invocations"
    return [
        r for r in recorded_requests(endpoint) if r.method == "POST" and r.path.endswith(suffix)
    ]
