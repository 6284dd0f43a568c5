"""HTTP APIs served locally: the real dashboard page, and the payload formats' rules."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from emulator.dataplane.apigateway import ApiGateway
from tests.support.apigateway import (
    ACCOUNT,
    RECORDER,
    REGION,
    create_function,
    create_role,
    deploy_dashboard_page,
    invoke_arn,
    make_zip,
    read_events,
)

Aws = Callable[[str], Any]


def deploy_http_api(
    aws: Aws,
    routes: dict[str, tuple[str, str]],
    *,
    stages: tuple[str, ...] = ("$default",),
    permissions: bool = True,
) -> tuple[str, str]:
    """The dashboard stack's HTTP API: route key -> (function ARN, payload format version).

    Returns the API id and its endpoint (``api_endpoint``).
    """
    client = aws("apigatewayv2")
    api = client.create_api(Name=f"page-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP")
    api_id = api["ApiId"]
    for route_key, (function_arn, version) in routes.items():
        integration = client.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=invoke_arn(function_arn),
            IntegrationMethod="POST",
            PayloadFormatVersion=version,
        )
        client.create_route(
            ApiId=api_id, RouteKey=route_key, Target=f"integrations/{integration['IntegrationId']}"
        )
        if permissions:
            aws("lambda").add_permission(
                FunctionName=function_arn,
                StatementId=f"AllowHttpApiInvoke-{api_id}-{uuid.uuid4().hex[:4]}",
                Action="lambda:InvokeFunction",
                Principal="apigateway.amazonaws.com",
                SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*/*",
            )
    for stage in stages:
        client.create_stage(ApiId=api_id, StageName=stage, AutoDeploy=True)
    return api_id, api["ApiEndpoint"]


def fetch(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Message, bytes]:
    """Status, headers (case-insensitive; get_all for repeated ones) and body."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture(scope="module")
def dashboard_url(aws: Aws, gateway: ApiGateway) -> str:
    """The dashboard page's HTTP API, as the stack deploys it; its dashboard_url output."""
    websocket = aws("apigatewayv2").create_api(
        Name=f"live-{uuid.uuid4().hex[:6]}",
        ProtocolType="WEBSOCKET",
        RouteSelectionExpression="$request.body.action",
    )
    return deploy_dashboard_page(aws, f"{websocket['ApiEndpoint']}/live")


def test_the_dashboard_page_is_served_at_the_reported_endpoint(dashboard_url: str) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", dashboard_url)
    status, headers, body = fetch(dashboard_url)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert re.fullmatch(r"[A-Za-z0-9_-]{15}=", headers["apigw-requestid"])
    page = body.decode()
    config_block = re.search(r'<script type="application/json" id="config">(.*?)</script>', page)
    assert config_block is not None
    config = json.loads(config_block.group(1))
    assert re.fullmatch(r"ws://127\.0\.0\.1:\d+/live", config["websocketUrl"])
    origin = config["websocketUrl"].removesuffix("/live")
    assert f"connect-src {origin}" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"

    script_link = re.search(r'src="(app\.js\?v=[0-9a-f]+)"', page)
    assert script_link is not None
    script = script_link.group(1)
    status, headers, body = fetch(dashboard_url + script)
    assert status == 200 and headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert b"new WebSocket(url)" in body
    # Conditional GET, HEAD, a wrong method and a missing file, as the function answers them.
    assert fetch(dashboard_url, headers={"If-None-Match": headers["ETag"]})[0] == 200
    etag = fetch(dashboard_url)[1]["ETag"]
    status, _, body = fetch(dashboard_url, headers={"If-None-Match": etag})
    assert (status, body) == (304, b"")
    status, headers, body = fetch(dashboard_url, method="HEAD")
    assert status == 200 and body == b""
    status, headers, _ = fetch(dashboard_url, method="POST", body=b"x")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert fetch(dashboard_url + "nothing-here")[0] == 404


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("http-events") / "events.jsonl"


@pytest.fixture(scope="module")
def recorder(aws: Aws, gateway: ApiGateway, events_file: Path) -> str:
    suffix = uuid.uuid4().hex[:6]
    return create_function(
        aws,
        f"http-recorder-{suffix}",
        make_zip({"recorder.py": RECORDER}),
        "recorder.handler",
        create_role(aws, f"http-recorder-{suffix}", []),
        {"EVENTS_FILE": str(events_file)},
    )


@pytest.fixture(scope="module")
def probe(aws: Aws, recorder: str) -> str:
    """$default in format 2.0, ``GET /pets/{id}`` in 1.0; stages $default and v1."""
    _, endpoint = deploy_http_api(
        aws,
        {"$default": (recorder, "2.0"), "GET /pets/{id}": (recorder, "1.0")},
        stages=("$default", "v1"),
    )
    return endpoint


def last_event(events_file: Path) -> dict[str, Any]:
    return read_events(events_file)[-1]


def test_payload_format_2_0_event(probe: str, events_file: Path) -> None:
    status, _, _ = fetch(
        f"{probe}/some/path?a=1&a=2&b=x%20y",
        method="POST",
        body=b'{"n": 1}',
        headers={"Content-Type": "application/json", "Cookie": "c1=1; c2=2", "X-Dup": "v"},
    )
    assert status == 200
    event = last_event(events_file)
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert (event["rawPath"], event["rawQueryString"]) == ("/some/path", "a=1&a=2&b=x%20y")
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["cookies"] == ["c1=1", "c2=2"]
    assert event["headers"]["x-dup"] == "v" and event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert (event["body"], event["isBase64Encoded"]) == ('{"n": 1}', False)
    http = event["requestContext"]["http"]
    assert (http["method"], http["path"], http["sourceIp"]) == ("POST", "/some/path", "127.0.0.1")
    context = event["requestContext"]
    assert (context["accountId"], context["stage"]) == (ACCOUNT, "$default")
    assert context["requestId"] and context["timeEpoch"] > 0
    # A named stage: its path keeps the stage prefix, as API Gateway's rawPath does.
    assert fetch(f"{probe}/v1/x")[0] == 200
    staged = last_event(events_file)
    assert (staged["requestContext"]["stage"], staged["rawPath"]) == ("v1", "/v1/x")


def test_payload_format_1_0_event_and_path_parameters(probe: str, events_file: Path) -> None:
    answer = quote(json.dumps({"statusCode": 202, "multiValueHeaders": {"X-M": ["1", "2"]}}))
    status, headers, _ = fetch(f"{probe}/pets/42?answer={answer}")
    assert status == 202 and headers.get_all("X-M") == ["1", "2"]
    event = last_event(events_file)
    assert event["version"] == "1.0" and event["httpMethod"] == "GET"
    assert event["resource"] == "/pets/{id}" and event["path"] == "/pets/42"
    assert event["pathParameters"] == {"id": "42"}
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    # 1.0 needs a proxy response: anything else is API Gateway's 500.
    status, _, body = fetch(f"{probe}/pets/42?answer={quote(json.dumps({'hello': 'x'}))}")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


@pytest.mark.parametrize(
    ("answer", "status", "content_type", "body"),
    [
        (
            {"statusCode": 201, "headers": {"Content-Type": "text/plain"}, "body": "made"},
            201,
            "text/plain",
            b"made",
        ),
        ({"hello": "world"}, 200, "application/json", b'{"hello": "world"}'),
        ("just text", 200, "application/json", b'"just text"'),
        (
            {"statusCode": 200, "body": "AP8=", "isBase64Encoded": True},
            200,
            "text/plain; charset=utf-8",
            b"\x00\xff",
        ),
        ({"raise": "boom"}, 500, "application/json", b'{"message":"Internal Server Error"}'),
    ],
)
def test_payload_format_2_0_answers(
    probe: str, answer: Any, status: int, content_type: str, body: bytes
) -> None:
    got_status, headers, got_body = fetch(f"{probe}/?answer={quote(json.dumps(answer))}")
    assert (got_status, got_body) == (status, body)
    assert headers["Content-Type"] == content_type


def test_cookies_become_set_cookie_headers(probe: str) -> None:
    answer = {"statusCode": 200, "cookies": ["a=1; Path=/", "b=2"], "body": ""}
    request = urllib.request.Request(f"{probe}/?answer={quote(json.dumps(answer))}")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2"]


def test_no_route_no_stage_and_no_permission(aws: Aws, recorder: str) -> None:
    _, endpoint = deploy_http_api(aws, {"GET /only": (recorder, "2.0")})
    assert fetch(f"{endpoint}/only")[0] == 200
    status, _, body = fetch(f"{endpoint}/other")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})
    _, unstaged = deploy_http_api(aws, {"$default": (recorder, "2.0")}, stages=("v1",))
    assert fetch(f"{unstaged}/x")[0] == 404
    assert fetch(f"{unstaged}/v1/x")[0] == 200
    _, unpermitted = deploy_http_api(aws, {"$default": (recorder, "2.0")}, permissions=False)
    status, _, body = fetch(f"{unpermitted}/")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_a_route_with_authorization_is_refused_not_served_open(aws: Aws, recorder: str) -> None:
    api_id, endpoint = deploy_http_api(aws, {"$default": (recorder, "2.0")})
    client = aws("apigatewayv2")
    (route,) = client.get_routes(ApiId=api_id)["Items"]
    client.update_route(ApiId=api_id, RouteId=route["RouteId"], AuthorizationType="AWS_IAM")
    status, _, body = fetch(f"{endpoint}/")
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
