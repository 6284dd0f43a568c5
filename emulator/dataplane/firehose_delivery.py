"""Firehose streams with an MSK source deliver the topic to S3, as Firehose does.

For every ``MSKAsSource`` delivery stream moto holds (its source kept by
:mod:`emulator.firehose`), a reader thread

* reads the topic through the cluster's front door with the stream's source role (TLS,
  SASL/OAUTHBEARER with that role's MSK IAM token, so its ``kafka-cluster`` grants decide),
  from ``ReadFromTimestamp`` (the epoch: the earliest offset);
* buffers records until the buffering interval has passed since the buffer's first record,
  or the buffer reaches its size hint;
* runs the processors (``AppendDelimiterToRecord``: a newline after each record), compresses
  (``GZIP`` adds ``.gz``), and writes one object to the bucket under the prefix, with its
  ``!{timestamp:...}`` expressions evaluated at the arrival time of the buffer's oldest record
  (UTC), named ``<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid>``;
* moves its read position past the records only once the object is written: a failed write
  (the role may not ``s3:PutObject`` there, the bucket is gone) is logged to the stream's
  CloudWatch Logs stream and retried with back-off, and nothing is lost or written twice
  within the emulator's life. Positions are the reader's own, as Firehose tracks them, not a
  consumer group.

Not emulated: data format conversion, dynamic partitioning, Lambda processors, backups,
``!{firehose:...}`` keys other than ``random-string`` and ``error-output-type`` (records never
fail processing here, so the error prefix is not used).
"""

from __future__ import annotations

import gzip
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from kafka import KafkaConsumer, TopicPartition
from moto.firehose.models import DeliveryStream, firehose_backends
from moto.logs.models import logs_backends
from moto.s3.models import s3_backends

from .credentials import Authorizer, Credentials
from .faults import injected
from .kafka_event_sources import ClusterAccess, RoleTokenProvider
from .workers import WorkerSet, WorkerThread

log = logging.getLogger("emulator.firehose")

SYNC_SECONDS: Final = 1.0
RETRY_BACKOFF_SECONDS: Final = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
PARTITION_REFRESH_SECONDS: Final = 30.0
_TIMESTAMP_EXPRESSION = re.compile(r"!\{timestamp:([^}]*)\}")
_FIREHOSE_EXPRESSION = re.compile(r"!\{firehose:([^}]*)\}")
# Java DateTimeFormatter letters Firehose prefixes use, longest first.
_JAVA_DATE_TOKENS: Final = (
    ("yyyy", "%Y"),
    ("yy", "%y"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("mm", "%M"),
    ("ss", "%S"),
)


class PrefixError(ValueError):
    """A prefix expression this emulator does not evaluate."""


def _java_date(pattern: str, moment: datetime) -> str:
    out, index = "", 0
    while index < len(pattern):
        for token, code in _JAVA_DATE_TOKENS:
            if pattern.startswith(token, index):
                out += moment.strftime(code)
                index += len(token)
                break
        else:
            if pattern[index].isalpha():
                raise PrefixError(f"timestamp pattern {pattern!r}: {pattern[index]!r} unsupported")
            out += pattern[index]
            index += 1
    return out


def evaluate_prefix(prefix: str, moment: datetime, error_output_type: str = "") -> str:
    """A Firehose S3 prefix with its expressions filled in (``moment`` in UTC)."""
    utc = moment.astimezone(UTC)
    result = _TIMESTAMP_EXPRESSION.sub(lambda m: _java_date(m.group(1), utc), prefix)

    def firehose(match: re.Match[str]) -> str:
        key = match.group(1)
        if key == "random-string":
            return secrets.token_hex(6)[:11]
        if key == "error-output-type":
            return error_output_type
        raise PrefixError(f"!{{firehose:{key}}} is not emulated")

    return _FIREHOSE_EXPRESSION.sub(firehose, result)


def object_key(prefix: str, stream: str, version: str, moment: datetime) -> str:
    """Where Firehose puts an object: the prefix, then its own name for the object."""
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%d-%H-%M-%S")
    return f"{evaluate_prefix(prefix, moment)}{stream}-{version}-{stamp}-{uuid.uuid4()}"


@dataclass(frozen=True)
class S3Delivery:
    """The ExtendedS3 destination of a stream, as the reader needs it."""

    bucket_arn: str
    role_arn: str
    prefix: str
    interval_seconds: int
    size_bytes: int
    compression: str
    append_delimiter: bool
    log_group: str | None
    log_stream: str | None

    @classmethod
    def of(cls, stream: DeliveryStream) -> S3Delivery:
        config = stream.destinations[0].get("ExtendedS3") or stream.destinations[0]["S3"]
        hints = config.get("BufferingHints") or {}
        processors = (config.get("ProcessingConfiguration") or {}).get("Processors") or []
        logging_options = config.get("CloudWatchLoggingOptions") or {}
        logging_on = bool(logging_options.get("Enabled"))
        return cls(
            bucket_arn=config["BucketARN"],
            role_arn=config["RoleARN"],
            prefix=config.get("Prefix") or "",
            interval_seconds=int(hints.get("IntervalInSeconds", 300)),
            size_bytes=int(hints.get("SizeInMBs", 5)) * 1024 * 1024,
            compression=config.get("CompressionFormat") or "UNCOMPRESSED",
            append_delimiter=any(p.get("Type") == "AppendDelimiterToRecord" for p in processors)
            and bool((config.get("ProcessingConfiguration") or {}).get("Enabled", True)),
            log_group=logging_options.get("LogGroupName") if logging_on else None,
            log_stream=logging_options.get("LogStreamName") if logging_on else None,
        )

    @property
    def bucket(self) -> str:
        return self.bucket_arn.rsplit(":", 1)[-1]


@dataclass
class StreamStatus:
    name: str
    topic: str
    state: str = "starting"
    records_delivered: int = 0
    objects: list[str] = field(default_factory=list)
    failed_writes: int = 0
    last_error: str | None = None


@dataclass
class _Buffer:
    records: list[bytes] = field(default_factory=list)
    size: int = 0
    first_arrival: datetime | None = None
    opened: float = 0.0
    # The position after the buffer's last record, per partition.
    positions: dict[TopicPartition, int] = field(default_factory=dict)


class _Reader(WorkerThread):
    def __init__(
        self,
        account: str,
        region: str,
        stream: DeliveryStream,
        source: dict[str, Any],
        access: ClusterAccess,
        credentials: Callable[[str], Credentials],
        authorizer: Authorizer,
    ) -> None:
        self.account = account
        self.region = region
        self.name = stream.delivery_stream_name
        self.version = str(stream.version_id)
        self.source = source
        self.access = access
        self.credentials = credentials
        self.authorizer = authorizer
        self.destination = S3Delivery.of(stream)
        self.status = StreamStatus(self.name, source["TopicName"])
        super().__init__(f"firehose-{self.name}")

    # --- reading ---

    def _consumer(self) -> KafkaConsumer:
        role = self.source["AuthenticationConfiguration"]["RoleARN"]
        return KafkaConsumer(
            bootstrap_servers=self.access.bootstrap,
            client_id=f"firehose-{self.name}",
            group_id=None,  # Firehose tracks its own positions
            security_protocol="SASL_SSL",
            sasl_mechanism="OAUTHBEARER",
            sasl_oauth_token_provider=RoleTokenProvider(
                self.region, lambda: self.credentials(role)
            ),
            ssl_cafile=str(self.access.ca_file),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )

    def _start_position(self, consumer: KafkaConsumer, partitions: list[TopicPartition]) -> None:
        start = self.source.get("DeliveryStartTimestamp")
        epoch_ms = _epoch_ms(start)
        if epoch_ms <= 0:
            consumer.seek_to_beginning(*partitions)
            return
        found = consumer.offsets_for_times({tp: epoch_ms for tp in partitions})
        for tp in partitions:
            at = found.get(tp)
            if at is None:
                consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, at.offset)

    def _run(self) -> None:
        consumer: KafkaConsumer | None = None
        buffer = _Buffer()
        committed: dict[TopicPartition, int] = {}  # delivered up to here (exclusive)
        refreshed = 0.0
        failures = 0
        while not self._stop.is_set():
            try:
                if consumer is None:
                    consumer = self._consumer()
                    refreshed = 0.0
                if time.monotonic() - refreshed > PARTITION_REFRESH_SECONDS:
                    topic = self.status.topic
                    found = consumer.partitions_for_topic(topic) or set()
                    partitions = [TopicPartition(topic, p) for p in sorted(found)]
                    if not partitions:
                        self.status.state = f"waiting for topic {topic}"
                        self._stop.wait(1.0)
                        continue
                    if set(partitions) != set(consumer.assignment()):
                        consumer.assign(partitions)
                        fresh = [tp for tp in partitions if tp not in committed]
                        if fresh:
                            self._start_position(consumer, fresh)
                        for tp in partitions:
                            if tp in committed:
                                consumer.seek(tp, committed[tp])
                    refreshed = time.monotonic()
                    self.status.state = "delivering"
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        self._add(buffer, record)
                if buffer.records and self._due(buffer):
                    if self._flush(buffer):
                        committed.update(buffer.positions)
                        buffer = _Buffer()
                        failures = 0
                    else:
                        failures += 1
                        self._stop.wait(RETRY_BACKOFF_SECONDS[min(failures, 6) - 1])
            except Exception as error:  # the broker or the front door went away: reconnect
                self.status.state = "reconnecting"
                self.status.last_error = f"{type(error).__name__}: {error}"
                log.warning("stream %s: %s", self.name, self.status.last_error)
                if consumer is not None:
                    consumer.close(autocommit=False)
                    consumer = None
                buffer = _Buffer()  # re-read from the delivered positions
                self._stop.wait(2.0)
        if consumer is not None:
            consumer.close(autocommit=False)
        self.status.state = "stopped"

    def _add(self, buffer: _Buffer, record: Any) -> None:
        data = bytes(record.value or b"")
        if self.destination.append_delimiter:
            data += b"\n"
        if not buffer.records:
            buffer.first_arrival = datetime.now(UTC)
            buffer.opened = time.monotonic()
        buffer.records.append(data)
        buffer.size += len(data)
        buffer.positions[TopicPartition(record.topic, record.partition)] = record.offset + 1

    def _due(self, buffer: _Buffer) -> bool:
        waited = time.monotonic() - buffer.opened
        return buffer.size >= self.destination.size_bytes or waited >= (
            self.destination.interval_seconds
        )

    # --- writing ---

    def _flush(self, buffer: _Buffer) -> bool:
        destination = self.destination
        moment = buffer.first_arrival or datetime.now(UTC)
        body = b"".join(buffer.records)
        key = object_key(destination.prefix, self.name, self.version, moment)
        if destination.compression == "GZIP":
            body, key = gzip.compress(body, mtime=0), key + ".gz"
        elif destination.compression != "UNCOMPRESSED":
            return self._failed(f"compression {destination.compression} is not emulated")
        principal = self.credentials(destination.role_arn).principal_arn
        object_arn = f"arn:aws:s3:::{destination.bucket}/{key}"
        if not self.authorizer.is_allowed(principal, "s3:PutObject", object_arn):
            return self._failed(f"S3.AccessDenied: {destination.role_arn} may not write {key}")
        if injected.firehose_s3_failing():  # the fault suite's: S3 answers 500
            return self._failed(f"S3 write to {destination.bucket}/{key} failed: InternalError")
        try:
            s3_backends[self.account]["aws"].put_object(destination.bucket, key, body)
        except Exception as error:
            return self._failed(f"S3 write to {destination.bucket}/{key} failed: {error}")
        self.status.records_delivered += len(buffer.records)
        self.status.objects.append(key)
        self.status.last_error = None
        return True

    def _failed(self, message: str) -> bool:
        self.status.failed_writes += 1
        self.status.last_error = message
        log.warning("stream %s: %s", self.name, message)
        destination = self.destination
        if destination.log_group and destination.log_stream:
            try:
                logs_backends[self.account][self.region].put_log_events(
                    destination.log_group,
                    destination.log_stream,
                    [{"timestamp": int(time.time() * 1000), "message": message}],
                )
            except Exception as error:  # no log group: the message stays in ours
                log.debug("stream %s: cannot log to CloudWatch: %s", self.name, error)
        return False


def _epoch_ms(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, int | float):
        return int(value * 1000)
    text = str(value)
    try:
        return int(float(text) * 1000)
    except ValueError:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


_MskStream = tuple[str, str, DeliveryStream, dict[str, Any]]


def msk_streams() -> list[_MskStream]:
    """(account, region, stream, MSK source description) of every MSK-sourced stream."""
    found = []
    for account in list(firehose_backends.keys()):
        for region in list(firehose_backends[account].keys()):
            backend = firehose_backends[account][region]
            sources = backend.__dict__.get("emulator_msk_sources", {})
            for name, stream in list(backend.delivery_streams.items()):
                if name in sources and stream.delivery_stream_status == "ACTIVE":
                    found.append((account, region, stream, sources[name]))
    return found


class FirehoseDelivery(WorkerSet[_MskStream, StreamStatus]):
    """Keeps one reader running for every MSK-sourced delivery stream."""

    def __init__(
        self,
        access: Callable[[str], ClusterAccess | None],
        credentials: Callable[[str], Credentials],
        authorizer: Authorizer,
    ) -> None:
        super().__init__("firehose", SYNC_SECONDS, log, "firehose")
        self.access = access
        self.credentials = credentials
        self.authorizer = authorizer

    def wanted(self) -> dict[str, _MskStream]:
        return {stream.delivery_stream_arn: item for item in msk_streams() for stream in [item[2]]}

    def worker(self, item: _MskStream) -> _Reader | None:
        account, region, stream, source = item
        access = self.access(source["MSKClusterARN"])
        if access is None:
            return None
        return _Reader(account, region, stream, source, access, self.credentials, self.authorizer)
