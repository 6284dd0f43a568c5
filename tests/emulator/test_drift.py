"""The known-drift lookup that tells emulator drift from real diffs in a second plan."""

from __future__ import annotations

import pytest

from emulator import drift
from emulator.drift import DriftEntry, is_known_drift

CF = "aws_cloudfront_distribution"
EXAMPLE = DriftEntry(
    resource_type=CF,
    attribute="origin.*.origin_access_control_id",
    reason="example: an emulator that drops the field",
    evidence="this test",
)


def test_drift_list_is_empty_as_documented() -> None:
    # The end-to-end deploy-local test proves the platform needs no entry; this ties the
    # list to README.md and emulator/README.md, which say it is empty.
    assert drift.KNOWN_EMULATOR_DRIFT == (), (
        "an entry was added: list it with its evidence in emulator/README.md and README.md"
    )


def test_lookup_by_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drift, "KNOWN_EMULATOR_DRIFT", (EXAMPLE,))
    assert is_known_drift(CF, "origin.0.origin_access_control_id")
    assert is_known_drift(CF, "origin[1].origin_access_control_id")
    assert is_known_drift(CF, "origin.0.origin_access_control_id.0.nested")
    assert not is_known_drift(CF, "origin.0.domain_name")
    assert not is_known_drift("aws_other_resource", "origin.0.origin_access_control_id")
    assert not is_known_drift("aws_msk_cluster", "kafka_version")


def test_top_level_name_is_exact_with_values_and_coarse_without(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(drift, "KNOWN_EMULATOR_DRIFT", (EXAMPLE,))
    applied = [{"domain_name": "b.s3", "origin_id": "s3", "origin_access_control_id": ""}]
    wanted = [{"domain_name": "b.s3", "origin_id": "s3", "origin_access_control_id": "E2"}]
    assert is_known_drift(CF, "origin", applied, wanted)
    moved = [{**wanted[0], "domain_name": "other.s3"}]
    assert not is_known_drift(CF, "origin", applied, moved)
    assert is_known_drift(CF, "origin")
