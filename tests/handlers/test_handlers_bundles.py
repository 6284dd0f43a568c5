"""The packaging contract of every handler folder: bundle.json, requirements.txt, imports.

The packaging code zips handlers/<function>/<function>.py, the listed handlers/common files,
contracts/telemetry_event.json (when "contract" is true) and the requirements (installed
with --no-deps) flat at the zip root. These tests check that this is enough to run.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.paths import COMMON_DIR, CONTRACT_PATH, handler_folders

FOLDERS = handler_folders()
# What the python3.13 Lambda runtime already provides: never packaged.
RUNTIME_PROVIDED = {
    canonicalize_name(n)
    for n in ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six")
}
INFRASTRUCTURE = {"stacks", "modules", "platform_config", "cdktf", "constructs"}
# The Lambda runtime's interpreter, for evaluating environment markers.
LAMBDA_ENV: dict[str, str] = {
    **{key: str(value) for key, value in default_environment().items()},
    "python_version": "3.13",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "implementation_name": "cpython",
}


def bundle(folder: Path) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((folder / "bundle.json").read_text())
    return spec


def requirements(folder: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (folder / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9._-]+)==([A-Za-z0-9.+!_-]+)", line)
            assert match, f"{folder.name}/requirements.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def module_files(folder: Path) -> list[Path]:
    spec = bundle(folder)
    return [folder / f"{folder.name}.py", *(COMMON_DIR / name for name in spec["common"])]


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_expected_functions():
    assert [f.name for f in FOLDERS] == [
        "broadcaster",
        "consumer",
        "dashboard_page",
        "generator",
        "producer",
        "topic_admin",
        "ws_authorizer",
        "ws_connect",
        "ws_default",
        "ws_disconnect",
    ]


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_bundle_json(folder: Path):
    spec = bundle(folder)
    assert set(spec) == {"handler", "common", "contract"}
    assert spec["handler"] == f"{folder.name}.lambda_handler"
    assert isinstance(spec["contract"], bool)
    assert all((COMMON_DIR / name).is_file() for name in spec["common"])
    assert len(set(spec["common"])) == len(spec["common"])
    # One module per folder (the zip root is flat, so names must not clash).
    assert sorted(p.name for p in folder.glob("*.py")) == [f"{folder.name}.py"]


def test_module_names_are_unique_across_the_tree():
    names = [p.stem for f in FOLDERS for p in f.glob("*.py")] + [
        p.stem for p in COMMON_DIR.glob("*.py")
    ]
    assert len(names) == len(set(names)), names


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_imports_are_all_packaged(folder: Path):
    spec = bundle(folder)
    common = {Path(name).stem for name in spec["common"]}
    pins = requirements(folder)
    distributions = importlib.metadata.packages_distributions()
    for path in module_files(folder):
        for root in imported_roots(path):
            assert root not in INFRASTRUCTURE, f"{path.name} imports infrastructure code {root}"
            if root in sys.stdlib_module_names or root == "__future__":
                continue
            if root in common:
                continue
            if (COMMON_DIR / f"{root}.py").is_file():
                pytest.fail(f"{path.name} imports {root}: add {root}.py to bundle.json 'common'")
            dists = {canonicalize_name(d) for d in distributions.get(root, [])}
            assert dists, f"{path.name} imports {root!r}, which no installed distribution provides"
            assert dists & (set(pins) | RUNTIME_PROVIDED), (
                f"{path.name} imports {root!r} ({dists}) but {folder.name}/requirements.txt "
                "does not list it"
            )
    uses_contract = any("telemetry_contract" in imported_roots(p) for p in module_files(folder))
    assert spec["contract"] == uses_contract


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_requirements_are_exact_complete_and_lean(folder: Path):
    pins = requirements(folder)
    assert not set(pins) & RUNTIME_PROVIDED, "never package what the Lambda runtime provides"
    for name, version in pins.items():
        assert importlib.metadata.version(name) == version, f"{name}: venv has another version"
        # Packaging installs with --no-deps: every dependency must be listed too.
        for raw in importlib.metadata.requires(name) or []:
            requirement = Requirement(raw)
            if requirement.marker and not requirement.marker.evaluate({**LAMBDA_ENV, "extra": ""}):
                continue
            dependency = canonicalize_name(requirement.name)
            assert dependency in pins or dependency in RUNTIME_PROVIDED, (
                f"{folder.name}: {name} needs {dependency}, missing from requirements.txt"
            )
            if dependency in pins:
                assert requirement.specifier.contains(pins[dependency], prereleases=True)


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_flat_package_layout_imports_and_finds_the_contract(folder: Path, tmp_path: Path):
    """Lay the files out as the zip root and import the handler in a fresh interpreter."""
    spec = bundle(folder)
    for path in module_files(folder):
        shutil.copy(path, tmp_path / path.name)
    if spec["contract"]:
        shutil.copy(CONTRACT_PATH, tmp_path / "telemetry_event.json")
    module = spec["handler"].rsplit(".", 1)[0]
    check = (
        "import importlib, sys\n"
        f"m = importlib.import_module({module!r})\n"
        "assert callable(m.lambda_handler)\n"
        "assert m.__file__.startswith(sys.argv[1]), m.__file__\n"
    )
    if spec["contract"]:
        check += "import telemetry_contract\nprint(telemetry_contract.load_contract().topic)\n"
    env = {k: v for k, v in os.environ.items() if k != "TELEMETRY_CONTRACT_PATH"}
    env["PYTHONPATH"] = str(tmp_path)  # the zip root; site-packages stand in for the deps
    result = subprocess.run(
        [sys.executable, "-c", check, str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    if spec["contract"]:
        assert result.stdout.strip() == json.loads(CONTRACT_PATH.read_text())["topic"]


# Loaded on first use, never at import: together they were most of a cold start (issue 8).
LAZY_MODULES = ("boto3", "aws_msk_iam_sasl_signer", "s3transfer", "kafka")


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_heavy_modules_wait_for_first_use(folder: Path, tmp_path: Path):
    """Importing the handler (laid out as the zip root) loads none of LAZY_MODULES."""
    spec = bundle(folder)
    for path in module_files(folder):
        shutil.copy(path, tmp_path / path.name)
    if spec["contract"]:
        shutil.copy(CONTRACT_PATH, tmp_path / "telemetry_event.json")
    module = spec["handler"].rsplit(".", 1)[0]
    check = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(sorted(m for m in {LAZY_MODULES!r} if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TELEMETRY_CONTRACT_PATH"}
    env["PYTHONPATH"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", check],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"{module} imports {result.stdout.strip()} at import"
