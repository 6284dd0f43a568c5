"""The Python environment Lambda workers run in: the runtime's packages and nothing else.

    python -m emulator.dataplane.lambda_site build [--target build/lambda-runtime] [--wheel-dir D]

On AWS a python3.13 function imports its own zip (``/var/task``, first on ``sys.path``), then
what the runtime ships: the AWS SDK (boto3, botocore and their dependencies) and the runtime
interface client. Nothing else. A worker started from the emulator's virtualenv would see
moto, pytest, kafka-python, ... and a zip that forgot a dependency would still work locally.

So the workers get their own interpreter environment, built once: a virtual environment
without pip whose only site-packages are the pins in ``lambda-runtime-requirements.txt``
(installed with ``pip install --no-deps --only-binary=:all: --target``), and which does not
see the system's site-packages (``include-system-site-packages = false``; user site-packages
are off in a venv). The interpreter starts normally (``site`` runs, as on Lambda, where the
SDK sits in the runtime's own site-packages); the worker adds only its task root to
``PYTHONPATH``. ``python -S`` with the packages on ``PYTHONPATH`` would isolate as well, but
drops what ``site`` sets up (``exit``/``quit`` builtins, ``sys.flags.no_site``), which a
handler may use.

Host builds: a zip built for Lambda carries compiled distributions (cryptography, cffi)
for Lambda's platform, which this machine cannot load. Beside the site-packages, in
``host-builds/`` (never on a worker's path by itself), the build installs this machine's
build of the SAME pinned version of each compiled distribution the handlers pin
(``COMPILED`` names, versions read from ``handlers/*/requirements.txt``). A worker whose zip
carries a foreign build loads that one instead (:mod:`emulator.dataplane.host_builds`).

The interpreter is this machine's Python (3.11 here; python3.13 on AWS). The build is kept
until the pins file, the handlers' compiled pins or the interpreter change
(``.acme-lambda-site.json`` records them).
pip runs isolated from this machine's pip configuration (as the Lambda packaging does).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from packaging.utils import canonicalize_name

from modules.packaging import WHEEL_DIR_ENV, pip_environment

__all__ = [
    "COMPILED",
    "DEFAULT_SITE_DIR",
    "REQUIREMENTS_FILE",
    "RuntimeSite",
    "RuntimeSiteError",
    "build_site",
    "compiled_pins",
    "load_site",
    "main",
]

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
REQUIREMENTS_FILE: Final = Path(__file__).with_name("lambda-runtime-requirements.txt")
HANDLERS_ROOT: Final = REPO_ROOT / "handlers"
# Distributions with compiled code a handler may pin: their host build is installed in
# host-builds/ at the handlers' pinned version. Add a name when a handler pins another one.
COMPILED: Final = frozenset({"cryptography", "cffi"})
DEFAULT_SITE_DIR: Final = REPO_ROOT / "build" / "lambda-runtime"
MARKER_FILE: Final = ".acme-lambda-site.json"
# Imported once after the install: a pin missing from the closure fails the build, not the
# first invocation.
_CHECK_IMPORTS: Final = "import awslambdaric.__main__, runtime_client, boto3, botocore, simplejson"


class RuntimeSiteError(RuntimeError):
    """The workers' environment is missing, stale or could not be built."""


@dataclass(frozen=True)
class RuntimeSite:
    """A built worker environment."""

    root: Path

    def __post_init__(self) -> None:
        if not isinstance(self.root, Path) or not self.root.is_absolute():
            raise RuntimeSiteError(f"RuntimeSite.root must be an absolute Path, got {self.root!r}")

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def host_builds(self) -> Path:
        return self.root / "host-builds"

    @property
    def site_packages(self) -> Path:
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        return self.root / "lib" / version / "site-packages"


def compiled_pins(handlers_root: Path = HANDLERS_ROOT) -> list[str]:
    """``name==version`` of each COMPILED distribution the handlers pin (one version each)."""
    pins: dict[str, set[str]] = {}
    for path in sorted(handlers_root.glob("*/requirements.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            requirement = line.split("#", 1)[0].strip()
            if "==" not in requirement:
                continue
            name, version = (part.strip() for part in requirement.split("==", 1))
            if canonicalize_name(name) in COMPILED:
                pins.setdefault(canonicalize_name(name), set()).add(version)
    conflicting = {name: sorted(v) for name, v in pins.items() if len(v) > 1}
    if conflicting:
        raise RuntimeSiteError(f"handlers pin several versions of {conflicting}: pin one each")
    return [f"{name}=={versions.pop()}" for name, versions in sorted(pins.items())]


def _fingerprint(requirements: Path) -> dict[str, str]:
    return {
        "requirements_sha256": hashlib.sha256(requirements.read_bytes()).hexdigest(),
        "host_builds": " ".join(compiled_pins()),
        "python": sys.version.split()[0],
        "base_executable": str(Path(getattr(sys, "_base_executable", sys.executable))),
    }


def _read_marker(root: Path) -> dict[str, str] | None:
    try:
        marker = json.loads((root / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def load_site(root: Path = DEFAULT_SITE_DIR, requirements: Path = REQUIREMENTS_FILE) -> RuntimeSite:
    """The built environment at ``root``; fails with the command to run when absent or stale."""
    site = RuntimeSite(root.resolve())
    how = f"build it with: python -m emulator.dataplane.lambda_site build --target {root}"
    marker = _read_marker(site.root)
    if marker is None or not site.python.exists():
        raise RuntimeSiteError(f"no Lambda worker environment at {site.root}; {how}")
    if marker != _fingerprint(requirements):
        raise RuntimeSiteError(
            f"the Lambda worker environment at {site.root} was built from other pins or "
            f"another Python; {how}"
        )
    return site


def _run(argv: Sequence[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeSiteError(
            f"{' '.join(argv)} failed with exit code {result.returncode}:\n"
            f"{result.stdout}{result.stderr}"
        )


def build_site(
    root: Path = DEFAULT_SITE_DIR,
    *,
    requirements: Path = REQUIREMENTS_FILE,
    wheel_dir: Path | None = None,
    force: bool = False,
) -> RuntimeSite:
    """Build (or keep, when up to date) the worker environment at ``root``."""
    root = root.resolve()
    if not force:
        try:
            return load_site(root, requirements)
        except RuntimeSiteError:
            pass
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = root.with_name(f"{root.name}.building-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        # --without-pip: the workers never install anything; pip would also be one more
        # package a handler could import locally but not on AWS.
        _run([sys.executable, "-m", "venv", "--without-pip", str(staging)])
        staged = RuntimeSite(staging)
        source = (
            ["--no-index", "--find-links", str(wheel_dir)]
            if wheel_dir is not None
            else ["--index-url", "https://pypi.org/simple"]
        )

        def pip_install(target: Path, *wanted: str) -> None:
            _run(
                [
                    *(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"),
                    *("--only-binary=:all:", "--target", str(target), *source, *wanted),
                ],
                env=pip_environment(),
            )

        pip_install(staged.site_packages, "-r", str(requirements))
        _run([str(staged.python), "-c", _CHECK_IMPORTS], env={"PATH": os.environ["PATH"]})
        host_pins = compiled_pins()
        if host_pins:  # this machine's build of the handlers' compiled pins, same versions
            pip_install(staged.host_builds, *host_pins)
        (staging / MARKER_FILE).write_text(
            json.dumps(_fingerprint(requirements), indent=2) + "\n", encoding="utf-8"
        )
        shutil.rmtree(root, ignore_errors=True)
        staging.rename(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RuntimeSite(root)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m emulator.dataplane.lambda_site",
        description="Build the Python environment the emulator's Lambda workers run in",
    )
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--target", type=Path, default=DEFAULT_SITE_DIR)
    parser.add_argument("--requirements", type=Path, default=REQUIREMENTS_FILE)
    parser.add_argument(
        "--wheel-dir",
        type=Path,
        default=Path(os.environ[WHEEL_DIR_ENV]) if os.environ.get(WHEEL_DIR_ENV) else None,
        help=f"install only from this folder of wheels (default: ${WHEEL_DIR_ENV}, else PyPI)",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    started = time.monotonic()
    site = build_site(
        args.target, requirements=args.requirements, wheel_dir=args.wheel_dir, force=args.force
    )
    print(f"Lambda worker environment: {site.root} ({time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
