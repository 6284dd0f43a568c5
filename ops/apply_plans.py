"""Apply the plans that were reviewed, in dependency order, and never a fresh plan.

    python -m ops.apply_plans --outdir cdktf.out --plan-dir build/plan    # make apply-plans

``make plan`` (or the pull-request workflow) wrote ``<stack>.tfplan``, its JSON and
``plans.json`` (which stacks were planned) to the plan directory. Each stack's saved plan is
applied once the stacks it reads are applied. A plan is refused, and nothing after it is
applied, when it went stale since it was reviewed:

- its own state changed (someone applied in between): Terraform itself refuses the plan;
- an upstream stack's outputs it read differ from that stack's outputs now (the upstream
  plan changed them, or someone else did): applying it would write values nobody reviewed.

The cure for both is a new plan and a new review. A plan with nothing to apply is skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .graph import StackGraph, StackGraphError
from .stacks import PLAN_MANIFEST, StackPlan, init_all
from .terraform import Terraform, TerraformError


class StalePlanError(TerraformError):
    """A saved plan no longer describes what applying it would do."""


def load_plans(plan_dir: Path) -> dict[str, StackPlan]:
    """The saved plans ``plans.json`` lists; every one must be there, with its JSON."""
    manifest_path = plan_dir / PLAN_MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        names = [str(name) for name in manifest["stacks"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise TerraformError(
            f"{manifest_path}: not a plan directory ({error}); run `make plan` first"
        ) from None
    plans = {}
    for name in names:
        plan_file = plan_dir / f"{name}.tfplan"
        json_file = plan_dir / f"{name}.json"
        if not plan_file.is_file() or not json_file.is_file():
            raise TerraformError(
                f"{plan_dir}: {PLAN_MANIFEST} lists {name!r} but {plan_file.name} or "
                f"{json_file.name} is missing; the plan directory is incomplete"
            )
        try:
            document = json.loads(json_file.read_text(encoding="utf-8"))
        except ValueError as error:
            raise TerraformError(f"{json_file}: not JSON ({error})") from None
        plans[name] = StackPlan(name, plan_file.resolve(), document)
    return plans


def stale_upstreams(
    plan: StackPlan, outputs_now: Mapping[str, Mapping[str, Any]]
) -> dict[str, list[str]]:
    """Upstream stack -> names of the outputs that differ from what ``plan`` read."""
    stale = {}
    for upstream, read in plan.upstream_outputs().items():
        now = outputs_now.get(upstream, {})
        changed = sorted(
            name for name in read.keys() | now.keys() if read.get(name) != now.get(name)
        )
        if changed:
            stale[upstream] = changed
    return stale


def apply_plans(outdir: Path, plan_dir: Path) -> list[str]:
    """Apply every saved plan in dependency order; returns the stacks that changed."""
    plans = load_plans(plan_dir)
    try:
        graph = StackGraph.from_manifest(outdir).subset(plans)
    except StackGraphError as error:
        raise TerraformError(f"{plan_dir}: {error}") from None
    # The planned stacks, and the stacks whose outputs they read.
    needed = set(plans) | {up for plan in plans.values() for up in plan.upstream_outputs()}
    stacks: dict[str, Terraform] = init_all(outdir, needed)
    applied: list[str] = []

    def apply(name: str) -> None:
        plan = plans[name]
        upstreams = plan.upstream_outputs()
        stale = stale_upstreams(plan, {up: stacks[up].outputs() for up in upstreams})
        if stale:
            details = "; ".join(f"{up}: {', '.join(names)}" for up, names in stale.items())
            raise StalePlanError(
                f"{name}: refusing its saved plan: it read upstream outputs that have changed "
                f"since ({details}). Plan again and review the new plan."
            )
        if not plan.has_changes:
            print(f"== {name}: the plan has no changes", flush=True)
            return
        try:
            stacks[name].run(
                ["apply", "-input=false", "-no-color", "-compact-warnings", str(plan.plan_file)],
                quiet=True,
            )
        except TerraformError as error:
            if "Saved plan is stale" in str(error):
                raise StalePlanError(
                    f"{name}: refusing its saved plan: the stack's state changed after the "
                    "plan was made (another apply ran in between). Plan again and review "
                    "the new plan."
                ) from None
            raise
        applied.append(name)
        print(f"== applied the saved plan of {name}", flush=True)

    graph.run(apply, max_parallel=len(plans) or 1)
    return applied


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Apply the reviewed plans in dependency order")
    parser.add_argument("--outdir", type=Path, default=Path("cdktf.out"))
    parser.add_argument("--plan-dir", type=Path, default=Path("build/plan"))
    args = parser.parse_args(argv)
    try:
        applied = apply_plans(args.outdir, args.plan_dir)
    except TerraformError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"applied: {', '.join(applied) or 'nothing (no plan had changes)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
