"""Synth time and memory of the platform beside a naive two-stack app (bench/naive_app).

Each synth runs in a fresh interpreter, as ``make synth`` does, with the peak resident
memory of python and its node kernel summed over the process tree. The two apps alternate,
three runs each; the median counts.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from .core import Figure, Target, peak_tree_rss, stopwatch

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3
SYNTH_RATIO_TARGET = 0.35
PEAK_MEMORY_TARGET_GB = 0.8


def _synth(script: Path, outdir: Path) -> tuple[float, int]:
    env = {
        **os.environ,
        "CDKTF_OUTDIR": str(outdir),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CHECKPOINT_DISABLE": "1",
    }
    elapsed = stopwatch()
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=script.parent if script.parent != ROOT else ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    with peak_tree_rss(process.pid) as peak:
        _, stderr = process.communicate()
    seconds = elapsed()
    if process.returncode != 0:
        raise RuntimeError(f"synth of {script} failed:\n{stderr.decode()[-3000:]}")
    return seconds, peak[0]


def run() -> list[Figure]:
    ours: list[tuple[float, int]] = []
    naive: list[tuple[float, int]] = []
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        for index in range(RUNS):
            naive.append(_synth(ROOT / "bench" / "naive_app" / "app.py", Path(tmp) / f"n{index}"))
            ours.append(_synth(ROOT / "main.py", Path(tmp) / f"o{index}"))
    seconds = statistics.median(s for s, _ in ours)
    naive_seconds = statistics.median(s for s, _ in naive)
    peak_gb = max(m for _, m in ours) / 1e9
    return [
        Figure(
            "synth",
            seconds,
            "s",
            Target("ratio_max", SYNTH_RATIO_TARGET),
            baseline=naive_seconds,
            baseline_label="naive two-stack app",
            note=f"median of {RUNS} fresh-interpreter runs each, alternating",
        ),
        Figure(
            "synth peak memory",
            peak_gb,
            "GB",
            Target("max", PEAK_MEMORY_TARGET_GB),
            baseline=max(m for _, m in naive) / 1e9,
            baseline_label="naive two-stack app",
            note="python and its node kernel together, sampled every 50 ms",
        ),
    ]
