"""The plan summary, on real `terraform show -json` output.

terraform_data is built into Terraform, so these plans need no provider and no network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ops.plan_summary import classify, render, stack_changes
from ops.stacks import StackPlan, plan_differences

pytestmark = pytest.mark.skipif(
    shutil.which("terraform") is None, reason="terraform is not installed"
)

BEFORE = """
resource "terraform_data" "kept" { input = "1" }
resource "terraform_data" "rebuilt" { triggers_replace = ["x"] }
resource "terraform_data" "removed" { input = "gone soon" }
resource "terraform_data" "untouched" { input = "same" }
"""
AFTER = """
resource "terraform_data" "kept" { input = "2" }
resource "terraform_data" "rebuilt" { triggers_replace = ["y"] }
resource "terraform_data" "untouched" { input = "same" }
resource "terraform_data" "added" { input = "new" }
"""


def terraform(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["terraform", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
    )


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    changed = tmp_path_factory.mktemp("changed")
    (changed / "main.tf").write_text(BEFORE)
    terraform(changed, "init", "-input=false", "-no-color")
    terraform(changed, "apply", "-auto-approve", "-input=false", "-no-color")
    (changed / "main.tf").write_text(AFTER)
    terraform(changed, "plan", "-input=false", "-no-color", "-out=plan.bin")
    quiet = tmp_path_factory.mktemp("quiet")
    (quiet / "main.tf").write_text(BEFORE)
    terraform(quiet, "init", "-input=false", "-no-color")
    terraform(quiet, "apply", "-auto-approve", "-input=false", "-no-color")
    terraform(quiet, "plan", "-input=false", "-no-color", "-out=plan.bin")
    return {
        "msk": json.loads(terraform(changed, "show", "-json", "plan.bin").stdout),
        "network": json.loads(terraform(quiet, "show", "-json", "plan.bin").stdout),
    }


def test_each_kind_of_change_is_classified(plans: dict[str, dict[str, Any]]) -> None:
    kinds = {c.address: c.kind for c in stack_changes(plans["msk"])}
    assert kinds == {
        "terraform_data.added": "add",
        "terraform_data.kept": "change",
        "terraform_data.rebuilt": "replace",
        "terraform_data.removed": "destroy",
    }
    assert stack_changes(plans["network"]) == []


def test_replacements_and_destroys_come_first_with_their_reasons(
    plans: dict[str, dict[str, Any]],
) -> None:
    text = render(plans)
    first_section = text.split("## Totals")[0]
    assert "**DESTROY** `msk`: `terraform_data.removed`" in first_section
    assert "**REPLACE** `msk`: `terraform_data.rebuilt` (forced by triggers_replace)" in (
        first_section
    )
    assert first_section.index("DESTROY") < first_section.index("REPLACE")
    assert "| msk | 1 | 1 | 1 | 1 |" in text
    assert "| network | 0 | 0 | 0 | 0 |" in text
    assert "- change: `terraform_data.kept` (input, output)" in text


def test_a_quiet_plan_says_nothing_is_replaced(plans: dict[str, dict[str, Any]]) -> None:
    text = render({"network": plans["network"]})
    assert "No resource is replaced or destroyed." in text
    assert "No changes." in text


def test_classify_covers_terraform_action_lists() -> None:
    assert classify(["create", "delete"]) == "replace"
    assert classify(["no-op"]) is None
    assert classify(["read"]) is None


def test_input_that_is_not_a_plan_is_rejected_by_name() -> None:
    with pytest.raises(ValueError, match="not a `terraform show -json` plan"):
        stack_changes({"values": {}})


def test_second_plan_check_names_every_change(
    plans: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    plan = StackPlan("msk", tmp_path / "plan.bin", plans["msk"])
    assert sorted(plan_differences([plan])) == [
        "msk: add terraform_data.added ()",
        "msk: change terraform_data.kept (input, output)",
        "msk: destroy terraform_data.removed ()",
        "msk: replace terraform_data.rebuilt ()",
    ]
    assert plan_differences([]) == []
