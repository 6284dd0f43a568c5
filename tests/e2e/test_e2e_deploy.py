"""make deploy-local end to end: every stack applies and plans empty; its outputs serve an
outside team's Terraform; make plan LOCAL=1 reviews the deployed platform.

Real parts only: the extended moto server, terraform apply/plan of all five stacks and of
examples/remote-state-consumer. The deployment is shared (tests/e2e/conftest.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, STACK_NAMES
from tests.support.local_platform import LocalPlatform, make

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def terraform(workdir: Path, *args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        ["terraform", *args], cwd=workdir, capture_output=True, text=True, check=False, env=env
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_every_stack_applies_prints_its_outputs_and_plans_empty(
    local_platform: LocalPlatform,
) -> None:
    assert "== second plan: no changes" in local_platform.deploy_output
    for stack in STACK_NAMES:
        assert f"-- {stack} outputs" in local_platform.deploy_output
    assert local_platform.output("msk", "topic_name") == "acme-telemetry"
    assert len(local_platform.output("network", "private_subnet_ids")) == 3


def test_an_outside_team_reads_the_outputs_through_remote_state(
    local_platform: LocalPlatform, tmp_path: Path
) -> None:
    example = tmp_path / "consumer"
    shutil.copytree(ROOT / "examples" / "remote-state-consumer", example)
    with zipfile.ZipFile(example / "handler.zip", "w") as archive:
        archive.write(example / "handler" / "handler.py", "handler.py")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "CHECKPOINT_DISABLE": "1",
    }
    init_args = ["init", "-input=false"]
    if os.environ.get("TF_PLUGIN_DIR"):
        init_args.append(f"-plugin-dir={os.environ['TF_PLUGIN_DIR']}")
    terraform(example, *init_args, env=env)
    tf_vars = [
        "-var",
        f"aws_endpoint_url={local_platform.endpoint}",
        "-var",
        "state_bucket=acme-data-local-terraform-state",
        "-var",
        "handler_zip=handler.zip",
        # The bootstrap's reader role, as README tells other teams to read the state.
        "-var",
        "state_reader_role_arn=arn:aws:iam::123456789012:role/acme-data-dev-state-reader",
    ]
    terraform(example, "apply", "-auto-approve", "-input=false", *tf_vars, env=env)
    consumer = json.loads(terraform(example, "output", "-json", env=env))
    assert consumer["platform_vpc_id"]["value"] == local_platform.output("network", "vpc_id")
    assert consumer["subscribed_topic"]["value"] == ["acme-telemetry"]
    terraform(example, "destroy", "-auto-approve", "-input=false", *tf_vars, env=env)


def test_plan_local_reviews_the_deployed_platform(local_platform: LocalPlatform) -> None:
    planned = make("plan", "LOCAL=1", *local_platform.make_variables)
    assert planned.returncode == 0, planned.stdout[-5000:] + planned.stderr[-5000:]
    plan_dir = local_platform.workdir / "plan"
    summary = (plan_dir / "summary.md").read_text()
    assert "No resource is replaced or destroyed." in summary
    assert "| dashboard | 0 | 0 | 0 | 0 |" in summary
    for stack in STACK_NAMES:
        assert (plan_dir / f"{stack}.tfplan").is_file()
        json.loads((plan_dir / f"{stack}.json").read_text())
