"""Fixtures for the dashboard web page tests (handlers/dashboard_page).

The handler folders they need go on sys.path, as their modules sit at the root of their
Lambda zips: dashboard_page, and the consumer, generator and ws_default, whose own pure
functions build the messages the fake WebSocket API sends, so the page is tested against
the real formats and a drift between them fails here. The stand-ins are in web_support.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HANDLERS_DIR = REPO_ROOT / "handlers"
for _path in [
    REPO_ROOT,
    HANDLERS_DIR / "common",
    HANDLERS_DIR / "dashboard_page",
    HANDLERS_DIR / "consumer",
    HANDLERS_DIR / "generator",
    HANDLERS_DIR / "ws_default",
]:
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from tests.web.web_support import (  # noqa: E402
    CHROMIUM_FLAGS,
    LambdaHttpServer,
    browser_binaries,
    group_alive,
    processes_mentioning,
)

CONTRACT_PATH = REPO_ROOT / "contracts" / "telemetry_event.json"


@pytest.fixture(autouse=True)
def _contract_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The consumer's dashboard_view reads the contract; in a zip it sits beside the code."""
    monkeypatch.setenv("TELEMETRY_CONTRACT_PATH", str(CONTRACT_PATH))


@pytest.fixture
def page_server() -> Iterator[LambdaHttpServer]:
    import dashboard_page

    dashboard_page.static_files.cache_clear()
    server = LambdaHttpServer(dashboard_page.lambda_handler).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Headless Chromium at 1280x800; at teardown nothing it started may be left running."""
    chromium, chromedriver = browser_binaries()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    # Belt and braces: the explicit paths already keep Selenium Manager out of it.
    monkeypatch.setenv("SE_OFFLINE", "true")
    monkeypatch.setenv("SE_AVOID_STATS", "true")
    profile = tmp_path / f"chromium-profile-{uuid.uuid4().hex[:8]}"
    options = Options()
    options.binary_location = str(chromium)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(
        executable_path=str(chromedriver),
        log_output=str(tmp_path / "chromedriver.log"),
        popen_kw={"start_new_session": True},  # its own process group, to check at the end
    )
    driver = webdriver.Chrome(service=service, options=options)
    pgid = service.process.pid
    try:
        # --window-size counts the (invisible) browser frame: fix the viewport itself.
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False},
        )
        yield driver
    finally:
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
