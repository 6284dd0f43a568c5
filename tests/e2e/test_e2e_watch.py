"""Watch it work: the live dashboard in a browser, the lake in S3, and SQL over it.

All against the shared local deployment: the page served by the deployed HTTP API opens in
headless Chromium and connects to the deployed WebSocket API; Firehose writes the topic to
the data bucket; the saved Athena queries run through the Athena API.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulator.control import fire_rule
from ops.local import create_dashboard_user
from ops.query import all_named_queries, run_query
from tests.support.browser import chromium, kill
from tests.support.local_platform import LocalPlatform, wait_for
from tests.support.paths import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OBJECT_KEY = re.compile(
    r"^telemetry/year=(\d{4})/month=(\d{2})/day=(\d{2})/hour=(\d{2})/"
    r"acme-data-dev-telemetry-to-s3-1-(\d{4})-(\d{2})-(\d{2})-(\d{2})-\d{2}-\d{2}-[0-9a-f-]{36}\.gz$"
)
SCREENSHOTS = REPO_ROOT / "build" / "screenshots"
VIEWER = "e2e-viewer"
VIEWER_PASSWORD = "E2e-Viewer-Password-1"


def published_total(platform: LocalPlatform) -> int:
    producer = platform.output("data-gen", "producer_function_name")
    return sum(e["published"] for e in platform.json_logs(producer, "events published"))


def quiet(platform: LocalPlatform) -> int:
    """Wait until nothing is in flight; answers the events published so far."""

    def settled() -> int | None:
        status = platform.status()
        mapping = status["event_source_mappings"][0]
        busy = status["pending_events"] or any(f["busy"] for f in status["functions"])
        published = published_total(platform)
        caught_up = mapping["records_delivered"] >= published - sum(
            mapping["start_offsets"].values()
        )
        return None if busy or not caught_up else published or -1

    return max(wait_for(settled, 120, what="the platform to settle"), 0)


def fire_generator(platform: LocalPlatform) -> None:
    (schedule,) = platform.status()["schedules"]
    assert fire_rule(platform.endpoint, schedule["arn"])["targets"] == 1


def connection_ids(platform: LocalPlatform) -> set[str]:
    table = platform.output("dashboard", "connections_table_name")
    items = platform.client("dynamodb").scan(TableName=table)["Items"]
    return {item["connectionId"]["S"] for item in items}


def dashboard_viewer(platform: LocalPlatform) -> tuple[str, str]:
    """A user of the dashboard's pool (created once), as the platform team creates one."""
    cognito = platform.client("cognito-idp")
    pool_id = platform.output("dashboard", "dashboard_user_pool_id")
    try:
        cognito.admin_get_user(UserPoolId=pool_id, Username=VIEWER)
    except cognito.exceptions.UserNotFoundException:
        create_dashboard_user(cognito, pool_id, VIEWER, VIEWER_PASSWORD)
    return VIEWER, VIEWER_PASSWORD


def open_live_page(platform: LocalPlatform, browser: Any) -> str:
    """Open the dashboard, sign in through its form, wait until it is live; answers its
    connection id."""
    before = connection_ids(platform)
    username, password = dashboard_viewer(platform)
    browser.get(platform.output("dashboard", "dashboard_url"))
    wait_for(
        lambda: browser.find_element("id", "status").get_attribute("data-state") == "signed-out",
        30,
        what="the page to ask for a sign-in",
    )
    browser.find_element("id", "username").send_keys(username)
    browser.find_element("id", "password").send_keys(password)
    browser.find_element("id", "sign-in-button").click()
    wait_for(
        lambda: browser.find_element("id", "status").get_attribute("data-state") == "live",
        30,
        what="the page to connect",
    )
    (connection,) = wait_for(lambda: connection_ids(platform) - before, 10, what="$connect")
    return connection


def test_the_dashboard_shows_what_the_producer_published(
    local_platform: LocalPlatform, tmp_path: Path
) -> None:
    quiet(local_platform)
    with chromium(tmp_path, 1400, 900) as browser:
        open_live_page(local_platform, browser)
        before = published_total(local_platform)
        fire_generator(local_platform)
        published = wait_for(
            lambda: (published_total(local_platform) - before) or None,
            60,
            what="the scheduled generator's events published",
        )
        quiet(local_platform)
        published = published_total(local_platform) - before

        def shown() -> int | None:
            total = int(browser.find_element("id", "total-events").text.replace(",", ""))
            return total if total == published else None

        wait_for(shown, 60, what=f"the page to count the {published} published events")
        rows = browser.find_elements("css selector", "#recent-body tr")
        assert rows, "the page lists the most recent events"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "dashboard-local.png"))


def lake_objects(platform: LocalPlatform) -> dict[str, list[dict[str, Any]]]:
    s3 = platform.client("s3")
    bucket = platform.output("data-lake", "data_bucket_name")
    found: dict[str, list[dict[str, Any]]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="telemetry/"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            found[item["Key"]] = [json.loads(line) for line in gzip.decompress(body).splitlines()]
    return found


def test_a_closed_browser_is_removed_through_disconnect(
    local_platform: LocalPlatform, tmp_path: Path
) -> None:
    with chromium(tmp_path) as browser:
        connection = open_live_page(local_platform, browser)
    wait_for(lambda: connection not in connection_ids(local_platform), 30, what="$disconnect")
    disconnect = local_platform.output("dashboard", "websocket_function_names")[1]
    assert any(connection in line for line in local_platform.log_messages(disconnect))

    # A connection whose $disconnect never ran (it is best-effort on AWS) goes with the next
    # broadcast: API Gateway answers 410 for it and the consumer removes it.
    table = local_platform.output("dashboard", "connections_table_name")
    local_platform.client("dynamodb").put_item(
        TableName=table, Item={"connectionId": {"S": connection}, "ttl": {"N": "9999999999"}}
    )
    fire_generator(local_platform)
    wait_for(
        lambda: connection not in connection_ids(local_platform),
        90,
        what="the next broadcast to remove the stale connection",
    )


def test_a_killed_browser_is_removed(local_platform: LocalPlatform, tmp_path: Path) -> None:
    with chromium(tmp_path) as browser:
        connection = open_live_page(local_platform, browser)
        kill(browser)
        fire_generator(local_platform)
        wait_for(
            lambda: connection not in connection_ids(local_platform),
            90,
            what="the killed browser's connection to be removed",
        )


def test_firehose_writes_every_published_event_once_under_hourly_prefixes(
    local_platform: LocalPlatform,
) -> None:
    quiet(local_platform)
    topic_ids = Counter(json.loads(r.value)["event_id"] for r in local_platform.topic_records())
    assert topic_ids and max(topic_ids.values()) == 1

    def delivered() -> dict[str, list[dict[str, Any]]] | None:
        objects = lake_objects(local_platform)
        count = sum(len(events) for events in objects.values())
        return objects if count >= len(topic_ids) else None

    # The buffer interval (60 s in dev) plus 30 s.
    objects = wait_for(delivered, 90, interval=5, what="every topic event in the lake")
    lake_ids = Counter(event["event_id"] for events in objects.values() for event in events)
    # The schedule keeps firing (every 5 minutes) while the tests run: the topic read before
    # the lake may miss the newest events, the one after it holds everything the lake has.
    later_topic = {json.loads(r.value)["event_id"] for r in local_platform.topic_records()}
    assert max(lake_ids.values()) == 1, "no event twice in the lake"
    assert set(topic_ids) <= set(lake_ids), "every topic event reached the lake"
    assert set(lake_ids) <= later_topic, "the lake holds only topic events"
    for key in objects:
        match = OBJECT_KEY.match(key)
        assert match, key
        # The prefix's hour is the object's own arrival hour (both UTC).
        assert match.groups()[:4] == match.groups()[4:]


def test_every_saved_query_runs_and_one_matches_the_objects(
    local_platform: LocalPlatform,
) -> None:
    athena = local_platform.client("athena")
    queries = {q.name: q for q in all_named_queries(athena)}
    assert set(queries) >= {"events-by-type", "top-titles-by-watch-time", "device-distribution"}
    outcomes = {name: run_query(athena, query) for name, query in queries.items()}
    for name, outcome in outcomes.items():
        assert outcome.state == "SUCCEEDED", f"{name}: {outcome.reason}"
        assert outcome.rows, f"{name} returned no rows"

    def events_by_type(objects: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
        """events-by-type computed independently from the lake's objects of the last 7 days."""
        since = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y%m%d")
        expected: Counter[str] = Counter()
        for key, events in objects.items():
            match = OBJECT_KEY.match(key)
            assert match
            if "".join(match.groups()[:3]) >= since:
                expected.update(event["event_type"] for event in events)
        return dict(expected)

    # Firehose may deliver while the query runs (the schedule keeps firing): compare with
    # the lake as it was on both sides of one query that saw it unchanged.
    for _ in range(3):
        before = lake_objects(local_platform)
        outcome = run_query(athena, queries["events-by-type"])
        if lake_objects(local_platform).keys() == before.keys():
            break
    answer = {str(row[0]): int(str(row[1])) for row in outcome.rows}
    assert answer == events_by_type(before)


def refused_handshake(url: str) -> int:
    """The HTTP status API Gateway answers a WebSocket handshake with (101: accepted)."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    try:
        with connect(url, open_timeout=30):
            return 101
    except InvalidStatus as refused:
        return int(refused.response.status_code)


def test_connections_without_a_valid_token_are_refused_and_never_stored(
    local_platform: LocalPlatform,
) -> None:
    import base64
    import time

    import jwt
    from moto.utilities.utils import load_resource

    url = local_platform.output("dashboard", "websocket_url")
    before = connection_ids(local_platform)
    cognito = local_platform.client("cognito-idp")
    username, password = dashboard_viewer(local_platform)
    tokens = cognito.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=local_platform.output("dashboard", "dashboard_user_pool_client_id"),
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]
    header, payload, signature = tokens["AccessToken"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))

    def encoded(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    # Forged: the claims changed under the genuine signature. Expired: signed with the key
    # moto's Cognito signs with (a real Cognito token past its exp).
    forged = f"{header}.{encoded({**claims, 'username': 'admin'})}.{signature}"
    key = load_resource("cognitoidp/resources/jwks-private.json")
    expired = jwt.encode(
        {**claims, "exp": int(time.time()) - 60, "iat": int(time.time()) - 3660},
        jwt.PyJWK(key).key,
        algorithm="RS256",
        headers={"kid": key["kid"]},
    )
    assert refused_handshake(url) == 401  # no token: the identity source is missing
    assert refused_handshake(f"{url}?token=") == 401
    assert refused_handshake(f"{url}?token={forged}") == 403
    assert refused_handshake(f"{url}?token={expired}") == 403
    assert refused_handshake(f"{url}?token={tokens['IdToken']}") == 403
    assert connection_ids(local_platform) == before
    # The genuine token opens a socket (and is stored until it closes).
    assert refused_handshake(f"{url}?token={tokens['AccessToken']}") == 101
