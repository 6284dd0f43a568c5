"""Create what the platform's stacks need before their first deploy (``make bootstrap``).

    python -m ops.bootstrap --github-repository acme/telemetry-platform \\
        [--state-reader-principal arn:aws:iam::111122223333:root ...] \\
        [--existing-oidc-provider-arn arn:aws:iam::...:oidc-provider/token.actions...]

Environment, state bucket and region come from the same variables as the stacks' synth
(ACME_ENV, ACME_STATE_BUCKET, ACME_STATE_REGION; ACME_AWS_ENDPOINT_URL for the emulator).
The first run applies with its state on local disk (the bucket does not exist yet), then
moves that state into the bucket, beside the platform's; later runs use the bucket.
Running it again changes nothing unless its inputs changed.
"""

from __future__ import annotations

import modules  # noqa: F401  # first: loads the provider bindings lazily

# isort: split
import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from cdktf import App

from main import stack_context
from platform_config import PlatformConfig, load_config
from platform_config.model import ConfigError
from stacks.base import EMULATOR_ACCESS_KEY, EMULATOR_SECRET_KEY
from stacks.bootstrap import BootstrapStack, BootstrapStackProps, bootstrap_state_key
from stacks.outputs import ALL_CONTRACTS, BootstrapOutputs

from .terraform import Terraform, TerraformError


@dataclass(frozen=True)
class BootstrapInputs:
    """What only the person bootstrapping knows: the repository and who reads the state."""

    github_repository: str
    state_reader_principals: tuple[str, ...] = ()
    existing_oidc_provider_arn: str | None = None


def _props(
    config: PlatformConfig, inputs: BootstrapInputs, local_state: Path | None
) -> BootstrapStackProps:
    return BootstrapStackProps(
        context=stack_context(config),
        platform_stacks=tuple(contract.stack_name for contract in ALL_CONTRACTS),
        github_repository=inputs.github_repository,
        state_reader_principals=inputs.state_reader_principals,
        existing_oidc_provider_arn=inputs.existing_oidc_provider_arn,
        backend_state_path=None if local_state is None else str(local_state),
    )


def synthesize(props: BootstrapStackProps, outdir: Path) -> Path:
    """The bootstrap stack's Terraform JSON under ``outdir``; returns its directory."""
    app = App(outdir=str(outdir))
    BootstrapStack(app, props)
    app.synth()
    return outdir / "stacks" / BootstrapOutputs.stack_name


def _s3_client(config: PlatformConfig) -> Any:
    endpoint = config.emulator.endpoint_url
    if endpoint:
        return boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=config.state.region,
            aws_access_key_id=EMULATOR_ACCESS_KEY,
            aws_secret_access_key=EMULATOR_SECRET_KEY,
        )
    return boto3.client("s3", region_name=config.state.region)


def state_in_bucket(config: PlatformConfig) -> bool:
    """Whether the bootstrap's own state is already in the state bucket."""
    key = bootstrap_state_key(stack_context(config))
    try:
        _s3_client(config).head_object(Bucket=config.state.bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NoSuchBucket"):
            return False
        raise TerraformError(
            f"bootstrap: cannot tell whether s3://{config.state.bucket}/{key} exists "
            f"({error}); are the credentials for the right account?"
        ) from error
    return True


def bootstrap(
    config: PlatformConfig,
    inputs: BootstrapInputs,
    workdir: Path,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Apply the bootstrap stack; returns its outputs. ``workdir`` keeps its synth (and,
    until the state has moved into the bucket, its local state file)."""
    workdir = workdir.resolve()
    local_state = workdir / "bootstrap.tfstate"
    outdir = workdir / "cdktf.out"
    # The first run keeps its state locally: the bucket for it is what it creates.
    first_run = not state_in_bucket(config)
    workdir.mkdir(parents=True, exist_ok=True)
    props = _props(config, inputs, local_state if first_run else None)
    terraform = Terraform(synthesize(props, outdir), dict(environ or {}))
    terraform.init()
    terraform.apply()
    if first_run:
        # The bucket exists now: the same directory, synthesized with the S3 backend, takes
        # the local state over (init sees the backend change and copies the state).
        synthesize(_props(config, inputs, None), outdir)
        terraform.run(
            ["init", "-input=false", "-no-color", "-migrate-state", "-force-copy"], quiet=True
        )
        local_state.unlink()
        local_state.with_name(local_state.name + ".backup").unlink(missing_ok=True)
    return terraform.outputs()


def describe(outputs: Mapping[str, Any]) -> str:
    """The outputs, and what a consumer team writes to read the platform's state."""
    lines = ["-- bootstrap outputs"]
    for name, value in outputs.items():
        lines.append(f"   {name} = {json.dumps(value)}")
    configs = outputs.get(BootstrapOutputs.REMOTE_STATE_CONFIGS.name) or {}
    if configs:
        stack, config = next(iter(configs.items()))
        lines += [
            "",
            "-- a consumer team reads an output (here the first stack's) with:",
            f'data "terraform_remote_state" "{stack.replace("-", "_")}" {{',
            '  backend = "s3"',
            "  config = {",
            f'    bucket       = "{config["bucket"]}"',
            f'    key          = "{config["key"]}"',
            f'    region       = "{config["region"]}"',
            f'    assume_role  = {{ role_arn = "{config["assume_role"]["role_arn"]}" }}',
            "  }",
            "}",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--github-repository", required=True, help="owner/name on GitHub")
    parser.add_argument(
        "--state-reader-principal",
        action="append",
        default=[],
        help="IAM principal ARN allowed to assume the state-reader role (repeatable; "
        "default: this account's root, so its IAM administrators decide)",
    )
    parser.add_argument("--existing-oidc-provider-arn", default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        config = load_config(os.environ)
        inputs = BootstrapInputs(
            github_repository=args.github_repository,
            state_reader_principals=tuple(args.state_reader_principal),
            existing_oidc_provider_arn=args.existing_oidc_provider_arn or None,
        )
        workdir = args.workdir or Path("build") / "bootstrap" / config.environment
        outputs = bootstrap(config, inputs, workdir)
    except (ConfigError, ValueError, TerraformError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(describe(outputs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
