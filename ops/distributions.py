"""The generator's distributions beside the seeds' weights, as a Markdown table.

Generates 100,000 events with a fixed seed (the generator module is imported from
handlers/generator, as the tests do: handlers are Lambda folders, not packages of the
infrastructure) and prints, for each distribution, every value with the seeds' weight
(implementation-plan-original.md), the measured frequency and why the two differ.

    python -m ops.distributions              # print the table
    python -m ops.distributions --write README.md   # replace README's section (make distributions)

The README section sits between BEGIN and END below; tests/ops/test_distributions.py
checks that it equals this command's output.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
EVENTS: Final = 100_000
SEED: Final = 14
BEGIN: Final = "<!-- distributions:begin (make distributions) -->"
END: Final = "<!-- distributions:end -->"


@dataclass(frozen=True)
class Distribution:
    """One row group: the seeds' weights per value, how an event maps to a value, why."""

    name: str
    seeds: Mapping[str, float]
    value: Callable[[Mapping[str, Any]], str]
    why: str


def _field(name: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda event: str(event[name])


def _uniform(values: Sequence[str]) -> dict[str, float]:
    return dict.fromkeys(values, 1 / len(values))


def _buffering_bin(event: Mapping[str, Any]) -> str:
    seconds = float(event["buffering_duration_seconds"])
    if seconds == 0:
        return "0"
    for upper in (10, 20, 30):
        if seconds <= upper:
            return f"(0, {upper}]" if upper == 10 else f"({upper - 10}, {upper}]"
    return "> 30"


# The seeds' generator (implementation-plan-original.md): weighted choices for event,
# device, quality and title types; uniform choices for the rest.
DISTRIBUTIONS: Final = (
    Distribution(
        "event_type",
        {"start": 0.30, "pause": 0.15, "resume": 0.15, "stop": 0.25, "complete": 0.15},
        _field("event_type"),
        "Sessions play start, (pause, resume or stop), stop or complete, with step "
        "probabilities chosen to give the seeds' weights; only sampling differs.",
    ),
    Distribution(
        "device_type",
        {"mobile": 0.35, "web": 0.30, "tv": 0.25, "tablet": 0.10},
        _field("device_type"),
        "Drawn once per session with the seeds' weights; sessions of unequal length add "
        "sampling noise.",
    ),
    Distribution(
        "quality",
        {"SD": 0.20, "HD": 0.50, "4K": 0.30},
        _field("quality"),
        "Drawn once per session with the seeds' weights.",
    ),
    Distribution(
        "title_type",
        {"movie": 0.60, "series": 0.30, "documentary": 0.10},
        _field("title_type"),
        "A fixed catalogue holds exactly the seeds' shares (6,000 / 3,000 / 1,000 titles), "
        "so a title keeps one type; sessions pick titles uniformly.",
    ),
    Distribution(
        "connection_type",
        _uniform(["wifi", "mobile", "fiber", "cable", "dsl", "satellite"]),
        _field("connection_type"),
        "The seeds drew uniformly; most homes are on wifi or cable and few on satellite, so "
        "explicit weights (40/20/15/15/7/3 %) replace the uniform choice.",
    ),
    Distribution(
        "isp",
        _uniform(["Comcast", "AT&T", "Verizon", "Spectrum", "Cox", "CenturyLink"]),
        _field("isp"),
        "The seeds drew uniformly; weights follow the providers' rough US market shares.",
    ),
    Distribution(
        "state",
        _uniform(["CA", "TX", "FL", "NY", "IL", "PA", "OH", "GA", "NC", "MI"]),
        _field("state"),
        "The seeds drew uniformly; weights follow the states' populations.",
    ),
    Distribution(
        "device_os",
        _uniform(["iOS", "Android", "Windows", "macOS", "Linux", "tvOS", "Roku"]),
        _field("device_os"),
        "The seeds drew any OS for any device (a Roku phone); here only the systems that "
        "run on the session's device type, uniformly among them.",
    ),
    Distribution(
        "buffering_duration_seconds",
        {"0": 0.0, "(0, 10]": 1 / 3, "(10, 20]": 1 / 3, "(20, 30]": 1 / 3, "> 30": 0.0},
        _buffering_bin,
        "The seeds drew 0-30 s whatever the stall count, so an event without stalls had "
        "buffering time; here it is the sum of its stalls (0 without), each lasting longer "
        "on slower connections (fiber 0.5-2 s .. satellite 2-10 s).",
    ),
)


def _import_generator() -> Any:
    """The generator module from handlers/generator (with handlers/common for its imports)."""
    for folder in (ROOT / "handlers" / "common", ROOT / "handlers" / "generator"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    os.environ.setdefault(
        "TELEMETRY_CONTRACT_PATH", str(ROOT / "contracts" / "telemetry_event.json")
    )
    import generator

    return generator


def measure(events: int = EVENTS, seed: int = SEED) -> list[dict[str, Any]]:
    """``events`` events of the generator, reproducibly (fixed seed and clock)."""
    generator = _import_generator()
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    made: list[dict[str, Any]] = generator.generate_events(
        events, random.Random(seed), now=lambda: moment
    )
    return made


def _percent(share: float) -> str:
    return f"{share * 100:.2f} %"


def table(events: Sequence[Mapping[str, Any]]) -> str:
    """The Markdown table: one row per value, the reason on each distribution's first row."""
    lines = [
        f"Measured over {len(events):,} events of `generate_events` (seed {SEED}); "
        "regenerate with `make distributions`.",
        "",
        "| distribution | value | seeds' weight | measured | why it differs |",
        "|---|---|---:|---:|---|",
    ]
    for distribution in DISTRIBUTIONS:
        counts = Counter(distribution.value(event) for event in events)
        values = list(distribution.seeds) + sorted(set(counts) - set(distribution.seeds))
        for index, value in enumerate(values):
            seeds = distribution.seeds.get(value, 0.0)
            measured = counts[value] / len(events)
            name = f"`{distribution.name}`" if index == 0 else ""
            why = distribution.why if index == 0 else ""
            lines.append(f"| {name} | {value} | {_percent(seeds)} | {_percent(measured)} | {why} |")
    return "\n".join(lines) + "\n"


def replace_section(document: str, section: str) -> str:
    """``document`` with the text between BEGIN and END replaced by ``section``."""
    if document.count(BEGIN) != 1 or document.count(END) != 1:
        raise ValueError(f"the document needs exactly one {BEGIN} and one {END}")
    head, rest = document.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{section}{END}{tail}"


def section_of(document: str) -> str:
    """The text between BEGIN and END (without the marker lines' newline)."""
    return document.split(BEGIN, 1)[1].split(END, 1)[0].removeprefix("\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", type=Path, help="replace this file's marked section")
    args = parser.parse_args(argv)
    text = table(measure())
    if args.write is None:
        sys.stdout.write(text)
        return 0
    path: Path = args.write
    path.write_text(replace_section(path.read_text(encoding="utf-8"), text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
