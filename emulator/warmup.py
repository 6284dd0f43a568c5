"""Warm the server up as soon as it listens, so a service's first real call answers at once.

Written for moto 5.2.5; :func:`start_in_background` checks the installed version. It patches
nothing: it only calls the server over HTTP, as any client would.

moto does three things on the first request for a service: its dispatcher builds the
service's Flask app (URL map and all) while holding the one lock every request passes
through, the response code loads the botocore service model, and the backend of the account
and region is created (for EC2 the default VPC and its subnets; for IAM, with
``MOTO_IAM_LOAD_MANAGED_POLICIES=true``, about 1,300 AWS managed policies). Measured in
``make deploy-local`` on the 2-core machine: the network stack's first STS and EC2 calls took
0.7-1.3 s; in the dashboard stack the first API Gateway and DynamoDB calls took 2.2-2.7 s and
stalled the ten requests in flight with them for about 1.4 s each.

Right after the server listens, a background thread makes one read-only call (List, Describe
or Get: nothing is created) to every service the platform's stacks call, in each region of
``EMULATOR_WARM_REGIONS`` (comma-separated, default ``us-west-2``, the platform's region;
empty turns the warm-up off). The global services (STS, IAM, S3) are called once. The server
logs one line when the warm-up is done: ``emulator warm-up: done ...``.

Warming creates nothing moto would not have created on the first real call, so what a client
sees afterwards is the same, only sooner. It does not survive ``POST /moto-api/reset``: after
a reset the first call of each service is cold again.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._compat import check_moto_version

__all__ = [
    "DEFAULT_REGIONS",
    "DONE_MARKER",
    "GLOBAL_CALLS",
    "REGIONAL_CALLS",
    "REGIONS_ENV",
    "WarmCall",
    "regions_from_env",
    "start_in_background",
    "warm",
]

REGIONS_ENV = "EMULATOR_WARM_REGIONS"
DEFAULT_REGIONS = ("us-west-2",)
DONE_MARKER = "emulator warm-up: done"


@dataclass(frozen=True)
class WarmCall:
    """One read-only call: boto3 client name, operation (snake case), its parameters."""

    service: str
    operation: str
    params: tuple[tuple[str, Any], ...] = ()


# One call a service the stacks call (the provider's debug log of make deploy-local lists
# them: STS, IAM, S3, EC2, CloudWatch Logs, Kafka, Lambda, Glue, Athena, SQS, EventBridge,
# Firehose, API Gateway v2, DynamoDB), and KMS, which moto's DynamoDB calls itself.
GLOBAL_CALLS = (
    WarmCall("sts", "get_caller_identity"),  # also creates the account's IAM backend
    WarmCall("iam", "list_roles"),
    WarmCall("s3", "list_buckets"),
)
REGIONAL_CALLS = (
    WarmCall("ec2", "describe_availability_zones"),
    WarmCall("ec2", "describe_vpcs"),
    WarmCall("logs", "describe_log_groups"),
    WarmCall("kafka", "list_clusters_v2"),
    WarmCall("lambda", "list_functions"),
    WarmCall("glue", "get_databases"),
    WarmCall("athena", "list_work_groups"),
    WarmCall("sqs", "list_queues"),
    WarmCall("events", "list_rules"),
    WarmCall("firehose", "list_delivery_streams"),
    WarmCall("apigatewayv2", "get_apis"),
    WarmCall("dynamodb", "list_tables"),
    # moto's CreateTable with server-side encryption makes the AWS-managed key in its own
    # KMS backend: set that backend up too (the key itself is left to CreateTable).
    WarmCall("kms", "list_keys"),
)


def regions_from_env(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """The regions to warm: ``EMULATOR_WARM_REGIONS`` if set (empty: none), else the default."""
    value = (os.environ if environ is None else environ).get(REGIONS_ENV)
    if value is None:
        return DEFAULT_REGIONS
    return tuple(dict.fromkeys(r.strip() for r in value.split(",") if r.strip()))


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _wait_until_listening(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def warm(endpoint: str, regions: Sequence[str]) -> list[str]:
    """Make every warm-up call against ``endpoint``; returns the failures (empty when all ok)."""
    import botocore.session
    from botocore.config import Config

    session = botocore.session.get_session()
    config = Config(
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=10,
        read_timeout=120,  # IAM's managed policies take seconds on a busy machine
        user_agent_extra="emulator-warmup",
    )
    # The global services keep one backend a partition: one call, signed for the first region.
    plan = [(regions[0], call) for call in GLOBAL_CALLS] if regions else []
    plan += [(region, call) for region in regions for call in REGIONAL_CALLS]
    failures: list[str] = []
    for region, call in plan:
        try:
            client = session.create_client(
                call.service,
                region_name=region,
                endpoint_url=endpoint,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=config,
            )
            getattr(client, call.operation)(**dict(call.params))
        except Exception as error:  # a failed warm-up call only costs the time it saves
            failures.append(f"{call.service}.{call.operation} in {region}: {error}")
    return failures


def _run(host: str, port: int, regions: tuple[str, ...]) -> None:
    started = time.monotonic()
    if not _wait_until_listening(host, port, timeout=60.0):
        _log(f"emulator warm-up: skipped, nothing listens on {host}:{port}")
        return
    failures = warm(f"http://{host}:{port}", regions)
    for failure in failures:
        _log(f"emulator warm-up: failed: {failure}")
    calls = len(GLOBAL_CALLS) + len(REGIONAL_CALLS) * len(regions)
    _log(
        f"{DONE_MARKER} ({calls - len(failures)} of {calls} calls ok, regions "
        f"{','.join(regions)}) in {time.monotonic() - started:.1f} s"
    )


def start_in_background(
    host: str, port: int, regions: tuple[str, ...] | None = None
) -> threading.Thread | None:
    """Start the warm-up thread (a daemon); None when there is no region to warm."""
    check_moto_version(__name__)
    regions = regions_from_env() if regions is None else regions
    if not regions:
        _log(f"emulator warm-up: off ({REGIONS_ENV} is empty)")
        return None
    thread = threading.Thread(
        target=_run, args=(host, port, regions), name="emulator-warmup", daemon=True
    )
    thread.start()
    return thread
