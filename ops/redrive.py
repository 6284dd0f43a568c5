r"""Publish the batches the producer could not publish: the on-failure queue, redriven.

    python -m ops.redrive --queue-url URL --function NAME [--dry-run] [--max-messages N]
    python -m ops.redrive --outputs .local/outputs.json --endpoint http://127.0.0.1:4599
    make redrive LOCAL=1            # the local platform (its outputs and emulator)
    make redrive QUEUE_URL=... FUNCTION=...   # an AWS account (data-gen stack outputs)

When the producer fails an asynchronous invocation three times (the broker down for longer
than three of its timeouts), Lambda sends its invocation record to the failure queue (the
data-gen output ``producer_failure_queue_url``)::

    {"requestContext": {"functionArn": "arn:...:function:<producer>:$LATEST",
                        "condition": "RetriesExhausted", ...},
     "requestPayload": {"events": [...]}, "responseContext": {...}, ...}

Each record's ``requestPayload`` is invoked again on the producer (``producer_function_name``),
synchronously, so its answer is known: the message is deleted only after the producer
reported every event acknowledged by Kafka. A message that is not such a record, names
another function, or whose invocation fails again stays in the queue (it is visible again
after the visibility timeout) and is reported; nothing is deleted that was not published.

Delivery is at-least-once: a batch the producer had partly published before it failed is
published whole again (readers deduplicate on ``event_id``; see README "Delivery
guarantees").

Exit status: 0 when every message read was redriven (or, with --dry-run, was a valid
record), 1 when any was left in the queue, 2 on bad arguments or unreadable outputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

DEFAULT_REGION: Final = "us-west-2"
# Longer than the producer's own timeout: a message under redrive is not handed out twice.
DEFAULT_VISIBILITY_SECONDS: Final = 120
RECEIVE_WAIT_SECONDS: Final = 2


class RedriveError(ValueError):
    """A failure-queue message that cannot be redriven (it stays in the queue)."""


@dataclass(frozen=True)
class Target:
    queue_url: str
    function: str

    def __post_init__(self) -> None:
        if not self.queue_url.startswith(("https://", "http://")):
            raise ValueError(f"--queue-url must be the queue's URL, got {self.queue_url!r}")
        if not self.function:
            raise ValueError("--function must name the producer function")


@dataclass
class Report:
    redriven_messages: int = 0
    redriven_events: int = 0
    dry_run_events: int = 0
    left: list[str] = field(default_factory=list)

    def line(self) -> str:
        done = (
            f"{self.dry_run_events} event(s) would be redriven"
            if self.dry_run_events
            else f"redriven {self.redriven_messages} invocation(s), {self.redriven_events} event(s)"
        )
        return f"{done}; left in the queue: {len(self.left)}"


def function_name(function: str) -> str:
    """The name in a function name or (qualified) ARN."""
    if function.startswith("arn:"):
        parts = function.split(":")
        return parts[6] if len(parts) > 6 else function
    return function


def redrive_payload(body: str, function: str) -> dict[str, Any]:
    """The ``requestPayload`` of a Lambda destination record made for ``function``.

    Raises RedriveError naming what is wrong with anything else.
    """
    try:
        record = json.loads(body)
    except ValueError as error:
        raise RedriveError(f"not JSON ({error})") from None
    if not isinstance(record, Mapping):
        raise RedriveError("not a Lambda invocation record (not a JSON object)")
    context = record.get("requestContext")
    if not isinstance(context, Mapping) or "functionArn" not in context:
        raise RedriveError("not a Lambda invocation record (no requestContext.functionArn)")
    source = function_name(str(context["functionArn"]))
    if source != function_name(function):
        raise RedriveError(f"a record of function {source!r}, not of {function_name(function)!r}")
    payload = record.get("requestPayload")
    if not isinstance(payload, Mapping) or not isinstance(payload.get("events"), list):
        raise RedriveError('its requestPayload is not {"events": [...]}')
    return dict(payload)


def queued_payloads(sqs: Any, target: Target, hold_seconds: int = 30) -> list[dict[str, Any]]:
    """The payloads of every redrivable message now in the queue, leaving the queue as it was.

    Each message is held invisible while the queue is read (so none is counted twice), then
    made visible again at once.
    """
    payloads: list[dict[str, Any]] = []
    handles: list[str] = []
    try:
        while True:
            messages = sqs.receive_message(
                QueueUrl=target.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                VisibilityTimeout=hold_seconds,
            ).get("Messages", [])
            if not messages:
                return payloads
            for message in messages:
                handles.append(message["ReceiptHandle"])
                try:
                    payloads.append(redrive_payload(message["Body"], target.function))
                except RedriveError:
                    continue
    finally:
        for handle in handles:
            sqs.change_message_visibility(
                QueueUrl=target.queue_url, ReceiptHandle=handle, VisibilityTimeout=0
            )


def redrive(
    sqs: Any,
    lambda_client: Any,
    target: Target,
    *,
    dry_run: bool = False,
    max_messages: int | None = None,
    visibility_seconds: int = DEFAULT_VISIBILITY_SECONDS,
    out: Any = sys.stdout,
) -> Report:
    """Redrive the queue's messages until it answers none (or ``max_messages`` were read)."""
    report = Report()
    seen: list[str] = []  # receipt handles held invisible by a dry run
    read = 0
    while max_messages is None or read < max_messages:
        wanted = 10 if max_messages is None else min(10, max_messages - read)
        page = sqs.receive_message(
            QueueUrl=target.queue_url,
            MaxNumberOfMessages=wanted,
            WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
            VisibilityTimeout=visibility_seconds,
        )
        messages = page.get("Messages", [])
        if not messages:
            break
        for message in messages:
            read += 1
            message_id = message["MessageId"]
            try:
                payload = redrive_payload(message["Body"], target.function)
            except RedriveError as error:
                report.left.append(f"{message_id}: {error}")
                print(f"left {message_id}: {error}", file=out)
                continue
            events = len(payload["events"])
            if dry_run:
                seen.append(message["ReceiptHandle"])
                report.dry_run_events += events
                print(f"would redrive {message_id}: {events} event(s)", file=out)
                continue
            answer = lambda_client.invoke(
                FunctionName=target.function,
                InvocationType="RequestResponse",
                Payload=json.dumps(payload).encode(),
            )
            result = answer["Payload"].read()
            if answer.get("FunctionError"):
                reason = result.decode(errors="replace")[:300]
                report.left.append(f"{message_id}: the producer failed again: {reason}")
                print(f"left {message_id}: the producer failed again: {reason}", file=out)
                continue
            sqs.delete_message(QueueUrl=target.queue_url, ReceiptHandle=message["ReceiptHandle"])
            report.redriven_messages += 1
            report.redriven_events += events
            print(f"redriven {message_id}: {events} event(s) -> {result.decode()}", file=out)
    for handle in seen:  # a dry run changes nothing: the messages are visible again at once
        sqs.change_message_visibility(
            QueueUrl=target.queue_url, ReceiptHandle=handle, VisibilityTimeout=0
        )
    return report


def target_from_outputs(path: Path) -> Target:
    """The data-gen stack's outputs in a local deploy's outputs.json."""
    try:
        outputs = json.loads(path.read_text())
        data_gen = outputs["data-gen"]
        return Target(data_gen["producer_failure_queue_url"], data_gen["producer_function_name"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"{path}: no data-gen producer_failure_queue_url/producer_function_name "
            f"({error!r}); deploy first (make deploy-local)"
        ) from None


def clients(endpoint: str | None, region: str) -> tuple[Any, Any]:
    # The producer runs up to its timeout: the read timeout must outlast it.
    config = Config(read_timeout=960, retries={"max_attempts": 1, "mode": "standard"})
    local = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    kwargs: dict[str, Any] = {"region_name": region}
    if endpoint:
        kwargs.update(endpoint_url=endpoint, **local)
    return boto3.client("sqs", **kwargs), boto3.client("lambda", config=config, **kwargs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Redrive the producer's on-failure queue: publish its batches again"
    )
    parser.add_argument("--queue-url", default="", help="data-gen producer_failure_queue_url")
    parser.add_argument("--function", default="", help="data-gen producer_function_name")
    parser.add_argument("--outputs", type=Path, help="a local deploy's outputs.json instead")
    parser.add_argument("--endpoint", default=None, help="the local emulator's URL")
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument("--dry-run", action="store_true", help="only show what would be sent")
    parser.add_argument("--max-messages", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        if args.outputs is not None:
            target = target_from_outputs(args.outputs)
        else:
            target = Target(args.queue_url, args.function)
        if args.max_messages is not None and args.max_messages < 1:
            raise ValueError(f"--max-messages must be at least 1, got {args.max_messages}")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sqs, lambda_client = clients(args.endpoint, args.region)
    try:
        report = redrive(
            sqs, lambda_client, target, dry_run=args.dry_run, max_messages=args.max_messages
        )
    except (BotoCoreError, ClientError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report.line())
    return 1 if report.left else 0


if __name__ == "__main__":
    raise SystemExit(main())
