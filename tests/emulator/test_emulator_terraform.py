"""Terraform against the extended moto server: apply, empty second plan, destroy.

Uses tests/emulator/tf/msk_stack (MSK configuration, cluster and cluster policy, a
python3.13 Lambda with an MSK event source mapping and an invocation, a Firehose stream
with an MSK source, and what they need). The AWS provider comes from ``TF_PLUGIN_DIR``
when set (``terraform init -plugin-dir=$TF_PLUGIN_DIR``; on these machines
/opt/tf-plugins), otherwise from the registry. Skipped only when terraform is absent.

The provider's debug log is parsed to list the API calls made, and the test fails if any
call got a 5xx answer (what moto gives for an operation it lacks).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from emulator import control
from tests.support.terraform import TERRAFORM, TerraformDir

TF_SOURCE = Path(__file__).resolve().parent / "tf" / "msk_stack"
HANDLER_SOURCE = "def handler(event, context):\n    return event\n"

pytestmark = pytest.mark.integration

_ENTRY_START = re.compile(r"^\d{4}-\d\d-\d\dT")


def api_calls(log_file: Path) -> Counter[tuple[str, str, str, int]]:
    """(resource type, service, operation, HTTP status) of each response in a TF_LOG file."""
    entries: list[str] = []
    for line in log_file.read_text(encoding="utf-8", errors="replace").splitlines():
        if _ENTRY_START.match(line) or not entries:
            entries.append(line)
        else:
            entries[-1] += "\n" + line
    calls: Counter[tuple[str, str, str, int]] = Counter()
    for entry in entries:
        if "HTTP Response Received" not in entry:
            continue
        fields = dict(
            re.findall(
                r"(tf_resource_type|rpc\.service|rpc\.method|http\.status_code)=(\S+)", entry
            )
        )
        calls[
            (
                fields.get("tf_resource_type", "-"),
                fields.get("rpc.service", "-"),
                fields.get("rpc.method", "-"),
                int(fields.get("http.status_code", "0")),
            )
        ] += 1
    return calls


@pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed (not on PATH)")
def test_apply_plan_clean_destroy(
    tmp_path: Path,
    check_stopped: Callable[[int, Path], None],
    record_property: Callable[[str, object], None],
) -> None:
    tf = TerraformDir(tmp_path, TF_SOURCE, handler_source=HANDLER_SOURCE, zip_name="consumer.zip")
    timings = tf.timings

    def terraform(*args: str, ok: tuple[int, ...] = (0,)) -> str:
        return tf.run(*args, ok=ok).stdout

    plugin_dir = os.environ.get("TF_PLUGIN_DIR")
    init_args = ["init"] + ([f"-plugin-dir={plugin_dir}"] if plugin_dir else [])
    try:
        terraform(*init_args)
    except AssertionError as exc:
        hint = (
            "" if plugin_dir else " (TF_PLUGIN_DIR is unset: on these machines use /opt/tf-plugins)"
        )
        raise AssertionError(f"terraform init failed{hint}\n{exc}") from None

    pid_file = tmp_path / "emulator.pid"
    total_started = time.monotonic()
    with control.running(pid_file=pid_file, log_file=tmp_path / "emulator.log") as emulator:
        variables = [f"-var=endpoint={emulator.endpoint}", f"-var=lambda_zip={tf.lambda_zip}"]
        terraform("apply", "-auto-approve", *variables)
        outputs: dict[str, Any] = {
            k: v["value"] for k, v in json.loads(terraform("output", "-json")).items()
        }
        plan = terraform("plan", "-detailed-exitcode", *variables, ok=(0, 1, 2))
        assert "No changes." in plan, f"second plan is not empty:\n{plan[-8000:]}"
        terraform("destroy", "-auto-approve", *variables)
        leftovers = _leftovers(emulator.endpoint)
    timings["apply+plan+destroy"] = round(time.monotonic() - total_started, 1)
    check_stopped(emulator.pid, pid_file)

    for step, seconds in timings.items():
        record_property(f"seconds_{step}", seconds)
    print(f"\nterraform timings (s): {timings}")

    # The data plane's front door serves the IAM listeners, multi-VPC ones included.
    brokers = outputs["msk_bootstrap_brokers_sasl_iam"]
    assert re.fullmatch(r"127\.0\.0\.1:\d+", brokers), brokers
    assert outputs["msk_bootstrap_brokers_vpc_connectivity_sasl_iam"] == brokers
    assert outputs["msk_cluster_arn"].endswith("/" + outputs["msk_cluster_uuid"])
    assert outputs["msk_zookeeper_connect_string"].count(":2181") == 3
    assert json.loads(outputs["invocation_result"]) == {"action": "seed", "topic": "acme-telemetry"}
    assert outputs["esm_state"] == "Enabled"
    assert leftovers == {}, f"destroy left resources in the emulator: {leftovers}"

    calls = api_calls(tf.log)
    failed = sorted(c for c in calls if c[3] >= 500)
    assert not failed, f"calls answered with a server error: {failed}"
    kafka_ops = sorted({(c[1], c[2]) for c in calls if c[1] in ("Kafka", "Firehose", "Lambda")})
    print("Kafka/Lambda/Firehose operations the provider called:", kafka_ops)


def _leftovers(endpoint: str) -> dict[str, list[str]]:
    """What the destroyed configuration would have left in the emulator."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1"
    )

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint)

    found = {
        "clusters": [
            c["ClusterArn"] for c in client("kafka").list_clusters_v2()["ClusterInfoList"]
        ],
        "configurations": [
            c["Arn"] for c in client("kafka").list_configurations()["Configurations"]
        ],
        "event_source_mappings": [
            m["UUID"] for m in client("lambda").list_event_source_mappings()["EventSourceMappings"]
        ],
        "functions": [f["FunctionName"] for f in client("lambda").list_functions()["Functions"]],
        "delivery_streams": client("firehose").list_delivery_streams()["DeliveryStreamNames"],
    }
    return {k: v for k, v in found.items() if v}
