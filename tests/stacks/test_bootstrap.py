"""The bootstrap stack: state bucket, GitHub OIDC roles, and a state reader that can read
the platform's state keys of one environment and nothing else."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import modules  # noqa: F401  # the lazy provider bindings, as main.py loads them

# isort: split
import pytest
from cdktf import App
from cdktf import Testing as CdktfTesting

from main import stack_context
from platform_config import load_config
from stacks.bootstrap import BootstrapStack, BootstrapStackProps
from stacks.outputs import ALL_CONTRACTS, BootstrapOutputs

pytestmark = pytest.mark.synth

CONFIG = load_config({"ACME_ENV": "prod", "ACME_STATE_BUCKET": "acme-prod-tfstate"})
PROPS = BootstrapStackProps(
    context=stack_context(CONFIG),
    platform_stacks=tuple(contract.stack_name for contract in ALL_CONTRACTS),
    github_repository="acme/telemetry-platform",
    state_reader_principals=("arn:aws:iam::111122223333:root",),
)
PLATFORM_KEYS = {
    f"acme-telemetry/prod/{name}.tfstate"
    for name in ("network", "msk", "data-lake", "data-gen", "dashboard")
}


def synth(props: BootstrapStackProps = PROPS) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(CdktfTesting.synth(BootstrapStack(App(), props)))
    return document


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return synth()


def policy_document(document: dict[str, Any], name: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = document["data"]["aws_iam_policy_document"][name][
        "statement"
    ]
    return statements


def by_name(document: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        item.get("name", key): item
        for key, item in document["resource"].get(resource_type, {}).items()
    }


def test_the_state_reader_may_read_exactly_the_platform_state_keys_of_its_environment(
    document: dict[str, Any],
) -> None:
    statements = policy_document(document, "state-reader-read-document")
    bucket = "arn:${data.aws_partition.partition.partition}:s3:::acme-prod-tfstate"
    reads = [s for s in statements if s["actions"] == ["s3:GetObject"]]
    [read] = reads
    assert {r.removeprefix(f"{bucket}/") for r in read["resources"]} == PLATFORM_KEYS
    assert all(r.startswith(f"{bucket}/") and "*" not in r for r in read["resources"])
    [listing] = [s for s in statements if s is not read]
    # The only listing Terraform's backend makes: the (unused) workspace prefix.
    assert listing["actions"] == ["s3:ListBucket"]
    assert listing["resources"] == [bucket]
    assert listing["condition"] == [
        {"test": "StringEquals", "variable": "s3:prefix", "values": ["env:/"]}
    ]
    assert "effect" not in read or read["effect"] == "Allow"
    roles = by_name(document, "aws_iam_role_policy_attachment")
    assert all("state-reader" not in str(item["role"]) for item in roles.values())


def test_the_state_reader_is_assumed_only_by_the_named_principals(
    document: dict[str, Any],
) -> None:
    [trust] = policy_document(document, "state-reader-trust")
    assert trust["actions"] == ["sts:AssumeRole"]
    assert trust["principals"] == [
        {"type": "AWS", "identifiers": list(PROPS.state_reader_principals)}
    ]


def test_plan_runs_for_pull_requests_and_deploy_only_in_the_environment(
    document: dict[str, Any],
) -> None:
    def subject(name: str) -> str:
        [statement] = policy_document(document, f"{name}-trust")
        assert statement["actions"] == ["sts:AssumeRoleWithWebIdentity"]
        conditions = {c["variable"]: c for c in statement["condition"]}
        audience = conditions["token.actions.githubusercontent.com:aud"]
        assert audience == {
            "test": "StringEquals",
            "variable": "token.actions.githubusercontent.com:aud",
            "values": ["sts.amazonaws.com"],
        }
        sub = conditions["token.actions.githubusercontent.com:sub"]
        assert sub["test"] == "StringEquals"
        [value] = sub["values"]
        return str(value)

    assert subject("plan") == "repo:acme/telemetry-platform:pull_request"
    assert subject("deploy") == "repo:acme/telemetry-platform:environment:prod"
    attached = {
        item["policy_arn"].rsplit("/", 1)[-1]: item["role"]
        for item in by_name(document, "aws_iam_role_policy_attachment").values()
    }
    assert set(attached) == {"ReadOnlyAccess", "AdministratorAccess"}
    assert "plan-role" in attached["ReadOnlyAccess"]
    assert "deploy-role" in attached["AdministratorAccess"]
    [locks] = policy_document(document, "plan-state-locks-document")
    assert locks["actions"] == ["s3:PutObject", "s3:DeleteObject"]
    assert [r.rsplit(":::", 1)[-1] for r in locks["resources"]] == [
        "acme-prod-tfstate/acme-telemetry/prod/*.tflock"
    ]


def test_the_state_bucket_is_versioned_encrypted_tls_only_and_kept(
    document: dict[str, Any],
) -> None:
    [bucket] = document["resource"]["aws_s3_bucket"].values()
    assert bucket["bucket"] == "acme-prod-tfstate"
    assert bucket["lifecycle"]["prevent_destroy"] is True
    assert bucket.get("force_destroy") in (None, False)
    [versioning] = document["resource"]["aws_s3_bucket_versioning"].values()
    assert versioning["versioning_configuration"]["status"] == "Enabled"
    [encryption] = document["resource"][
        "aws_s3_bucket_server_side_encryption_configuration"
    ].values()
    rule = encryption["rule"][0]["apply_server_side_encryption_by_default"]
    assert rule["sse_algorithm"] == "AES256"
    [public] = document["resource"]["aws_s3_bucket_public_access_block"].values()
    assert all(public[flag] for flag in ("block_public_acls", "restrict_public_buckets"))
    statements = document["data"]["aws_iam_policy_document"]
    [tls] = [
        s
        for d in statements.values()
        for s in d["statement"]
        if s.get("sid") == "DenyRequestsWithoutTLS"
    ]
    assert tls["effect"] == "Deny"
    # Every state version is kept: no lifecycle rule expires one.
    assert "aws_s3_bucket_lifecycle_configuration" not in document["resource"]
    backend = document["terraform"]["backend"]["s3"]
    assert backend["key"] == "acme-telemetry/prod/bootstrap.tfstate"
    assert backend["use_lockfile"] is True


def test_outputs_are_the_declared_contract_and_tell_consumers_how_to_read(
    document: dict[str, Any],
) -> None:
    assert set(document["output"]) == {o.name for o in BootstrapOutputs.outputs()}
    configs = document["output"]["remote_state_configs"]["value"]
    assert {c["key"] for c in configs.values()} == PLATFORM_KEYS
    assert all(c["bucket"] == "acme-prod-tfstate" for c in configs.values())
    assert all("state-reader" in c["assume_role"]["role_arn"] for c in configs.values())


def test_an_existing_oidc_provider_is_reused_instead_of_created() -> None:
    arn = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"
    document = synth(replace(PROPS, existing_oidc_provider_arn=arn))
    assert "aws_iam_openid_connect_provider" not in document["resource"]
    assert document["output"]["github_oidc_provider_arn"]["value"] == arn


def test_the_first_apply_keeps_its_state_on_local_disk() -> None:
    document = synth(replace(PROPS, backend_state_path="/tmp/bootstrap.tfstate"))
    assert document["terraform"]["backend"] == {"local": {"path": "/tmp/bootstrap.tfstate"}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"github_repository": "telemetry-platform"}, "expected owner/name"),
        ({"github_repository": "acme/telemetry platform"}, "expected owner/name"),
        ({"state_reader_principals": ("111122223333",)}, "is not an IAM principal ARN"),
        ({"state_reader_principals": ("arn:aws:iam::1111:root",)}, "is not an IAM principal ARN"),
        ({"existing_oidc_provider_arn": "arn:aws:iam::111122223333:oidc-provider/x"}, "expected"),
        ({"platform_stacks": ()}, "at least one stack"),
        ({"platform_stacks": ("network", "bootstrap")}, "must not name 'bootstrap'"),
    ],
)
def test_bad_inputs_are_refused_with_the_problem_named(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        replace(PROPS, **change)
