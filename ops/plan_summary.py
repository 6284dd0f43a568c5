"""Summarize `terraform show -json` plans of every stack as one Markdown page.

Replacements and destroys are listed first: they are what a reviewer must not miss.

    python -m ops.plan_summary network=build/plan/network.json msk=... > summary.md
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KINDS = ("add", "change", "replace", "destroy")


@dataclass(frozen=True)
class Change:
    address: str
    resource_type: str
    kind: str  # one of KINDS
    reason: str = ""
    attributes: tuple[str, ...] = ()


def classify(actions: Sequence[str]) -> str | None:
    """Terraform's action list -> add/change/replace/destroy, or None for no change."""
    key = tuple(actions)
    if key in (("delete", "create"), ("create", "delete")):
        return "replace"
    single: dict[tuple[str, ...], str] = {
        ("create",): "add",
        ("update",): "change",
        ("delete",): "destroy",
    }
    return single.get(key)


def changed_attributes(before: Any, after: Any, unknown: Any) -> tuple[str, ...]:
    """Top-level attributes whose value differs (or becomes known only after apply)."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return ()
    unknown = unknown if isinstance(unknown, dict) else {}
    names = set(before) | set(after)
    return tuple(sorted(n for n in names if before.get(n) != after.get(n) or unknown.get(n)))


def _path(items: Sequence[Any]) -> str:
    return ".".join(str(i) for i in items)


def stack_changes(plan: Mapping[str, Any]) -> list[Change]:
    if "resource_changes" not in plan and "format_version" not in plan:
        raise ValueError("not a `terraform show -json` plan: no format_version/resource_changes")
    changes = []
    for item in plan.get("resource_changes", []):
        if item.get("mode", "managed") != "managed":
            continue
        change = item.get("change", {})
        kind = classify(change.get("actions", []))
        if kind is None:
            continue
        reason = item.get("action_reason", "")
        replace_paths = change.get("replace_paths") or []
        if replace_paths:
            reason = "forced by " + ", ".join(_path(p) for p in replace_paths)
        attributes = (
            changed_attributes(
                change.get("before"), change.get("after"), change.get("after_unknown")
            )
            if kind == "change"
            else ()
        )
        changes.append(Change(item["address"], item["type"], kind, reason, attributes))
    return changes


def render(plans: Mapping[str, Mapping[str, Any]]) -> str:
    per_stack = {stack: stack_changes(plan) for stack, plan in plans.items()}
    lines = ["# Terraform plan summary", ""]
    dangerous = [
        (stack, c)
        for stack, changes in per_stack.items()
        for c in changes
        if c.kind in ("replace", "destroy")
    ]
    if dangerous:
        lines += ["## Replacements and destroys: review these first", ""]
        for stack, change in sorted(dangerous, key=lambda sc: (sc[1].kind != "destroy", sc[0])):
            verb = "DESTROY" if change.kind == "destroy" else "REPLACE"
            suffix = f" ({change.reason})" if change.reason else ""
            lines.append(f"- **{verb}** `{stack}`: `{change.address}`{suffix}")
        lines.append("")
    else:
        lines += ["No resource is replaced or destroyed.", ""]

    lines += [
        "## Totals",
        "",
        "| stack | add | change | replace | destroy |",
        "|---|---:|---:|---:|---:|",
    ]
    for stack, changes in per_stack.items():
        counts = [sum(c.kind == kind for c in changes) for kind in KINDS]
        lines.append(f"| {stack} | " + " | ".join(map(str, counts)) + " |")
    lines.append("")

    for stack, changes in per_stack.items():
        lines.append(f"## {stack}")
        lines.append("")
        if not changes:
            lines += ["No changes.", ""]
            continue
        for kind in KINDS:
            for change in (c for c in changes if c.kind == kind):
                detail = f" ({', '.join(change.attributes)})" if change.attributes else ""
                lines.append(f"- {kind}: `{change.address}`{detail}")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plans", nargs="+", metavar="STACK=PLAN.json")
    parser.add_argument("--output", "-o", type=Path)
    args = parser.parse_args(argv)
    plans = {}
    for spec in args.plans:
        stack, sep, path = spec.partition("=")
        if not sep:
            parser.error(f"{spec!r}: expected STACK=PATH")
        plans[stack] = json.loads(Path(path).read_text(encoding="utf-8"))
    text = render(plans)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
