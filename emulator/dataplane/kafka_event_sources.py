"""Lambda event source mappings from MSK poll the topic and invoke their functions.

For every enabled mapping moto holds with an MSK cluster as its source, a poller thread
reads the topic through the cluster's front door, as Lambda's event poller does: TLS and
SASL/OAUTHBEARER with a token signed by the *function's execution role*, so the role's
``kafka-cluster`` grants decide what it may read. It

* starts where the mapping says (``LATEST``: the end of every partition when the mapping is
  first polled; ``TRIM_HORIZON``: the beginning) unless the mapping's consumer group has
  committed offsets, which win;
* invokes the function synchronously with up to ``BatchSize`` records in Lambda's MSK event
  shape (records grouped by ``<topic>-<partition>``, base64 key and value, headers as byte
  lists), after at most the batching window (500 ms by default for Kafka);
* commits the offsets to the consumer group only after the invocation succeeded; a failed
  batch is read again and retried with back-off, as Lambda retries MSK batches (until the
  mapping's ``MaximumRetryAttempts`` if set, or 10 when the mapping has an on-failure
  destination and no limit, as Lambda does; then the destination, if any, gets the batch's
  description and the poller moves on);
* stops when the mapping is disabled or deleted.

Difference from Lambda: the poller assigns itself every partition and commits offsets under
the mapping's consumer group id without joining the group (a consumer-group join against
tansu takes half the session timeout). Committed offsets are the same; one poller per
mapping reads the partitions in turn rather than several pollers in parallel.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
from botocore.credentials import CredentialProvider
from botocore.credentials import Credentials as BotocoreCredentials
from kafka import KafkaConsumer, TopicPartition
from kafka.net.sasl.oauth import AbstractTokenProvider
from kafka.structs import OffsetAndMetadata
from moto.awslambda.models import EventSourceMapping

from .credentials import Credentials
from .lambda_service import lambda_backends
from .workers import WorkerSet, WorkerThread

log = logging.getLogger("emulator.event-sources")

SYNC_SECONDS: Final = 0.5
DEFAULT_BATCHING_WINDOW_MS: Final = 500  # Lambda's default for Kafka sources
RETRY_BACKOFF_SECONDS: Final = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
PARTITION_REFRESH_SECONDS: Final = 30.0
TOKEN_REFRESH_SECONDS: Final = 600.0


def is_msk_mapping(esm: EventSourceMapping) -> bool:
    return (esm.event_source_arn or "").split(":")[2:3] == ["kafka"]


def all_mappings() -> list[EventSourceMapping]:
    found: list[EventSourceMapping] = []
    for backend in lambda_backends():
        found.extend(m for m in list(backend._event_source_mappings.values()) if is_msk_mapping(m))
    return found


def msk_event(
    cluster_arn: str, bootstrap: str, batch: dict[TopicPartition, list[Any]]
) -> dict[str, Any]:
    """Lambda's event for a batch of MSK records."""
    records: dict[str, list[dict[str, Any]]] = {}
    for tp, consumed in batch.items():
        records[f"{tp.topic}-{tp.partition}"] = [
            {
                "topic": r.topic,
                "partition": r.partition,
                "offset": r.offset,
                "timestamp": r.timestamp,
                "timestampType": "LOG_APPEND_TIME" if r.timestamp_type == 1 else "CREATE_TIME",
                **({"key": base64.b64encode(r.key).decode()} if r.key is not None else {}),
                **({"value": base64.b64encode(r.value).decode()} if r.value is not None else {}),
                "headers": [{k: list(v or b"")} for k, v in (r.headers or [])],
            }
            for r in consumed
        ]
    return {
        "eventSource": "aws:kafka",
        "eventSourceArn": cluster_arn,
        "bootstrapServers": bootstrap,
        "records": records,
    }


class _RoleCredentials(CredentialProvider):  # type: ignore[misc]  # botocore is untyped
    METHOD = "lambda-execution-role"

    def __init__(self, credentials: Callable[[], Credentials]) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> BotocoreCredentials:
        found = self._credentials()
        return BotocoreCredentials(
            found.access_key_id, found.secret_access_key, found.session_token, self.METHOD
        )


class RoleTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """MSK IAM tokens signed with a role's credentials, cached for ten minutes."""

    def __init__(self, region: str, credentials: Callable[[], Credentials]) -> None:
        super().__init__()
        self.region = region
        self._provider = _RoleCredentials(credentials)
        self._token: tuple[str, float] | None = None

    def token(self) -> str:
        if self._token is None or time.monotonic() - self._token[1] > TOKEN_REFRESH_SECONDS:
            token, _ = MSKAuthTokenProvider.generate_auth_token_from_credentials_provider(
                self.region, self._provider
            )
            self._token = (token, time.monotonic())
        return self._token[0]


@dataclass(frozen=True)
class ClusterAccess:
    """Where a mapping's cluster is served, and how to trust its certificate."""

    bootstrap: str
    ca_file: Path


Invoke = Callable[[str, bytes], tuple[bytes, str | None]]  # function ARN, payload -> result
RoleCredentials = Callable[[str], Credentials]  # role ARN -> credentials
Deliver = Callable[[str, str], None]  # destination ARN, JSON record
# With an on-failure destination and no retry limit of its own, Lambda retries a Kafka
# batch at most this many times (AWS Lambda developer guide, Kafka on-failure destinations).
DESTINATION_RETRY_LIMIT = 10


@dataclass
class PollerStatus:
    uuid: str
    function_arn: str
    topic: str
    group_id: str
    state: str = "starting"
    start_offsets: dict[str, int] = field(default_factory=dict)
    committed: dict[str, int] = field(default_factory=dict)
    invocations: int = 0
    records_delivered: int = 0
    failed_invocations: int = 0
    last_error: str | None = None


class _Poller(WorkerThread):
    def __init__(
        self,
        esm: EventSourceMapping,
        access: ClusterAccess,
        invoke: Invoke,
        role_credentials: RoleCredentials,
        role_of: Callable[[str], str],
        deliver: Deliver,
    ) -> None:
        self.esm = esm
        self.access = access
        self.invoke = invoke
        self.role_credentials = role_credentials
        self.role_of = role_of
        self.deliver = deliver
        config = esm.kafka_config or {}
        topics: list[str] = esm.topics or []
        self.status = PollerStatus(
            esm.uuid, esm.function_arn, topics[0], config.get("ConsumerGroupId", esm.uuid)
        )
        super().__init__(f"esm-{esm.uuid[:8]}")

    def _consumer(self) -> KafkaConsumer:
        region = self.esm.event_source_arn.split(":")[3]
        role = self.role_of(self.esm.function_arn)
        return KafkaConsumer(
            bootstrap_servers=self.access.bootstrap,
            group_id=self.status.group_id,
            client_id=f"lambda-esm-{self.esm.uuid[:8]}",
            security_protocol="SASL_SSL",
            sasl_mechanism="OAUTHBEARER",
            sasl_oauth_token_provider=RoleTokenProvider(
                region, lambda: self.role_credentials(role)
            ),
            ssl_cafile=str(self.access.ca_file),
            enable_auto_commit=False,
            auto_offset_reset="earliest"
            if self.esm.starting_position == "TRIM_HORIZON"
            else "latest",
            max_poll_records=int(self.esm.batch_size or 100),
            fetch_max_wait_ms=int(
                1000 * (self.esm.max_batch_window or DEFAULT_BATCHING_WINDOW_MS / 1000)
            ),
        )

    def _assign(self, consumer: KafkaConsumer) -> list[TopicPartition]:
        partitions = consumer.partitions_for_topic(self.status.topic) or set()
        assigned = [TopicPartition(self.status.topic, p) for p in sorted(partitions)]
        if assigned and set(assigned) != set(consumer.assignment()):
            consumer.assign(assigned)
            for tp in assigned:
                key = f"{tp.topic}-{tp.partition}"
                self.status.start_offsets.setdefault(key, consumer.position(tp))
            # LATEST means "from when the mapping began": fix that position in the group.
            uncommitted = {
                tp: OffsetAndMetadata(consumer.position(tp), "", -1)
                for tp in assigned
                if consumer.committed(tp) is None
            }
            if uncommitted:
                consumer.commit(uncommitted)
        return assigned

    def _run(self) -> None:
        consumer: KafkaConsumer | None = None
        retries = 0
        refreshed = 0.0
        while not self._stop.is_set():
            try:
                if consumer is None:
                    consumer = self._consumer()
                    refreshed = 0.0
                if time.monotonic() - refreshed > PARTITION_REFRESH_SECONDS or not (
                    consumer.assignment()
                ):
                    if not self._assign(consumer):
                        self.status.state = f"waiting for topic {self.status.topic}"
                        self._stop.wait(1.0)
                        continue
                    refreshed = time.monotonic()
                    self.status.state = "polling"
                batch = consumer.poll(timeout_ms=500)
                if not batch:
                    continue
                if self._deliver(consumer, batch, retries):
                    retries = 0
                else:
                    retries += 1
                    self._stop.wait(
                        RETRY_BACKOFF_SECONDS[min(retries, len(RETRY_BACKOFF_SECONDS)) - 1]
                    )
            except Exception as error:  # the broker or the front door went away: reconnect
                self.status.state = "reconnecting"
                self.status.last_error = f"{type(error).__name__}: {error}"
                log.warning("mapping %s: %s", self.esm.uuid, self.status.last_error)
                if consumer is not None:
                    consumer.close(autocommit=False)
                    consumer = None
                self._stop.wait(2.0)
        if consumer is not None:
            consumer.close(autocommit=False)
        self.status.state = "stopped"

    def _deliver(
        self, consumer: KafkaConsumer, batch: dict[TopicPartition, list[Any]], retries: int
    ) -> bool:
        """Invoke with the batch; commit on success, rewind on failure. True when done."""
        event = msk_event(self.esm.event_source_arn, self.access.bootstrap, batch)
        count = sum(len(records) for records in batch.values())
        payload, error = self.invoke(self.esm.function_arn, json.dumps(event).encode())
        self.status.invocations += 1
        limit = self.esm.max_retry_attempts
        if limit in (None, -1) and self._destination():
            # Lambda: infinite retries with an on-failure destination become at most 10.
            limit = DESTINATION_RETRY_LIMIT
        exhausted = error is not None and limit is not None and retries >= int(limit)
        if error is None or exhausted:
            if exhausted:
                self._on_failure(batch, payload, error, retries + 1)
            offsets = {
                tp: OffsetAndMetadata(records[-1].offset + 1, "", -1)
                for tp, records in batch.items()
            }
            consumer.commit(offsets)
            for tp, meta in offsets.items():
                self.status.committed[f"{tp.topic}-{tp.partition}"] = meta.offset
            if error is None:
                self.status.records_delivered += count
                self.status.last_error = None
            return True
        self.status.failed_invocations += 1
        self.status.last_error = f"{error}: {payload[:300].decode('utf-8', 'replace')}"
        for tp, records in batch.items():
            consumer.seek(tp, records[0].offset)  # the same batch again
        return False

    def _destination(self) -> str | None:
        found = ((self.esm.destination_config or {}).get("OnFailure") or {}).get("Destination")
        return str(found) if found else None

    def _on_failure(
        self, batch: dict[TopicPartition, list[Any]], payload: bytes, error: str | None, count: int
    ) -> None:
        destination = self._destination()
        if not destination:
            log.warning("mapping %s: batch dropped after %d attempts", self.esm.uuid, count)
            return
        for tp, records in batch.items():
            record = {
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "functionArn": self.esm.function_arn,
                    "condition": "RetryAttemptsExhausted",
                    "approximateInvokeCount": count,
                },
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    "functionError": error,
                },
                "version": "1.0",
                "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "KafkaBatchInfo": {
                    "batchSize": len(records),
                    "topicPartition": f"{tp.topic}-{tp.partition}",
                    "partition": tp.partition,
                    "startingOffset": records[0].offset,
                    "endingOffset": records[-1].offset,
                    "bootstrapServers": self.access.bootstrap,
                    "eventSourceArn": self.esm.event_source_arn,
                },
            }
            self.deliver(destination, json.dumps(record))


class KafkaEventSources(WorkerSet[EventSourceMapping, PollerStatus]):
    """Keeps one poller running for every enabled MSK event source mapping."""

    def __init__(
        self,
        access: Callable[[str], ClusterAccess | None],
        invoke: Invoke,
        role_credentials: RoleCredentials,
        role_of: Callable[[str], str],
        deliver: Deliver,
    ) -> None:
        super().__init__("event-sources", SYNC_SECONDS, log, "event sources")
        self.access = access
        self.invoke = invoke
        self.role_credentials = role_credentials
        self.role_of = role_of
        self.deliver = deliver

    def wanted(self) -> dict[str, EventSourceMapping]:
        """The enabled mappings: pollers start for new ones, stop for those disabled or deleted."""
        return {esm.uuid: esm for esm in all_mappings() if esm.enabled and esm.topics}

    def worker(self, item: EventSourceMapping) -> _Poller | None:
        access = self.access(item.event_source_arn)
        if access is None:
            return None  # the cluster is not served (yet)
        return _Poller(item, access, self.invoke, self.role_credentials, self.role_of, self.deliver)
