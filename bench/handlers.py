"""Handler figures of issue 8, each measured beside its baseline in the same run.

* producer: events per second through ``producer.lambda_handler`` (warm, as Lambda reuses
  it) against a real tansu broker, beside raw kafka-python with the producer's own
  settings (``producer.producer_config``) sending the same payloads; the two take turns
  payload by payload; every record is read back and counted.
* generator: events per CPU-second of ``generator.generate_events`` (process CPU time, one
  thread), median of several runs.
* consumer fan-out: wall time from an MSK batch of 100 records in ``consumer.process`` to
  the message having reached every connection of a loopback stand-in of the @connections
  API that answers each POST after 30 ms (aiohttp, its own process); above the slice size
  the slices go to ``broadcaster.lambda_handler`` in warm worker processes, one invocation
  each, in parallel, as Lambda would run them.
* cold import: a fresh interpreter importing each handler module from its built zip's
  contents (compiled to bytecode; the time compiling from source is in the note); median
  of several runs.

Run with ``python -m bench handlers`` (``make bench`` builds the zips first).
"""

from __future__ import annotations

import ast
import compileall
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
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
            # As the stacks set it; the metric lines go to stdout like on Lambda.
            "POWERTOOLS_METRICS_NAMESPACE": "AcmeTelemetry",
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
PRODUCER_RUNS = 8  # of PRODUCER_EVENTS a side, the sides taking turns (see producer_figures)
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

    with (
        tansu_broker() as broker,
        handler_environment(BOOTSTRAP_SERVERS=broker, KAFKA_SECURITY_PROTOCOL="PLAINTEXT"),
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

        # The two sides take turns payload by payload (ABBA: raw, ours, ours, raw, ...), so
        # a burst of other load on this shared machine slows both alike; each side's figure
        # is all its events over all its time (runs' own rates swing up to 2x here).
        seconds = {"raw": 0.0, "ours": 0.0}
        cpu = {"raw": 0.0, "ours": 0.0}  # of the calling thread (Kafka's I/O thread aside)
        for run in range(PRODUCER_RUNS):
            for index, payload in enumerate(_payloads(PRODUCER_EVENTS, seed=run + 1)):
                for side in ("raw", "ours") if index % 2 == 0 else ("ours", "raw"):
                    elapsed, thread_started = stopwatch(), time.thread_time()
                    if side == "raw":
                        sent[raw_topic] += _raw_publish(raw, raw_topic, [payload])
                    else:
                        sent[topic] += producer.lambda_handler(payload, context)["published"]
                    seconds[side] += elapsed()
                    cpu[side] += time.thread_time() - thread_started
        events = PRODUCER_RUNS * PRODUCER_EVENTS
        raw.close()
        producer.discard_producer()

        read = {t: len(read_topic(broker, t, expected=n, timeout=60)) for t, n in sent.items()}
    if read != sent:
        raise RuntimeError(f"records lost or duplicated: sent {sent}, read back {read}")
    return [
        Figure(
            "producer throughput",
            events / seconds["ours"],
            "events/s",
            Target("ratio_min", PRODUCER_RATIO_TARGET),
            baseline=events / seconds["raw"],
            baseline_label="raw kafka-python, same settings",
            note=(
                f"{events} events a side in generator-sized payloads, the sides taking turns "
                f"payload by payload (ABBA); tansu broker, {PARTITIONS} partitions; "
                f"CPU per event in the calling thread {cpu['ours'] / events * 1e6:.0f} us "
                f"(raw {cpu['raw'] / events * 1e6:.0f} us); read back: {read}"
            ),
        )
    ]


# ------------------------------------------------------------------------------ generator

GENERATOR_EVENTS = 10_000  # per run
GENERATOR_RUNS = 7  # each side, ABBA order

_GENERATOR_SCRIPT = """
import json, random, sys, time
import generator
from bench import seed_generator

def rate(make, count):
    started = time.process_time()
    make(count)
    return count / (time.process_time() - started)

ours = lambda n: generator.generate_events(n, random.Random(7))
seeds = lambda n: [seed_generator.generate_event() for _ in range(n)]
ours(500), seeds(500)  # warm: the contract is read, the code paths run once
runs = int(sys.argv[1]); count = int(sys.argv[2])
results = {"ours": [], "seeds": []}
for run in range(runs):
    for side in (("ours", "seeds") if run % 2 == 0 else ("seeds", "ours")):
        results[side].append(rate(ours if side == "ours" else seeds, count))
print(json.dumps(results))
"""


def generator_figures() -> list[Figure]:
    """Events per CPU-second in a fresh single-threaded interpreter, beside the seeds' own."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT), str(HANDLERS / "common"), str(HANDLERS / "generator")]
        ),
        "TELEMETRY_CONTRACT_PATH": str(CONTRACT),
        "LOG_LEVEL": "WARNING",
    }
    completed = subprocess.run(
        [sys.executable, "-c", _GENERATOR_SCRIPT, str(GENERATOR_RUNS), str(GENERATOR_EVENTS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    results = json.loads(completed.stdout)
    return [
        Figure(
            "generator events per CPU-second",
            statistics.median(results["ours"]),
            "events/s",
            Target("min", GENERATOR_TARGET),
            baseline=statistics.median(results["seeds"]),
            baseline_label="the seeds' generator",
            note=(
                f"process CPU time of one thread, median of {GENERATOR_RUNS} runs of "
                f"{GENERATOR_EVENTS} events each, ABBA order with the seeds' generate_event; "
                f"best runs {max(results['ours']):,.0f} and {max(results['seeds']):,.0f}"
            ),
        )
    ]


# ------------------------------------------------------------------------------ fan-out

FAN_OUT_RECORDS = 100
FAN_OUT_DELAY_SECONDS = 0.03  # the stand-in API answers each POST after this
FAN_OUT_RUNS = 3
FAN_OUT_TARGETS = {1_000: 1.0, 10_000: 5.0}  # connections -> seconds
BASELINE_WORKERS = 16  # the previous consumer's thread pool


def _broadcaster_worker(connection: Any, environ: dict[str, str], paths: list[str]) -> None:
    """A warm broadcaster Lambda instance: invocations arrive on ``connection``."""
    # On AWS each instance has a CPU share of its own and API Gateway none of ours: here
    # twenty of them on two cores would starve the stand-in API of CPU and time it, not
    # the design. Lower priority keeps the stand-in and the consumer responsive.
    os.nice(5)
    os.environ.update(environ)
    sys.path[:0] = paths
    import broadcaster

    context = _Context()
    while True:
        payload = connection.recv()
        if payload is None:
            return
        try:
            connection.send(broadcaster.lambda_handler(payload, context))
        except Exception as exc:  # reported to the caller, as Lambda's FunctionError is
            connection.send({"error": repr(exc)})


class _BroadcasterPool:
    """Warm broadcaster instances in their own processes, one invocation each at a time."""

    def __init__(self, size: int, callback_url: str) -> None:
        import multiprocessing
        import queue

        context = multiprocessing.get_context("spawn")
        environ = {
            "WEBSOCKET_CALLBACK_URL": callback_url,
            "CONNECTIONS_TABLE": "bench-connections",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": "eu-west-1",
            "LOG_LEVEL": "WARNING",
        }
        paths = [str(HANDLERS / "common"), str(HANDLERS / "broadcaster")]
        self._idle: queue.Queue[Any] = queue.Queue()
        self._processes = []
        for _ in range(size):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_broadcaster_worker, args=(theirs, environ, paths), daemon=True
            )
            process.start()
            self._processes.append((process, ours))
            self._idle.put(ours)

    def invoke(self, payload: dict[str, Any]) -> dict[str, Any]:
        connection = self._idle.get()
        try:
            connection.send(payload)
            answer: dict[str, Any] = connection.recv()
        finally:
            self._idle.put(connection)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def warm(self, message: bytes, per_instance: int) -> None:
        """One invocation per instance, so each has its keep-alive connections open."""
        from concurrent.futures import ThreadPoolExecutor

        import consumer

        slices = [
            [f"warm-{i}-{j}" for j in range(per_instance)] for i in range(len(self._processes))
        ]

        def one(ids: list[str]) -> None:
            self.invoke(consumer.broadcaster_payload(message, ids))

        # Each call holds its instance until it returns: every instance takes one slice.
        with ThreadPoolExecutor(len(slices)) as pool:
            list(pool.map(one, slices))

    def close(self) -> None:
        for _, connection in self._processes:
            with contextlib.suppress(OSError):
                connection.send(None)
        for process, _ in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()


def _previous_design(url: str, message: bytes, connection_ids: list[str]) -> None:
    """The consumer before issue 8: boto3 PostToConnection, 16 threads, one client."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3
    from botocore.config import Config

    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=url,
        config=Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=16),
    )

    def post(connection_id: str) -> None:
        client.post_to_connection(ConnectionId=connection_id, Data=message)

    with ThreadPoolExecutor(BASELINE_WORKERS) as pool:
        list(pool.map(post, connection_ids))


def fan_out_figures() -> list[Figure]:
    from tests.support.events import json_records, msk_event
    from tests.support.services import connections_api, connections_api_stats

    figures = []
    with handler_environment(), connections_api(delay=FAN_OUT_DELAY_SECONDS) as url:
        import consumer
        import generator
        from websocket_posts import MAX_WORKERS, broadcast, poster_for

        batch = generator.generate_events(FAN_OUT_RECORDS, random.Random(8))
        event = msk_event(json_records(batch, topic="acme-telemetry", partitions=3))
        views = [consumer.dashboard_view(e) for e in consumer.decode_batch(event).events]
        message = consumer.build_message(views)
        assert message is not None
        slice_size = consumer.DEFAULT_SLICE_SIZE
        most = max(FAN_OUT_TARGETS)
        pool = _BroadcasterPool(-(-most // slice_size), url)
        try:
            # Warm instances hold open connections, as warm Lambda instances do: one
            # invocation each, and one broadcast by the consumer, of a full thread pool.
            pool.warm(message, per_instance=MAX_WORKERS)
            poster = poster_for(url)
            warm_ids = [f"warm-consumer-{i}" for i in range(MAX_WORKERS)]
            broadcast(poster, warm_ids, message, lambda _: None)

            def post_all(targets: Sequence[str], body: bytes) -> Any:
                return broadcast(poster, targets, body, lambda _: None)

            for connections, target in sorted(FAN_OUT_TARGETS.items()):
                ids = [f"conn-{i:06d}-AbCdEf=" for i in range(connections)]
                seconds = []
                for _ in range(FAN_OUT_RUNS):
                    connections_api_stats(url, reset=True)
                    elapsed = stopwatch()
                    result = consumer.process(
                        event,
                        scan=lambda ids=ids: ids,
                        post_all=post_all,
                        invoke=pool.invoke,
                        slice_size=slice_size,
                    )
                    seconds.append(elapsed())
                    stats = connections_api_stats(url)
                    if (
                        result["delivered"] != connections
                        or stats["connections"] != connections
                        or stats["posts"] != connections
                        or len(stats["bodies"]) != 1
                    ):
                        raise RuntimeError(f"fan-out to {connections}: {result}, {stats}")
                baseline = None
                if connections == min(FAN_OUT_TARGETS):
                    old_message = json.dumps(
                        {
                            "type": "telemetry",
                            "part": 1,
                            "parts": 1,
                            "events": views,
                            "summary": consumer.summarize(views),
                        },
                        separators=(",", ":"),
                    ).encode()
                    elapsed = stopwatch()
                    _previous_design(url, old_message, ids)
                    baseline = elapsed()
                figures.append(
                    Figure(
                        f"consumer fan-out to {connections:,} connections",
                        statistics.median(seconds),
                        "s",
                        Target("max", target),
                        baseline=baseline,
                        baseline_label="previous design: boto3, 16 threads" if baseline else "",
                        note=(
                            f"median of {FAN_OUT_RUNS}: a {FAN_OUT_RECORDS}-record MSK batch "
                            f"through consumer.process to every connection of a stand-in API "
                            f"answering after {FAN_OUT_DELAY_SECONDS * 1000:.0f} ms; "
                            f"{result['broadcasters']} broadcaster invocations of "
                            f"{slice_size} (warm worker processes on this machine's cores); "
                            f"message {len(message)} bytes; DynamoDB scan not included"
                        ),
                    )
                )
        finally:
            pool.close()
    return figures


# ------------------------------------------------------------------------------ cold import

IMPORT_RUNS = 7
IMPORT_TARGET_SECONDS = 0.3

_IMPORT_SCRIPT = """
import importlib, json, sys, time
started = time.perf_counter()
importlib.import_module(sys.argv[1])
imported = time.perf_counter() - started
started = time.perf_counter()
for name in sys.argv[2:]:
    importlib.import_module(name)
print(json.dumps([imported, time.perf_counter() - started]))
"""


def _deferred_imports(folder: Path) -> list[str]:
    """Third-party and common modules the handler's files import inside functions."""
    spec = json.loads((folder / "bundle.json").read_text())
    files = [folder / f"{folder.name}.py", *(HANDLERS / "common" / n for n in spec["common"])]
    found: set[str] = set()
    for path in files:
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if id(node) in top_level:
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
    return sorted(name for name in found if name.split(".")[0] not in sys.stdlib_module_names)


def _built_zip(function: str) -> Path:
    from modules.packaging import PackageSpec, build_package

    spec = PackageSpec(
        handlers_root=HANDLERS,
        function=function,
        build_dir=ROOT / "build" / "lambda",
        contract_path=CONTRACT,
    )
    return build_package(spec).zip_path  # the zip `make packages` built, or built now


def _import_times(
    directory: Path, module: str, deferred: list[str]
) -> tuple[list[float], list[float]]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("TELEMETRY_CONTRACT_PATH", "PYTHONPATH")
    }
    env.update(
        PYTHONPATH=str(directory),
        PYTHONDONTWRITEBYTECODE="1",  # every run as cold as the first: nothing cached
        AWS_REGION="us-west-2",
    )
    imports, firsts = [], []
    for _ in range(IMPORT_RUNS):
        completed = subprocess.run(
            [sys.executable, "-c", _IMPORT_SCRIPT, module, *deferred],
            cwd=directory,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        imported, first_use = json.loads(completed.stdout)
        imports.append(imported)
        firsts.append(first_use)
    return imports, firsts


def cold_import_figures() -> list[Figure]:
    """Import each handler from its zip's contents in fresh interpreters.

    The figure is with the zip's files compiled to bytecode first (as the issue's 613 ms
    was measured, and as the runtime's own boto3 is): the code's own cost. The zips carry
    no bytecode (no python3.13 here to compile it), and /var/task is read-only, so on
    Lambda every cold start also compiles them: the note gives that time too, and what
    the handler imports on first use instead of at import.
    """
    from modules.packaging import discover_functions

    figures = []
    for function in discover_functions(HANDLERS):
        folder = HANDLERS / function
        module = json.loads((folder / "bundle.json").read_text())["handler"].rsplit(".", 1)[0]
        deferred = _deferred_imports(folder)
        with tempfile.TemporaryDirectory(prefix=f"bench-import-{function}-") as tmp:
            directory = Path(tmp)
            with zipfile.ZipFile(_built_zip(function)) as archive:
                archive.extractall(directory)
            source, _ = _import_times(directory, module, [])
            compileall.compile_dir(directory, quiet=1, workers=1)
            compiled, first_use = _import_times(directory, module, deferred)
        later = (
            f"; imported on first use instead: {', '.join(deferred)} "
            f"(+{statistics.median(first_use) * 1000:.0f} ms)"
            if deferred
            else ""
        )
        figures.append(
            Figure(
                f"cold import {function}",
                statistics.median(compiled),
                "s",
                Target("max", IMPORT_TARGET_SECONDS),
                note=(
                    f"median of {IMPORT_RUNS} fresh interpreters importing {module} from the "
                    f"zip's files compiled to bytecode; compiling them too, as Lambda does "
                    f"with these zips: {statistics.median(source) * 1000:.0f} ms{later}"
                ),
            )
        )
    return figures


def run() -> list[Figure]:
    return [
        *producer_figures(),
        *generator_figures(),
        *fan_out_figures(),
        *cold_import_figures(),
    ]
