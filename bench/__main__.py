"""``python -m bench [group ...]``: run the benchmarks, print the table, write build/bench.json.

Groups: synth, handlers, deploy (deploy-local with the virtual environment present), msk
(producer throughput through the MSK front door), apigateway (@connections POST latency and
throughput through the local API gateway), athena (queries over 100,000 events in the local
Athena) and fresh-clone (clone, then make deploy-local: several minutes). With no group
named, synth, handlers and deploy run: the figures with targets. Exits 1 when a target is
missed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from .core import Figure

ROOT = Path(__file__).resolve().parent.parent
GROUPS = {
    "synth": "bench.synth",
    "handlers": "bench.handlers",
    "deploy": "bench.deploy",
    "fresh-clone": "bench.fresh_clone",
    "msk": "bench.msk",
    "apigateway": "bench.apigateway",
    "athena": "bench.athena",
}
DEFAULT_GROUPS = ("synth", "handlers", "deploy")


def machine() -> dict[str, object]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def table(figures: list[Figure]) -> str:
    rows = [("figure", "measured", "baseline", "ratio", "target", "ok")]
    for f in figures:
        baseline = f"{f.baseline:,.3g} {f.unit} ({f.baseline_label})" if f.baseline else "-"
        rows.append(
            (
                f.name,
                f"{f.measured:,.3g} {f.unit}",
                baseline,
                f"{f.ratio:.2f}x" if f.ratio is not None else "-",
                f.target.describe(f.unit),
                "yes" if f.passed else "NO",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("groups", nargs="*", metavar="group", help=", ".join(GROUPS))
    parser.add_argument("--output", type=Path, default=ROOT / "build" / "bench.json")
    args = parser.parse_args(argv)
    groups = args.groups or list(DEFAULT_GROUPS)
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        parser.error(f"unknown group(s) {unknown}; choose from {', '.join(GROUPS)}")

    figures: list[Figure] = []
    for group in groups:
        print(f"== bench {group}", flush=True)
        module = importlib.import_module(GROUPS[group])
        for figure in module.run():
            print(f"   {figure.name}: {figure.measured:,.4g} {figure.unit}", flush=True)
            figures.append(figure)

    print()
    print(table(figures))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.output.read_text()) if args.output.is_file() else {}
    results = {**previous.get("figures", {}), **{f.name: f.as_dict() for f in figures}}
    args.output.write_text(json.dumps({"machine": machine(), "figures": results}, indent=2))
    print(f"\nwritten: {args.output}")
    return 0 if all(f.passed for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
