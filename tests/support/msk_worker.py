"""A stand-in Lambda worker process for the MSK front door tests.

Run as ``python msk_worker.py '<json command>'`` with the environment a deployed function
gets (BOOTSTRAP_SERVERS, AWS credentials and region, SSL_CERT_FILE): it runs the deployed
handler code unchanged (producer, topic_admin; a consumer built from msk_iam's settings) and
prints one JSON line: {"ok": <result>} or {"error": <type>, "message": ..., "causes": [...]}.

Like the Lambda Python runtime, it gives the root logger a handler (stderr, WARNING): kafka
-python's own warnings, such as a refused SASL authentication, show there as they would in
CloudWatch Logs.

MSK_WORKER_CLOCK_SKEW_SECONDS (optional) shifts the clock botocore signs with: a worker whose
clock is that far behind signs tokens that are already expired (the signer itself is not
touched).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import random
import sys
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for folder in ("common", "producer", "topic_admin", "generator"):
    sys.path.insert(0, str(ROOT / "handlers" / folder))
sys.path.insert(0, str(ROOT))


def _skew_clock() -> None:
    skew = float(os.environ.get("MSK_WORKER_CLOCK_SKEW_SECONDS") or 0)
    if not skew:
        return
    import botocore.auth

    real = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda *a, **k: (
        real(*a, **k) - datetime.timedelta(seconds=skew)
    )


def produce(command: dict[str, Any]) -> Any:
    import generator
    import producer

    from tests.support.lambda_context import FakeLambdaContext

    events = generator.generate_events(command["count"], random.Random(command.get("seed", 1)))
    context = FakeLambdaContext(timeout_seconds=command.get("timeout", 30))
    result = producer.lambda_handler({"events": events}, context)
    producer.discard_producer()
    return {**result, "event_ids": sorted(e["event_id"] for e in events)}


def create_topic(command: dict[str, Any]) -> Any:
    import topic_admin

    from tests.support.lambda_context import FakeLambdaContext

    request = {"topic": command["topic"], "partitions": command.get("partitions", 3)}
    request["replication_factor"] = 1
    return topic_admin.lambda_handler(request, FakeLambdaContext(timeout_seconds=30))


def consume(command: dict[str, Any]) -> Any:
    from kafka import KafkaConsumer
    from msk_iam import kafka_client_settings

    consumer = KafkaConsumer(
        command["topic"],
        **kafka_client_settings(),
        group_id=command.get("group") or f"worker-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=1_000,
        heartbeat_interval_ms=300,
        fetch_max_wait_ms=200,
        max_poll_interval_ms=10_000,
    )
    records: list[Any] = []
    deadline = time.monotonic() + command.get("timeout", 20)
    try:
        while time.monotonic() < deadline and len(records) < command["expected"]:
            for batch in consumer.poll(timeout_ms=300).values():
                records.extend(batch)
        consumer.commit()
    finally:
        consumer.close()
    return {
        "count": len(records),
        "event_ids": sorted(json.loads(r.value)["event_id"] for r in records),
        "keys_match": all(r.key == json.loads(r.value)["session_id"].encode() for r in records),
    }


COMMANDS = {"produce": produce, "create_topic": create_topic, "consume": consume}


def main() -> None:
    command = json.loads(sys.argv[1])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    _skew_clock()
    try:
        result = {"ok": COMMANDS[command["do"]](command)}
    except Exception as error:
        causes: list[str] = []
        cause = error.__cause__ or error.__context__
        while cause is not None and len(causes) < 5:
            causes.append(f"{type(cause).__name__}: {cause}")
            cause = cause.__cause__ or cause.__context__
        result = {
            "error": type(error).__name__,
            "message": str(error),
            "causes": causes,
            "traceback": traceback.format_exc(limit=3),
        }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
