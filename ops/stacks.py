"""Synthesize, apply, plan and destroy the five stacks with Terraform, in dependency order.

Used by both targets: a real AWS account (``make plan``) and the local emulator
(``make deploy-local``, ``make plan LOCAL=1``). Only the environment of the synth differs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .plan_summary import Change, render, stack_changes
from .terraform import STACK_ORDER, Terraform, TerraformError

ROOT = Path(__file__).resolve().parent.parent


def synthesize(outdir: Path, environ: Mapping[str, str]) -> None:
    """Run main.py in its own process: the synth reads configuration from the environment."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py")],
        cwd=ROOT,
        env={**os.environ, **environ, "CDKTF_OUTDIR": str(outdir)},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise TerraformError(f"synth failed:\n{result.stdout[-3000:]}{result.stderr[-6000:]}")


def stacks(outdir: Path, environ: Mapping[str, str] | None = None) -> list[Terraform]:
    return [Terraform(outdir / "stacks" / name, dict(environ or {})) for name in STACK_ORDER]


def apply_all(outdir: Path) -> dict[str, dict[str, Any]]:
    """Init and apply every stack in order; returns each stack's outputs."""
    outputs = {}
    for stack in stacks(outdir):
        started = time.monotonic()
        stack.init()
        stack.apply()
        outputs[stack.stack] = stack.outputs()
        print(f"== applied {stack.stack} in {time.monotonic() - started:.0f} s", flush=True)
    return outputs


def destroy_all(outdir: Path) -> None:
    for stack in reversed(stacks(outdir)):
        started = time.monotonic()
        stack.init()
        stack.destroy()
        print(f"== destroyed {stack.stack} in {time.monotonic() - started:.0f} s", flush=True)


@dataclass(frozen=True)
class StackPlan:
    stack: str
    plan_file: Path
    document: dict[str, Any]

    @property
    def changes(self) -> list[Change]:
        return stack_changes(self.document)


def plan_all(outdir: Path, plan_dir: Path) -> list[StackPlan]:
    """Binary plan and its JSON for every stack, plus one Markdown summary of them all."""
    plan_dir.mkdir(parents=True, exist_ok=True)
    plans = []
    for stack in stacks(outdir):
        print(f"== plan {stack.stack}", flush=True)
        stack.init()
        plan_file = (plan_dir / f"{stack.stack}.tfplan").resolve()
        stack.plan(plan_file)
        document = stack.show_json(plan_file)
        (plan_dir / f"{stack.stack}.json").write_text(json.dumps(document, indent=1))
        plans.append(StackPlan(stack.stack, plan_file, document))
    summary = render({p.stack: p.document for p in plans})
    (plan_dir / "summary.md").write_text(summary, encoding="utf-8")
    print(f"plan summary: {plan_dir / 'summary.md'}")
    return plans


def unexplained_changes(
    plan: StackPlan, is_known_drift: Callable[[str, str], bool]
) -> tuple[list[str], list[str]]:
    """(real diffs, emulator drift) of a plan that should be empty after an apply.

    Only an in-place change whose every attribute is known emulator drift is drift.
    """
    real: list[str] = []
    drift: list[str] = []
    for change in plan.changes:
        explained = (
            change.kind == "change"
            and bool(change.attributes)
            and all(is_known_drift(change.resource_type, a) for a in change.attributes)
        )
        line = f"{plan.stack}: {change.kind} {change.address} ({', '.join(change.attributes)})"
        (drift if explained else real).append(line)
    return real, drift
