"""API Gateway's event shapes and answer rules, as pure functions (no server, no Lambda)."""

from __future__ import annotations

import base64
import json
import re

import pytest

from emulator.dataplane.apigateway_events import (
    ConnectionInfo,
    HttpRequestInfo,
    MalformedResponse,
    authorizer_decision,
    authorizer_event,
    clf_time,
    connect_event,
    disconnect_event,
    function_arn_from_uri,
    http_answer_v1,
    http_answer_v2,
    http_event_v1,
    http_event_v2,
    match_http_route,
    message_event,
    new_id,
    select_route_key,
    websocket_answer,
)
from emulator.dataplane.credentials import arn_like

FUNCTION = "arn:aws:lambda:us-west-2:123456789012:function:acme-data-dev-ws-connect"
CONNECTION = ConnectionInfo(
    api_id="abcd1234",
    stage="live",
    connection_id="L0SM9cOFvHcCIhw=",
    connected_at_ms=1707502303419,
    domain_name="127.0.0.1:4510",
    source_ip="127.0.0.1",
    user_agent="Mozilla/5.0",
)


def test_ids_look_like_api_gateways() -> None:
    ids = {new_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{15}=", value) for value in ids)


def test_request_time_is_the_common_log_format() -> None:
    assert clf_time(1707502303419) == "09/Feb/2024:18:11:43 +0000"


def test_the_function_arn_comes_from_the_invoke_arn_or_is_given_directly() -> None:
    uri = f"arn:aws:apigateway:us-west-2:lambda:path/2015-03-31/functions/{FUNCTION}/invocations"
    assert function_arn_from_uri(uri) == FUNCTION
    assert function_arn_from_uri(FUNCTION) == FUNCTION
    assert function_arn_from_uri("https://example.com/") is None
    assert function_arn_from_uri("arn:aws:apigateway:us-west-2:sqs:path/x") is None


def test_connect_event_has_the_request_and_the_connection() -> None:
    event = connect_event(
        CONNECTION,
        headers=[
            ("Host", "127.0.0.1:4510"),
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("X-Multi", "a"),
            ("X-Multi", "b"),
        ],
        raw_query="token=abc&tag=x&tag=y",
        request_id="cx6YEHM1IAMF6eA=",
        request_ms=1707502303420,
    )
    assert event["headers"] == {
        "Host": "127.0.0.1:4510",
        "Sec-WebSocket-Version": "13",
        "X-Multi": "b",
    }
    assert event["multiValueHeaders"]["X-Multi"] == ["a", "b"]
    assert event["queryStringParameters"] == {"token": "abc", "tag": "y"}
    assert event["multiValueQueryStringParameters"]["tag"] == ["x", "y"]
    assert event["isBase64Encoded"] is False
    assert event["requestContext"] == {
        "routeKey": "$connect",
        "eventType": "CONNECT",
        "extendedRequestId": "cx6YEHM1IAMF6eA=",
        "requestTime": "09/Feb/2024:18:11:43 +0000",
        "messageDirection": "IN",
        "stage": "live",
        "connectedAt": 1707502303419,
        "requestTimeEpoch": 1707502303420,
        "identity": {"sourceIp": "127.0.0.1", "userAgent": "Mozilla/5.0"},
        "requestId": "cx6YEHM1IAMF6eA=",
        "domainName": "127.0.0.1:4510",
        "connectionId": "L0SM9cOFvHcCIhw=",
        "apiId": "abcd1234",
    }
    without_query = connect_event(
        CONNECTION, headers=[], raw_query="", request_id="r", request_ms=1
    )
    assert "queryStringParameters" not in without_query


def test_message_events_carry_text_as_is_and_binary_as_base64() -> None:
    text = message_event(
        CONNECTION, route_key="$default", data='{"action":"ping"}', request_id="r",
        message_id="m", request_ms=5,
    )  # fmt: skip
    assert text["body"] == '{"action":"ping"}' and text["isBase64Encoded"] is False
    assert text["requestContext"]["eventType"] == "MESSAGE"
    assert text["requestContext"]["messageId"] == "m"
    binary = message_event(
        CONNECTION, route_key="$default", data=b"\x00\xff", request_id="r", message_id="m",
        request_ms=5,
    )  # fmt: skip
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\x00\xff"


def test_disconnect_event_has_the_close_status_and_api_gateways_header_set() -> None:
    event = disconnect_event(
        CONNECTION, status_code=1001, reason="Going away", request_id="r", request_ms=9
    )
    assert event["headers"] == {
        "Host": "127.0.0.1:4510",
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"]) == ("$disconnect", "DISCONNECT")
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1001, "Going away")


def test_an_authorizers_context_reaches_every_event_but_the_authorizers_own() -> None:
    allowed = ConnectionInfo(
        **{**CONNECTION.__dict__, "authorizer": {"principalId": "u-1", "tenant": "acme"}}
    )
    event = message_event(
        allowed, route_key="$default", data="x", request_id="r", message_id="m", request_ms=1
    )
    assert event["requestContext"]["authorizer"] == {"principalId": "u-1", "tenant": "acme"}
    request = authorizer_event(
        allowed,
        method_arn="arn:aws:execute-api:us-west-2:123456789012:abcd1234/live/$connect",
        headers=[("Host", "h")],
        raw_query="token=t",
        request_id="r",
        request_ms=1,
    )
    assert request["type"] == "REQUEST"
    assert request["queryStringParameters"] == {"token": "t"}
    assert "authorizer" not in request["requestContext"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"action": "ping"}', "ping"),
        ('{"action": {"nested": 1}}', None),
        ('{"other": "ping"}', None),
        ("not json", None),
        ('["action"]', None),
        (b'{"action": "ping"}', None),  # binary frames never select a route
    ],
)
def test_route_selection_by_the_body(body: str | bytes, expected: str | None) -> None:
    assert select_route_key("$request.body.action", body) == expected


def test_route_selection_follows_a_nested_path() -> None:
    assert select_route_key("$request.body.meta.kind", '{"meta": {"kind": "sub"}}') == "sub"
    assert select_route_key("${request.body.action}", '{"action": "x"}') == "x"
    assert select_route_key("$request.header.x", '{"action": "x"}') is None


def test_websocket_answers() -> None:
    pong = websocket_answer(b'{"statusCode": 200, "body": "{\\"type\\":\\"pong\\"}"}')
    assert (pong.status, pong.body) == (200, '{"type":"pong"}')
    binary = websocket_answer(b'{"statusCode": 200, "body": "AP8=", "isBase64Encoded": true}')
    assert binary.body == b"\x00\xff"
    assert websocket_answer(b"null").status is None
    assert websocket_answer(b'{"statusCode": "403"}').status == 403
    refused = websocket_answer(b'{"statusCode": 401, "headers": {"Sec-WebSocket-Protocol": 1}}')
    assert refused.headers == {"Sec-WebSocket-Protocol": "1"}
    for malformed in (b'"text"', b'{"statusCode": true}', b'{"body": {"a": 1}}', b"{x"):
        with pytest.raises(MalformedResponse):
            websocket_answer(malformed)


METHOD_ARN = "arn:aws:execute-api:us-west-2:123456789012:abcd1234/live/$connect"


def _policy(effect: str, resource: str, **extra: object) -> bytes:
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
    return json.dumps(
        {
            "principalId": "user-1",
            "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
            **extra,
        }
    ).encode()


def test_authorizer_policies() -> None:
    allowed = authorizer_decision(_policy("Allow", METHOD_ARN, context={"n": 1}), METHOD_ARN)
    assert allowed.allowed and allowed.context == {"principalId": "user-1", "n": 1}
    wildcard = "arn:aws:execute-api:us-west-2:123456789012:abcd1234/*"
    assert authorizer_decision(_policy("Allow", wildcard), METHOD_ARN).allowed
    assert not authorizer_decision(_policy("Deny", METHOD_ARN), METHOD_ARN).allowed
    other = "arn:aws:execute-api:us-west-2:123456789012:other/*"
    assert not authorizer_decision(_policy("Allow", other), METHOD_ARN).allowed
    with pytest.raises(MalformedResponse):
        authorizer_decision(_policy("Allow", METHOD_ARN, context={"n": {"x": 1}}), METHOD_ARN)
    with pytest.raises(MalformedResponse):
        authorizer_decision(b'{"policyDocument": {}}', METHOD_ARN)


def test_arn_like() -> None:
    assert arn_like(
        "arn:aws:execute-api:*:*:abc/*/$default", "arn:aws:execute-api:r:1:abc/x/$default"
    )
    assert not arn_like(
        "arn:aws:execute-api:r:1:abc/*/$default", "arn:aws:execute-api:r:1:abd/x/$default"
    )
    assert arn_like("a?c", "abc") and not arn_like("a?c", "abbc")
    assert not arn_like("a.c", "abc")  # a dot is a dot


def http_request(**overrides: object) -> HttpRequestInfo:
    fields: dict[str, object] = {
        "method": "GET",
        "raw_path": "/app.js",
        "path": "/app.js",
        "raw_query": "v=1&v=2&x=%20y",
        "headers": [
            ("Host", "127.0.0.1:4520"),
            ("User-Agent", "curl/8"),
            ("Cookie", "a=1; b=2"),
            ("X-Dup", "1"),
            ("X-Dup", "2"),
        ],
        "body": b"",
        "source_ip": "127.0.0.1",
        "domain_name": "127.0.0.1:4520",
        "api_id": "page1234",
        "account_id": "123456789012",
        "stage": "$default",
        "route_key": "$default",
        "request_id": "req=",
        "request_ms": 1707502303420,
    }
    fields.update(overrides)
    return HttpRequestInfo(**fields)  # type: ignore[arg-type]


def test_http_event_v2() -> None:
    event = http_event_v2(http_request())
    assert event["version"] == "2.0"
    assert (event["routeKey"], event["rawPath"], event["rawQueryString"]) == (
        "$default",
        "/app.js",
        "v=1&v=2&x=%20y",
    )
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-dup"] == "1,2" and "cookie" not in event["headers"]
    assert event["queryStringParameters"] == {"v": "1,2", "x": " y"}
    assert event["requestContext"]["http"] == {
        "method": "GET",
        "path": "/app.js",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "curl/8",
    }
    assert event["requestContext"]["timeEpoch"] == 1707502303420
    assert event["isBase64Encoded"] is False and "body" not in event
    json_body = http_event_v2(
        http_request(method="POST", body=b'{"a":1}', headers=[("Content-Type", "application/json")])
    )
    assert (json_body["body"], json_body["isBase64Encoded"]) == ('{"a":1}', False)
    form = http_event_v2(
        http_request(
            method="POST",
            body=b"a=1",
            headers=[("Content-Type", "application/x-www-form-urlencoded")],
        )
    )
    assert (form["body"], form["isBase64Encoded"]) == ("YT0x", True)


def test_http_event_v1() -> None:
    event = http_event_v1(http_request(route_key="GET /app.js", path_parameters={"id": "1"}))
    assert event["version"] == "1.0"
    assert event["httpMethod"] == "GET" and event["resource"] == "/app.js"
    assert event["multiValueQueryStringParameters"] == {"v": ["1", "2"], "x": [" y"]}
    assert event["multiValueHeaders"]["X-Dup"] == ["1", "2"]
    assert event["pathParameters"] == {"id": "1"}
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"


def test_http_answer_v2() -> None:
    page = http_answer_v2(
        json.dumps(
            {
                "statusCode": 200,
                "headers": {"Content-Type": "text/html"},
                "multiValueHeaders": {"X-A": ["1", "2"]},
                "cookies": ["s=1; Path=/"],
                "body": "<p>",
            }
        ).encode()
    )
    assert page.status == 200 and page.body == b"<p>"
    assert page.headers == (
        ("Content-Type", "text/html"),
        ("X-A", "1"),
        ("X-A", "2"),
        ("set-cookie", "s=1; Path=/"),
    )
    binary = http_answer_v2(b'{"statusCode": 201, "body": "AP8=", "isBase64Encoded": true}')
    assert (binary.status, binary.body) == (201, b"\x00\xff")
    # No statusCode: API Gateway infers a 200 JSON answer of the function's result.
    for inferred in (b'{"hello": "world"}', b'"Hello"', b"[1, 2]"):
        answer = http_answer_v2(inferred)
        assert answer.status == 200
        assert answer.headers == (("content-type", "application/json"),)
        assert answer.body == inferred
    with pytest.raises(MalformedResponse):
        http_answer_v2(b'{"statusCode": 200, "body": 5}')


def test_http_answer_v1_needs_the_proxy_shape() -> None:
    answer = http_answer_v1(
        b'{"statusCode": 404, "headers": {"A": "1", "B": "x"}, '
        b'"multiValueHeaders": {"B": ["2", "3"]}, "body": "no"}'
    )
    assert answer.status == 404 and answer.body == b"no"
    assert answer.headers == (("A", "1"), ("B", "2"), ("B", "3"))
    with pytest.raises(MalformedResponse):
        http_answer_v1(b'{"hello": "world"}')


def test_http_routes_most_specific_first() -> None:
    keys = ["$default", "ANY /{proxy+}", "GET /pets/{id}", "GET /pets/dog", "ANY /pets/{id}"]
    assert match_http_route(keys, "GET", "/pets/dog") == ("GET /pets/dog", {})
    assert match_http_route(keys, "GET", "/pets/7") == ("GET /pets/{id}", {"id": "7"})
    assert match_http_route(keys, "DELETE", "/pets/7") == ("ANY /pets/{id}", {"id": "7"})
    assert match_http_route(keys, "GET", "/a/b/c") == ("ANY /{proxy+}", {"proxy": "a/b/c"})
    assert match_http_route(["$default"], "POST", "/x") == ("$default", {})
    assert match_http_route(["GET /only"], "GET", "/other") is None
    assert match_http_route(["GET /"], "GET", "/") == ("GET /", {})
