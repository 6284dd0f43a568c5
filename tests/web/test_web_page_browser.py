"""The dashboard page in a real browser (headless Chromium via ChromeDriver).

The page is served by dashboard_page.lambda_handler behind a loopback HTTP API stand-in and
talks to a loopback WebSocket API stand-in. The telemetry messages are built by the
consumer's own functions (dashboard_view, build_messages) from generator events, and every
client frame is answered by ws_default.handle_message, so a format drift between the
handlers and the page fails here.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import re
import shutil
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import consumer
import generator
import pytest
import ws_default

from tests.web.web_support import LambdaHttpServer, send_json, wait_until, websocket_api

pytestmark = pytest.mark.integration

HOSTILE_TITLE = '<img src=x onerror="window.__pwned = 1">'
HOSTILE_CITY = "</td><script>window.__pwned = 2</script>"
BREAKDOWN_LISTS = {
    "by_event_type": "by-event-type",
    "by_device_type": "by-device-type",
    "by_quality": "by-quality",
    "by_title_type": "by-title-type",
}


def views(count: int, seed: int) -> list[dict[str, Any]]:
    """Dashboard views of generator events, one second apart."""
    start = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)
    ticks = itertools.count()
    events = generator.generate_events(
        count, random.Random(seed), lambda: start + timedelta(seconds=next(ticks))
    )
    return [consumer.dashboard_view(event) for event in events]


def js_round(value: float) -> int:
    return math.floor(value + 0.5)


def expected_bars(summaries: Sequence[dict[str, Any]], key: str) -> list[list[str]]:
    counts: Counter[str] = Counter()
    for summary in summaries:
        counts.update(summary[key])
    total = sum(counts.values())
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [[label, f"{n} · {js_round(100 * n / total)}%"] for label, n in rows]


def expected_row(view: dict[str, Any]) -> list[str]:
    return [
        view["event_timestamp"][11:19],
        view["event_type"],
        f"{view['title_id']} {view['title_type']}",
        f"{view['device_type']} · {view['device_os']}",
        view["quality"],
        f"{view['city']}, {view['state']}",
        f"{view['bandwidth_mbps']:.2f} Mbps",
    ]


DOM_STATE = """
const text = (id) => document.getElementById(id).textContent;
const bars = (id) => [...document.getElementById(id).children].map(
  (li) => [li.dataset.key ?? null, li.querySelector('.value')?.textContent ?? li.textContent]);
return {
  state: document.getElementById('status').dataset.state,
  status: text('status-text'),
  detail: text('status-detail'),
  total: text('total-events'),
  messages: text('message-count'),
  rate: text('event-rate'),
  bandwidth: text('avg-bandwidth'),
  buffering: text('buffering-events'),
  errors: text('error-count'),
  ignored: text('ignored-count'),
  pong: text('last-pong'),
  notice: document.getElementById('notice').hidden ? null : text('notice'),
  bars: Object.fromEntries(arguments[0].map((id) => [id, bars(id)])),
  rows: [...document.querySelectorAll('#recent-body tr')].map(
    (tr) => [...tr.cells].map((td) => td.textContent)),
  injected: document.querySelectorAll('#recent-body img, #recent-body script, .bars img').length,
  pwned: window.__pwned === undefined ? null : window.__pwned,
  viewport: [window.innerWidth, window.innerHeight],
};
"""


def dom(driver: Any) -> dict[str, Any]:
    state: dict[str, Any] = driver.execute_script(DOM_STATE, list(BREAKDOWN_LISTS.values()))
    return state


def save_screenshot(driver: Any, path: Path) -> None:
    """Into the test's tmp dir; DASHBOARD_SCREENSHOT=/tmp/dashboard.png also copies it there
    (the reconnecting one as /tmp/dashboard-reconnecting.png) for a person to look at."""
    assert driver.save_screenshot(str(path))
    wanted = os.environ.get("DASHBOARD_SCREENSHOT")
    if wanted:
        target = Path(wanted)
        suffix = path.stem.removeprefix("dashboard")
        shutil.copy(path, target.with_name(f"{target.stem}{suffix}{target.suffix}"))


def test_live_dashboard_in_chromium(
    browser: Any,
    page_server: LambdaHttpServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    first = views(30, seed=7)
    first[-3]["title_id"] = HOSTILE_TITLE
    first[-5]["city"] = HOSTILE_CITY
    # Two batches: 5 events, then 25 of which the message carries only the latest 20 (its
    # summary counts all 25).
    batch = [consumer.build_message(first[:5]), consumer.build_message(first[5:])]
    assert all(m is not None for m in batch)
    assert len(json.loads(batch[1])["events"]) == consumer.RECENT_EVENTS
    assert json.loads(batch[1])["summary"]["events"] == 25
    later = views(5, seed=8)
    third = consumer.build_message(later)
    assert third is not None
    error_body = ws_default.handle_message({"body": send_json({"action": "subscribe"})})["body"]
    first_script = [
        *(m.decode() for m in batch if m),
        error_body,  # {"type": "error", ...}: shown, not counted
        send_json({"type": "announcement", "text": "new field"}),  # unknown type: ignored
        "this is not JSON",  # ignored
        send_json({"type": "telemetry", "events": "nope"}),  # malformed: ignored
    ]

    with websocket_api([first_script, [third.decode()]]) as api:
        monkeypatch.setenv("WEBSOCKET_URL", api.url)
        browser.get(f"{page_server.url}/")

        # --- live, with both messages added up
        state = wait_until(
            lambda: (s := dom(browser))["ignored"] == "3" and s["pong"] != "none yet" and s,
            message="the page to go live and take every scripted message",
        )
        summaries = [json.loads(m)["summary"] for m in batch if m]
        assert sum(s["events"] for s in summaries) == 30
        assert state["viewport"] == [1280, 800]
        assert state["status"] == "Live"
        assert state["total"] == "30"
        assert state["messages"] == "2"
        assert state["rate"] == "0.5"  # 30 events in the last 60 s
        assert state["buffering"] == str(sum(s["buffering_events"] for s in summaries))
        assert state["errors"] == str(sum(s["errors"] for s in summaries))
        average = sum(s["avg_bandwidth_mbps"] * s["events"] for s in summaries) / 30
        assert abs(float(state["bandwidth"]) - average) <= 0.051
        assert state["bandwidth"] == f"{float(state['bandwidth']):.1f}"
        for key, list_id in BREAKDOWN_LISTS.items():
            assert state["bars"][list_id] == expected_bars(summaries, key), key
        by_type = Counter(v["event_type"] for v in first)
        assert by_type == sum((Counter(s["by_event_type"]) for s in summaries), Counter())
        # Newest first, the most recent 20, every value as text (never as HTML).
        assert state["rows"] == [expected_row(v) for v in reversed(first[-20:])]
        assert state["injected"] == 0 and state["pwned"] is None
        assert "unknown action 'subscribe'; supported: ping" in state["notice"]
        # The page pinged on open and shows the pong.
        assert api.frames(0)[0] == '{"action":"ping"}'
        assert re.fullmatch(r"\d\d:\d\d:\d\d UTC \(\d+ ms\)", state["pong"]), state["pong"]
        assert api.origins == [page_server.url]
        requested = [path for method, path in page_server.requests if method == "GET"]
        assert requested[0] == "/"
        assert {p.split("?")[0] for p in requested} == {"/", "/app.js", "/style.css"}
        console = browser.get_log("browser")
        assert not [e for e in console if e["level"] == "SEVERE"], console

        save_screenshot(browser, tmp_path / "dashboard.png")

        # --- the server goes away (API Gateway's 2-hour limit): the page says so, retries
        api.stop()
        state = wait_until(
            lambda: (s := dom(browser))["state"] == "reconnecting" and s,
            message="the page to show it is reconnecting",
        )
        assert state["status"] == "Reconnecting…"
        assert re.fullmatch(r"Attempt \d+(: connecting| in \d+ s)", state["detail"]), state
        assert state["total"] == "30"  # totals are since page load, not per connection
        save_screenshot(browser, tmp_path / "dashboard-reconnecting.png")

        # --- back again: a new connection, a new ping, totals carry on
        api.start()
        state = wait_until(
            lambda: (s := dom(browser))["state"] == "live" and s["total"] == "35" and s,
            timeout=8,
            message="the page to reconnect and add the next message",
        )
        assert api.connections == 2
        assert wait_until(lambda: api.frames(1), message="a ping on the new connection") == [
            '{"action":"ping"}'
        ]
        assert state["messages"] == "3"
        assert state["rows"][:5] == [expected_row(v) for v in reversed(later)]
        assert state["rows"][5:] == [expected_row(v) for v in reversed(first[-15:])]
