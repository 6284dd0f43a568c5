"""The stacks and their dependencies, as the synth recorded them in ``manifest.json``.

``main.py`` makes each stack depend on the stacks whose state it reads; cdktf writes those
edges into the manifest. This module reads them back and runs one action per stack as early
as its dependencies allow, so stacks that do not depend on each other are applied (or
destroyed, in reverse) at the same time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class StackGraphError(RuntimeError):
    """The manifest is missing or its dependencies cannot be ordered."""


@dataclass(frozen=True)
class StackGraph:
    dependencies: Mapping[str, frozenset[str]]

    def __post_init__(self) -> None:
        for stack, needs in self.dependencies.items():
            unknown = sorted(needs - self.dependencies.keys())
            if unknown:
                raise StackGraphError(f"{stack} depends on unknown stacks {unknown}")
        self.order()  # fails on a cycle

    @classmethod
    def from_manifest(cls, outdir: Path) -> StackGraph:
        path = outdir / "manifest.json"
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise StackGraphError(f"cannot read {path} ({error}): run the synth first") from None
        return cls(
            {
                name: frozenset(stack.get("dependencies", []))
                for name, stack in manifest["stacks"].items()
            }
        )

    @property
    def names(self) -> tuple[str, ...]:
        return self.order()

    def subset(self, names: Collection[str]) -> StackGraph:
        """Only ``names``, ordered among themselves by the dependencies between them."""
        unknown = sorted(set(names) - self.dependencies.keys())
        if unknown:
            raise StackGraphError(f"unknown stacks {unknown}; stacks: {list(self.names)}")
        keep = set(names)
        return StackGraph({n: self.dependencies[n] & keep for n in self.dependencies if n in keep})

    def reversed(self) -> StackGraph:
        """Dependents first: the order in which stacks can be destroyed."""
        dependents = {
            name: frozenset(other for other, needs in self.dependencies.items() if name in needs)
            for name in self.dependencies
        }
        return StackGraph(dependents)

    def order(self) -> tuple[str, ...]:
        """A deterministic topological order (ties broken by name)."""
        done: list[str] = []
        remaining = dict(self.dependencies)
        while remaining:
            ready = sorted(name for name, needs in remaining.items() if needs <= set(done))
            if not ready:
                raise StackGraphError(f"dependency cycle among {sorted(remaining)}")
            done.extend(ready)
            for name in ready:
                del remaining[name]
        return tuple(done)

    def run(self, action: Callable[[str], T], max_parallel: int = 4) -> dict[str, T]:
        """``action(stack)`` for every stack, each as soon as its dependencies succeeded.

        On the first failure nothing new starts; running actions finish; the error is raised.
        """
        results: dict[str, T] = {}
        running: dict[Future[T], str] = {}
        failure: BaseException | None = None
        with ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="stack") as pool:
            while True:
                if failure is None:
                    started = set(running.values()) | results.keys()
                    for name in self.order():
                        if name not in started and self.dependencies[name] <= results.keys():
                            running[pool.submit(action, name)] = name
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    name = running.pop(future)
                    error = future.exception()
                    if error is None:
                        results[name] = future.result()
                    elif failure is None:
                        failure = error
        if failure is not None:
            raise failure
        return results
