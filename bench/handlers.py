"""Handler figures of issue 8, each measured beside its baseline in the same run.

* producer: events per second through ``producer.lambda_handler`` (warm, as Lambda reuses
  it) against a real tansu broker, beside raw kafka-python with the producer's own
  settings (``producer.producer_config``) sending the same payloads; alternating, several
  runs, median; every record is read back and counted.
* generator: events per CPU-second of ``generator.generate_events`` (process CPU time, one
  thread), median of several runs.
* consumer fan-out: wall time from an MSK batch of 100 records in ``consumer.process`` to
  the message having reached every connection of a loopback stand-in of the @connections
  API that answers each POST after 30 ms (aiohttp, its own process); above the slice size
  the slices go to ``broadcaster.lambda_handler`` in warm worker processes, one invocation
  each, in parallel, as Lambda would run them.
* cold import: a fresh interpreter importing each handler module from its built zip's
  contents; median of several runs.

Run with ``python -m bench handlers`` (``make bench`` builds the zips first).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .core import Figure, Target, stopwatch

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = ROOT / "handlers"
CONTRACT = ROOT / "contracts" / "telemetry_event.json"

PRODUCER_RATIO_TARGET = 0.95
GENERATOR_TARGET = 50_000.0


@contextlib.contextmanager
def handler_environment(**extra: str) -> Iterator[None]:
    """Handler modules importable as in their zips; local, fake AWS settings."""
    paths = [str(HANDLERS / "common"), *(str(p) for p in sorted(HANDLERS.iterdir()) if p.is_dir())]
    saved_path, saved_env = list(sys.path), dict(os.environ)
    sys.path[:0] = [p for p in paths if p not in sys.path]
    os.environ.update(
        {
            "TELEMETRY_CONTRACT_PATH": str(CONTRACT),
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "LOG_LEVEL": "WARNING",  # one INFO line per invocation would flood the output
            **extra,
        }
    )
    try:
        yield
    finally:
        sys.path[:] = saved_path
        os.environ.clear()
        os.environ.update(saved_env)


class _Context:
    """What the handlers read from a Lambda context."""

    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


# ------------------------------------------------------------------------------ producer

PRODUCER_EVENTS = 4_000  # per run: about 20 payloads of the generator's 200 KB
PRODUCER_RUNS = 8  # each side; in the order raw, ours, ours, raw, raw, ours, ... (ABBA)
PARTITIONS = 3


def _payloads(count: int, seed: int) -> list[dict[str, Any]]:
    import generator

    events = generator.generate_events(count, random.Random(seed))
    chunks = generator.chunk_payloads(events, generator.DEFAULT_MAX_PAYLOAD_BYTES)
    return [json.loads(chunk) for chunk in chunks]


def _raw_publish(kafka_producer: Any, topic: str, payloads: list[dict[str, Any]]) -> int:
    """What publishing these payloads takes with kafka-python alone: encode, send, wait."""
    sent = 0
    for payload in payloads:
        futures = [
            kafka_producer.send(
                topic,
                key=str(event["session_id"]).encode(),
                value=json.dumps(
                    event, separators=(",", ":"), ensure_ascii=False, allow_nan=False
                ).encode(),
            )
            for event in payload["events"]
        ]
        kafka_producer.flush()
        for future in futures:
            future.get(timeout=60)
        sent += len(futures)
    return sent


def producer_figures() -> list[Figure]:
    from kafka import KafkaAdminClient, KafkaProducer

    from tests.support.kafka_io import read_topic
    from tests.support.services import tansu_broker

    with tansu_broker() as broker, handler_environment(
        BOOTSTRAP_SERVERS=broker, KAFKA_SECURITY_PROTOCOL="PLAINTEXT"
    ):
        import producer
        from kafka.admin import NewTopic
        from telemetry_contract import load_contract

        topic = load_contract().topic
        raw_topic = f"{topic}-raw"
        admin = KafkaAdminClient(bootstrap_servers=broker)
        admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in (topic, raw_topic)])
        admin.close()

        context = _Context()
        raw = KafkaProducer(
            bootstrap_servers=[broker],
            **producer.producer_config(producer.budget_ms(context)),
        )
        # Warm both up (connections, metadata, producer id) outside the timing.
        warm = _payloads(200, seed=0)
        _raw_publish(raw, raw_topic, warm)
        for payload in warm:
            producer.lambda_handler(payload, context)
        sent = {topic: 200, raw_topic: 200}

        ours: list[float] = []
        theirs: list[float] = []
        for run in range(PRODUCER_RUNS):
            payloads = _payloads(PRODUCER_EVENTS, seed=run + 1)
            # ABBA order: a drift in the machine's load affects both sides alike.
            for side in ("raw", "ours") if run % 2 == 0 else ("ours", "raw"):
                elapsed = stopwatch()
                if side == "raw":
                    sent[raw_topic] += _raw_publish(raw, raw_topic, payloads)
                    theirs.append(PRODUCER_EVENTS / elapsed())
                else:
                    for payload in payloads:
                        sent[topic] += producer.lambda_handler(payload, context)["published"]
                    ours.append(PRODUCER_EVENTS / elapsed())
        raw.close()
        producer.discard_producer()

        read = {t: len(read_topic(broker, t, expected=n, timeout=60)) for t, n in sent.items()}
    if read != sent:
        raise RuntimeError(f"records lost or duplicated: sent {sent}, read back {read}")
    return [
        Figure(
            "producer throughput",
            statistics.median(ours),
            "events/s",
            Target("ratio_min", PRODUCER_RATIO_TARGET),
            baseline=statistics.median(theirs),
            baseline_label="raw kafka-python, same settings",
            note=(
                f"median of {PRODUCER_RUNS} runs each (ABBA order) of {PRODUCER_EVENTS} events in "
                f"generator-sized payloads, tansu broker, {PARTITIONS} partitions; "
                f"read back: {read}"
            ),
        )
    ]


def run() -> list[Figure]:
    return producer_figures()
