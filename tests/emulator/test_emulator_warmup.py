"""The warm-up: each service the stacks call is set up once the server listens; nothing is made."""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator import control, warmup

WARM_REGIONS = ("eu-west-1", "us-west-2")


def wait_for_line(log_file: Path, marker: str, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_file.read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            if marker in line:
                return line
        time.sleep(0.2)
    raise AssertionError(f"no {marker!r} in {log_file} after {timeout:.0f} s:\n{text[-3000:]}")


@contextlib.contextmanager
def started(tmp_path: Path, regions: str) -> Iterator[tuple[control.Emulator, Path]]:
    """A server whose warm-up covers ``regions`` (comma-separated), stopped afterwards."""
    pid_file = tmp_path / "emulator.pid"
    log_file = tmp_path / "emulator.log"
    env = {**os.environ, warmup.REGIONS_ENV: regions}
    emulator = control.start(
        port=control.free_port(), pid_file=pid_file, log_file=log_file, env=env
    )
    try:
        yield emulator, log_file
    finally:
        control.stop(pid_file)


@pytest.fixture
def warmed(
    tmp_path: Path, check_stopped: Callable[[int, Path], None]
) -> Iterator[tuple[control.Emulator, Path]]:
    with started(tmp_path, ",".join(WARM_REGIONS)) as (emulator, log_file):
        yield emulator, log_file
    check_stopped(emulator.pid, tmp_path / "emulator.pid")


def client(emulator: control.Emulator, service: str, region: str) -> Any:
    import boto3

    return boto3.client(
        service,
        region_name=region,
        endpoint_url=emulator.endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_regions_from_env() -> None:
    assert warmup.regions_from_env({}) == warmup.DEFAULT_REGIONS == ("us-west-2",)
    assert warmup.regions_from_env({warmup.REGIONS_ENV: ""}) == ()
    assert warmup.regions_from_env({warmup.REGIONS_ENV: " eu-west-1, us-west-2,eu-west-1 "}) == (
        "eu-west-1",
        "us-west-2",
    )


def test_warm_reports_each_failed_call_without_raising() -> None:
    failures = warmup.warm(f"http://127.0.0.1:{control.free_port()}", ["us-west-2"])
    calls = [*warmup.GLOBAL_CALLS, *warmup.REGIONAL_CALLS]
    assert len(failures) == len(calls)
    for failure, call in zip(failures, calls, strict=True):
        assert failure.startswith(f"{call.service}.{call.operation} in us-west-2: "), failure


@pytest.mark.integration
def test_every_platform_service_is_warmed_and_nothing_is_created(
    warmed: tuple[control.Emulator, Path],
) -> None:
    emulator, log_file = warmed
    done = wait_for_line(log_file, warmup.DONE_MARKER)
    calls = len(warmup.GLOBAL_CALLS) + len(warmup.REGIONAL_CALLS) * len(WARM_REGIONS)
    assert re.search(rf"\({calls} of {calls} calls ok, regions eu-west-1,us-west-2\)", done), done
    assert "emulator warm-up: failed" not in log_file.read_text(encoding="utf-8")

    # What a client sees afterwards is what a cold server shows: nothing of anyone's.
    assert client(emulator, "s3", "us-west-2").list_buckets()["Buckets"] == []
    assert client(emulator, "iam", "us-west-2").list_roles()["Roles"] == []
    for region in WARM_REGIONS:
        assert client(emulator, "lambda", region).list_functions()["Functions"] == []
        assert client(emulator, "dynamodb", region).list_tables()["TableNames"] == []
        assert "QueueUrls" not in client(emulator, "sqs", region).list_queues()
        assert client(emulator, "apigatewayv2", region).get_apis()["Items"] == []
        assert client(emulator, "logs", region).describe_log_groups()["logGroups"] == []
        assert client(emulator, "glue", region).get_databases()["DatabaseList"] == []
        assert client(emulator, "kafka", region).list_clusters_v2()["ClusterInfoList"] == []
        streams = client(emulator, "firehose", region).list_delivery_streams()
        assert streams["DeliveryStreamNames"] == []
        assert client(emulator, "kms", region).list_keys()["Keys"] == []
        # moto makes these itself when the backend is created, warm or cold.
        vpcs = client(emulator, "ec2", region).describe_vpcs()["Vpcs"]
        assert [v["IsDefault"] for v in vpcs] == [True]
        groups = client(emulator, "athena", region).list_work_groups()["WorkGroups"]
        assert [g["Name"] for g in groups] == ["primary"]


@pytest.mark.integration
def test_empty_regions_turn_the_warm_up_off(
    tmp_path: Path, check_stopped: Callable[[int, Path], None]
) -> None:
    with started(tmp_path, "") as (emulator, log_file):
        wait_for_line(log_file, "emulator warm-up: off")
        assert client(emulator, "sts", "us-west-2").get_caller_identity()["Account"]
    check_stopped(emulator.pid, tmp_path / "emulator.pid")
    assert warmup.DONE_MARKER not in (tmp_path / "emulator.log").read_text(encoding="utf-8")
