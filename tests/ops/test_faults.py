"""ops.faults without a platform: its arguments, its errors and its table.

The suite itself runs against the deployed local platform in tests/e2e/test_e2e_faults.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.control import free_port
from ops.faults import FAULTS, Row, main, table


def test_an_unknown_fault_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--only", "broker-crash,typo"]) == 2
    error = capsys.readouterr().err
    assert "unknown fault(s) ['typo']" in error and "broker-outage" in error


def test_without_an_emulator_it_says_to_deploy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--port", str(free_port()), "--workdir", str(tmp_path)]) == 2
    assert "run make deploy-local first" in capsys.readouterr().err


def test_the_table_has_a_row_a_fault_and_says_what_failed() -> None:
    good = Row("broker-crash", "", 2000, 2000, 0, 0, 2000, 3, 0, 0, 0, True, True, 31.5)
    bad = Row("table-failing", "", 2000, 1990, 0, 0, 1990, 0, 0, 10, 2, True, False, 40.0)
    bad.notes.append("not within 60 s: the dashboard to receive the recovery batch")
    text = table([good, bad])
    header, rule, first, second, note = text.splitlines()
    assert header.split()[:3] == ["fault", "generated", "in"]
    assert set(rule) == {"-", " "}
    assert first.split()[0] == "broker-crash" and first.split()[-3:] == ["yes", "yes", "31.5"]
    assert second.split()[-3:] == ["yes", "NO", "40.0"]
    assert note.startswith("table-failing: not within 60 s")
    assert good.ok and not bad.ok


def test_every_fault_says_what_it_breaks() -> None:
    assert all(what for what, _ in FAULTS.values())


def test_the_suite_reads_the_redrive_commands_last_line() -> None:
    from ops.faults import REDRIVEN
    from ops.redrive import Report

    done = REDRIVEN.search(Report(redriven_messages=2, redriven_events=598, left=["x"]).line())
    assert done is not None
    assert (done["events"], done["left"]) == ("598", "1")
