"""Headless Chromium for the tests that open the dashboard page (tests/web, tests/e2e).

``browser_binaries``  Debian's Chromium and ChromeDriver: skip without them, fail in CI.
``chromium``         a Selenium driver at a given viewport; when the block ends nothing it
                     started may be left running.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium")
CHROMEDRIVER = Path(os.environ.get("CHROMEDRIVER_PATH") or "/usr/bin/chromedriver")
# Without the background-networking flags Chromium reaches for Google services, which a
# closed network refuses; the fixture adds a fresh --user-data-dir per test.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--lang=en-US",
    "--window-size=1280,800",
)


def _skip_or_fail(message: str) -> None:
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set, so this must not be skipped: {message}")
    pytest.skip(message)


def browser_binaries() -> tuple[Path, Path]:
    """Chromium and ChromeDriver (and the Python packages driving them and the fake API).

    Without them the browser test skips, except in CI (CI set), where it fails: CI installs
    them (.ci/run: apt-get install chromium chromium-driver; make: requirements-dev.txt).
    """
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        _skip_or_fail(
            f"browser test needs Chromium and ChromeDriver, missing: {', '.join(missing)} "
            "(Debian: apt-get install chromium chromium-driver; or set CHROMIUM_PATH and "
            "CHROMEDRIVER_PATH)"
        )
    modules = [m for m in ("selenium", "websockets") if importlib.util.find_spec(m) is None]
    if modules:
        _skip_or_fail(
            f"browser test needs the Python packages {', '.join(modules)} (requirements-dev.txt)"
        )
    return CHROMIUM, CHROMEDRIVER


def processes_mentioning(marker: str) -> list[int]:
    """PIDs whose command line contains marker (the test's own profile folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def chromium(workdir: Path, width: int = 1280, height: int = 800) -> Iterator[Any]:
    """Headless Chromium with a fresh profile under ``workdir``, at ``width`` x ``height``."""
    binary, chromedriver = browser_binaries()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    # The explicit paths already keep Selenium Manager out of it; these make sure.
    os.environ.setdefault("SE_OFFLINE", "true")
    os.environ.setdefault("SE_AVOID_STATS", "true")
    profile = workdir / f"chromium-profile-{uuid.uuid4().hex[:8]}"
    options = Options()
    options.binary_location = str(binary)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(
        executable_path=str(chromedriver),
        log_output=str(workdir / "chromedriver.log"),
        popen_kw={"start_new_session": True},  # its own process group, to check at the end
    )
    driver = webdriver.Chrome(service=service, options=options)
    pgid = service.process.pid
    try:
        # --window-size counts the (invisible) browser frame: fix the viewport itself.
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )
        yield driver
    finally:
        with contextlib.suppress(Exception):
            driver.quit()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (
            group_alive(pgid) or processes_mentioning(str(profile))
        ):
            time.sleep(0.1)
        leftovers = processes_mentioning(str(profile))
        still_grouped = group_alive(pgid)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if still_grouped:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        assert not leftovers and not still_grouped, (
            f"browser processes outlived driver.quit(): {leftovers}, group {pgid} alive: "
            f"{still_grouped}"
        )


def kill(driver: Any) -> None:
    """SIGKILL the browser and its driver at once, as a crash would: no close frames sent."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(driver.service.process.pid, signal.SIGKILL)
