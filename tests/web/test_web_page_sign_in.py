"""The dashboard page signs in with Cognito (access "cognito"), in a real browser.

Cognito is moto's, in this process (its server answers the page's CORS preflight itself:
flask-cors on every moto backend); the WebSocket API is the loopback stand-in, which
records each handshake's path and query and can refuse them as the $connect authorizer
does (401 before the socket opens).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.control import free_port
from tests.web.web_support import LambdaHttpServer, wait_until, websocket_api

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
USERNAME = "viewer"
PASSWORD = "Correct-Horse-9"

STATE = """
const tokens = JSON.parse(sessionStorage.getItem("acme-dashboard-tokens"));
return {
  state: document.getElementById("status").dataset.state,
  status: document.getElementById("status-text").textContent,
  form: !document.getElementById("sign-in").hidden,
  signOut: !document.getElementById("sign-out").hidden,
  error: document.getElementById("sign-in-error").textContent,
  tokens: tokens,
};
"""


@pytest.fixture(scope="module")
def cognito() -> Iterator[dict[str, str]]:
    """moto's Cognito in this process: a pool, the page's public client and one user."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client(
            "cognito-idp",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        pool = client.create_user_pool(PoolName="dashboard")["UserPool"]["Id"]
        app = client.create_user_pool_client(
            UserPoolId=pool,
            ClientName="dashboard-page",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        client.admin_create_user(UserPoolId=pool, Username=USERNAME, MessageAction="SUPPRESS")
        client.admin_set_user_password(
            UserPoolId=pool, Username=USERNAME, Password=PASSWORD, Permanent=True
        )
        yield {"endpoint": f"{endpoint}/", "client_id": app}
    finally:
        server.stop()


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def state(browser: Any) -> dict[str, Any]:
    return dict(browser.execute_script(STATE))


def sign_in(browser: Any, password: str) -> None:
    for field, value in (("username", USERNAME), ("password", password)):
        element = browser.find_element("id", field)
        element.clear()
        element.send_keys(value)
    browser.find_element("id", "sign-in-button").click()


def test_sign_in_connects_with_the_access_token_and_a_refused_token_signs_out(
    browser: Any,
    page_server: LambdaHttpServer,
    cognito: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refused: set[str] = set()
    with websocket_api([], refuse=lambda path: path in refused) as api:
        monkeypatch.setenv("WEBSOCKET_URL", api.url)
        monkeypatch.setenv("COGNITO_ENDPOINT", cognito["endpoint"])
        monkeypatch.setenv("COGNITO_CLIENT_ID", cognito["client_id"])
        browser.get(f"{page_server.url}/")

        # --- no tokens: signed out, the form shown, no connection tried
        now = wait_until(lambda: (s := state(browser))["state"] == "signed-out" and s)
        assert now["form"] and not now["signOut"] and now["status"] == "Signed out"
        labels = browser.execute_script(
            "return [...document.querySelectorAll('#sign-in label')]"
            ".map(l => [l.htmlFor, l.textContent])"
        )
        assert labels == [["username", "User name"], ["password", "Password"]]
        assert api.paths == []

        # --- a wrong password: Cognito's message, still signed out
        sign_in(browser, "wrong-password-1")
        now = wait_until(lambda: (s := state(browser))["error"] and s)
        assert now["error"].startswith("Sign-in failed: ") and now["state"] == "signed-out"
        assert now["tokens"] is None and api.paths == []

        # --- signed in: the socket opens with ?token=<the access token>
        sign_in(browser, PASSWORD)
        now = wait_until(lambda: (s := state(browser))["state"] == "live" and s, timeout=10)
        assert not now["form"] and now["signOut"]
        access = now["tokens"]["access"]
        assert claims(access)["token_use"] == "access"
        assert claims(access)["client_id"] == cognito["client_id"]
        assert api.paths == [f"/?token={access}"]

        # --- reconnecting with a token about to expire: refreshed first (REFRESH_TOKEN_AUTH)
        soon = browser.execute_script(
            "const t = JSON.parse(sessionStorage.getItem('acme-dashboard-tokens'));"
            "t.expiresAt = Date.now() + 30000;"
            "sessionStorage.setItem('acme-dashboard-tokens', JSON.stringify(t));"
            "return t.expiresAt;"
        )
        api.stop()
        api.start()
        wait_until(lambda: len(api.paths) == 2, timeout=15, message="the reconnect")
        now = wait_until(lambda: (s := state(browser))["state"] == "live" and s, timeout=10)
        assert now["tokens"]["expiresAt"] > soon + 60_000
        assert api.paths[1] == f"/?token={now['tokens']['access']}"
        assert claims(now["tokens"]["access"])["token_use"] == "access"

        # --- the authorizer refuses the token (401 before opening): signed out, form again
        refused.add(api.paths[1])
        api.stop()
        api.start()
        now = wait_until(lambda: (s := state(browser))["state"] == "signed-out" and s, timeout=15)
        assert len(api.paths) == 3 and api.paths[2] == api.paths[1]
        assert now["form"] and not now["signOut"] and now["tokens"] is None

        # --- signed in again, then "Sign out": tokens gone, socket closed, no reconnect
        sign_in(browser, PASSWORD)
        now = wait_until(lambda: (s := state(browser))["state"] == "live" and s, timeout=10)
        browser.find_element("id", "sign-out").click()
        now = wait_until(lambda: (s := state(browser))["state"] == "signed-out" and s)
        assert now["form"] and now["tokens"] is None
        count = len(api.paths)
        time.sleep(2.5)  # longer than the first reconnect's backoff
        assert len(api.paths) == count
        console = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        # The refused handshake and the wrong password are the only errors the browser logs.
        expected = ("status of 400", "HTTP Authentication failed")
        assert all(any(x in e["message"] for x in expected) for e in console), console
