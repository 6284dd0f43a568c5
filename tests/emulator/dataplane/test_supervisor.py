"""The supervisor's children die with the emulator, even when it is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from emulator.dataplane.supervisor import Supervisor, child_environment

ROOT = Path(__file__).resolve().parents[3]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_spawn_from_any_thread_and_stop_all() -> None:
    supervisor = Supervisor()
    sleeper = supervisor.spawn("sleeper", ["sleep", "60"], env=child_environment({}))
    assert [name for name, _ in supervisor.children()] == ["sleeper"]
    supervisor.stop_all(grace=1)
    assert sleeper.poll() is not None
    assert supervisor.children() == []


def test_children_die_when_the_owner_is_killed(tmp_path: Path) -> None:
    # A stand-in emulator: starts two children through a supervisor from a request thread
    # that then exits (the case where a plain PR_SET_PDEATHSIG would fire too early), prints
    # their pids, and waits to be killed.
    owner = textwrap.dedent(
        """
        import sys, threading, time
        from emulator.dataplane.supervisor import Supervisor, child_environment
        supervisor = Supervisor()
        pids = []
        def request():
            for _ in range(2):
                pids.append(supervisor.spawn("s", ["sleep", "60"], env=child_environment({})).pid)
        thread = threading.Thread(target=request); thread.start(); thread.join()
        time.sleep(0.5)
        print(*pids, flush=True)
        time.sleep(60)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", owner], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    pids = [int(p) for p in process.stdout.readline().split()]
    assert len(pids) == 2 and all(alive(pid) for pid in pids), "children outlived no thread"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert all(wait_gone(pid) for pid in pids), f"orphans left: {pids}"
