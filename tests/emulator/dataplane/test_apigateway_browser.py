"""Issue 10's "watch it work": dashboard_url in a real browser, live over the local WebSocket.

Headless Chromium opens the page the dashboard_page package serves through the HTTP API;
the page's own script connects to the WebSocket API (ws_connect, ws_default, ws_disconnect
run in the Lambda runtime), gets its pong, and shows the events the consumer's real code
broadcasts through @connections. Skipped when chromium or chromedriver is not installed.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from emulator.dataplane.apigateway import ApiGateway, ApiRef
from emulator.dataplane.lambda_runtime import LambdaRuntime
from tests.support import local_platform
from tests.support.apigateway import (
    ACCOUNT,
    REGION,
    contract_event,
    create_connections_table,
    deploy_consumer,
    deploy_dashboard_page,
    deploy_dashboard_websocket,
    msk_batch,
    runtime_invoke,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None, reason="chromium and chromedriver are needed"
)

Aws = Callable[[str], Any]


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    assert CHROMIUM is not None and CHROMEDRIVER is not None
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


# The first truthy answer of a condition, polled every 0.1 s for 30.0 s at most.
wait_for = functools.partial(local_platform.wait_for, timeout=30.0, interval=0.1)


def test_the_dashboard_goes_live_and_shows_broadcast_events(
    aws: Aws, gateway: ApiGateway, runtime: LambdaRuntime, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    table = create_connections_table(aws)
    websocket = deploy_dashboard_websocket(aws, table)
    consumer = deploy_consumer(aws, websocket, table)
    dashboard_url = deploy_dashboard_page(aws, websocket.websocket_url)

    browser.get(dashboard_url)

    def text(element_id: str) -> str:
        return str(browser.find_element(By.ID, element_id).text)

    wait_for(lambda: browser.find_element(By.ID, "status").get_attribute("data-state") == "live")
    wait_for(lambda: text("last-pong") != "none yet")  # the page's ping, answered by $default
    ref = ApiRef(ACCOUNT, REGION, websocket.api_id)
    assert len(gateway.connection_ids(ref)) == 1
    stored = aws("dynamodb").scan(TableName=table)["Items"]
    assert [item["connectionId"]["S"] for item in stored] == gateway.connection_ids(ref)

    events = [
        contract_event(event_id=f"e-{n}", event_type="start", device_type="tv", quality="HD")
        for n in range(3)
    ]
    payload, error = runtime_invoke(runtime)(consumer, msk_batch(events))
    assert error is None, payload
    assert json.loads(payload)["delivered"] == 1
    wait_for(lambda: text("total-events") == "3")
    assert text("message-count") == "1"
    logs = [entry["message"] for entry in browser.get_log("browser")]
    assert not [m for m in logs if "Content Security Policy" in m or "WebSocket" in m], logs
