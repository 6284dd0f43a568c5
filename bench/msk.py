"""Producer throughput through the local MSK front door beside PLAINTEXT straight to tansu.

One tansu, one front door (in this process, as it will run inside the emulator), and the
producer in a worker process with the deployed settings (msk_iam's kafka_client_settings,
the producer handler's producer_config: gzip, acks=all, idempotent, 128 KB batches). Three
paths alternate, three runs each, the median counts:

* PLAINTEXT to a tansu of its own (the baseline: no TLS, no SASL, no relay; the cluster's
  tansu advertises the front door, so a PLAINTEXT client could not stay on it);
* SASL_SSL through the front door, authentication only;
* SASL_SSL through the front door with per-request authorization (moto's policy evaluator).

Run alone with ``python -m bench msk``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

from emulator.dataplane.credentials import Credentials, IamPolicyAuthorizer
from emulator.dataplane.msk import LocalMskCluster, MskClusterSettings, tansu_binary
from emulator.dataplane.supervisor import Supervisor, child_environment
from emulator.dataplane.tls import ensure_local_ca

from .core import Figure, Target

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3
EVENTS = 20_000
# The front door may cost at most half the producer's PLAINTEXT throughput.
RATIO_TARGET = 0.5
# Front door CPU per event: at most a tenth of a core at 10,000 events/s.
CPU_TARGET_US = 10.0
REGION = "eu-west-1"
CLUSTER_ARN = (
    f"arn:aws:kafka:{REGION}:123456789012:cluster/bench/0f0e0d0c-0b0a-0908-0706-050403020100-2"
)
TOPIC = "acme-telemetry"
PRINCIPAL = "arn:aws:sts::123456789012:assumed-role/producer/bench"
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kafka-cluster:*", "Resource": "*"}],
    }
)

# The worker: pre-generates the events, then times send + flush of all of them.
WORKER = textwrap.dedent(
    """
    import json, random, sys, time
    sys.path[:0] = [sys.argv[2] + "/handlers/" + d for d in ("common", "producer", "generator")]
    import generator, producer
    from kafka import KafkaProducer
    from msk_iam import kafka_client_settings
    events = generator.generate_events(int(sys.argv[1]), random.Random(1))
    values = [(e["session_id"].encode(), producer.encode_value(e)) for e in events]
    client = KafkaProducer(**kafka_client_settings(), **producer.producer_config(120_000))
    client.send("acme-telemetry", key=b"warm", value=b"{}").get(30)  # connect, metadata
    started = time.perf_counter()
    futures = [client.send("acme-telemetry", key=k, value=v) for k, v in values]
    client.flush(60)
    for future in futures:
        future.get(0)
    seconds = time.perf_counter() - started
    client.close()
    print(json.dumps({"seconds": seconds, "bytes": sum(len(v) for _, v in values)}))
    """
)


def _produce(bootstrap: str, protocol: str, trust_bundle: Path) -> tuple[float, int]:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(
        {
            "BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_SECURITY_PROTOCOL": protocol,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "ASIABENCH",
            "AWS_SECRET_ACCESS_KEY": "bench-secret",
            "AWS_SESSION_TOKEN": "bench-session",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "SSL_CERT_FILE": str(trust_bundle),
            "TELEMETRY_CONTRACT_PATH": str(ROOT / "contracts" / "telemetry_event.json"),
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(EVENTS), str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench producer failed ({protocol}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), int(result["bytes"])


def _create_topic(address: str) -> None:
    """CreateTopics straight to a broker port (a client's metadata would send it elsewhere)."""
    from kafka.protocol.admin import CreateTopicsRequest

    topic = CreateTopicsRequest.CreatableTopic
    request = CreateTopicsRequest(
        version=5,
        topics=[topic(name=TOPIC, num_partitions=3, replication_factor=1)],
        timeout_ms=10_000,
    )
    request.with_header(correlation_id=1, client_id="bench")
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(bytes(request.encode(header=True, framed=True)))
        size = struct.unpack(">i", sock.recv(4, socket.MSG_WAITALL))[0]
        sock.recv(size, socket.MSG_WAITALL)


@contextlib.contextmanager
def _plain_tansu(supervisor: Supervisor) -> Iterator[str]:
    """A tansu advertising its own PLAINTEXT port: the baseline's broker."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    argv = [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url]
    process = supervisor.spawn(
        "baseline tansu",
        [*argv, "--storage-engine", "memory://tansu/"],
        env=child_environment({}),
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the baseline tansu did not start") from None
                time.sleep(0.02)
        yield f"127.0.0.1:{port}"
    finally:
        supervisor.stop(process, grace=1)


def run() -> list[Figure]:
    credentials = {
        "ASIABENCH": Credentials("ASIABENCH", "bench-secret", "bench-session", PRINCIPAL)
    }
    supervisor = Supervisor()
    rates: dict[str, list[float]] = {"plaintext": [], "front door": [], "authorized": []}
    # CPU this process spends while a worker produces: the front door's (it is otherwise idle).
    cpu: dict[str, list[float]] = {name: [] for name in rates}
    megabytes = 0.0
    try:
        with tempfile.TemporaryDirectory(prefix="bench-msk-") as tmp:
            tls = ensure_local_ca(Path(tmp) / "tls")
            plain = LocalMskCluster(
                MskClusterSettings(cluster_arn=CLUSTER_ARN, tls=tls),
                credentials=credentials.get,
                supervisor=supervisor,
            )
            guarded = LocalMskCluster(
                MskClusterSettings(cluster_arn=CLUSTER_ARN, tls=tls),
                credentials=credentials.get,
                authorizer=IamPolicyAuthorizer(lambda _: [POLICY]),
                supervisor=supervisor,
            )
            with plain, guarded, _plain_tansu(supervisor) as direct:
                for address in (plain.broker_address, guarded.broker_address, direct):
                    _create_topic(address)
                for _ in range(RUNS):
                    for name, bootstrap, protocol in (
                        ("plaintext", direct, "PLAINTEXT"),
                        ("front door", plain.bootstrap_brokers, "SASL_SSL"),
                        ("authorized", guarded.bootstrap_brokers, "SASL_SSL"),
                    ):
                        before = time.process_time()
                        seconds, size = _produce(bootstrap, protocol, tls.trust_bundle)
                        cpu[name].append((time.process_time() - before) / EVENTS * 1e6)
                        rates[name].append(EVENTS / seconds)
                        megabytes = size / 1e6
    finally:
        supervisor.stop_all(grace=1)
    median = {name: statistics.median(values) for name, values in rates.items()}
    runs = "; ".join(f"{name}: {', '.join(f'{r:,.0f}' for r in rs)}" for name, rs in rates.items())
    note = (
        f"{EVENTS:,} telemetry events ({megabytes:.1f} MB of JSON before gzip), deployed "
        f"producer settings; median of {RUNS} runs each, alternating (events/s {runs})"
    )
    return [
        Figure(
            "msk producer via front door",
            median["front door"],
            "events/s",
            Target("ratio_min", RATIO_TARGET),
            baseline=median["plaintext"],
            baseline_label="PLAINTEXT straight to tansu",
            note=note,
        ),
        Figure(
            "msk producer via front door, authorized",
            median["authorized"],
            "events/s",
            Target("ratio_min", RATIO_TARGET),
            baseline=median["plaintext"],
            baseline_label="PLAINTEXT straight to tansu",
            note=note + "; every request checked against an IAM policy",
        ),
        Figure(
            "msk front door CPU per event",
            statistics.median(cpu["front door"]),
            "us",
            Target("max", CPU_TARGET_US),
            note="CPU of the front door's process per produced event (TLS, framing, relay)",
        ),
        Figure(
            "msk front door CPU per event, authorized",
            statistics.median(cpu["authorized"]),
            "us",
            Target("max", CPU_TARGET_US),
            note="as above, plus decoding each Produce and evaluating the IAM policy",
        ),
    ]
