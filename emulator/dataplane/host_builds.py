"""Compiled distributions of a zip built for another platform: the host's build instead.

A function's zip is built for Lambda (python3.13, arm64 or x86_64); the workers run this
machine's Python. Pure-Python distributions load anywhere; a compiled one (cryptography,
cffi) carries an extension module only Lambda's platform can load. A distribution is
foreign when none of the ``Tag:`` lines of its ``<name>.dist-info/WHEEL`` is among the
host's tags (``packaging.tags.sys_tags()``). For each foreign distribution the worker
loads the host's build of the SAME version from the workers' environment
(``build/lambda-runtime/host-builds``, see :mod:`emulator.dataplane.lambda_site`): a
per-code shim directory of symlinks to that build's top-level entries and dist-info comes
before the code directory on ``sys.path``. The zip's own files stay where they are (what
Terraform deployed); only the compiled code that runs is the host build of that version.
A foreign distribution without a host build of the same version is an error naming it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from packaging.tags import parse_tag, sys_tags
from packaging.utils import canonicalize_name

__all__ = ["Distribution", "HostBuildError", "foreign_distributions", "host_shim"]


class HostBuildError(RuntimeError):
    """A zip's compiled distribution has no host build of the same version."""


@dataclass(frozen=True)
class Distribution:
    name: str  # canonical
    version: str
    tags: tuple[str, ...]
    dist_info: Path


def _metadata(dist_info: Path) -> tuple[str, str]:
    headers = HeaderParser().parsestr((dist_info / "METADATA").read_text(encoding="utf-8"))
    return canonicalize_name(headers["Name"]), headers["Version"]


def _distributions(root: Path) -> list[Distribution]:
    found = []
    for dist_info in sorted(root.glob("*.dist-info")):
        try:
            name, version = _metadata(dist_info)
            wheel = (dist_info / "WHEEL").read_text(encoding="utf-8")
        except (OSError, TypeError):
            continue
        tags = tuple(
            line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")
        )
        found.append(Distribution(name, version, tags, dist_info))
    return found


def foreign_distributions(code_dir: Path) -> list[Distribution]:
    """The distributions in ``code_dir`` whose wheel tags this machine cannot load."""
    host = set(sys_tags())
    return [
        dist
        for dist in _distributions(code_dir)
        if dist.tags and not any(tag in host for text in dist.tags for tag in parse_tag(text))
    ]


def _top_level(dist_info: Path) -> set[str]:
    entries = {dist_info.name}
    for line in (dist_info / "RECORD").read_text(encoding="utf-8").splitlines():
        first = line.split(",", 1)[0].split("/", 1)[0]
        if first and first not in ("..", "__pycache__") and not first.startswith(".."):
            entries.add(first)
    return entries


def host_shim(code_dir: Path, host_builds: Path, shim_dir: Path, function: str) -> Path | None:
    """The shim directory for ``code_dir`` (built once), or None when nothing is foreign."""
    foreign = foreign_distributions(code_dir)
    if not foreign:
        return None
    if shim_dir.is_dir():
        return shim_dir
    available = {d.name: d for d in _distributions(host_builds)} if host_builds.is_dir() else {}
    how = "add its pin to the handler's requirements.txt and run `make lambda-runtime`"
    links: dict[str, Path] = {}
    for dist in foreign:
        built_for = ", ".join(dist.tags)
        host = available.get(dist.name)
        if host is None:
            raise HostBuildError(
                f"{function}: its zip carries {dist.name} {dist.version} built for {built_for}, "
                f"which this machine cannot load, and {host_builds} has no host build of "
                f"{dist.name}; {how}"
            )
        if host.version != dist.version:
            raise HostBuildError(
                f"{function}: its zip carries {dist.name} {dist.version} built for {built_for}, "
                f"but the host build in {host_builds} is {dist.name} {host.version}; {how}"
            )
        for entry in _top_level(host.dist_info):
            if (host_builds / entry).exists():
                links[entry] = host_builds / entry
    shim_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".shim-", dir=shim_dir.parent))
    try:
        for entry, target in sorted(links.items()):
            os.symlink(target, staging / entry)
        staging.rename(shim_dir)
    except OSError:
        if not shim_dir.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return shim_dir
