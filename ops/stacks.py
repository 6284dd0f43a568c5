"""Synthesize, apply, plan and destroy the stacks with Terraform, in dependency order.

Used by both targets: a real AWS account (``make plan``) and the local emulator
(``make deploy-local``, ``make plan LOCAL=1``). Only the environment of the synth differs.
The order comes from the synthesized manifest (:mod:`ops.graph`): stacks that do not
depend on each other run at the same time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .graph import StackGraph
from .plan_summary import Change, render, stack_changes
from .terraform import Terraform, TerraformError

ROOT = Path(__file__).resolve().parent.parent


def run_python(args: Sequence[str], environ: Mapping[str, str], what: str) -> None:
    """``python <args>`` from the repository root in its own process, with ``environ`` added
    (the synths read their configuration from the environment); fails with its output."""
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise TerraformError(f"{what} failed:\n{result.stdout[-3000:]}{result.stderr[-6000:]}")


def synthesize(outdir: Path, environ: Mapping[str, str]) -> None:
    """Run main.py in its own process: the synth reads configuration from the environment."""
    run_python([str(ROOT / "main.py")], {**environ, "CDKTF_OUTDIR": str(outdir)}, "synth")


def stacks(outdir: Path, environ: Mapping[str, str] | None = None) -> dict[str, Terraform]:
    """Every synthesized stack, in dependency order."""
    graph = StackGraph.from_manifest(outdir)
    return {name: Terraform(outdir / "stacks" / name, dict(environ or {})) for name in graph.names}


def init_all(outdir: Path, only: Collection[str] | None = None) -> dict[str, Terraform]:
    """``terraform init`` in every stack (or those ``only`` names), in dependency order: the
    first alone (it fills the shared provider cache, which Terraform does not guard against
    concurrent writers), the rest together."""
    found = stacks(outdir)
    if only is not None:
        found = {name: stack for name, stack in found.items() if name in only}
    first, *rest = found.values()
    first.init()
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="init") as pool:
        list(pool.map(Terraform.init, rest))
    return found


def apply_all(outdir: Path, plan_dir: Path) -> tuple[dict[str, dict[str, Any]], list[StackPlan]]:
    """Apply every stack once the stacks it reads are applied, and plan it again right after.

    A stack's second plan starts as soon as its own apply ends, beside the applies of the
    stacks after it (no later apply touches its resources). Returns each stack's outputs and
    its second plan; the plans' summary is written to ``plan_dir``.
    """
    found = init_all(outdir)
    plan_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=len(found), thread_name_prefix="plan") as planner:
        second_plans: dict[str, Future[StackPlan]] = {}

        def apply(name: str) -> dict[str, Any]:
            started = time.monotonic()
            found[name].apply()
            print(f"== applied {name} in {time.monotonic() - started:.0f} s", flush=True)
            second_plans[name] = planner.submit(_plan, found[name], plan_dir)
            return found[name].outputs()

        outputs = StackGraph.from_manifest(outdir).run(apply)
        plans = [second_plans[name].result() for name in found]
    _summarize(plans, plan_dir)
    return {name: outputs[name] for name in found}, plans


def destroy_all(outdir: Path) -> None:
    """Destroy every stack once the stacks that read it are gone."""
    found = init_all(outdir)

    def destroy(name: str) -> None:
        started = time.monotonic()
        found[name].destroy()
        print(f"== destroyed {name} in {time.monotonic() - started:.0f} s", flush=True)

    StackGraph.from_manifest(outdir).reversed().run(destroy)


# How the stacks name their remote-state readers (stacks/base.py: read_upstream).
UPSTREAM_PREFIX = "upstream-"


@dataclass(frozen=True)
class StackPlan:
    stack: str
    plan_file: Path
    document: dict[str, Any]

    @property
    def changes(self) -> list[Change]:
        return stack_changes(self.document)

    @property
    def has_changes(self) -> bool:
        """Whether applying it does anything (resources or outputs): Terraform's own flag."""
        return bool(self.document.get("applyable"))

    def upstream_outputs(self) -> dict[str, dict[str, Any]]:
        """What the plan read from each upstream stack's state: stack -> outputs."""
        resources = (
            self.document.get("prior_state", {})
            .get("values", {})
            .get("root_module", {})
            .get("resources", [])
        )
        return {
            item["name"].removeprefix(UPSTREAM_PREFIX): dict(item["values"].get("outputs") or {})
            for item in resources
            if item.get("mode") == "data"
            and item.get("type") == "terraform_remote_state"
            and item.get("name", "").startswith(UPSTREAM_PREFIX)
        }


PLAN_MANIFEST = "plans.json"


def plan_all(outdir: Path, plan_dir: Path, only: Collection[str] | None = None) -> list[StackPlan]:
    """Binary plan and its JSON for every stack (or the stacks ``only`` names), one Markdown
    summary of them all, and ``plans.json``: which stacks were planned, from which commit.

    Plans only read state, so every stack is planned at the same time.
    """
    plan_dir.mkdir(parents=True, exist_ok=True)
    if only is not None:
        StackGraph.from_manifest(outdir).subset(only)  # names unknown stacks
    found = init_all(outdir, only)
    with ThreadPoolExecutor(max_workers=len(found), thread_name_prefix="plan") as pool:
        plans = list(pool.map(lambda stack: _plan(stack, plan_dir), found.values()))
    _summarize(plans, plan_dir)
    manifest = {"stacks": list(found), "commit": _commit()}
    (plan_dir / PLAN_MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return plans


def _commit() -> str | None:
    """The commit the plans were made from: CI's, else the checkout's (None outside git)."""
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    result = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or None


def _plan(stack: Terraform, plan_dir: Path) -> StackPlan:
    """The binary plan of one stack and its JSON, written to ``plan_dir``."""
    plan_file = (plan_dir / f"{stack.stack}.tfplan").resolve()
    stack.plan(plan_file)
    document = stack.show_json(plan_file)
    (plan_dir / f"{stack.stack}.json").write_text(json.dumps(document, indent=1))
    print(f"== planned {stack.stack}", flush=True)
    return StackPlan(stack.stack, plan_file, document)


def _summarize(plans: list[StackPlan], plan_dir: Path) -> None:
    summary = render({p.stack: p.document for p in plans})
    (plan_dir / "summary.md").write_text(summary, encoding="utf-8")
    print(f"plan summary: {plan_dir / 'summary.md'}")


def plan_differences(plans: list[StackPlan]) -> list[str]:
    """One line per change in plans that should be empty (right after an apply)."""
    return [
        f"{plan.stack}: {change.kind} {change.address} ({', '.join(change.attributes)})"
        for plan in plans
        for change in plan.changes
    ]
