"""The checkov gate: zero failed checks on the synthesized stacks without a written reason.

    python -m ops.checkov_gate --stacks cdktf.out/stacks      # make security (and make test)

Runs the pinned checkov (``security/requirements-checkov.txt``, installed in
``build/checkov-venv``) over every ``<stacks>/<stack>/cdk.tf.json`` and compares what fails
with ``security/checkov-accepted.yaml``, the one list of accepted failures, each with its
reason. The gate fails when

- a check fails that the list does not accept (printed with check id, stack, Terraform
  address and checkov's guideline);
- an entry of the list matches no failure any more (stale: the fix landed, remove it);
- checkov evaluated no resource at all, or none of a stack that declares some, or reported a
  parsing error (checkov exits 0 on a file it could not parse: it silently checks nothing).

Worked around here, for checkov 3.3.30's ``terraform_json`` framework:

- its parser raises on ``moved`` blocks (a list of ``{from, to}``; ``import`` and ``removed``
  likewise) and drops the whole file as a parsing error, so the stacks are scanned from a
  copy without them (they only act on state addresses and declare nothing checkov checks);
- it names Python-check results ``resource.<name>`` without the type, and leaves
  ``summary.resource_count`` at 0: the gate maps each result's first line back to the
  ``<type>.<name>`` it wrote on that line of the copy, and counts the evaluated resources
  itself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
ACCEPTED_FILE = REPO_ROOT / "security" / "checkov-accepted.yaml"
REQUIREMENTS_FILE = REPO_ROOT / "security" / "requirements-checkov.txt"
CHECKOV = REPO_ROOT / "build" / "checkov-venv" / "bin" / "checkov"
STACK_FILE = "cdk.tf.json"
# Blocks that act on state only, which checkov's terraform_json parser cannot read.
STATE_ONLY_BLOCKS = ("moved", "import", "removed")
# Without a platform download checkov knows few guidelines; every check is in this index.
POLICY_INDEX = "https://www.checkov.io/5.Policy%20Index/terraform.html"

CHECK_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")
# <stack>:<address>, e.g. dashboard:aws_lambda_function.consumer_function_6D42922D
RESOURCE_KEY = re.compile(r"^[A-Za-z0-9_-]+:(data\.)?[a-z0-9_]+\.[A-Za-z0-9_-]+$")
# A key line of json.dumps(indent=2) whose value is an object or array: its indent and its
# JSON-quoted key ("name": {  or, when empty, "name": {},).
KEY_LINE = re.compile(r'^( *)("(?:[^"\\]|\\.)*"): (?:[\[{]|\{\},?|\[\],?)$')


class GateError(Exception):
    """The gate could not run: a malformed accepted list, no checkov, checkov crashed."""


@dataclass(frozen=True)
class Finding:
    """One failed check on one resource."""

    check_id: str
    check_name: str
    stack: str
    address: str
    guideline: str
    check_class: str
    suppressed: bool = False  # skipped by an inline suppression, which the list must cover

    @property
    def resource_key(self) -> str:
        return f"{self.stack}:{self.address}"


@dataclass(frozen=True)
class Accepted:
    """The accepted failures: a check everywhere, or a check on the resources listed."""

    everywhere: Mapping[str, str] = field(default_factory=dict)
    on_resources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def reason(self, finding: Finding) -> str | None:
        if finding.check_id in self.everywhere:
            return self.everywhere[finding.check_id]
        return self.on_resources.get(finding.check_id, {}).get(finding.resource_key)

    def stale(self, failures: Iterable[Finding]) -> list[str]:
        """Entries that match no failure: each as '<check id> <where>'."""
        failing: dict[str, set[str]] = defaultdict(set)
        for finding in failures:
            failing[finding.check_id].add(finding.resource_key)
        stale = [
            f"{check_id} (every resource)" for check_id in self.everywhere if not failing[check_id]
        ]
        for check_id, resources in self.on_resources.items():
            stale += [f"{check_id} {key}" for key in resources if key not in failing[check_id]]
        return sorted(stale)

    @property
    def entry_count(self) -> int:
        return len(self.everywhere) + sum(len(r) for r in self.on_resources.values())


@dataclass(frozen=True)
class StackCopy:
    """A stack's Terraform JSON as scanned: where each block starts in the copy."""

    stack: str
    path: Path
    addresses: Mapping[int, str]  # first line (1-based) -> address
    declared: int  # resources and data sources the stack declares


@dataclass(frozen=True)
class GateResult:
    checkov_version: str
    passed: int
    failures: tuple[Finding, ...]
    unaccepted: tuple[Finding, ...]
    stale: tuple[str, ...]
    evaluated: Mapping[str, int]  # stack -> resources checkov evaluated
    declared: Mapping[str, int]  # stack -> resources the stack declares
    problems: tuple[str, ...]
    accepted_entries: int

    @property
    def ok(self) -> bool:
        return not (self.unaccepted or self.stale or self.problems)


# --- the accepted list -----------------------------------------------------------------


def _duplicate_keys(node: Any, where: str = "") -> list[str]:
    """Keys given twice in any mapping (PyYAML would keep the last one silently)."""
    found: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                found.append(f"{where}{key} (line {key_node.start_mark.line + 1})")
            seen.add(key)
            found += _duplicate_keys(value_node, f"{where}{key} > ")
    return found


def _reason(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise GateError(f"{where}: the reason must be a non-empty string, got {value!r}")
    if "\n" in value.strip():
        raise GateError(f"{where}: the reason must be one line")
    return value.strip()


def parse_accepted(text: str, source: str = "accepted list") -> Accepted:
    """Read the accepted list: check id -> reason, or check id -> {stack:address -> reason}."""
    try:
        duplicates = _duplicate_keys(yaml.compose(text, Loader=yaml.SafeLoader))
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise GateError(f"{source}: not valid YAML: {error}") from error
    if duplicates:
        raise GateError(f"{source}: listed more than once: {', '.join(duplicates)}")
    if document is None:
        return Accepted()
    if not isinstance(document, dict):
        raise GateError(f"{source}: expected a mapping of check ids, got {type(document)}")
    everywhere: dict[str, str] = {}
    on_resources: dict[str, dict[str, str]] = {}
    for check_id, value in document.items():
        if not isinstance(check_id, str) or not CHECK_ID.match(check_id):
            raise GateError(f"{source}: {check_id!r} is not a checkov check id (CKV_AWS_123)")
        if isinstance(value, dict):
            if not value:
                raise GateError(f"{source}: {check_id} lists no resources")
            resources: dict[str, str] = {}
            for key, reason in value.items():
                if not isinstance(key, str) or not RESOURCE_KEY.match(key):
                    raise GateError(
                        f"{source}: {check_id}: {key!r} is not <stack>:<terraform address>"
                    )
                resources[key] = _reason(reason, f"{source}: {check_id} {key}")
            on_resources[check_id] = resources
        else:
            everywhere[check_id] = _reason(value, f"{source}: {check_id}")
    return Accepted(everywhere, on_resources)


def load_accepted(path: Path = ACCEPTED_FILE) -> Accepted:
    return parse_accepted(path.read_text(encoding="utf-8"), str(path))


def pinned_checkov_version(requirements: Path = REQUIREMENTS_FILE) -> str:
    for line in requirements.read_text(encoding="utf-8").splitlines():
        name, _, version = line.partition("==")
        if name.strip().lower() == "checkov" and version:
            return version.split("#")[0].strip()
    raise GateError(f"{requirements}: no checkov==<version> pin")


# --- the copy checkov scans ------------------------------------------------------------


def block_lines(text: str) -> dict[int, str]:
    """First line of every resource, data source and provider block in json.dumps(indent=2)."""
    addresses: dict[int, str] = {}
    path: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = KEY_LINE.match(line)
        if match:
            depth = len(match.group(1)) // 2
            del path[depth - 1 :]
            path.append(json.loads(match.group(2)))
            if depth == 3 and path[0] == "resource":
                addresses[number] = f"{path[1]}.{path[2]}"
            elif depth == 3 and path[0] == "data":
                addresses[number] = f"data.{path[1]}.{path[2]}"
        elif line == " " * 6 + "{" and len(path) >= 2 and path[0] == "provider":
            addresses[number] = f"provider.{path[1]}"
    return addresses


def write_scan_copy(stacks_dir: Path, scan_dir: Path) -> list[StackCopy]:
    """Copy every <stack>/cdk.tf.json into scan_dir, less the state-only blocks."""
    copies = []
    for source in sorted(stacks_dir.glob(f"*/{STACK_FILE}")):
        stack = source.parent.name
        document = json.loads(source.read_text(encoding="utf-8"))
        for block in STATE_ONLY_BLOCKS:
            document.pop(block, None)
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        target = scan_dir / stack / STACK_FILE
        target.parent.mkdir(parents=True)
        target.write_text(text, encoding="utf-8")
        declared = sum(
            len(blocks)
            for kind in ("resource", "data")
            for blocks in document.get(kind, {}).values()
        )
        copies.append(StackCopy(stack, target, block_lines(text), declared))
    return copies


# --- checkov -----------------------------------------------------------------------------


def run_checkov(checkov: Path, scan_dir: Path) -> list[dict[str, Any]]:
    """checkov's JSON reports for scan_dir (one per framework; here one, or a bare summary)."""
    if not os.access(checkov, os.X_OK):
        raise GateError(f"checkov not found at {checkov} (make security installs it)")
    # No download from the vendor's platform, no update check: the run needs no network. HOME
    # and the working directory are the scan folder, so no stray .checkov.yaml skips checks.
    env = {
        **os.environ,
        "HOME": str(scan_dir),
        "BC_SKIP_MAPPING": "TRUE",
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
        "LOG_LEVEL": "ERROR",
    }
    command = [
        str(checkov.absolute()),  # it runs in the scan folder
        "--directory",
        str(scan_dir),
        "--framework",
        "terraform_json",
        "--output",
        "json",
        "--skip-download",
    ]
    done = subprocess.run(
        command, cwd=scan_dir, env=env, capture_output=True, text=True, check=False
    )
    # checkov exits 1 when a check fails, which is the gate's business, not an error.
    if done.returncode not in (0, 1):
        raise GateError(f"checkov exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    try:
        output = json.loads(done.stdout)
    except json.JSONDecodeError as error:
        raise GateError(
            f"checkov printed no JSON ({error}): {done.stdout[:500]!r} {done.stderr[-1000:]}"
        ) from error
    reports = output if isinstance(output, list) else [output]
    return [r for r in reports if isinstance(r, dict)]


def _records(report: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = report.get("results", {}).get(kind, [])
    return records


def judge(
    reports: Sequence[Mapping[str, Any]],
    copies: Sequence[StackCopy],
    accepted: Accepted,
    pinned_version: str,
) -> GateResult:
    """What the reports say about the stacks, against the accepted list."""
    by_stack = {copy.stack: copy for copy in copies}
    problems: list[str] = []
    versions = {str(r.get("summary", r).get("checkov_version", "?")) for r in reports}
    if versions != {pinned_version}:
        problems.append(
            f"checkov {', '.join(sorted(versions))} ran, but the pin is {pinned_version} "
            "(security/requirements-checkov.txt; make security reinstalls it)"
        )

    evaluated: dict[str, set[str]] = defaultdict(set)
    failures: list[Finding] = []
    passed = 0
    for report in reports:
        for error in report.get("results", {}).get("parsing_errors", []):
            problems.append(f"checkov could not parse {error}: it checked nothing there")
        for kind in ("passed_checks", "failed_checks", "skipped_checks"):
            for record in _records(report, kind):
                relative = Path(str(record["file_path"]).lstrip("/"))
                stack = relative.parts[0]
                copy = by_stack.get(stack)
                start = int(record.get("file_line_range", [0])[0])
                address = (copy.addresses.get(start) if copy else None) or str(record["resource"])
                if not address.startswith("provider."):
                    evaluated[stack].add(address)
                if kind == "passed_checks":
                    passed += 1
                    continue
                failures.append(
                    Finding(
                        check_id=str(record["check_id"]),
                        check_name=str(record.get("check_name", "")),
                        stack=stack,
                        address=address,
                        guideline=str(record.get("guideline") or POLICY_INDEX),
                        check_class=str(record.get("check_class", "")),
                        suppressed=kind == "skipped_checks",
                    )
                )

    if not any(evaluated.values()):
        problems.append(
            f"checkov evaluated no resource in {len(copies)} stack file(s): nothing was checked"
        )
    else:
        for copy in copies:
            if copy.declared and not evaluated[copy.stack]:
                problems.append(
                    f"{copy.stack}: declares {copy.declared} resources, checkov evaluated none"
                )
    failures = sorted(set(failures), key=lambda f: (f.check_id, f.stack, f.address))
    return GateResult(
        checkov_version=", ".join(sorted(versions)),
        passed=passed,
        failures=tuple(failures),
        unaccepted=tuple(f for f in failures if accepted.reason(f) is None),
        stale=tuple(accepted.stale(failures)),
        evaluated={copy.stack: len(evaluated[copy.stack]) for copy in copies},
        declared={copy.stack: copy.declared for copy in copies},
        problems=tuple(problems),
        accepted_entries=accepted.entry_count,
    )


def run_gate(
    stacks_dir: Path,
    accepted: Accepted,
    checkov: Path = CHECKOV,
    pinned_version: str | None = None,
) -> GateResult:
    """Scan a copy of stacks_dir's stacks with checkov and judge the result."""
    version = pinned_version or pinned_checkov_version()
    with tempfile.TemporaryDirectory(prefix="checkov-gate-") as workdir:
        scan_dir = Path(workdir) / "stacks"
        copies = write_scan_copy(stacks_dir, scan_dir)
        if not copies:
            problem = f"no <stack>/{STACK_FILE} under {stacks_dir}: nothing to check"
            return GateResult(version, 0, (), (), (), {}, {}, (problem,), accepted.entry_count)
        return judge(run_checkov(checkov, scan_dir), copies, accepted, version)


def guideline(finding: Finding) -> str:
    if finding.guideline != POLICY_INDEX:
        return finding.guideline
    # Offline, checkov has no guideline for most checks: point at its index, and at the
    # check's Python class where it has its own (graph checks share a generic one).
    where = "" if finding.check_class.endswith(".base_check") else f", {finding.check_class}"
    return f"{finding.check_id} in {POLICY_INDEX}{where}"


def render(result: GateResult, accepted_file: Path = ACCEPTED_FILE) -> str:
    lines = []
    resources = sum(result.evaluated.values())
    per_stack = ", ".join(
        f"{stack} {result.evaluated[stack]}/{result.declared[stack]}" for stack in result.evaluated
    )
    lines.append(
        f"checkov {result.checkov_version}: {resources} resources evaluated ({per_stack}); "
        f"{result.passed} checks passed, {len(result.failures)} failed, "
        f"{len(result.failures) - len(result.unaccepted)} of them accepted "
        f"({result.accepted_entries} entries in {accepted_file.name})"
    )
    for finding in result.unaccepted:
        suppressed = " (suppressed inline: list it with its reason instead)"
        lines += [
            f"FAILED {finding.check_id} in stack {finding.stack}: {finding.address}"
            + (suppressed if finding.suppressed else ""),
            f"    {finding.check_name}",
            f"    guideline: {guideline(finding)}",
        ]
    for entry in result.stale:
        lines.append(f"STALE accepted entry, matches no failure (remove it): {entry}")
    for problem in result.problems:
        lines.append(f"ERROR {problem}")
    if result.ok:
        lines.append("checkov gate: passed")
    else:
        lines.append(
            f"checkov gate: FAILED ({len(result.unaccepted)} unaccepted, {len(result.stale)} "
            f"stale, {len(result.problems)} other). Fix the stack, or add the failure with a "
            f"one-line reason to {accepted_file}."
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="checkov over the synthesized stacks")
    parser.add_argument("--stacks", type=Path, default=Path("cdktf.out/stacks"))
    parser.add_argument("--accepted", type=Path, default=ACCEPTED_FILE)
    parser.add_argument("--checkov", type=Path, default=CHECKOV)
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        result = run_gate(args.stacks, load_accepted(args.accepted), args.checkov)
    except GateError as error:
        print(f"checkov gate: error: {error}", file=sys.stderr)
        return 2
    print(render(result, args.accepted))
    print(f"checkov gate took {time.monotonic() - started:.1f} s")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
