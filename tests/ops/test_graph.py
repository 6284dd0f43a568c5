"""The stack graph: read from the synthesized manifest, run as early as dependencies allow."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from ops.graph import StackGraph, StackGraphError

PLATFORM = {
    "network": frozenset(),
    "msk": frozenset({"network"}),
    "data-lake": frozenset(),
    "data-gen": frozenset({"network", "msk", "data-lake"}),
    "dashboard": frozenset({"msk"}),
}


def test_order_puts_every_stack_after_what_it_reads() -> None:
    order = StackGraph(PLATFORM).order()
    assert order == ("data-lake", "network", "msk", "dashboard", "data-gen")
    reverse = StackGraph(PLATFORM).reversed().order()
    for name, needs in PLATFORM.items():
        for upstream in needs:
            assert order.index(upstream) < order.index(name)
            assert reverse.index(upstream) > reverse.index(name)


def test_cycles_and_unknown_stacks_are_refused() -> None:
    with pytest.raises(StackGraphError, match="cycle"):
        StackGraph({"a": frozenset({"b"}), "b": frozenset({"a"})})
    with pytest.raises(StackGraphError, match="unknown stacks"):
        StackGraph({"a": frozenset({"nope"})})


def test_manifest_is_read_and_a_missing_one_is_named(tmp_path: Path) -> None:
    with pytest.raises(StackGraphError, match="run the synth first"):
        StackGraph.from_manifest(tmp_path)
    stacks = {name: {"dependencies": sorted(needs)} for name, needs in PLATFORM.items()}
    (tmp_path / "manifest.json").write_text(json.dumps({"stacks": stacks}))
    assert StackGraph.from_manifest(tmp_path).dependencies == PLATFORM


def test_independent_stacks_run_at_the_same_time() -> None:
    started: dict[str, float] = {}
    finished: dict[str, float] = {}
    lock = threading.Lock()

    def action(name: str) -> str:
        with lock:
            started[name] = time.monotonic()
        time.sleep(0.2)
        with lock:
            finished[name] = time.monotonic()
        return name.upper()

    results = StackGraph(PLATFORM).run(action)
    assert results == {name: name.upper() for name in PLATFORM}
    # network and data-lake overlap; msk starts after network; data-gen after all three.
    assert started["data-lake"] < finished["network"] and started["network"] < finished["data-lake"]
    assert started["msk"] >= finished["network"]
    assert started["data-gen"] >= max(finished[n] for n in ("network", "msk", "data-lake"))
    assert started["dashboard"] < finished["data-gen"]


def test_a_failure_stops_what_depends_on_it_and_is_raised() -> None:
    ran: list[str] = []

    def action(name: str) -> None:
        ran.append(name)
        if name == "msk":
            raise RuntimeError("msk failed")

    with pytest.raises(RuntimeError, match="msk failed"):
        StackGraph(PLATFORM).run(action)
    assert "data-gen" not in ran and "dashboard" not in ran
