"""What a benchmark reports: a figure, the baseline measured beside it, and its target."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

# ratio_max: measured / baseline <= value (lower is better, e.g. seconds)
# ratio_min: measured / baseline >= value (higher is better, e.g. events per second)
# max / min: an absolute bound on the measured figure.
TargetKind = Literal["ratio_max", "ratio_min", "max", "min"]


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    value: float

    def describe(self, unit: str) -> str:
        return {
            "ratio_max": f"<= {self.value:g}x baseline",
            "ratio_min": f">= {self.value:g}x baseline",
            "max": f"<= {self.value:g} {unit}",
            "min": f">= {self.value:g} {unit}",
        }[self.kind]


@dataclass(frozen=True)
class Figure:
    name: str
    measured: float
    unit: str
    target: Target
    baseline: float | None = None
    baseline_label: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if self.target.kind.startswith("ratio") and not self.baseline:
            raise ValueError(f"{self.name}: a ratio target needs a measured baseline")

    @property
    def ratio(self) -> float | None:
        return self.measured / self.baseline if self.baseline else None

    @property
    def passed(self) -> bool:
        kind, value = self.target.kind, self.target.value
        if kind == "ratio_max":
            return (self.ratio or 0.0) <= value
        if kind == "ratio_min":
            return (self.ratio or 0.0) >= value
        if kind == "max":
            return self.measured <= value
        return self.measured >= value

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "ratio": self.ratio, "passed": self.passed}


Benchmark = Callable[[], list[Figure]]


def process_tree_rss(root_pid: int) -> int:
    """Resident memory, in bytes, of a process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            statm = (entry / "statm").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        rss[int(entry.name)] = int(statm.split()[1]) * page
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


@contextmanager
def peak_tree_rss(root_pid: int, interval: float = 0.05) -> Iterator[list[int]]:
    """Samples the tree's memory until the block ends; the list holds the peak in bytes."""
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process_tree_rss(root_pid))
            done.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()


def stopwatch() -> Callable[[], float]:
    started = time.perf_counter()
    return lambda: time.perf_counter() - started
