r"""The fault suite: break one part of the running local platform at a time, while data flows.

    make deploy-local && make faults             # every fault, a table at the end
    python -m ops.faults --port 4599 --workdir .local [--only broker-crash,producer-crash]

Each fault runs the same way: the generator's schedule is fired (the rule's own target, as
EventBridge fires it) while the fault is on, the fault ends, the schedule is fired once more
(the recovery batch), and the suite waits until the platform is quiet. Then it counts, from
what the platform holds, never from what the suite sent:

* generated: the events the generator logged as handed to the producer;
* in topic: distinct ``event_id`` values new in the telemetry topic (read through the MSK front
  door); duplicates: extra copies of them;
* failure queue: events in the producer's on-failure queue, which ``ops.redrive`` (``make
  redrive``) then publishes again (redriven);
* in lake: distinct events of the fault found in the data bucket (GZIP JSON lines Firehose
  wrote), and their extra copies; counted once at the end, after Firehose's buffer interval;
* lost: generated events neither in the topic nor in the queue, and topic events missing
  from the lake.

It also checks that the consumer's event source mapping committed every partition's end
offset after the fault (it resumed from its committed offsets), and that a dashboard
WebSocket opened before the suite, with a Cognito user's access token as the page uses it,
received the recovery batch without reconnecting.

The faults are the emulator's (``POST /moto-api/acme/faults``, see emulator/README.md): they
act on the processes and services that the deployed platform runs on, never on the suite's
own readers. Exit status: 0 when nothing was lost and every check passed, 1 otherwise, 2 when
no platform is deployed there. ``--json FILE`` writes the rows for tools.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import boto3

from emulator import DEFAULT_PORT, EmulatorError, is_healthy
from emulator.control import dataplane_status, endpoint_for, fire_rule, inject_fault
from emulator.dataplane.credentials import Credentials
from emulator.dataplane.kafka_event_sources import RoleTokenProvider

from .local import REGION, create_dashboard_user
from .redrive import Target, queued_payloads
from .stacks import ROOT

STATIC: Final = Credentials("testing", "testing")  # the emulator's root identity
SUITE_USER: Final = "fault-suite"
# The broker stays down long enough for the producer's three attempts (its timeout each,
# Lambda's retry delays scaled down by the emulator) to end in the failure queue.
OUTAGE_LIMIT_SECONDS: Final = 300
QUIET_TIMEOUT_SECONDS: Final = 180
# Long enough for the batch fired at its start to reach the consumer (and its retries) inside.
SERVICE_FAULT_SECONDS: Final = 12
# Two of Firehose's 60 s buffer intervals and its S3 retries.
LAKE_TIMEOUT_SECONDS: Final = 180
REDRIVEN: Final = re.compile(
    r"redriven \d+ invocation\(s\), (?P<events>\d+) event\(s\); left in the queue: (?P<left>\d+)"
)


class SuiteError(RuntimeError):
    """The suite cannot run (no deployed platform, a fault refused)."""


@dataclass
class Row:
    fault: str
    what: str
    generated: int = 0
    in_topic: int = 0
    failure_queue: int = 0
    redriven: int = 0
    in_lake: int = 0
    duplicates_topic: int = 0
    duplicates_lake: int = 0
    lost: int = 0
    consumer_failed_batches: int = 0
    consumer_resumed: bool = False
    dashboard_recovered: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    event_ids: set[str] = field(default_factory=set, repr=False)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.consumer_resumed and self.dashboard_recovered


# --- what the platform holds -----------------------------------------------------------------


class Topic:
    """Every record of the telemetry topic, read on from where the last read stopped."""

    def __init__(self, bootstrap: str, topic: str, ca_file: str) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            security_protocol="SASL_SSL",
            sasl_mechanism="OAUTHBEARER",
            sasl_oauth_token_provider=RoleTokenProvider(REGION, lambda: STATIC),
            ssl_cafile=ca_file,
            enable_auto_commit=False,
            group_id=None,
            request_timeout_ms=30_000,
        )
        partitions = self._consumer.partitions_for_topic(topic) or set()
        self.partitions = [TopicPartition(topic, p) for p in sorted(partitions)]
        self._consumer.assign(self.partitions)
        self._consumer.seek_to_beginning(*self.partitions)
        self.counts: Counter[str] = Counter()

    def positions(self) -> dict[str, int]:
        """The next offset to read in every partition: after :meth:`read`, each one's end."""
        return {f"{tp.topic}-{tp.partition}": self._consumer.position(tp) for tp in self.partitions}

    def read(self, idle_seconds: float = 2.0, timeout: float = 120) -> Counter[str]:
        """Reads on until the topic has nothing more for ``idle_seconds``; answers every
        event_id's copies. (Not up to ListOffsets' end: tansu answers the base offset of the
        last batch + 1 there, short of the real end.)"""
        deadline = time.monotonic() + timeout
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < idle_seconds:
            if time.monotonic() > deadline:
                raise SuiteError(f"the topic did not stop growing within {timeout:.0f} s")
            batches = self._consumer.poll(timeout_ms=500)
            if batches:
                idle_since = time.monotonic()
            for records in batches.values():
                for record in records:
                    self.counts[json.loads(record.value)["event_id"]] += 1
        return self.counts

    def close(self) -> None:
        self._consumer.close()


class Lake:
    """Every event_id Firehose wrote under the data prefix, with its copies."""

    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self.s3, self.bucket, self.prefix = s3, bucket, prefix
        self._read: set[str] = set()
        self.counts: Counter[str] = Counter()

    def read(self) -> Counter[str]:
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        ):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key in self._read:
                    continue
                body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                for line in gzip.decompress(body).splitlines():
                    if line.strip():
                        self.counts[json.loads(line)["event_id"]] += 1
                self._read.add(key)
        return self.counts


class Dashboard:
    """A dashboard WebSocket, open for the whole suite, as the page keeps one open."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self._socket = connect(url, open_timeout=30, max_size=2**22)
        self.received: list[float] = []  # monotonic arrival times of telemetry messages
        self.closed: str | None = None
        self._thread = threading.Thread(target=self._listen, name="dashboard", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            for message in self._socket:
                if json.loads(message).get("type") == "telemetry":
                    self.received.append(time.monotonic())
        except ConnectionClosed as closed:
            self.closed = f"closed: {closed}"
        else:
            self.closed = "closed"

    def received_since(self, moment: float) -> bool:
        return self.closed is None and any(t >= moment for t in self.received)

    def close(self) -> None:
        self._socket.close()
        self._thread.join(timeout=5)


# --- the suite --------------------------------------------------------------------------------


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        time.sleep(interval)
    raise SuiteError(f"not within {timeout:.0f} s: {what}")


class Suite:
    def __init__(self, endpoint: str, outputs_file: Path, out: Any) -> None:
        self.endpoint = endpoint
        self.outputs_file = outputs_file
        self.outputs: dict[str, dict[str, Any]] = json.loads(outputs_file.read_text())
        outputs = self.outputs
        self.out = out
        session = boto3.session.Session(
            aws_access_key_id=STATIC.access_key_id,
            aws_secret_access_key=STATIC.secret_access_key,
            region_name=REGION,
        )
        self.client: Callable[[str], Any] = lambda service: session.client(
            service, endpoint_url=endpoint
        )
        data_gen = outputs["data-gen"]
        self.generator = data_gen["generator_function_name"]
        self.producer = data_gen["producer_function_name"]
        self.failures = Target(data_gen["producer_failure_queue_url"], self.producer)
        self.connections_table = outputs["dashboard"]["connections_table_name"]
        status = dataplane_status(endpoint)
        if not status["schedules"]:
            raise SuiteError(f"no generator schedule runs on {endpoint}: make deploy-local")
        self.schedule = status["schedules"][0]["arn"]
        self.topic = Topic(
            outputs["msk"]["bootstrap_brokers_sasl_iam"],
            outputs["msk"]["topic_name"],
            status["ca_certificate"],
        )
        lake = outputs["data-lake"]
        self.lake = Lake(self.client("s3"), lake["data_bucket_name"], lake["data_prefix"])
        self.dashboard = Dashboard(self._dashboard_url())
        self.logs_read: dict[str, int] = {}

    def _dashboard_url(self) -> str:
        dashboard = self.outputs["dashboard"]
        url: str = dashboard["websocket_url"]
        if not dashboard.get("dashboard_user_pool_id"):
            return url  # access "public"
        cognito = self.client("cognito-idp")
        password = f"Fault-{secrets.token_urlsafe(12)}-1a"
        pool = dashboard["dashboard_user_pool_id"]
        username = f"{SUITE_USER}-{uuid.uuid4().hex[:6]}"
        create_dashboard_user(cognito, pool, username, password)
        tokens = cognito.initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH",
            ClientId=dashboard["dashboard_user_pool_client_id"],
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )["AuthenticationResult"]
        return f"{url}?token={tokens['AccessToken']}"

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # --- actions

    def fault(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return inject_fault(self.endpoint, body)
        except EmulatorError as error:
            raise SuiteError(f"fault {body}: {error}") from None

    def fire(self) -> None:
        fire_rule(self.endpoint, self.schedule)

    def busy(self, function: str) -> bool:
        return any(
            f["busy"] and f["function_arn"].endswith(f":function:{function}")
            for f in dataplane_status(self.endpoint)["functions"]
        )

    def generated(self) -> int:
        """Events the generator handed to the producer, from its log lines."""
        logs = self.client("logs")
        total = 0
        kwargs: dict[str, Any] = {"logGroupName": f"/aws/lambda/{self.generator}"}
        while True:
            page = logs.filter_log_events(**kwargs)
            for event in page.get("events", []):
                try:
                    entry = json.loads(event["message"])
                except ValueError:
                    continue
                if isinstance(entry, dict) and entry.get("message") == (
                    "events handed to the producer"
                ):
                    total += int(entry["generated"])
            if not page.get("nextToken"):
                return total
            kwargs["nextToken"] = page["nextToken"]

    def queued_events(self) -> set[str]:
        sqs = self.client("sqs")
        return {
            str(event.get("event_id"))
            for payload in queued_payloads(sqs, self.failures)
            for event in payload["events"]
            if isinstance(event, dict)
        }

    def quiet(self) -> None:
        """Nothing in flight: no queued or retried invocation, no function running, twice."""

        def still() -> bool:
            status = dataplane_status(self.endpoint)
            return not status["pending_events"] and not any(f["busy"] for f in status["functions"])

        def twice() -> bool:
            if not still():
                return False
            time.sleep(1.0)
            return still()

        wait_for(twice, QUIET_TIMEOUT_SECONDS, "the platform to be quiet")

    def snapshot(self) -> tuple[int, set[str]]:
        """Events generated so far and the topic's event ids, read while nothing runs (a
        schedule firing between the two reads would count a batch on one side only)."""
        for _ in range(5):
            self.quiet()
            generated = self.generated()
            seen = set(self.topic.read())
            if self.generated() == generated:
                return generated, seen
        raise SuiteError("the generator kept running: no quiet moment to count in")

    def consumer_mapping(self) -> dict[str, Any]:
        mappings = dataplane_status(self.endpoint)["event_source_mappings"]
        if not mappings:
            raise SuiteError("no event source mapping runs the consumer")
        mapping: dict[str, Any] = mappings[0]
        return mapping

    def consumer_caught_up(self) -> bool:
        """The consumer's mapping committed, in every partition, the end the suite read."""
        ends = self.topic.positions()
        committed = self.consumer_mapping()["committed"]
        return all(committed.get(partition, 0) >= end for partition, end in ends.items() if end)

    # --- one fault

    def run(self, name: str, what: str, inject: Callable[[Suite, Row], None]) -> Row:
        row = Row(name, what)
        self.say(f"\n== {name}: {what}")
        started = time.monotonic()
        generated_before, seen_before = self.snapshot()
        failed_before = self.consumer_mapping()["failed_invocations"]
        inject(self, row)
        recovered_at = time.monotonic()
        self.fire()  # the recovery batch: the platform must carry it without help
        self.quiet()
        queued = self.queued_events()
        row.failure_queue = len(queued)
        if queued:
            self.redrive(row)
            self.quiet()
        generated_after, _ = self.snapshot()
        row.generated = generated_after - generated_before
        counts = self.topic.counts
        new = {event_id for event_id in counts if event_id not in seen_before}
        row.event_ids = new
        row.in_topic = len(new)
        row.duplicates_topic = sum(counts[event_id] - 1 for event_id in new)
        remaining = self.queued_events()
        row.lost = max(row.generated - len(new | remaining), 0)
        try:
            wait_for(self.consumer_caught_up, 120, "the consumer to commit the end offsets")
            row.consumer_resumed = True
        except SuiteError as error:
            row.notes.append(str(error))
        row.consumer_failed_batches = self.consumer_mapping()["failed_invocations"] - failed_before
        try:
            wait_for(
                lambda: self.dashboard.received_since(recovered_at),
                60,
                "the dashboard to receive the recovery batch",
            )
            row.dashboard_recovered = True
        except SuiteError as error:
            row.notes.append(f"{error} ({self.dashboard.closed or 'socket open'})")
        row.seconds = round(time.monotonic() - started, 1)
        self.say(
            f"   generated {row.generated}, in topic {row.in_topic} (+{row.duplicates_topic} "
            f"duplicates), failure queue {row.failure_queue}, redriven {row.redriven}, "
            f"lost {row.lost}; {row.seconds:.0f} s"
        )
        return row

    def redrive(self, row: Row) -> None:
        """The documented redrive (``make redrive LOCAL=1`` runs this same command)."""
        command = [sys.executable, "-m", "ops.redrive", "--outputs", str(self.outputs_file)]
        ran = subprocess.run(
            [*command, "--endpoint", self.endpoint],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=960,
        )
        self.say(ran.stdout.rstrip())
        done = REDRIVEN.search(ran.stdout)
        if done is None:
            raise SuiteError(f"the redrive failed ({ran.returncode}): {ran.stderr[-2000:]}")
        row.redriven = int(done["events"])
        if int(done["left"]):
            row.notes.append(f"{done['left']} message(s) left after the redrive")

    def settle_lake(self, rows: list[Row], timeout: float) -> None:
        """Wait until the lake holds every topic event, then count each fault's share."""
        wanted = set().union(*(row.event_ids for row in rows))

        def complete() -> bool:
            return wanted <= set(self.lake.read())

        try:
            wait_for(complete, timeout, "the lake to hold every topic event", interval=2)
        except SuiteError as error:
            self.say(f"   {error}")
        counts = self.lake.read()
        for row in rows:
            in_lake = {event_id for event_id in row.event_ids if counts[event_id]}
            row.in_lake = len(in_lake)
            row.duplicates_lake = sum(counts[event_id] - 1 for event_id in in_lake)
            row.lost += len(row.event_ids) - len(in_lake)

    def close(self) -> None:
        self.dashboard.close()
        self.topic.close()


# --- the faults ---------------------------------------------------------------------------------


def broker_crash(suite: Suite, row: Row) -> None:
    suite.fire()
    try:
        wait_for(lambda: suite.busy(suite.producer), 20, "the producer to run", interval=0.05)
    except SuiteError:
        row.notes.append("the producer had finished before the kill")
    suite.fault({"fault": "broker-kill"})
    time.sleep(10)
    suite.fault({"fault": "broker-restart"})


def broker_outage(suite: Suite, row: Row) -> None:
    suite.fault({"fault": "broker-kill"})
    try:
        suite.fire()
        sqs = suite.client("sqs")

        def queued() -> bool:
            attributes = sqs.get_queue_attributes(
                QueueUrl=suite.failures.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            return int(attributes["ApproximateNumberOfMessages"]) > 0

        started = time.monotonic()
        wait_for(queued, OUTAGE_LIMIT_SECONDS, "the batch to reach the failure queue", 1)
        row.notes.append(f"failure queue after {time.monotonic() - started:.0f} s of outage")
    finally:
        suite.fault({"fault": "broker-restart"})


def producer_crash(suite: Suite, row: Row) -> None:
    suite.fire()
    killed = suite.fault({"fault": "worker-kill", "function": suite.producer, "wait_seconds": 20})
    row.notes.append(f"killed producer worker pid {killed.get('killed')}")


def timed(body: dict[str, Any], seconds: int) -> Callable[[Suite, Row], None]:
    def inject(suite: Suite, row: Row) -> None:
        suite.fault({**body, "seconds": seconds})
        suite.fire()
        time.sleep(seconds)

    return inject


def table_fault(mode: str) -> Callable[[Suite, Row], None]:
    def inject(suite: Suite, row: Row) -> None:
        body = {"fault": "dynamodb", "mode": mode, "table": suite.connections_table}
        timed(body, SERVICE_FAULT_SECONDS)(suite, row)

    return inject


def lake_writes_failing(suite: Suite, row: Row) -> None:
    def failed_writes() -> int:
        streams = dataplane_status(suite.endpoint)["delivery_streams"]
        return sum(int(stream["failed_writes"]) for stream in streams)

    before = failed_writes()
    # Longer than Firehose's buffer interval, so a flush falls inside the fault.
    timed({"fault": "firehose-s3"}, 75)(suite, row)
    row.notes.append(f"{failed_writes() - before} S3 write(s) failed and were retried")


FAULTS: Final[dict[str, tuple[str, Callable[[Suite, Row], None]]]] = {
    "broker-crash": ("the broker killed mid-batch, restarted after 10 s", broker_crash),
    "broker-outage": (
        "the broker down longer than the producer's retries; then the redrive",
        broker_outage,
    ),
    "producer-crash": ("the producer's worker killed mid-invocation", producer_crash),
    "table-throttled": (
        f"the connections table throttling for {SERVICE_FAULT_SECONDS} s",
        table_fault("throttle"),
    ),
    "table-failing": (
        f"the connections table answering 500 for {SERVICE_FAULT_SECONDS} s",
        table_fault("error"),
    ),
    "connections-500": (
        f"the @connections API answering 500 for {SERVICE_FAULT_SECONDS} s",
        timed({"fault": "connections", "status": 500}, SERVICE_FAULT_SECONDS),
    ),
    "lake-writes-failing": ("Firehose's writes to S3 failing for 75 s", lake_writes_failing),
}


# --- the report ---------------------------------------------------------------------------------

COLUMNS: Final = (
    ("fault", "fault"),
    ("generated", "generated"),
    ("in_topic", "in topic"),
    ("failure_queue", "failure queue"),
    ("redriven", "redriven"),
    ("in_lake", "in lake"),
    ("duplicates_topic", "dup topic"),
    ("duplicates_lake", "dup lake"),
    ("lost", "lost"),
    ("consumer_resumed", "consumer resumed"),
    ("dashboard_recovered", "dashboard recovered"),
    ("seconds", "s"),
)


def table(rows: Sequence[Row]) -> str:
    def cell(row: Row, key: str) -> str:
        value = getattr(row, key)
        return ("yes" if value else "NO") if isinstance(value, bool) else str(value)

    header = [label for _, label in COLUMNS]
    body = [[cell(row, key) for key, _ in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(
            text.rjust(w) if i else text.ljust(w)
            for i, (text, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for row in rows:
        for note in row.notes:
            lines.append(f"{row.fault}: {note}")
    return "\n".join(lines)


@contextmanager
def suite_for(endpoint: str, outputs_file: Path, out: Any) -> Iterator[Suite]:
    if not is_healthy(endpoint):
        raise SuiteError(f"no emulator answers on {endpoint}: run make deploy-local first")
    try:
        suite = Suite(endpoint, outputs_file, out)
    except (OSError, ValueError) as error:
        raise SuiteError(f"{outputs_file}: {error}; run make deploy-local first") from None
    try:
        yield suite
    finally:
        suite.close()


def run_suite(endpoint: str, outputs_file: Path, only: Sequence[str], out: Any) -> list[Row]:
    rows: list[Row] = []
    with suite_for(endpoint, outputs_file, out) as suite:
        suite.quiet()
        for name in only:
            what, inject = FAULTS[name]
            try:
                rows.append(suite.run(name, what, inject))
            finally:
                suite.fault({"fault": "clear"})
        suite.say("\n== the lake: waiting for Firehose to write every topic event")
        suite.settle_lake(rows, timeout=LAKE_TIMEOUT_SECONDS)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Break the local platform, count what is lost")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--workdir", type=Path, default=ROOT / ".local")
    parser.add_argument("--only", default="", help=f"comma-separated, of: {', '.join(FAULTS)}")
    parser.add_argument("--json", type=Path, default=None, help="write the rows here too")
    args = parser.parse_args(argv)
    only = [name for name in args.only.split(",") if name] or list(FAULTS)
    unknown = [name for name in only if name not in FAULTS]
    if unknown:
        print(f"error: unknown fault(s) {unknown}; known: {', '.join(FAULTS)}", file=sys.stderr)
        return 2
    endpoint = endpoint_for("127.0.0.1", args.port)
    try:
        rows = run_suite(endpoint, args.workdir.resolve() / "outputs.json", only, sys.stdout)
    except (SuiteError, EmulatorError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print("\n" + table(rows))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        records = [
            {k: v for k, v in asdict(row).items() if k != "event_ids"} | {"ok": row.ok}
            for row in rows
        ]
        args.json.write_text(json.dumps(records, indent=2))
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
