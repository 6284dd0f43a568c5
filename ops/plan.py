"""Plan every synthesized stack against its real backend and summarize for review.

    python -m ops.plan --outdir cdktf.out --plan-dir build/plan     # make plan

Writes <stack>.tfplan (binary), <stack>.json (`terraform show -json`) and summary.md.
Downstream stacks read upstream outputs from remote state, so plan after the upstream
stacks have been applied once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .graph import StackGraphError
from .stacks import plan_all
from .terraform import TerraformError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Plan every stack for review")
    parser.add_argument("--outdir", type=Path, default=Path("cdktf.out"))
    parser.add_argument("--plan-dir", type=Path, default=Path("build/plan"))
    parser.add_argument(
        "--stacks",
        default="",
        help="comma-separated stacks to plan (default: all); apply-plans applies only these",
    )
    args = parser.parse_args(argv)
    only = [name for name in args.stacks.split(",") if name] or None
    try:
        plan_all(args.outdir, args.plan_dir, only)
    except (TerraformError, StackGraphError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
