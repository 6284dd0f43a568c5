"""Fixtures for the dashboard web page tests (handlers/dashboard_page).

The handler folders they need go on sys.path, as their modules sit at the root of their
Lambda zips: dashboard_page, and the consumer, generator and ws_default, whose own pure
functions build the messages the fake WebSocket API sends, so the page is tested against
the real formats and a drift between them fails here. The stand-ins are in web_support.py.
"""

from __future__ import annotations

import sys
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

from tests.support.browser import chromium  # noqa: E402
from tests.web.web_support import LambdaHttpServer  # noqa: E402

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
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Chromium at 1280x800; at teardown nothing it started may be left running."""
    with chromium(tmp_path) as driver:
        yield driver
