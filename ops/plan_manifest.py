"""What a plan artifact was made from, and the checks that it is the plan to apply.

    python -m ops.plan_manifest write --plan-dir build/plan --head-sha SHA --pr 12
    python -m ops.plan_manifest find-run --artifact plan-pr12-SHA --head-sha SHA
    python -m ops.plan_manifest check --plan-dir build/plan --head-sha SHA

``write`` (plan workflow) records the pull request's head commit, the tree of the checkout
that was planned, the environment and a SHA-256 of every binary plan in manifest.json.
``find-run`` (apply workflow) names the run that uploaded the artifact of that head commit.
``check`` (apply workflow, before any credential) refuses the artifact unless it was made
for the pull request's final head commit, from the same files as the checkout being
applied, for the same environment, with every plan file intact. Terraform itself refuses
a plan whose state changed since; this catches what Terraform cannot see.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .github_api import GitHub, GitHubError

MANIFEST = "manifest.json"
SHA = re.compile(r"^[0-9a-f]{40}$")
RERUN = (
    "re-run the plan workflow, review the new plan, then apply (docs/ci.md, When the apply refuses)"
)


class ManifestError(RuntimeError):
    """The plan artifact is missing, damaged or not the plan of this commit."""


def commit_sha(text: str) -> str:
    if not SHA.match(text):
        raise ManifestError(f"{text!r} is not a full 40-character commit SHA")
    return text


def git(*args: str, cwd: Path | None = None) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ManifestError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def target(environ: Mapping[str, str]) -> dict[str, str]:
    """The deployment a plan is for, as the synth reads it (README "Configuration")."""
    return {
        "environment": environ.get("ACME_ENV", "dev"),
        "state_bucket": environ.get("ACME_STATE_BUCKET", "acme-data-terraform-state"),
    }


def write(
    plan_dir: Path, head_sha: str, pr: int, environ: Mapping[str, str], repo: Path | None = None
) -> dict[str, Any]:
    plans = sorted(plan_dir.glob("*.tfplan"))
    if not plans:
        raise ManifestError(f"no *.tfplan in {plan_dir}: run `make plan` first")
    manifest = {
        "head_sha": commit_sha(head_sha),
        "pull_request": pr,
        "commit": git("rev-parse", "HEAD", cwd=repo),
        # Planned files, whatever the commit: the merge commit on main has another SHA than
        # the pull request's test merge, but the same tree when nothing else landed between.
        "tree": git("rev-parse", "HEAD^{tree}", cwd=repo),
        **target(environ),
        "plans": {path.stem: sha256(path) for path in plans},
    }
    (plan_dir / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def read(plan_dir: Path) -> dict[str, Any]:
    path = plan_dir / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ManifestError(f"cannot read {path} ({error}): not a plan artifact; {RERUN}") from None
    missing = sorted({"head_sha", "tree", "environment", "state_bucket", "plans"} - manifest.keys())
    if missing:
        raise ManifestError(f"{path} lacks {missing}: made by another version; {RERUN}")
    return manifest


def check(
    plan_dir: Path, head_sha: str, environ: Mapping[str, str], repo: Path | None = None
) -> dict[str, Any]:
    """Every reason to refuse this artifact, as one error; the manifest when there is none."""
    commit_sha(head_sha)
    manifest = read(plan_dir)
    problems = []
    if manifest["head_sha"] != head_sha:
        problems.append(
            f"the plan was made for commit {manifest['head_sha']}, but the pull request's "
            f"final head is {head_sha} (pushed after the last plan)"
        )
    tree = git("rev-parse", "HEAD^{tree}", cwd=repo)
    if manifest["tree"] != tree:
        problems.append(
            f"the checkout being applied (tree {tree}) is not the files that were planned "
            f"(tree {manifest['tree']}): main changed after the plan, so the merged files "
            "were never planned (a new pull request plans them)"
        )
    for key, value in target(environ).items():
        if manifest[key] != value:
            problems.append(f"the plan is for {key} {manifest[key]!r}, this job for {value!r}")
    on_disk = {path.stem for path in plan_dir.glob("*.tfplan")}
    for stack in sorted(on_disk - manifest["plans"].keys()):
        problems.append(f"{stack}.tfplan is not in the manifest")
    for stack, digest in sorted(manifest["plans"].items()):
        path = plan_dir / f"{stack}.tfplan"
        if not path.is_file():
            problems.append(f"{path.name} is missing from the artifact")
        elif sha256(path) != digest:
            problems.append(f"{path.name} differs from the plan that was reviewed")
    if problems:
        raise ManifestError(
            "refusing this plan artifact:\n  - " + "\n  - ".join(problems) + f"\n{RERUN}"
        )
    return manifest


PLAN_WORKFLOW = ".github/workflows/plan.yml"


def find_run(github: GitHub, artifact: str, head_sha: str) -> int:
    """The newest pull_request run of the plan workflow holding an unexpired artifact of that
    name made for ``head_sha``. Runs of other workflows are ignored, whatever they upload."""
    listed = github.paginate(f"actions/artifacts?name={quote(artifact)}&per_page=100", "artifacts")
    candidates = [
        item
        for item in listed
        if not item.get("expired")
        and item.get("name") == artifact
        and (item.get("workflow_run") or {}).get("head_sha") == head_sha
    ]
    if not candidates:
        raise ManifestError(
            f"no unexpired artifact {artifact!r} made for commit {head_sha}: "
            f"the plan workflow did not finish for the pull request's final push; {RERUN}"
        )
    candidates.sort(key=lambda item: str(item.get("created_at", "")), reverse=True)
    seen = []
    for item in candidates:
        run_id = int(item["workflow_run"]["id"])
        run, _ = github.request("GET", github.url(f"actions/runs/{run_id}"))
        # The path may carry "@ref" for some runs; the event must be the PR's own plan.
        path = str(run.get("path", "")).split("@", 1)[0]
        if path == PLAN_WORKFLOW and run.get("event") == "pull_request":
            return run_id
        seen.append(f"run {run_id} ({path or '?'}, {run.get('event')})")
    raise ManifestError(
        f"artifact {artifact!r} exists only in runs that are not the plan workflow's "
        f"pull_request runs: {', '.join(seen)}; {RERUN}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    w = commands.add_parser("write", help="record the plan artifact's origin (plan workflow)")
    w.add_argument("--plan-dir", type=Path, default=Path("build/plan"))
    w.add_argument("--head-sha", required=True)
    w.add_argument("--pr", type=int, required=True)
    f = commands.add_parser("find-run", help="the run id holding a plan artifact")
    f.add_argument("--artifact", required=True)
    f.add_argument("--head-sha", required=True)
    c = commands.add_parser("check", help="refuse an artifact that is not this commit's plan")
    c.add_argument("--plan-dir", type=Path, default=Path("build/plan"))
    c.add_argument("--head-sha", required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "write":
            manifest = write(args.plan_dir, args.head_sha, args.pr, os.environ)
            print(f"plan manifest: {args.plan_dir / MANIFEST} ({len(manifest['plans'])} plans)")
        elif args.command == "find-run":
            run_id = find_run(GitHub.from_env(), args.artifact, commit_sha(args.head_sha))
            print(f"run-id={run_id}")
            output = os.environ.get("GITHUB_OUTPUT")
            if output:
                with open(output, "a", encoding="utf-8") as handle:
                    handle.write(f"run-id={run_id}\n")
        else:
            manifest = check(args.plan_dir, args.head_sha, os.environ)
            print(
                f"plan artifact matches commit {manifest['head_sha']} "
                f"(environment {manifest['environment']}, {len(manifest['plans'])} plans)"
            )
    except (ManifestError, GitHubError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
