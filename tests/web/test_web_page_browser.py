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
    "by_state": "by-state",
    "by_isp": "by-isp",
    "by_connection_type": "by-connection-type",
}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def views(count: int, seed: int, start_second: int = 0) -> list[dict[str, Any]]:
    """Dashboard views of generator events, one second apart."""
    start = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)
    ticks = itertools.count(start_second)
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


def js_fixed(value: float, digits: int) -> str:
    """Number.prototype.toFixed: the exact binary value, ties away from zero."""
    from decimal import ROUND_HALF_UP, Decimal

    return str(Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def expected_kpis(summaries: Sequence[dict[str, Any]]) -> dict[str, str]:
    """The page's derived figures, from the sums the consumer sent (as the page rounds them)."""

    def total(key: str) -> float:
        return float(sum(s[key] for s in summaries))

    events = total("events")
    uhd = sum(s["by_quality"].get("4K", 0) for s in summaries)
    return {
        "total": f"{int(events):,}",
        "buffering_ratio": js_fixed(100 * total("buffering_seconds") / total("watch_seconds"), 2),
        "error_rate": js_fixed(1000 * total("events_with_errors") / events, 1),
        "uhd_share": js_fixed(100 * uhd / events, 1),
        "bandwidth": js_fixed(total("bandwidth_mbps_sum") / total("bandwidth_events"), 1),
    }


def expected_titles(summaries: Sequence[dict[str, Any]]) -> list[list[str]]:
    watched: Counter[str] = Counter()
    for summary in summaries:
        for title, seconds in summary["top_titles"].items():
            watched[title] += seconds
    rows = sorted(watched.items(), key=lambda item: (-item[1], item[0]))[:10]
    return [[title, f"{js_fixed(seconds / 3600, 1)} h"] for title, seconds in rows]


def expected_row(view: dict[str, Any]) -> list[str]:
    return [
        view["event_timestamp"][11:23],
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
  rateWindow: text('rate-window'),
  openMs: Date.now() - Date.parse(document.getElementById('opened-at').dateTime),
  bandwidth: text('avg-bandwidth'),
  buffering_ratio: text('buffering-ratio'),
  error_rate: text('error-rate'),
  uhd_share: text('uhd-share'),
  titles: bars('top-titles'),
  latest: Object.fromEntries([...document.querySelectorAll('figure[data-series]')].map(
    (f) => [f.dataset.series, f.dataset.latest ?? null])),
  canvases: document.querySelectorAll('.plot canvas').length,
  note: text('recent-note'),
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


def assert_rate(state: dict[str, Any], events_in_window: int) -> None:
    """The page's events/s against events over the seconds it has been open when it drew it.

    The page redraws the rate after every message and every second, so its figure is at most
    a second old: it lies between the rate now and the rate a second ago.
    """
    shown = float(state["rate"])
    open_now = state["openMs"] / 1000
    low = events_in_window / max(open_now, 1.0)
    high = events_in_window / max(open_now - 1.0, 1.0)
    assert low - 0.05 <= shown <= high + 0.05, (shown, low, high, state["rateWindow"])


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
    later = views(5, seed=8, start_second=60)
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
            # The page draws on the next animation frame: wait for the totals too.
            lambda: (
                (s := dom(browser))["ignored"] == "3"
                and s["pong"] != "none yet"
                and s["total"] == "30"
                and s
            ),
            message="the page to go live and take every scripted message",
        )
        summaries = [json.loads(m)["summary"] for m in batch if m]
        assert sum(s["events"] for s in summaries) == 30
        assert state["viewport"] == [1280, 800]
        assert state["status"] == "Live"
        assert state["total"] == "30"
        assert state["messages"] == "2"
        # 30 events over the seconds the page has been open (< 60 s), not over 60 s.
        assert_rate(state, 30)
        assert state["rateWindow"].endswith("s, since opened)")
        for name, value in expected_kpis(summaries).items():
            assert state[name] == value, name
        for key, list_id in BREAKDOWN_LISTS.items():
            assert state["bars"][list_id] == expected_bars(summaries, key), key
        assert state["titles"] == expected_titles(summaries)
        by_type = Counter(v["event_type"] for v in first)
        assert by_type == sum((Counter(s["by_event_type"]) for s in summaries), Counter())
        # Newest first by event time, with the real event times; the first message's 5 and
        # the second's latest 20, every value as text (never as HTML).
        assert state["rows"] == [expected_row(v) for v in reversed(first[:5] + first[10:])]
        assert state["injected"] == 0 and state["pwned"] is None
        assert "unknown action 'subscribe'; supported: ping" in state["notice"]
        # The page pinged on open and shows the pong.
        assert api.frames(0)[0] == '{"action":"ping"}'
        assert re.fullmatch(r"\d\d:\d\d:\d\d UTC \(\d+ ms\)", state["pong"]), state["pong"]
        assert api.origins == [page_server.url]
        requested = [path for method, path in page_server.requests if method == "GET"]
        assert requested[0] == "/"
        assert {p.split("?")[0] for p in requested} == {
            "/",
            "/app.js",
            "/style.css",
            "/vendor/uPlot.iife.min.js",
            "/vendor/uPlot.min.css",
        }
        assert state["canvases"] == 5  # the trends, drawn by the chart library
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
        assert re.fullmatch(r"attempt \d+(: connecting| in \d+ s)", state["detail"], re.I), state
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
        assert state["rows"][5:] == [expected_row(v) for v in reversed(first[10:])]


# ---------------------------------------------------------------- streaming, two screen sizes

STREAM_BATCHES = 40  # 10 events every 0.2 s: 50 events a second for 8 s
LAYOUT = """
const root = document.documentElement;
const clipped = [...document.querySelectorAll(
    '.kpi dd, .kpi dt, .bars .value, .chart figcaption, .recent-note, #recent-body td, ' +
    '.controls, .status, .since, .details')]
  .filter((el) => el.scrollWidth > el.clientWidth + 1
                  || el.getBoundingClientRect().right > root.clientWidth + 0.5)
  .map((el) => `${el.tagName.toLowerCase()}.${el.className}#${el.id}: ${el.textContent}`);
const columns = (selector) =>
  getComputedStyle(document.querySelector(selector)).gridTemplateColumns.split(' ').length;
const colors = (selector) => {
  const el = document.querySelector(selector);
  let back = el;
  while (back && getComputedStyle(back).backgroundColor === 'rgba(0, 0, 0, 0)') {
    back = back.parentElement;
  }
  return [getComputedStyle(el).color, getComputedStyle(back || document.body).backgroundColor];
};
return {
  overflowX: root.scrollWidth - root.clientWidth,
  clipped,
  breakdownColumns: columns('.breakdowns'),
  chartColumns: columns('.charts'),
  colors: Object.fromEntries(['.kpi dd', '.kpi dt', '.bars .value', '#status-text', 'td.time',
    '.chart figcaption'].map((s) => [s, colors(s)])),
};
"""


def _channel(value: float) -> float:
    value /= 255
    return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two CSS rgb()/rgba() colors (opaque ones)."""

    def luminance(css: str) -> float:
        r, g, b = (float(v) for v in re.findall(r"[\d.]+", css)[:3])
        return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)

    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def full_page_screenshot(driver: Any, path: Path, width: int) -> None:
    import base64

    height = driver.execute_script("return document.documentElement.scrollHeight")
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def check_layout(driver: Any, wide: bool) -> None:
    layout = driver.execute_script(LAYOUT)
    assert layout["overflowX"] <= 0, layout
    assert layout["clipped"] == [], layout["clipped"]
    if wide:
        assert layout["breakdownColumns"] == 4 and layout["chartColumns"] == 4, layout
    else:
        assert layout["breakdownColumns"] == 1 and layout["chartColumns"] == 1, layout
    for selector, (color, background) in layout["colors"].items():
        assert contrast(color, background) >= 4.5, (selector, color, background)


@pytest.mark.parametrize(("width", "height"), [(1400, 900), (390, 844)])
def test_dashboard_streaming_at_desktop_and_phone_sizes(
    width: int,
    height: int,
    page_server: LambdaHttpServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from tests.support.browser import chromium

    rng = random.Random(width)
    stream = [
        [consumer.dashboard_view(e) for e in generator.generate_events(10, rng)]
        for _ in range(STREAM_BATCHES + 5)
    ]
    messages = [consumer.build_message(batch) for batch in stream]
    assert all(m is not None for m in messages)
    script: list[str | float] = []
    for message in messages[:STREAM_BATCHES]:
        script += [message.decode(), 0.2]
    script.append(4.0)  # a pause in the stream, then five more batches
    script += [m.decode() for m in messages[STREAM_BATCHES:]]
    summaries = [json.loads(m)["summary"] for m in messages]

    with websocket_api([script]) as api, chromium(tmp_path, width, height) as driver:
        monkeypatch.setenv("WEBSOCKET_URL", api.url)
        driver.get(f"{page_server.url}/")

        # --- mid-stream: the rate is the real one (about 50/s), over the time open
        state = wait_until(
            lambda: int((s := dom(driver))["total"].replace(",", "")) >= 200 and s,
            timeout=10,
            message="200 events on the page",
        )
        assert 40 <= float(state["rate"]) <= 60, state["rate"]
        assert_rate(state, int(state["total"].replace(",", "")))

        # --- the stream has paused: every number against what was sent
        sent = STREAM_BATCHES * 10
        state = wait_until(
            lambda: (s := dom(driver))["total"] == f"{sent:,}" and s,
            timeout=10,
            message=f"{sent} events on the page",
        )
        assert state["status"] == "Live"
        assert_rate(state, sent)
        for name, value in expected_kpis(summaries[:STREAM_BATCHES]).items():
            assert state[name] == value, name
        for key, list_id in BREAKDOWN_LISTS.items():
            assert state["bars"][list_id] == expected_bars(summaries[:STREAM_BATCHES], key)
        assert state["titles"] == expected_titles(summaries[:STREAM_BATCHES])
        assert state["canvases"] == 5
        assert all(state["latest"][name] for name in state["latest"]), state["latest"]
        assert float(state["latest"]["rate"]) > 0
        newest = sorted(
            (v for batch in stream[:STREAM_BATCHES] for v in batch[-consumer.RECENT_EVENTS :]),
            key=lambda v: v["event_timestamp"],
            reverse=True,
        )
        shown_rows = 25 if width > 600 else 10
        assert [row[0] for row in state["rows"]] == [
            v["event_timestamp"][11:23] for v in newest[:shown_rows]
        ]
        check_layout(driver, wide=width > 600)
        assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        full_page_screenshot(driver, SCREENSHOTS / f"dashboard-{width}x{height}.png", width)

        # --- pause: the list holds still while events keep arriving, then catches up
        driver.find_element("id", "pause").click()
        held = dom(driver)["rows"]
        state = wait_until(
            lambda: (s := dom(driver))["total"] == f"{sent + 50:,}" and s,
            timeout=10,
            message="the last five batches",
        )
        assert state["rows"] == held
        assert state["note"].startswith("Paused · 50 new events since")
        driver.find_element("id", "pause").click()
        state = dom(driver)
        assert state["rows"] != held and state["note"].startswith("Newest first")

        # --- filters: only matching events, and the page says how many match
        from selenium.webdriver.support.ui import Select

        Select(driver.find_element("id", "filter-event-type")).select_by_value("stop")
        Select(driver.find_element("id", "filter-device-type")).select_by_value("tv")
        state = dom(driver)
        assert state["rows"] and all(
            r[1] == "stop" and r[3].startswith("tv") for r in state["rows"]
        )
        assert re.search(r"Showing \d+ matching of the latest \d+\.", state["note"])

        # --- dark scheme: still readable, nothing overflows
        driver.execute_cdp_cmd(
            "Emulation.setEmulatedMedia",
            {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
        )
        check_layout(driver, wide=width > 600)
        full_page_screenshot(driver, SCREENSHOTS / f"dashboard-{width}x{height}-dark.png", width)
