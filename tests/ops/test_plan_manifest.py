"""ops.plan_manifest: the apply refuses any plan artifact but the reviewed plan of this commit."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.github_api import GitHub
from ops.plan_manifest import MANIFEST, ManifestError, check, find_run, main, write
from tests.support.github_api import REPO, TOKEN, FakeGitHub, fake_github

HEAD = "1" * 40
ENV = {"ACME_ENV": "dev", "ACME_STATE_BUCKET": "my-acme-tfstate"}


def git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "main.py").write_text("print('v1')\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "v1")
    return repo


@pytest.fixture
def plan_dir(tmp_path: Path, repo: Path) -> Path:
    plans = tmp_path / "plan"
    plans.mkdir()
    for stack in ("network", "msk"):
        (plans / f"{stack}.tfplan").write_bytes(f"binary plan of {stack}".encode())
    write(plans, HEAD, 7, ENV, repo)
    return plans


def test_write_records_commit_tree_environment_and_plan_digests(plan_dir: Path, repo: Path):
    manifest = json.loads((plan_dir / MANIFEST).read_text())
    assert manifest["head_sha"] == HEAD and manifest["pull_request"] == 7
    assert manifest["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert manifest["tree"] == git(repo, "rev-parse", "HEAD^{tree}").strip()
    assert (manifest["environment"], manifest["state_bucket"]) == ("dev", "my-acme-tfstate")
    assert sorted(manifest["plans"]) == ["msk", "network"]


def test_the_reviewed_plan_of_this_commit_passes(plan_dir: Path, repo: Path) -> None:
    assert check(plan_dir, HEAD, ENV, repo)["head_sha"] == HEAD


def test_a_plan_of_an_earlier_push_is_refused(plan_dir: Path, repo: Path) -> None:
    with pytest.raises(ManifestError, match=r"final head is 2{40}.*\n.*re-run the plan workflow"):
        check(plan_dir, "2" * 40, ENV, repo)


def test_a_checkout_with_other_files_is_refused(plan_dir: Path, repo: Path) -> None:
    (repo / "main.py").write_text("print('v2')\n")
    git(repo, "commit", "-qam", "v2: main moved on")
    with pytest.raises(ManifestError, match="were never planned"):
        check(plan_dir, HEAD, ENV, repo)


def test_the_same_files_under_another_commit_pass(plan_dir: Path, repo: Path) -> None:
    # A merge commit on main holds the planned files under a new SHA.
    git(repo, "commit", "-q", "--allow-empty", "-m", "merge")
    check(plan_dir, HEAD, ENV, repo)


def test_another_environment_or_bucket_is_refused(plan_dir: Path, repo: Path) -> None:
    with pytest.raises(ManifestError, match="environment 'dev', this job for 'prod'"):
        check(plan_dir, HEAD, {**ENV, "ACME_ENV": "prod"}, repo)
    with pytest.raises(ManifestError, match="state_bucket"):
        check(plan_dir, HEAD, {**ENV, "ACME_STATE_BUCKET": "other"}, repo)


def test_a_damaged_missing_or_extra_plan_is_refused(plan_dir: Path, repo: Path) -> None:
    (plan_dir / "msk.tfplan").write_bytes(b"something else")
    (plan_dir / "network.tfplan").unlink()
    (plan_dir / "dashboard.tfplan").write_bytes(b"unreviewed")
    with pytest.raises(ManifestError) as refused:
        check(plan_dir, HEAD, ENV, repo)
    message = str(refused.value)
    assert "msk.tfplan differs from the plan that was reviewed" in message
    assert "network.tfplan is missing" in message
    assert "dashboard.tfplan is not in the manifest" in message


def test_no_manifest_or_no_plans_say_what_to_do(tmp_path: Path, repo: Path) -> None:
    with pytest.raises(ManifestError, match="not a plan artifact"):
        check(tmp_path, HEAD, ENV, repo)
    with pytest.raises(ManifestError, match="run `make plan` first"):
        write(tmp_path, HEAD, 7, ENV, repo)
    with pytest.raises(ManifestError, match="not a full 40-character commit SHA"):
        (tmp_path / "x.tfplan").write_bytes(b"x")
        write(tmp_path, "abc", 7, ENV, repo)


def test_cli_check_prints_the_refusal(plan_dir: Path, repo: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(repo)
    monkeypatch.setenv("ACME_ENV", "dev")
    monkeypatch.setenv("ACME_STATE_BUCKET", "my-acme-tfstate")
    assert main(["check", "--plan-dir", str(plan_dir), "--head-sha", HEAD]) == 0
    assert main(["check", "--plan-dir", str(plan_dir), "--head-sha", "3" * 40]) == 1
    assert "refusing this plan artifact" in capsys.readouterr().err


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    with fake_github() as state:
        yield state


def artifact(name: str, run: int, head: str, created: str, expired: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "expired": expired,
        "created_at": created,
        "workflow_run": {"id": run, "head_sha": head},
    }


def test_find_run_takes_the_newest_unexpired_run_of_that_head(server: FakeGitHub) -> None:
    name = f"plan-pr7-{HEAD}"
    server.artifacts += [
        artifact(name, 1, HEAD, "2026-12-01T08:00:00Z"),
        artifact(name, 2, HEAD, "2026-12-01T09:00:00Z"),
        artifact(name, 3, HEAD, "2026-12-01T10:00:00Z", expired=True),
        artifact(name, 4, "2" * 40, "2026-12-01T11:00:00Z"),
    ]
    plan_run = {"path": ".github/workflows/plan.yml", "event": "pull_request"}
    server.runs.update({run: plan_run for run in (1, 2, 3, 4)})
    assert find_run(GitHub(TOKEN, REPO, server.url), name, HEAD) == 2


def test_find_run_ignores_artifacts_of_other_workflows(server: FakeGitHub) -> None:
    name = f"plan-pr7-{HEAD}"
    server.artifacts += [
        artifact(name, 1, HEAD, "2026-12-01T08:00:00Z"),
        artifact(name, 2, HEAD, "2026-12-01T09:00:00Z"),
    ]
    server.runs[1] = {
        "path": ".github/workflows/plan.yml@refs/pull/7/merge",
        "event": "pull_request",
    }
    server.runs[2] = {"path": ".github/workflows/other.yml", "event": "pull_request"}
    assert find_run(GitHub(TOKEN, REPO, server.url), name, HEAD) == 1
    server.runs[1] = {"path": ".github/workflows/plan.yml", "event": "workflow_dispatch"}
    with pytest.raises(ManifestError, match=r"not the plan workflow's pull_request runs: run 2"):
        find_run(GitHub(TOKEN, REPO, server.url), name, HEAD)


def test_find_run_without_an_artifact_says_rerun(server: FakeGitHub) -> None:
    with pytest.raises(ManifestError, match=r"no unexpired artifact.*re-run the plan workflow"):
        find_run(GitHub(TOKEN, REPO, server.url), f"plan-pr7-{HEAD}", HEAD)


def test_cli_find_run_writes_the_step_output(server: FakeGitHub, tmp_path, monkeypatch) -> None:
    name = f"plan-pr7-{HEAD}"
    server.artifacts.append(artifact(name, 42, HEAD, "2026-12-01T08:00:00Z"))
    server.runs[42] = {"path": ".github/workflows/plan.yml", "event": "pull_request"}
    output = tmp_path / "github_output"
    for key, value in {
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": server.url,
        "GITHUB_OUTPUT": str(output),
    }.items():
        monkeypatch.setenv(key, value)
    assert main(["find-run", "--artifact", name, "--head-sha", HEAD]) == 0
    assert output.read_text() == "run-id=42\n"
