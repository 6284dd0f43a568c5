"""The deployed platform runs: schedule -> generator -> producer -> MSK -> consumer.

Nobody touches the deployment: the schedule fires on its own once the rule exists, the
generator's real code runs in a Lambda worker and invokes the producer asynchronously, the
producer publishes through the MSK front door (TLS, SASL/OAUTHBEARER with its role's MSK IAM
token), and the event source mapping invokes the consumer with the records.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaError

from emulator.dataplane.credentials import Credentials
from emulator.dataplane.kafka_event_sources import RoleTokenProvider
from tests.support.local_platform import REGION, LocalPlatform, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def generated_total(platform: LocalPlatform) -> int:
    generator = platform.output("data-gen", "generator_function_name")
    return sum(
        e["generated"] for e in platform.json_logs(generator, "events handed to the producer")
    )


def published_total(platform: LocalPlatform) -> int:
    producer = platform.output("data-gen", "producer_function_name")
    return sum(e["published"] for e in platform.json_logs(producer, "events published"))


def settled(platform: LocalPlatform) -> tuple[int, int] | None:
    """(generated, published) once every generated event was published and nothing waits."""
    generated, published = generated_total(platform), published_total(platform)
    if generated and generated == published and platform.status()["pending_events"] == 0:
        return generated, published
    return None


def test_the_schedule_runs_the_pipeline_end_to_end(local_platform: LocalPlatform) -> None:
    status = local_platform.status()
    assert status["schedules"], "the generator's schedule is not running"
    first_fire = wait_for(lambda: local_platform.status()["fired"], 60, what="the first fire")

    generated, _ = wait_for(lambda: settled(local_platform), 60, what="generated == published")
    assert generated % 1000 == 0  # whole scheduled batches of BATCH_SIZE events

    # Within 60 s of the first fire, the producer had published through the front door.
    producer = local_platform.output("data-gen", "producer_function_name")
    published_at = min(
        datetime.fromisoformat(e["timestamp"])
        for e in local_platform.json_logs(producer, "events published")
    )
    fired_at = datetime.fromisoformat(first_fire[0]["time"].replace("Z", "+00:00"))
    assert (published_at - fired_at).total_seconds() < 60

    # The topic holds every generated event exactly once.
    records = list(local_platform.topic_records())
    ids = Counter(json.loads(r.value)["event_id"] for r in records)
    assert len(records) == generated, f"topic holds {len(records)}, generated {generated}"
    assert len(ids) == generated and max(ids.values()) == 1

    # A session's events share a key, so they share a partition.
    partitions_of: dict[bytes, set[int]] = {}
    for record in records:
        partitions_of.setdefault(record.key, set()).add(record.partition)
    assert all(len(parts) == 1 for parts in partitions_of.values())

    # The mapping invoked the consumer with every record from its start position on.
    def consumed() -> dict[str, object] | None:
        mappings = local_platform.status()["event_source_mappings"]
        if not mappings:
            return None
        mapping: dict[str, object] = mappings[0]
        start = mapping["start_offsets"]
        assert isinstance(start, dict)
        expected = sum(1 for r in records if r.offset >= start.get(f"{r.topic}-{r.partition}", 0))
        return mapping if mapping["records_delivered"] == expected and expected else None

    mapping = wait_for(consumed, 60, what="the consumer got every record since the mapping began")
    consumer = local_platform.output("dashboard", "consumer_function_name")
    batches = local_platform.json_logs(consumer, "batch broadcast")
    assert sum(b["records"] for b in batches) == mapping["records_delivered"]
    assert all(b["malformed"] == 0 for b in batches)


def test_a_token_with_a_wrong_signature_is_refused(local_platform: LocalPlatform) -> None:
    forged = Credentials("testing", "not-the-secret")
    producer = None
    with pytest.raises(KafkaError):
        producer = KafkaProducer(
            bootstrap_servers=local_platform.output("msk", "bootstrap_brokers_sasl_iam"),
            security_protocol="SASL_SSL",
            sasl_mechanism="OAUTHBEARER",
            sasl_oauth_token_provider=RoleTokenProvider(REGION, lambda: forged),
            ssl_cafile=local_platform.status()["ca_certificate"],
            max_block_ms=3000,
            bootstrap_timeout_ms=3000,
        )
        producer.send(local_platform.output("msk", "topic_name"), b"{}").get(timeout=3)
    if producer is not None:
        producer.close(timeout=0)
    log = (local_platform.workdir / "emulator.log").read_text()
    assert "the signature does not match" in log


def test_a_failing_producer_invocation_lands_in_the_failure_queue(
    local_platform: LocalPlatform,
) -> None:
    producer = local_platform.output("data-gen", "producer_function_name")
    bad = {"events": [{"event_id": "not-a-whole-event"}], "marker": "e2e-failure-queue"}
    local_platform.client("lambda").invoke(
        FunctionName=producer, InvocationType="Event", Payload=json.dumps(bad).encode()
    )
    sqs = local_platform.client("sqs")
    queue = local_platform.output("data-gen", "producer_failure_queue_url")

    def destination_record() -> dict[str, object] | None:
        for message in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", []):
            record: dict[str, object] = json.loads(message["Body"])
            if record.get("requestPayload") == bad:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                return record
        return None

    record = wait_for(destination_record, 60, interval=0, what="the destination record")
    context = record["requestContext"]
    assert isinstance(context, dict)
    assert context["condition"] == "RetriesExhausted"
    assert context["approximateInvokeCount"] == 3  # the first attempt and Lambda's two retries
    assert str(context["functionArn"]).endswith(f":function:{producer}:$LATEST")
    response = record["responseContext"]
    assert isinstance(response, dict) and response["functionError"] == "Unhandled"
    payload = record["responsePayload"]
    assert isinstance(payload, dict) and "contract violation" in str(payload["errorMessage"])
