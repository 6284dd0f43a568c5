"""Event invocations: Lambda's retries, event age and destination records, into SQS (moto)."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.dataplane.lambda_async import AsyncInvoker, AsyncTarget, EventInvokeConfig
from emulator.dataplane.lambda_runtime import (
    ASYNC_REQUEST_LIMIT,
    FunctionConfig,
    LambdaRuntime,
    LambdaServiceError,
)
from tests.support.lambda_workers import RuntimeFactory, function_config

# Retries after 60/120 = 0.5 s and 120/120 = 1 s; an age of 60 s lasts 0.5 s.
TIME_SCALE = 1 / 120


@pytest.fixture
def queue(aws_client: Any, request: pytest.FixtureRequest) -> tuple[str, str]:
    """A fresh SQS queue in moto: (url, arn)."""
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=f"failures-{request.node.name[:40]}".replace("[", "-"))[
        "QueueUrl"
    ]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


@pytest.fixture
def sqs_deliver(aws_client: Any) -> Callable[[str, str], None]:
    """What the integrator wires: a destination ARN and the record, sent to SQS in moto."""
    sqs = aws_client("sqs")

    def deliver(destination_arn: str, record: str) -> None:
        name = destination_arn.rsplit(":", 1)[-1]
        sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"], MessageBody=record)

    return deliver


class Setup:
    def __init__(self, runtime: LambdaRuntime, deliver: Callable[[str, str], None]) -> None:
        self.targets: dict[str, AsyncTarget] = {}
        self.invoker = AsyncInvoker(
            runtime, self.targets.get, deliver, time_scale=TIME_SCALE, workers=2
        )

    def add(self, function: FunctionConfig, config: EventInvokeConfig) -> FunctionConfig:
        self.targets[function.function_arn] = AsyncTarget(function, config)
        return function


@pytest.fixture
def setup(make_runtime: RuntimeFactory, sqs_deliver: Callable[[str, str], None]) -> Iterator[Setup]:
    made = Setup(make_runtime(), sqs_deliver)
    yield made
    made.invoker.shutdown()


def attempts(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def received(aws_client: Any, url: str) -> list[dict[str, Any]]:
    messages = (
        aws_client("sqs")
        .receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        .get("Messages", [])
    )
    return [json.loads(message["Body"]) for message in messages]


def test_failed_event_is_retried_twice_then_sent_to_the_failure_queue(
    setup: Setup, queue: tuple[str, str], aws_client: Any, tmp_path: Path
) -> None:
    url, arn = queue
    log = tmp_path / "attempts"
    fn = setup.add(
        function_config(name="fails", environment={"ATTEMPTS_FILE": str(log)}),
        EventInvokeConfig(on_failure=arn),
    )
    event = {"action": "attempt", "fail": True, "order": [1, 2]}
    accepted = setup.invoker.submit(fn, json.dumps(event).encode())
    assert (accepted.status_code, accepted.payload) == (202, b"")
    assert setup.invoker.wait_idle(timeout=20)
    tries = attempts(log)
    assert len(tries) == 3
    assert {t["id"] for t in tries} == {accepted.request_id}  # retries keep the request id
    gaps = [later["t"] - earlier["t"] for earlier, later in itertools.pairwise(tries)]
    assert gaps[0] >= 60 * TIME_SCALE and gaps[1] >= 120 * TIME_SCALE, gaps
    [record] = received(aws_client, url)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", record.pop("timestamp"))
    response = record.pop("responsePayload")
    assert record == {
        "version": "1.0",
        "requestContext": {
            "requestId": accepted.request_id,
            "functionArn": f"{fn.function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
    }
    assert response["errorType"] == "RuntimeError"
    assert response["errorMessage"] == "attempt failed"
    assert response["requestId"] == accepted.request_id


def test_maximum_retry_attempts_is_honoured(
    setup: Setup, queue: tuple[str, str], aws_client: Any, tmp_path: Path
) -> None:
    url, arn = queue
    log = tmp_path / "attempts"
    fn = setup.add(
        function_config(name="once", environment={"ATTEMPTS_FILE": str(log)}),
        EventInvokeConfig(maximum_retry_attempts=0, on_failure=arn),
    )
    setup.invoker.submit(fn, json.dumps({"action": "attempt", "fail": True}).encode())
    assert setup.invoker.wait_idle(timeout=20)
    assert len(attempts(log)) == 1
    [record] = received(aws_client, url)
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestContext"]["condition"] == "RetriesExhausted"


def test_event_older_than_its_maximum_age_is_not_retried(
    setup: Setup, queue: tuple[str, str], aws_client: Any, tmp_path: Path
) -> None:
    """Maximum age 60 s and a first retry after 60 s: the retry finds the event too old."""
    url, arn = queue
    log = tmp_path / "attempts"
    fn = setup.add(
        function_config(name="ages", environment={"ATTEMPTS_FILE": str(log)}),
        EventInvokeConfig(maximum_event_age_in_seconds=60, on_failure=arn),
    )
    setup.invoker.submit(fn, json.dumps({"action": "attempt", "fail": True}).encode())
    assert setup.invoker.wait_idle(timeout=20)
    assert len(attempts(log)) == 1
    [record] = received(aws_client, url)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"]["functionError"] == "Unhandled"


def test_success_goes_to_the_success_destination(
    setup: Setup, queue: tuple[str, str], aws_client: Any, tmp_path: Path
) -> None:
    url, arn = queue
    log = tmp_path / "attempts"
    fn = setup.add(
        function_config(name="works", environment={"ATTEMPTS_FILE": str(log)}),
        EventInvokeConfig(on_success=arn),
    )
    event = {"action": "attempt", "n": 1}
    accepted = setup.invoker.submit(fn, json.dumps(event).encode())
    assert setup.invoker.wait_idle(timeout=20)
    assert len(attempts(log)) == 1
    [record] = received(aws_client, url)
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["requestId"] == accepted.request_id
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"ok": True, "echo": event}


def test_timeouts_are_retried_like_errors(
    setup: Setup, queue: tuple[str, str], aws_client: Any, tmp_path: Path
) -> None:
    url, arn = queue
    fn = setup.add(
        function_config(name="slow", timeout=1),
        EventInvokeConfig(maximum_retry_attempts=1, on_failure=arn),
    )
    event = {"action": "sleep", "seconds": 30, "pid_file": str(tmp_path / "pid")}
    setup.invoker.submit(fn, json.dumps(event).encode())
    assert setup.invoker.wait_idle(timeout=20)
    [record] = received(aws_client, url)
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responsePayload"]["errorType"] == "Sandbox.Timedout"


def test_async_payload_limit_and_deleted_functions(setup: Setup, tmp_path: Path) -> None:
    log = tmp_path / "attempts"
    fn = function_config(name="gone", environment={"ATTEMPTS_FILE": str(log)})
    with pytest.raises(LambdaServiceError) as too_large:
        setup.invoker.submit(fn, b'"' + b"x" * ASYNC_REQUEST_LIMIT + b'"')
    assert too_large.value.status_code == 413
    assert too_large.value.message == (
        "Request must be smaller than 1048576 bytes for the InvokeFunction operation"
    )
    # Not known to resolve (deleted): accepted, then dropped without running.
    setup.invoker.submit(fn, json.dumps({"action": "attempt"}).encode())
    assert setup.invoker.wait_idle(timeout=5)
    assert attempts(log) == []


def test_event_invoke_config_is_validated() -> None:
    with pytest.raises(ValueError, match="maximum_retry_attempts"):
        EventInvokeConfig(maximum_retry_attempts=3)
    with pytest.raises(ValueError, match="maximum_event_age_in_seconds"):
        EventInvokeConfig(maximum_event_age_in_seconds=59)
    with pytest.raises(ValueError, match="on_failure"):
        EventInvokeConfig(on_failure="my-queue")
