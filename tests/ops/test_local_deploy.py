"""End to end: make deploy-local, an outside team's Terraform, make plan LOCAL=1, destroy.

Real parts only: the extended moto server, terraform apply/plan/destroy of all five stacks
and of examples/remote-state-consumer. About five minutes, mostly provider waits.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make(target: str, *variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", target, *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=1500,
    )


def terraform(workdir: Path, *args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        ["terraform", *args], cwd=workdir, capture_output=True, text=True, check=False, env=env
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_deploy_local_then_outside_consumer_then_plan_then_destroy(tmp_path: Path) -> None:
    port = free_port()
    local_dir = tmp_path / "local"
    variables = (f"LOCAL_PORT={port}", f"LOCAL_DIR={local_dir}")
    try:
        deployed = make("deploy-local", *variables)
        assert deployed.returncode == 0, deployed.stdout[-5000:] + deployed.stderr[-5000:]
        assert "== second plan: no changes" in deployed.stdout
        outputs = json.loads((local_dir / "outputs.json").read_text())
        assert outputs["dashboard"]["websocket_url"].startswith("wss://")
        assert outputs["dashboard"]["dashboard_url"].startswith("https://")
        assert outputs["msk"]["topic_name"] == "acme-telemetry"
        assert len(outputs["network"]["private_subnet_ids"]) == 3
        for stack in ("network", "msk", "data-lake", "data-gen", "dashboard"):
            assert f"-- {stack} outputs" in deployed.stdout

        # Another team's plain Terraform reads the outputs through remote state.
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
        if os.environ.get("TF_PLUGIN_DIR"):
            init_args = ["init", "-input=false", f"-plugin-dir={os.environ['TF_PLUGIN_DIR']}"]
        else:
            init_args = ["init", "-input=false"]
        terraform(example, *init_args, env=env)
        tf_vars = [
            "-var",
            f"aws_endpoint_url=http://127.0.0.1:{port}",
            "-var",
            "state_bucket=acme-data-local-terraform-state",
            "-var",
            "handler_zip=handler.zip",
        ]
        terraform(example, "apply", "-auto-approve", "-input=false", *tf_vars, env=env)
        consumer = json.loads(terraform(example, "output", "-json", env=env))
        assert consumer["platform_vpc_id"]["value"] == outputs["network"]["vpc_id"]
        assert consumer["subscribed_topic"]["value"] == ["acme-telemetry"]
        terraform(example, "destroy", "-auto-approve", "-input=false", *tf_vars, env=env)

        planned = make("plan", "LOCAL=1", *variables)
        assert planned.returncode == 0, planned.stdout[-5000:] + planned.stderr[-5000:]
        summary = (local_dir / "plan" / "summary.md").read_text()
        assert "No resource is replaced or destroyed." in summary
        assert "| dashboard | 0 | 0 | 0 | 0 |" in summary
        for stack in ("network", "msk", "data-lake", "data-gen", "dashboard"):
            assert (local_dir / "plan" / f"{stack}.tfplan").is_file()
            json.loads((local_dir / "plan" / f"{stack}.json").read_text())
    finally:
        destroyed = make("destroy-local", *variables)
    assert destroyed.returncode == 0, destroyed.stdout[-5000:] + destroyed.stderr[-5000:]
    for stack in ("dashboard", "data-gen", "data-lake", "msk", "network"):
        assert f"== destroyed {stack}" in destroyed.stdout
    assert not (local_dir / "emulator.pid").exists()
    # Nothing listens any more, and a new server can bind the port as servers do
    # (SO_REUSEADDR: the closed connections' TIME_WAIT entries may outlive the process).
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on {port}"
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
