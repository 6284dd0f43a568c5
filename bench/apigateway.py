"""@connections POST latency and throughput through the local API gateway, on loopback.

What the consumer does for every batch: boto3 ``apigatewaymanagementapi`` PostToConnection,
signed with a role's temporary credentials, from 16 threads (the consumer's MAX_WORKERS),
each request SigV4-verified and authorized against the role's execute-api grant before the
frame goes out. The API is created in an in-process moto server, and the gateway runs in
this process as it will in the emulator. The client side runs in a process of its own, as
the consumer does: 50 WebSocket clients counting what they receive, and boto3 posting.

* latency: one thread, one connection, sequential 1 KB posts (median and p95);
* throughput: 16 threads spread over the 50 connections, 1 KB posts, timed until every
  client has received every message; the same with the static root key (no IAM evaluation)
  as the baseline;
* the gateway process's CPU per post.

Run alone with ``python -m bench apigateway``.
"""

from __future__ import annotations

import contextlib
import json
import resource
import statistics
import subprocess
import sys
import textwrap
from typing import Any

import boto3

from emulator.dataplane import apigateway_moto
from emulator.dataplane.apigateway import ApiGateway
from emulator.dataplane.credentials import IamPolicyAuthorizer, MotoIdentities

from .core import Figure, Target

REGION = "us-west-2"
STAGE = "live"
CONNECTIONS = 50
THREADS = 16
LATENCY_POSTS = 400
THROUGHPUT_POSTS = 2000
RUNS = 3
MESSAGE = json.dumps({"type": "telemetry", "events": ["x" * 1000]})
LATENCY_P50_TARGET_MS = 20.0  # a POST from Lambda to AWS takes tens of ms
# On the 2 shared cores here the client side (boto3 signing, serializing, urllib3) costs
# about 3.5 ms of CPU a post against the gateway's 1 ms: the client bounds the throughput.
THROUGHPUT_TARGET = 150.0  # posts per second
CPU_PER_POST_TARGET_MS = 2.0

# The client process. Each socket learns its connection id the way API Gateway tells it: a
# message no route takes is answered {"message": "Forbidden", "connectionId": ...}.
CLIENT = textwrap.dedent(
    """
    import json, resource, statistics, sys, threading, time
    from concurrent.futures import ThreadPoolExecutor
    import boto3
    from botocore.config import Config
    from websockets.sync.client import connect

    setup = json.loads(sys.stdin.read())
    sockets = [connect(setup["url"], open_timeout=10) for _ in range(setup["connections"])]
    ids = []
    for ws in sockets:
        ws.send("{}")
        ids.append(json.loads(ws.recv(timeout=10))["connectionId"])
    received = [0] * len(sockets)

    def read(index):
        try:
            for _ in sockets[index]:
                received[index] += 1
        except Exception:
            pass

    for index in range(len(sockets)):
        threading.Thread(target=read, args=(index,), daemon=True).start()

    def wait_for(total):
        deadline = time.monotonic() + 120
        while sum(received) < total:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {sum(received)} of {total} messages arrived")
            time.sleep(0.002)

    def client(credentials):
        session = boto3.session.Session(region_name=setup["region"], **credentials)
        config = Config(retries={"mode": "standard", "max_attempts": 3},
                        max_pool_connections=setup["threads"])
        return session.client("apigatewaymanagementapi", endpoint_url=setup["callback"],
                              config=config)

    message = setup["message"].encode()
    role = client(setup["role"])
    role.post_to_connection(ConnectionId=ids[0], Data=message)
    wait_for(1)
    latencies = []
    for _ in range(setup["latency_posts"]):
        started = time.perf_counter()
        role.post_to_connection(ConnectionId=ids[0], Data=message)
        latencies.append((time.perf_counter() - started) * 1000)
    wait_for(1 + setup["latency_posts"])

    def throughput(poster):
        before = sum(received)
        targets = [ids[n % len(ids)] for n in range(setup["throughput_posts"])]
        started = time.perf_counter()
        with ThreadPoolExecutor(setup["threads"]) as pool:
            list(pool.map(lambda cid: poster.post_to_connection(ConnectionId=cid, Data=message),
                          targets))
        wait_for(before + len(targets))
        return len(targets) / (time.perf_counter() - started)

    def cpu():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    root = client(setup["root"])
    cpu_before = cpu()
    role_rates = [throughput(role) for _ in range(setup["runs"])]
    client_cpu = cpu() - cpu_before
    results = {
        "p50": statistics.median(latencies),
        "p95": statistics.quantiles(latencies, n=20)[18],
        "role": role_rates,
        "root": [throughput(root) for _ in range(setup["runs"])],
        "client_cpu_ms": client_cpu / (setup["runs"] * setup["throughput_posts"]) * 1000,
    }
    for ws in sockets:
        ws.close()
    print(json.dumps(results))
    """
)


def _moto() -> contextlib.AbstractContextManager[str]:
    from emulator.control import threaded_moto_server

    return threaded_moto_server()


def _no_lambda(function_arn: str, payload: bytes) -> tuple[bytes, str | None]:
    raise RuntimeError("the benchmark API has no Lambda integration")


def _consumer_role(iam: Any, api_id: str) -> dict[str, Any]:
    """Temporary credentials of a role granted what the consumer's role is granted."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    grant = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "execute-api:ManageConnections",
                "Resource": f"arn:aws:execute-api:{REGION}:*:{api_id}/{STAGE}/POST/@connections/*",
            }
        ],
    }
    role = iam.create_role(RoleName="bench-consumer", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName="bench-consumer", PolicyName="post", PolicyDocument=json.dumps(grant)
    )
    assumed = MotoIdentities().for_role(role["Role"]["Arn"], "bench")
    return {
        "aws_access_key_id": assumed.access_key_id,
        "aws_secret_access_key": assumed.secret_access_key,
        "aws_session_token": assumed.session_token,
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run() -> list[Figure]:
    with _moto() as moto:
        identities = MotoIdentities()
        gateway = ApiGateway(
            apis=apigateway_moto.MotoApis(),
            invoke=_no_lambda,
            credentials=identities.lookup,
            is_allowed=IamPolicyAuthorizer(identities.policies).is_allowed,
        )
        gateway.start()
        apigateway_moto.install(gateway)
        try:
            root = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
            control = boto3.session.Session(region_name=REGION, **root)
            apigw = control.client("apigatewayv2", endpoint_url=moto)
            api = apigw.create_api(
                Name="bench",
                ProtocolType="WEBSOCKET",
                RouteSelectionExpression="$request.body.action",
            )
            apigw.create_stage(ApiId=api["ApiId"], StageName=STAGE)
            url = f"{api['ApiEndpoint']}/{STAGE}"
            setup = {
                "url": url,
                "callback": url.replace("ws://", "http://", 1),
                "connections": CONNECTIONS,
                "threads": THREADS,
                "region": REGION,
                "message": MESSAGE,
                "latency_posts": LATENCY_POSTS,
                "throughput_posts": THROUGHPUT_POSTS,
                "runs": RUNS,
                "role": _consumer_role(control.client("iam", endpoint_url=moto), api["ApiId"]),
                "root": root,
            }
            cpu_before = _cpu_seconds()
            finished = subprocess.run(
                [sys.executable, "-c", CLIENT],
                input=json.dumps(setup),
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            cpu_s = _cpu_seconds() - cpu_before
        finally:
            apigateway_moto.uninstall()
            gateway.stop()
    if finished.returncode != 0:
        raise RuntimeError(f"the client process failed:\n{finished.stderr[-3000:]}")
    results = json.loads(finished.stdout.strip().splitlines()[-1])
    posts = 1 + LATENCY_POSTS + 2 * RUNS * THROUGHPUT_POSTS
    return [
        Figure(
            "apigateway: @connections POST latency (p50)",
            results["p50"],
            "ms",
            Target("max", LATENCY_P50_TARGET_MS),
            note=f"p95 {results['p95']:.2f} ms; one thread, sequential, role credentials",
        ),
        Figure(
            "apigateway: @connections POST throughput",
            statistics.median(results["role"]),
            "posts/s",
            Target("min", THROUGHPUT_TARGET),
            baseline=statistics.median(results["root"]),
            baseline_label="root key, no IAM evaluation",
            note=f"1 KB posts, {CONNECTIONS} connections, {THREADS} boto3 threads in a "
            f"process of their own, which spent {results['client_cpu_ms']:.2f} ms CPU a post",
        ),
        Figure(
            "apigateway: gateway CPU per POST",
            cpu_s / posts * 1000,
            "ms",
            Target("max", CPU_PER_POST_TARGET_MS),
            note="CPU of this process (the gateway; moto idles) over every post",
        ),
    ]
