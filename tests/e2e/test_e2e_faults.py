"""Survives faults: `make faults` breaks a deployed platform one part at a time.

The suite (ops/faults.py) kills the broker and fails services, so it gets a deployment of its
own (`make deploy-local` on another port), on its own pytest-xdist worker beside the shared
one of the other end-to-end tests (tests/e2e/conftest.py). `make destroy-local` is proven
there; this deployment is thrown away with its emulator. The suite's counts come from what
the platform holds: the generator's logs, the topic read through the MSK front door, the
failure queue and the lake.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.local_platform import free_port, make
from tests.support.paths import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# tansu's S3 storage after SIGKILL: in 3 of 5 CI runs on 2026-12-02 the broker crash lost 27,
# 20 and 19 of 2,000 events (a partition's share of a produce request), while every other
# fault lost none. Which side drops them (a write acknowledged before it was stored, or the
# idempotent producer's retry taken for a duplicate by the restarted broker) is not known;
# README "Delivery guarantees" says so. Every other fault must lose nothing.
KNOWN_BROKER_LOSS = frozenset({"broker-crash"})


@pytest.fixture(scope="module")
def faults_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ...]]:
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    workdir = tmp_path_factory.mktemp("faults-platform")
    variables = (f"LOCAL_PORT={free_port()}", f"LOCAL_DIR={workdir}")
    try:
        deployed = make("deploy-local", *variables)
        assert deployed.returncode == 0, deployed.stdout[-5000:] + deployed.stderr[-5000:]
        yield variables
    finally:
        stop = [sys.executable, "-m", "emulator", "stop", "--pid-file", f"{workdir}/emulator.pid"]
        subprocess.run(stop, cwd=REPO_ROOT, check=False, timeout=120)


def test_every_fault_is_survived_and_every_loss_reported(faults_platform: tuple[str, ...]) -> None:
    ran = make("faults", *faults_platform, timeout=1500)
    print(ran.stdout)  # the table, in the test's output
    workdir = Path(faults_platform[1].removeprefix("LOCAL_DIR="))
    rows = {row["fault"]: row for row in json.loads((workdir / "faults.json").read_text())}
    assert set(rows) == {
        "broker-crash",
        "broker-outage",
        "producer-crash",
        "table-throttled",
        "table-failing",
        "connections-500",
        "lake-writes-failing",
    }
    for name, row in rows.items():
        # Each fault generated at least its two batches; the consumer and a dashboard socket
        # came back; the lake holds every event the topic holds.
        assert row["generated"] >= 2000, name
        assert row["in_topic"] == row["in_lake"], (name, row)
        assert row["consumer_resumed"] and row["dashboard_recovered"], (name, row)
        if name in KNOWN_BROKER_LOSS:
            # Counted and reported, never hidden: lost is what the topic is missing.
            assert row["failure_queue"] == row["redriven"], (name, row)
            assert row["lost"] == row["generated"] - row["in_topic"] >= 0, (name, row)
            continue
        assert row["lost"] == 0, (name, row)
        assert row["in_topic"] == row["generated"], (name, row)
    # The suite fails (make answers 2 for its exit 1) exactly when it reported a loss.
    lossy = any(row["lost"] for row in rows.values())
    assert (ran.returncode != 0) == lossy, ran.stdout[-6000:] + ran.stderr[-3000:]
    # The outage outlasted the producer's retries: its batch went to the failure queue, and
    # the redrive published every event of it.
    outage = rows["broker-outage"]
    assert outage["failure_queue"] > 0 and outage["redriven"] == outage["failure_queue"]
    # Failing DynamoDB reads fail the consumer's batch, which the mapping retries.
    assert rows["table-failing"]["consumer_failed_batches"] > 0
    assert "killed producer worker" in " ".join(rows["producer-crash"]["notes"])
