"""A team's workflow on the local platform, with the commands a user runs:

``make bootstrap``, ``make plan`` (saved plans), ``make apply-plans`` (the reviewed plan is
applied; a stale one is refused), then a consumer team reads an output through the
state-reader role while moto enforces IAM, and is denied a state key that is not the
platform's. One emulator of its own, so turning IAM enforcement on disturbs no other test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from emulator import start, stop
from tests.support.local_platform import REGION, free_port, make

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="needs terraform")

BUCKET = "acme-data-local-terraform-state"
CONSUMER = "consumer-team"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    running = start(
        port=port,
        pid_file=tmp_path / "emulator.pid",
        log_file=tmp_path / "emulator.log",
        workdir=tmp_path / "dataplane",
    )
    try:
        yield running.endpoint, tmp_path
    finally:
        stop(tmp_path / "emulator.pid")


def enforce_iam(endpoint: str, on: bool) -> None:
    """moto's access control: from now on every request is checked against IAM (or not)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=b"0" if on else b"inf",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def consumer_reads(endpoint: str, key: dict[str, str], state_key: str, work: Path) -> Any:
    """What a consumer team writes: terraform_remote_state through the state-reader role
    (with the emulator's endpoints). Returns the completed `terraform apply`."""
    work.mkdir(parents=True)
    config = {
        "data": {
            "terraform_remote_state": {
                "platform": {
                    "backend": "s3",
                    "config": {
                        "bucket": BUCKET,
                        "key": state_key,
                        "region": REGION,
                        "assume_role": {"role_arn": key["role_arn"]},
                        "access_key": key["AccessKeyId"],
                        "secret_key": key["SecretAccessKey"],
                        "endpoints": {"s3": endpoint, "sts": endpoint},
                        "use_path_style": True,
                        "skip_credentials_validation": True,
                        "skip_requesting_account_id": True,
                        "skip_metadata_api_check": True,
                    },
                }
            }
        },
        "output": {"vpc_id": {"value": "${data.terraform_remote_state.platform.outputs.vpc_id}"}},
    }
    (work / "main.tf.json").write_text(json.dumps(config))
    environ = {**os.environ, "TF_IN_AUTOMATION": "1"}
    for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-no-color"]):
        done = subprocess.run(
            ["terraform", *args], cwd=work, env=environ, capture_output=True, text=True
        )
        if done.returncode != 0:
            return done
    return done


def test_bootstrap_plan_apply_the_saved_plan_and_read_state_with_the_reader_role(
    emulator: tuple[str, Path],
) -> None:
    endpoint, workdir = emulator
    port = endpoint.rsplit(":", 1)[1]
    local = (f"LOCAL_PORT={port}", f"LOCAL_DIR={workdir}", "LOCAL=1")
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    consumer_arn = iam.create_user(UserName=CONSUMER)["User"]["Arn"]

    # 1. Bootstrap, as `make bootstrap` does it for an account.
    booted = make(
        "bootstrap",
        "GITHUB_REPOSITORY=acme/telemetry-platform",
        f"STATE_READERS={consumer_arn}",
        # Variables on make's command line reach the command's environment.
        f"ACME_AWS_ENDPOINT_URL={endpoint}",
        f"ACME_STATE_BUCKET={BUCKET}",
        f"ACME_STATE_REGION={REGION}",
    )
    assert booted.returncode == 0, booted.stdout[-3000:] + booted.stderr[-3000:]
    assert 'terraform_remote_state" "dashboard"' in booted.stdout
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    # Its own state moved into the bucket it made.
    s3.head_object(Bucket=BUCKET, Key="acme-telemetry/dev/bootstrap.tfstate")
    reader_arn = iam.get_role(RoleName="acme-data-dev-state-reader")["Role"]["Arn"]

    # 2. Two plans of the network stack from the same state: the reviewed one and one
    # that will be stale.
    planned = make("plan", *local, "STACKS=network")
    assert planned.returncode == 0, planned.stdout[-3000:] + planned.stderr[-3000:]
    plan_dir = workdir / "plan"
    assert json.loads((plan_dir / "plans.json").read_text())["stacks"] == ["network"]
    assert "network" in (plan_dir / "summary.md").read_text()
    shutil.copytree(plan_dir, workdir / "reviewed")
    planned = make("plan", *local, "STACKS=network")
    assert planned.returncode == 0, planned.stdout[-3000:] + planned.stderr[-3000:]
    shutil.move(plan_dir, workdir / "stale")
    shutil.copytree(workdir / "reviewed", plan_dir)

    # 3. The reviewed plan applies; then the other one, made before that apply, is refused.
    applied = make("apply-plans", *local)
    assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-3000:]
    assert "applied: network" in applied.stdout
    shutil.rmtree(plan_dir)
    shutil.move(workdir / "stale", plan_dir)
    refused = make("apply-plans", *local)
    assert refused.returncode != 0
    assert "network: refusing its saved plan: the stack's state changed" in refused.stderr
    network_outputs = json.loads(
        subprocess.run(
            ["terraform", "output", "-json"],
            cwd=workdir / "cdktf.out" / "stacks" / "network",
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )

    # 4. A consumer team, with only its own key and IAM enforced, reads through the role.
    iam.put_user_policy(
        UserName=CONSUMER,
        PolicyName="assume-state-reader",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
            }
        ),
    )
    key = {**iam.create_access_key(UserName=CONSUMER)["AccessKey"], "role_arn": reader_arn}
    enforce_iam(endpoint, on=True)
    try:
        read = consumer_reads(
            endpoint, key, "acme-telemetry/dev/network.tfstate", workdir / "consumer-ok"
        )
        denied = consumer_reads(
            endpoint, key, "acme-telemetry/dev/bootstrap.tfstate", workdir / "consumer-denied"
        )
        # Without the role, the consumer's own key reads nothing from the bucket.
        direct = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        with pytest.raises(direct.exceptions.ClientError, match=r"AccessDenied|Forbidden|403"):
            direct.get_object(Bucket=BUCKET, Key="acme-telemetry/dev/network.tfstate")
    finally:
        enforce_iam(endpoint, on=False)
    assert read.returncode == 0, read.stdout[-3000:] + read.stderr[-3000:]
    assert f'vpc_id = "{network_outputs["vpc_id"]["value"]}"' in read.stdout
    assert denied.returncode != 0
    assert "bootstrap.tfstate" in denied.stderr and "403" in denied.stderr
