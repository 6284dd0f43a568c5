"""The GitHub workflows: actionlint and zizmor find nothing, and the rules they cannot see hold.

Both linters come from requirements-dev.txt (the same pins `make lint` runs).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))
PINNED = re.compile(r"^\s*(?:-\s*)?uses:\s*[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+\s*$")


def tool(name: str) -> str:
    """The linter beside this interpreter (the venv), else on PATH, else skip with why."""
    found = Path(sys.executable).parent / name
    path = str(found) if found.is_file() else shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed: `make venv` installs it from requirements-dev.txt")
    return path


def load(path: Path) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as the boolean true.
    document["on"] = document.pop(True, document.get("on"))
    return document


def test_there_are_the_plan_and_apply_workflows() -> None:
    assert [path.name for path in FILES] == ["apply.yml", "plan.yml"]


def test_actionlint_finds_nothing() -> None:
    result = subprocess.run(
        [tool("actionlint"), "-no-color", *map(str, FILES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_offline_finds_nothing_even_pedantic() -> None:
    # No token and --offline: the result must not depend on network access.
    environ = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", "--persona=pedantic", str(WORKFLOWS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=environ,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_with_its_version(path: Path) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        if re.match(r"^\s*(-\s*)?uses:", line):
            assert PINNED.match(line), f"{path.name}: not pinned by SHA with a version: {line}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_stored_secret_no_default_permission_no_persisted_token(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    document = load(path)
    assert "secrets." not in text, "credentials come from OIDC, never from stored keys"
    assert "pull_request_target" not in document["on"]
    assert document["permissions"] == {}
    for name, job in document["jobs"].items():
        assert "permissions" in job, f"{name} must state its own permissions"
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


def test_plan_runs_per_pull_request_and_cancels_the_superseded_run() -> None:
    plan = load(WORKFLOWS / "plan.yml")
    assert list(plan["on"]) == ["pull_request"]
    assert plan["concurrency"]["cancel-in-progress"] is True
    assert "pull_request.number" in plan["concurrency"]["group"]
    assert plan["jobs"]["plan"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert plan["jobs"]["comment"]["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
    }
    runs = [s["run"] for job in plan["jobs"].values() for s in job["steps"] if "run" in s]
    assert runs == ["make ci-plan", "make pr-comment"]


def test_apply_runs_on_merge_in_the_environment_and_never_plans() -> None:
    apply = load(WORKFLOWS / "apply.yml")
    assert apply["on"] == {"pull_request": {"types": ["closed"], "branches": ["main"]}}
    assert apply["concurrency"]["cancel-in-progress"] is False
    job = apply["jobs"]["apply"]
    assert job["if"] == "github.event.pull_request.merged == true"
    assert job["environment"] == "${{ vars.ACME_ENV }}"
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs == ["make ci-find-plan", "make ci-check-plan", "make ci-apply"]
    names = [step.get("uses", step.get("run", "")) for step in job["steps"]]
    credentials = next(i for i, n in enumerate(names) if "configure-aws-credentials" in n)
    assert names.index("make ci-check-plan") < credentials, "refuse a bad plan before any key"


@pytest.mark.parametrize(
    ("target", "missing"),
    [("ci-plan", "PR_NUMBER"), ("pr-comment", "PR_NUMBER"), ("ci-check-plan", "HEAD_SHA")],
)
def test_ci_targets_name_a_missing_variable_before_doing_anything(target, missing) -> None:
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PR_NUMBER", "HEAD_SHA", "ACME_ENV", "ACME_STATE_BUCKET", "MAKEFLAGS")
    }
    result = subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=environ,
    )
    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr
