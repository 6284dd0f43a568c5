"""The local deployment that the end-to-end tests share: how to make it and read it."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
from kafka import KafkaConsumer

from emulator.control import dataplane_status
from emulator.dataplane.credentials import Credentials
from emulator.dataplane.kafka_event_sources import RoleTokenProvider
from tests.support.paths import REPO_ROOT as ROOT

T = TypeVar("T")
REGION = "us-west-2"
# The emulator's own static key (moto's root identity): what Terraform and these tests use.
STATIC = Credentials("testing", "testing")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make(target: str, *variables: str, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", target, *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def wait_for(
    check: Callable[[], T | None], timeout: float, interval: float = 1.0, what: str = ""
) -> T:
    """The first truthy answer of ``check`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"not within {timeout:.0f} s: {what} (last answer {last!r})")


@dataclass(frozen=True)
class LocalPlatform:
    port: int
    workdir: Path
    deploy_output: str
    outputs: dict[str, dict[str, Any]]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def make_variables(self) -> tuple[str, ...]:
        return (f"LOCAL_PORT={self.port}", f"LOCAL_DIR={self.workdir}")

    def output(self, stack: str, name: str) -> Any:
        return self.outputs[stack][name]

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=STATIC.access_key_id,
            aws_secret_access_key=STATIC.secret_access_key,
        )

    def status(self) -> dict[str, Any]:
        return dataplane_status(self.endpoint)

    def log_messages(self, function_name: str) -> list[str]:
        """Every line the function logged, oldest first."""
        logs = self.client("logs")
        messages: list[str] = []
        kwargs: dict[str, Any] = {"logGroupName": f"/aws/lambda/{function_name}"}
        while True:
            page = logs.filter_log_events(**kwargs)
            messages.extend(event["message"] for event in page.get("events", []))
            if not page.get("nextToken"):
                return messages
            kwargs["nextToken"] = page["nextToken"]

    def json_logs(self, function_name: str, message: str) -> list[dict[str, Any]]:
        """The function's JSON log lines whose ``message`` is ``message``."""
        found = []
        for line in self.log_messages(function_name):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("message") == message:
                found.append(entry)
        return found

    def topic_records(self, credentials: Credentials = STATIC) -> Iterator[Any]:
        """Every record of the telemetry topic, read through the MSK front door."""
        consumer = KafkaConsumer(
            self.output("msk", "topic_name"),
            bootstrap_servers=self.output("msk", "bootstrap_brokers_sasl_iam"),
            group_id=f"e2e-readback-{uuid.uuid4().hex[:8]}",
            security_protocol="SASL_SSL",
            sasl_mechanism="OAUTHBEARER",
            sasl_oauth_token_provider=RoleTokenProvider(REGION, lambda: credentials),
            ssl_cafile=self.status()["ca_certificate"],
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            consumer_timeout_ms=4000,
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
            max_poll_interval_ms=10000,
        )
        try:
            yield from consumer
        finally:
            consumer.close()
