"""Which saved plans apply_plans accepts, and which it refuses as stale (no Terraform here:
tests/ops/test_team_workflow.py applies real plans on the local platform)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ops.apply_plans import load_plans, stale_upstreams
from ops.stacks import StackPlan
from ops.terraform import TerraformError


def plan_document(upstreams: dict[str, dict[str, Any]], applyable: bool = True) -> dict[str, Any]:
    """The parts of `terraform show -json` apply_plans reads, as Terraform 1.11 writes them."""
    resources = [
        {
            "address": f"data.terraform_remote_state.upstream-{stack}",
            "mode": "data",
            "type": "terraform_remote_state",
            "name": f"upstream-{stack}",
            "values": {"backend": "s3", "outputs": outputs, "workspace": None},
        }
        for stack, outputs in upstreams.items()
    ]
    resources.append(
        {"address": "data.aws_caller_identity.caller", "mode": "data",
         "type": "aws_caller_identity", "name": "caller", "values": {"account_id": "1"}}
    )  # fmt: skip
    return {
        "format_version": "1.2",
        "applyable": applyable,
        "prior_state": {"values": {"root_module": {"resources": resources}}},
    }


MSK_PLAN = StackPlan(
    "msk",
    Path("msk.tfplan"),
    plan_document({"network": {"vpc_id": "vpc-1", "private_subnet_ids": ["a", "b", "c"]}}),
)


def test_a_plan_knows_the_upstream_outputs_it_read() -> None:
    assert MSK_PLAN.upstream_outputs() == {
        "network": {"vpc_id": "vpc-1", "private_subnet_ids": ["a", "b", "c"]}
    }
    assert MSK_PLAN.has_changes
    assert not StackPlan("x", Path("x"), plan_document({}, applyable=False)).has_changes


def test_a_plan_whose_upstream_outputs_are_unchanged_is_current() -> None:
    now = {"network": {"vpc_id": "vpc-1", "private_subnet_ids": ["a", "b", "c"]}}
    assert stale_upstreams(MSK_PLAN, now) == {}


@pytest.mark.parametrize(
    ("now", "stale"),
    [
        ({"network": {"vpc_id": "vpc-2", "private_subnet_ids": ["a", "b", "c"]}}, ["vpc_id"]),
        (
            {"network": {"vpc_id": "vpc-1", "private_subnet_ids": ["a", "b"]}},
            ["private_subnet_ids"],
        ),
        (
            {"network": {"vpc_id": "vpc-1", "private_subnet_ids": ["a", "b", "c"], "new": 1}},
            ["new"],
        ),
        ({"network": {"vpc_id": "vpc-1"}}, ["private_subnet_ids"]),
        ({}, ["private_subnet_ids", "vpc_id"]),
    ],
)
def test_a_plan_that_read_outputs_which_changed_since_is_stale(
    now: dict[str, dict[str, Any]], stale: list[str]
) -> None:
    assert stale_upstreams(MSK_PLAN, now) == {"network": stale}


def write_plans(plan_dir: Path, stacks: list[str], manifest: Any = None) -> None:
    plan_dir.mkdir(parents=True, exist_ok=True)
    for stack in stacks:
        (plan_dir / f"{stack}.tfplan").write_bytes(b"PK")
        (plan_dir / f"{stack}.json").write_text(json.dumps(plan_document({})))
    document = {"stacks": stacks, "commit": "abc"} if manifest is None else manifest
    (plan_dir / "plans.json").write_text(json.dumps(document))


def test_the_plans_the_manifest_lists_are_loaded(tmp_path: Path) -> None:
    write_plans(tmp_path, ["network", "msk"])
    assert sorted(load_plans(tmp_path)) == ["msk", "network"]


def test_a_directory_without_a_manifest_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TerraformError, match=r"plans.json: not a plan directory.*make plan"):
        load_plans(tmp_path)
    (tmp_path / "plans.json").write_text('{"stack": []}')
    with pytest.raises(TerraformError, match="not a plan directory"):
        load_plans(tmp_path)


def test_a_listed_plan_that_is_missing_is_refused(tmp_path: Path) -> None:
    write_plans(tmp_path, ["network", "msk"])
    (tmp_path / "msk.tfplan").unlink()
    with pytest.raises(
        TerraformError, match=r"lists 'msk' but msk\.tfplan or msk\.json is missing"
    ):
        load_plans(tmp_path)


def test_a_plan_json_that_is_not_json_is_refused(tmp_path: Path) -> None:
    write_plans(tmp_path, ["network"])
    (tmp_path / "network.json").write_text("{not json")
    with pytest.raises(TerraformError, match=r"network\.json: not JSON"):
        load_plans(tmp_path)
