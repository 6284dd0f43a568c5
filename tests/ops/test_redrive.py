"""ops.redrive against moto's SQS: only what the producer published again leaves the queue.

The queue is moto's server (a real SQS API); the producer is a stand-in recording its
invocations, because the real one needs a deployed platform (tests/e2e/test_e2e_faults.py
redrives through the deployed producer).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from ops.redrive import RedriveError, Target, redrive, redrive_payload

REGION = "us-west-2"
PRODUCER = "acme-data-dev-producer"
ARN = f"arn:aws:lambda:{REGION}:123456789012:function:{PRODUCER}:$LATEST"


def record(events: list[dict[str, Any]], function_arn: str = ARN) -> str:
    return json.dumps(
        {
            "version": "1.0",
            "requestContext": {
                "functionArn": function_arn,
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": {"events": events},
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
        }
    )


class Producer:
    """Answers like Lambda's Invoke: fails the batches whose first event_id is in ``failing``."""

    def __init__(self, failing: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.failing = failing
        self.invoked: list[dict[str, Any]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert (FunctionName, InvocationType) == (PRODUCER, "RequestResponse")
        payload = json.loads(Payload)
        self.invoked.append(payload)
        if payload["events"][0]["event_id"] in self.failing:
            body = b'{"errorMessage": "3 of 3 events were not acknowledged", "errorType": "X"}'
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(body)}
        body = json.dumps({"published": len(payload["events"]), "topic": "t"}).encode()
        return {"StatusCode": 200, "Payload": io.BytesIO(body)}


@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    import boto3

    from emulator.control import threaded_moto_server

    with threaded_moto_server() as endpoint:
        yield boto3.client(
            "sqs",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture
def queue(sqs: Any, request: pytest.FixtureRequest) -> str:
    url: str = sqs.create_queue(QueueName=f"failures-{request.node.name[:40]}")["QueueUrl"]
    return url


def remaining(sqs: Any, queue: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_every_record_is_published_again_then_deleted(sqs: Any, queue: str) -> None:
    for batch in range(12):  # more than one receive's worth
        events = [{"event_id": f"b{batch}-e{i}"} for i in range(3)]
        sqs.send_message(QueueUrl=queue, MessageBody=record(events))
    producer = Producer()
    report = redrive(sqs, producer, Target(queue, PRODUCER), out=io.StringIO())
    assert (report.redriven_messages, report.redriven_events, report.left) == (12, 36, [])
    assert sorted(e["event_id"] for p in producer.invoked for e in p["events"]) == sorted(
        f"b{b}-e{i}" for b in range(12) for i in range(3)
    )
    assert remaining(sqs, queue) == 0


def test_what_cannot_be_published_stays_in_the_queue_with_its_reason(sqs: Any, queue: str) -> None:
    sqs.send_message(QueueUrl=queue, MessageBody=record([{"event_id": "fails-again"}]))
    sqs.send_message(QueueUrl=queue, MessageBody=record([{"event_id": "ok"}]))
    sqs.send_message(QueueUrl=queue, MessageBody="not json")
    other = ARN.replace(PRODUCER, "someone-else")
    sqs.send_message(QueueUrl=queue, MessageBody=record([{"event_id": "x"}], other))
    out = io.StringIO()
    report = redrive(sqs, Producer({"fails-again"}), Target(queue, PRODUCER), out=out)
    assert report.redriven_events == 1
    reasons = "\n".join(report.left)
    assert "the producer failed again" in reasons and "not acknowledged" in reasons
    assert "not JSON" in reasons
    assert "a record of function 'someone-else'" in reasons
    assert remaining(sqs, queue) == 3  # nothing deleted that was not published


def test_a_dry_run_changes_nothing(sqs: Any, queue: str) -> None:
    sqs.send_message(QueueUrl=queue, MessageBody=record([{"event_id": "a"}, {"event_id": "b"}]))
    producer = Producer()
    report = redrive(sqs, producer, Target(queue, PRODUCER), dry_run=True, out=io.StringIO())
    assert report.dry_run_events == 2 and producer.invoked == []
    visible = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    assert len(visible) == 1  # visible again at once


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("[]", "not a JSON object"),
        ('{"requestPayload": {}}', "no requestContext.functionArn"),
        (json.dumps({"requestContext": {"functionArn": ARN}, "requestPayload": {}}), "events"),
    ],
)
def test_a_message_that_is_not_a_producer_record_is_named(body: str, problem: str) -> None:
    with pytest.raises(RedriveError, match=problem):
        redrive_payload(body, PRODUCER)


def test_the_function_may_be_named_by_arn() -> None:
    assert redrive_payload(record([{"event_id": "a"}]), ARN.rsplit(":", 1)[0]) == {
        "events": [{"event_id": "a"}]
    }
