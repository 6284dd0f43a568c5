"""Read a topic back from a (local) Kafka broker."""

from __future__ import annotations

import time
import uuid
from typing import Any

from kafka import KafkaConsumer


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    expected: int,
    timeout: float = 30.0,
    settle_polls: int = 2,
) -> list[Any]:
    """Every record of ``topic``, read by a fresh consumer group from the beginning.

    Stops ``settle_polls`` empty polls after ``expected`` records arrived (so duplicates
    beyond the expected count are still seen), or at ``timeout``. Counts records instead
    of trusting end_offsets(), which tansu reports wrongly.
    """
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"readback-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        # A group join takes about session_timeout_ms / 2: keep it short for tests
        # (real MSK rejects session timeouts under 6 s).
        session_timeout_ms=1_000,
        heartbeat_interval_ms=300,
        fetch_max_wait_ms=200,
    )
    records: list[Any] = []
    empty_after_enough = 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=300)
            fetched = [r for partition in batch.values() for r in partition]
            records.extend(fetched)
            if len(records) >= expected:
                empty_after_enough = 0 if fetched else empty_after_enough + 1
                if empty_after_enough >= settle_polls:
                    break
        consumer.commit()
    finally:
        consumer.close()
    return records
