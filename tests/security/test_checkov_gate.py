"""The checkov gate (ops/checkov_gate.py): it fails on an insecure stack, on a stack checkov
could not read, and on a stale accepted entry; the real stacks pass it.

The tests that run checkov need build/checkov-venv (`make security` installs it): without
it they skip, except in CI (CI set), where they fail.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ops.checkov_gate import (
    ACCEPTED_FILE,
    CHECKOV,
    POLICY_INDEX,
    Accepted,
    GateError,
    StackCopy,
    block_lines,
    judge,
    load_accepted,
    main,
    parse_accepted,
    pinned_checkov_version,
    render,
    run_checkov,
    run_gate,
    write_scan_copy,
)
from tests.conftest import STACK_NAMES, Synthesized

PINNED = pinned_checkov_version()

# A public-read bucket and an unencrypted volume of the same name (so only the line tells
# them apart), behind import and moved blocks that checkov 3.3.30 cannot parse.
INSECURE_STACK: dict[str, Any] = {
    "//": {"metadata": {"stackName": "insecure"}},
    "terraform": {"required_providers": {"aws": {"source": "aws", "version": "5.100.0"}}},
    "provider": {"aws": [{"region": "us-west-2"}]},
    "import": [{"to": "aws_s3_bucket.store", "id": "acme-insecure-example"}],
    "moved": [{"from": "aws_s3_bucket.old", "to": "aws_s3_bucket.store"}],
    "resource": {
        "aws_s3_bucket": {"store": {"bucket": "acme-insecure-example", "acl": "public-read"}},
        "aws_ebs_volume": {"store": {"availability_zone": "us-west-2a", "size": 10}},
    },
}


def checkov_or_skip() -> Path:
    if not os.access(CHECKOV, os.X_OK):
        message = f"checkov gate test needs {CHECKOV} (make security installs it)"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"CI is set, so this must not be skipped: {message}")
        pytest.skip(message)
    return CHECKOV


def write_stack(stacks_dir: Path, name: str, document: dict[str, Any]) -> None:
    (stacks_dir / name).mkdir(parents=True)
    (stacks_dir / name / "cdk.tf.json").write_text(json.dumps(document), encoding="utf-8")


@pytest.fixture(scope="module")
def insecure_scan(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[dict[str, Any]], list[StackCopy]]:
    """checkov's reports on the insecure stack, run once for the tests that judge them."""
    checkov = checkov_or_skip()
    root = tmp_path_factory.mktemp("insecure")
    write_stack(root / "stacks", "insecure", INSECURE_STACK)
    copies = write_scan_copy(root / "stacks", root / "scan")
    return run_checkov(checkov, root / "scan"), copies


def keys(findings: Any) -> set[tuple[str, str]]:
    return {(f.check_id, f.resource_key) for f in findings}


PUBLIC_ACL = ("CKV_AWS_20", "insecure:aws_s3_bucket.store")
UNENCRYPTED_VOLUME = ("CKV_AWS_3", "insecure:aws_ebs_volume.store")


def test_insecure_stack_fails_naming_each_failure(insecure_scan: Any) -> None:
    reports, copies = insecure_scan
    result = judge(reports, copies, Accepted(), PINNED)

    assert not result.ok
    assert not result.problems, result.problems  # the import and moved blocks hid nothing
    assert result.evaluated["insecure"] == 2
    assert {PUBLIC_ACL, UNENCRYPTED_VOLUME} <= keys(result.unaccepted)
    text = render(result)
    assert "FAILED CKV_AWS_20 in stack insecure: aws_s3_bucket.store" in text
    assert "FAILED CKV_AWS_3 in stack insecure: aws_ebs_volume.store" in text
    guideline = f"guideline: CKV_AWS_3 in {POLICY_INDEX}, checkov.terraform.checks.resource"
    assert guideline in text
    assert "checkov gate: FAILED" in text


def test_accepted_failures_pass_and_only_where_listed(insecure_scan: Any) -> None:
    reports, copies = insecure_scan
    failing = sorted({f.check_id for f in judge(reports, copies, Accepted(), PINNED).failures})
    everywhere = {check_id: "accepted for the test" for check_id in failing}
    assert judge(reports, copies, Accepted(everywhere), PINNED).ok

    # Accepted on another resource only: the real failure stands, and the entry is stale.
    everywhere.pop("CKV_AWS_20")
    elsewhere = {"CKV_AWS_20": {"insecure:aws_s3_bucket.other": "another bucket"}}
    result = judge(reports, copies, Accepted(everywhere, elsewhere), PINNED)
    assert keys(result.unaccepted) == {PUBLIC_ACL}
    assert result.stale == ("CKV_AWS_20 insecure:aws_s3_bucket.other",)


def test_stale_accepted_entries_fail_the_gate(insecure_scan: Any) -> None:
    reports, copies = insecure_scan
    failing = {f.check_id for f in judge(reports, copies, Accepted(), PINNED).failures}
    everywhere = dict.fromkeys(failing, "accepted for the test")
    accepted = Accepted(
        {**everywhere, "CKV_AWS_50": "no Lambda here"},
        {"CKV_AWS_145": {"insecure:aws_s3_bucket.gone": "fixed since"}},
    )
    result = judge(reports, copies, accepted, PINNED)

    assert not result.ok
    assert not result.unaccepted
    assert result.stale == (
        "CKV_AWS_145 insecure:aws_s3_bucket.gone",
        "CKV_AWS_50 (every resource)",
    )
    assert "STALE accepted entry, matches no failure (remove it): CKV_AWS_50" in render(result)


def test_gate_fails_when_checkov_parses_nothing(tmp_path: Path, capsys: Any) -> None:
    checkov = checkov_or_skip()
    stacks = tmp_path / "stacks"
    # One stack declares no resource; the other's resource body is not an object, which
    # checkov reports as a parsing error and then exits 0 with nothing checked.
    write_stack(stacks, "bare", {"provider": {"aws": [{"region": "us-west-2"}]}})
    write_stack(stacks, "broken", {"resource": {"aws_s3_bucket": {"b": "not an object"}}})
    accepted = tmp_path / "accepted.yaml"
    accepted.write_text("", encoding="utf-8")

    code = main(["--stacks", str(stacks), "--accepted", str(accepted), "--checkov", str(checkov)])

    out = capsys.readouterr().out
    assert code == 1, out
    assert "checkov could not parse" in out and "broken" in out
    assert "ERROR checkov evaluated no resource in 2 stack file(s)" in out


def test_gate_fails_on_a_report_without_resources() -> None:
    # What checkov prints when it found nothing to scan: a bare summary, resource_count 0.
    bare = {"passed": 0, "failed": 0, "resource_count": 0, "checkov_version": PINNED}
    copy = StackCopy("network", Path("network/cdk.tf.json"), {}, declared=35)
    result = judge([bare], [copy], Accepted(), PINNED)
    assert not result.ok
    assert any("evaluated no resource" in p for p in result.problems)


def test_gate_fails_when_one_stack_was_not_evaluated() -> None:
    record = {
        "check_id": "CKV_AWS_1",
        "check_name": "a check",
        "file_path": "/a/cdk.tf.json",
        "file_line_range": [7, 9],
        "resource": "resource.x",
    }
    report = {"results": {"passed_checks": [record]}, "summary": {"checkov_version": PINNED}}
    copies = [
        StackCopy("a", Path("a/cdk.tf.json"), {7: "aws_s3_bucket.x"}, declared=1),
        StackCopy("b", Path("b/cdk.tf.json"), {}, declared=2),
    ]
    result = judge([report], copies, Accepted(), PINNED)
    assert result.problems == ("b: declares 2 resources, checkov evaluated none",)
    assert result.evaluated == {"a": 1, "b": 0}


def test_gate_fails_on_another_checkov_version() -> None:
    report = {"results": {}, "summary": {"checkov_version": "3.0.0"}}
    result = judge([report], [], Accepted(), PINNED)
    assert any(f"but the pin is {PINNED}" in p for p in result.problems)


def test_gate_fails_without_stacks(tmp_path: Path) -> None:
    result = run_gate(tmp_path, Accepted(), checkov=tmp_path / "no-checkov")
    assert not result.ok
    assert result.problems == (f"no <stack>/cdk.tf.json under {tmp_path}: nothing to check",)


def test_block_lines_name_each_block_by_its_type() -> None:
    document = {
        "data": {"aws_iam_policy_document": {"doc": {"statement": []}}},
        "provider": {"aws": [{"region": "us-west-2"}]},
        "resource": {"aws_s3_bucket": {"store": {}}, "aws_ebs_volume": {"store": {"size": 1}}},
    }
    text = json.dumps(document, indent=2, sort_keys=True)
    found = {address: text.splitlines()[line - 1] for line, address in block_lines(text).items()}
    assert set(found) == {
        "data.aws_iam_policy_document.doc",
        "provider.aws",
        "aws_s3_bucket.store",
        "aws_ebs_volume.store",
    }
    assert found["aws_ebs_volume.store"].strip() == '"store": {'


def test_accepted_list_format() -> None:
    accepted = parse_accepted(
        "CKV_AWS_50: why not\n"
        "CKV_AWS_117:\n"
        "  dashboard:aws_lambda_function.page: &r out of the VPC\n"
        "  network:data.aws_availability_zones.zones: *r\n"
    )
    assert accepted.everywhere == {"CKV_AWS_50": "why not"}
    assert accepted.on_resources["CKV_AWS_117"]["network:data.aws_availability_zones.zones"] == (
        "out of the VPC"
    )
    assert accepted.entry_count == 3
    assert parse_accepted("# nothing accepted\n") == Accepted()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CKV_AWS_50: a\nCKV_AWS_50: b\n", "listed more than once: CKV_AWS_50 (line 2)"),
        ("CKV_AWS_1:\n  s:aws_x.y: a\n  s:aws_x.y: b\n", "CKV_AWS_1 > s:aws_x.y (line 3)"),
        ("not-a-check: a\n", "is not a checkov check id"),
        ("CKV_AWS_1:\n  aws_x.y: a\n", "is not <stack>:<terraform address>"),
        ("CKV_AWS_1: ''\n", "must be a non-empty string"),
        ("CKV_AWS_1: |\n  two\n  lines\n", "must be one line"),
        ("CKV_AWS_1: {}\n", "lists no resources"),
        ("- CKV_AWS_1\n", "expected a mapping"),
    ],
)
def test_accepted_list_refuses(text: str, message: str) -> None:
    with pytest.raises(GateError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_accepted(text)


def test_the_project_accepted_list_reads_and_checkov_is_pinned() -> None:
    accepted = load_accepted(ACCEPTED_FILE)
    assert accepted.entry_count > 0
    assert PINNED == "3.3.30"


@pytest.mark.synth
def test_the_real_stacks_pass_the_gate(synth: Synthesized) -> None:
    checkov = checkov_or_skip()
    result = run_gate(synth.outdir / "stacks", load_accepted(), checkov)
    assert result.ok, render(result)
    assert set(result.evaluated) == set(STACK_NAMES)
    assert all(result.evaluated.values()), result.evaluated
