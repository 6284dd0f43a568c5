"""A function's output reaches its log group in the emulator, readable with the AWS SDK."""

from __future__ import annotations

import json
import re
from typing import Any

from emulator.dataplane.lambda_logs import MotoLogsSink, init_report_line, report_line
from tests.support.lambda_workers import ACCOUNT, RuntimeFactory, function_config


def test_report_line_formats() -> None:
    assert report_line("r1", duration_ms=2.404, memory_size_mb=128, max_memory_used_mb=39) == (
        "REPORT RequestId: r1\tDuration: 2.40 ms\tBilled Duration: 3 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 39 MB\n"
    )
    # Since August 2025 the init of a cold start is billed too.
    cold = report_line(
        "r2", duration_ms=3016.78, memory_size_mb=128, max_memory_used_mb=31, init_duration_ms=84.0
    )
    assert "\tBilled Duration: 3101 ms\t" in cold and cold.endswith("\tInit Duration: 84.00 ms\n")
    assert report_line(
        "r3",
        duration_ms=3000.0,
        memory_size_mb=128,
        max_memory_used_mb=31,
        status="error",
        error_type="Runtime.ExitError",
    ).endswith(
        "\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 31 MB\t"
        "Status: error\tError Type: Runtime.ExitError\n"
    )
    assert init_report_line(1236.04, "init", "timeout") == (
        "INIT_REPORT Init Duration: 1236.04 ms\tPhase: init\tStatus: timeout\n"
    )


def test_logs_are_read_back_from_the_moto_server(
    make_runtime: RuntimeFactory, aws_client: Any
) -> None:
    runtime = make_runtime(log_sink=MotoLogsSink())
    fn = function_config(name="logged")
    first = runtime.invoke(fn, json.dumps({"action": "print", "lines": ["hello"]}).encode())
    second = runtime.invoke(fn, b"{}")
    logs = aws_client("logs")
    group = "/aws/lambda/logged"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1
    assert re.match(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$", streams[0]["logStreamName"])
    events = logs.filter_log_events(logGroupName=group)["events"]
    messages = [event["message"] for event in events]
    assert f"START RequestId: {first.request_id} Version: $LATEST\n" in messages
    assert "hello\n" in messages
    assert f"END RequestId: {second.request_id}\n" in messages
    reports = [m for m in messages if m.startswith("REPORT RequestId: ")]
    assert [m.split("\t")[0] for m in reports] == [
        f"REPORT RequestId: {first.request_id}",
        f"REPORT RequestId: {second.request_id}",
    ]
    timestamps = [event["timestamp"] for event in events]
    assert timestamps == sorted(timestamps)
    # What `aws logs tail --filter-pattern` does: the filter runs in the emulator.
    found = logs.filter_log_events(logGroupName=group, filterPattern='"hello"')["events"]
    assert [event["message"] for event in found] == ["hello\n"]


def test_logs_land_in_the_functions_own_region(
    make_runtime: RuntimeFactory, moto_endpoint: str
) -> None:
    import boto3

    runtime = make_runtime(log_sink=MotoLogsSink())
    arn = f"arn:aws:lambda:us-west-2:{ACCOUNT}:function:oregon"
    runtime.invoke(function_config(name="oregon", function_arn=arn, region="us-west-2"), b"{}")

    def groups(region: str) -> list[str]:
        logs = boto3.client(
            "logs",
            region_name=region,
            endpoint_url=moto_endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        return [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]

    assert "/aws/lambda/oregon" in groups("us-west-2")
    assert "/aws/lambda/oregon" not in groups("eu-west-1")
