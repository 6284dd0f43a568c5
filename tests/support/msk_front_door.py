"""Helpers for the MSK front door tests: a worker runner, a raw Kafka client, tokens."""

from __future__ import annotations

import datetime
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import botocore.auth
from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
from botocore.credentials import CredentialProvider, Credentials

from emulator.dataplane.msk_authz import RESPONSE_CLASSES
from emulator.dataplane.tls import TlsFiles
from platform_config.model import METRICS_NAMESPACE

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("msk_worker.py")
REGION = "eu-west-1"
ACCOUNT = "123456789012"
CLUSTER_ARN = (
    f"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/acme-msk/5f3c2a1e-0b9d-4c7e-8a6f-1d2e3f4a5b6c-2"
)
TOPIC = "acme-telemetry"  # the contract's topic: the producer handler insists on it


@dataclass(frozen=True)
class WorkerResult:
    output: dict[str, Any]
    stderr: str

    @property
    def ok(self) -> Any:
        assert "ok" in self.output, f"worker failed: {self.output}\n{self.stderr[-3000:]}"
        return self.output["ok"]


def run_worker(
    bootstrap: str,
    tls: TlsFiles,
    command: dict[str, Any],
    *,
    access_key: str,
    secret: str,
    session_token: str | None = None,
    extra_env: dict[str, str] | None = None,
    timeout: float = 120,
) -> WorkerResult:
    """Run the deployed handler code in a fresh process with a Lambda-like environment.

    The only TLS setting is SSL_CERT_FILE (the deploy's trust bundle): no ssl_cafile option,
    no PLAINTEXT switch. AWS configuration files are out of reach, as in Lambda.
    """
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env.update(
        {
            "BOOTSTRAP_SERVERS": bootstrap,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_CONFIG_FILE": str(ROOT / ".no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(ROOT / ".no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "SSL_CERT_FILE": str(tls.trust_bundle),
            "TELEMETRY_CONTRACT_PATH": str(ROOT / "contracts" / "telemetry_event.json"),
            "LOG_LEVEL": "WARNING",
            "PYTHONDONTWRITEBYTECODE": "1",
            # What the stacks set on every function.
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        }
    )
    if session_token:
        env["AWS_SESSION_TOKEN"] = session_token
    env.update(extra_env or {})
    done = subprocess.run(
        [sys.executable, str(WORKER), json.dumps(command)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise AssertionError(f"worker printed nothing (exit {done.returncode}):\n{done.stderr}")
    return WorkerResult(json.loads(lines[-1]), done.stderr)


class _Static(CredentialProvider):  # type: ignore[misc]  # botocore is untyped
    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


def sign(
    access_key: str,
    secret: str,
    session_token: str | None = None,
    *,
    region: str = REGION,
    at: datetime.datetime | None = None,
) -> str:
    """An MSK IAM token from the real signer for ``region``, signed at ``at`` (default: now)."""
    provider = _Static(Credentials(access_key, secret, session_token))
    when = (at or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
    naive = when.replace(tzinfo=None)
    with mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: naive):
        token, _ = MSKAuthTokenProvider.generate_auth_token_from_credentials_provider(
            region, provider
        )
    return str(token)


class RawClient:
    """One TLS connection speaking Kafka frames with kafka-python's message classes."""

    def __init__(self, address: str, tls: TlsFiles | None, timeout: float = 10) -> None:
        host, port = address.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=timeout)
        if tls is not None:
            context = ssl.create_default_context(cafile=str(tls.ca_cert))
            sock = context.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.correlation_id = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, request: Any) -> int:
        self.correlation_id += 1
        request.with_header(correlation_id=self.correlation_id, client_id="raw-test")
        self.sock.sendall(bytes(request.encode(header=True, framed=True)))
        return self.correlation_id

    def send_bytes(self, payload: bytes) -> None:
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def receive_frame(self) -> bytes | None:
        """One frame's payload, or None if the server closed the connection."""
        size = self._exactly(4)
        if size is None:
            return None
        payload = self._exactly(struct.unpack(">i", size)[0])
        return payload

    def _exactly(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            try:
                chunk = self.sock.recv(n - len(data))
            except (ConnectionResetError, ssl.SSLError):
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def call(self, request: Any) -> Any:
        """Send ``request`` and decode its answer; None if the connection was closed."""
        correlation_id = self.send(request)
        payload = self.receive_frame()
        if payload is None:
            return None
        response_class = RESPONSE_CLASSES[int(request.API_KEY)]
        response = response_class.decode(payload, version=request.API_VERSION, header=True)
        assert response.header.correlation_id == correlation_id
        return response

    def closed_by_server(self) -> bool:
        return self.receive_frame() is None
