"""Deploy the whole platform onto the local AWS emulator, and take it down again.

    python -m ops.local deploy  [--port 4599]   # make deploy-local
    python -m ops.local plan    [--port 4599]   # make plan LOCAL=1 [STACKS=network,...]
    python -m ops.local apply-plans             # make apply-plans LOCAL=1
    python -m ops.local destroy [--port 4599]   # make destroy-local
    python -m ops.local fire    [--port 4599]   # make fire-schedule

The stacks are the same code as for a real account: the synth runs with
ACME_AWS_ENDPOINT_URL (provider endpoints, S3 state backend and remote-state reads point at
the emulator) and a local state bucket. The emulator keeps everything in memory, so once it
stops nothing is left to clean up.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from emulator import DEFAULT_PORT, EmulatorError, is_healthy, start, stop
from emulator.control import dataplane_status, endpoint_for, fire_rule, running_pid

from .apply_plans import apply_plans
from .graph import StackGraphError
from .stacks import (
    ROOT,
    StackPlan,
    apply_all,
    destroy_all,
    plan_all,
    plan_differences,
    run_python,
    synthesize,
)
from .terraform import TerraformError

STATE_BUCKET = "acme-data-local-terraform-state"
REGION = "us-west-2"


@dataclass(frozen=True)
class LocalTarget:
    port: int
    workdir: Path  # pid file, logs, synthesized stacks and plans of the local deploy

    @property
    def endpoint(self) -> str:
        return endpoint_for("127.0.0.1", self.port)

    @property
    def pid_file(self) -> Path:
        return self.workdir / "emulator.pid"

    @property
    def log_file(self) -> Path:
        return self.workdir / "emulator.log"

    @property
    def outdir(self) -> Path:
        return self.workdir / "cdktf.out"

    @property
    def synth_environ(self) -> dict[str, str]:
        return {
            "ACME_AWS_ENDPOINT_URL": self.endpoint,
            "ACME_STATE_BACKEND": "s3",
            "ACME_STATE_BUCKET": STATE_BUCKET,
            "ACME_STATE_REGION": REGION,
        }


# The repository the local bootstrap's OIDC roles trust: a placeholder, as no GitHub token
# ever reaches the emulator.
LOCAL_GITHUB_REPOSITORY = "acme/telemetry-platform"


def bootstrap(target: LocalTarget) -> None:
    """``make bootstrap`` against the emulator: the state bucket and roles, as on AWS."""
    run_python(
        [
            "-m",
            "ops.bootstrap",
            "--github-repository",
            LOCAL_GITHUB_REPOSITORY,
            "--workdir",
            str(target.workdir / "bootstrap"),
        ],
        target.synth_environ,
        "bootstrap",
    )
    print("== bootstrap: state bucket, OIDC provider and roles", flush=True)


def check_second_plan(plans: list[StackPlan]) -> None:
    """After an apply, a new plan must be empty: a diff means the stacks fight themselves."""
    changes = plan_differences(plans)
    if changes:
        raise TerraformError("the second plan is not empty:\n  " + "\n  ".join(changes))
    print("== second plan: no changes")


def deploy(target: LocalTarget) -> None:
    # The synth needs no emulator: it runs while the emulator starts.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="synth") as pool:
        synth = pool.submit(synthesize, target.outdir, target.synth_environ)
        print("== synth", flush=True)
        emulator = start(
            port=target.port,
            pid_file=target.pid_file,
            log_file=target.log_file,
            workdir=target.workdir / "dataplane",
        )
        print(f"== emulator at {emulator.endpoint} (pid {emulator.pid}, log {target.log_file})")
        try:
            bootstrap(target)
            synth.result()
        except BaseException:
            stop(target.pid_file)
            raise
    try:
        outputs, second_plans = apply_all(target.outdir, target.workdir / "plan")
        for stack, values in outputs.items():
            print(f"\n-- {stack} outputs")
            for name, value in values.items():
                print(f"   {name} = {json.dumps(value)}")
        (target.workdir / "outputs.json").write_text(json.dumps(outputs, indent=2))
        check_second_plan(second_plans)
        print_what_runs(target)
    except BaseException:
        stop(target.pid_file)
        print(
            f"deploy-local failed; emulator stopped (its log: {target.log_file})", file=sys.stderr
        )
        raise


def print_what_runs(target: LocalTarget) -> None:
    """Where the deployed platform runs on this machine, and how to make it produce now."""
    status = dataplane_status(target.endpoint)
    print("\n-- what runs where")
    print(f"   AWS APIs (moto + data plane)  {target.endpoint}  (log {target.log_file})")
    for broker in status["brokers"]:
        print(
            f"   MSK front door (TLS, IAM)     {broker['front_door']}  -> tansu "
            f"{broker['broker']} (pid {broker['broker_pid']})"
        )
    print(f"   local CA (workers trust it)   {status['ca_certificate']}")
    for api in status["apis"]:
        print(f"   API Gateway {api['protocol']:<10}      {api['endpoint']}  ({api['api_id']})")
    for stream in status["delivery_streams"]:
        print(f"   Firehose                      {stream['topic']} -> S3 ({stream['name']})")
    for mapping in status["event_source_mappings"]:
        print(
            f"   event source mapping          {mapping['topic']} -> "
            f"{mapping['function_arn'].rsplit(':', 1)[-1]} (group {mapping['group_id']})"
        )
    for schedule in status["schedules"]:
        print(f"   schedule                      {schedule['rule']}  {schedule['expression']}")
    print(
        "   Lambda functions run in workers of their own (build/lambda-runtime); logs in "
        f"CloudWatch Logs: aws --endpoint-url {target.endpoint} logs tail /aws/lambda/<name>"
    )
    outputs = json.loads((target.workdir / "outputs.json").read_text())
    port = f" LOCAL_PORT={target.port}" if target.port != DEFAULT_PORT else ""
    print(f"\n   open the live dashboard:  {outputs['dashboard']['dashboard_url']}")
    print(f"   fire the schedules now:   make fire-schedule{port}")
    print(f"   run a saved query:        make query{port} NAME=events-by-type")
    if outputs["dashboard"].get("dashboard_user_pool_id"):
        print(f"   create a dashboard user:  make dashboard-user{port} USERNAME=alice")


def create_dashboard_user(cognito: Any, pool_id: str, username: str, password: str) -> None:
    """A dashboard viewer as the platform team makes one (the pool has no self sign-up):
    AdminCreateUser without an invitation, then a permanent password, so the user signs in
    at once (no first-sign-in password change, which the page does not offer)."""
    cognito.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username=username, Password=password, Permanent=True
    )


def user(target: LocalTarget, username: str) -> None:
    """Create a dashboard user on the local platform; the password comes from
    $DASHBOARD_PASSWORD, else it is asked for."""
    outputs = json.loads((target.workdir / "outputs.json").read_text())
    pool_id = outputs["dashboard"]["dashboard_user_pool_id"]
    password = os.environ.get("DASHBOARD_PASSWORD") or getpass.getpass(f"password for {username}: ")
    cognito = boto3.client(
        "cognito-idp",
        endpoint_url=target.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    create_dashboard_user(cognito, pool_id, username, password)
    print(f"created dashboard user {username!r} in {pool_id}: sign in on the dashboard page")


def fire(target: LocalTarget) -> None:
    """Fire every scheduled rule of the local platform now."""
    schedules = dataplane_status(target.endpoint)["schedules"]
    if not schedules:
        raise EmulatorError(f"no scheduled rule is deployed on {target.endpoint}")
    for schedule in schedules:
        fired = fire_rule(target.endpoint, schedule["arn"])
        print(f"fired {schedule['rule']}: {fired['targets']} target(s) invoked")


def plan(target: LocalTarget, only: Sequence[str] | None = None) -> None:
    if not is_healthy(target.endpoint):
        raise EmulatorError(f"no emulator answers on {target.endpoint}: run make deploy-local")
    synthesize(target.outdir, target.synth_environ)
    plan_all(target.outdir, target.workdir / "plan", only)


def apply_saved_plans(target: LocalTarget) -> None:
    """``make apply-plans LOCAL=1``: the plans ``make plan LOCAL=1`` saved, as CI applies."""
    if not is_healthy(target.endpoint):
        raise EmulatorError(f"no emulator answers on {target.endpoint}: run make deploy-local")
    applied = apply_plans(target.outdir, target.workdir / "plan")
    print(f"applied: {', '.join(applied) or 'nothing (no plan had changes)'}")


def destroy(target: LocalTarget) -> None:
    if running_pid(target.pid_file) is not None and is_healthy(target.endpoint):
        try:
            destroy_all(target.outdir)
        finally:
            stop(target.pid_file)
    else:
        stop(target.pid_file)
        print("no emulator was running: nothing deployed is left (it keeps state in memory)")
    print("== local platform destroyed, emulator stopped")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The platform on the local AWS emulator")
    parser.add_argument(
        "command", choices=("deploy", "plan", "apply-plans", "destroy", "fire", "user")
    )
    parser.add_argument("--stacks", default="", help="plan: comma-separated stacks (default all)")
    parser.add_argument("--username", default="viewer", help="user: the name to create")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--workdir", type=Path, default=ROOT / ".local")
    args = parser.parse_args(argv)
    target = LocalTarget(port=args.port, workdir=args.workdir.resolve())
    target.workdir.mkdir(parents=True, exist_ok=True)
    try:
        if args.command == "user":
            user(target, args.username)
        elif args.command == "plan":
            plan(target, [name for name in args.stacks.split(",") if name] or None)
        elif args.command == "apply-plans":
            apply_saved_plans(target)
        else:
            {"deploy": deploy, "destroy": destroy, "fire": fire}[args.command](target)
    except (TerraformError, EmulatorError, StackGraphError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
