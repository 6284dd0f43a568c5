"""The dashboard's WebSocket API served locally: real handler zips in the real Lambda runtime.

moto runs in this process (its HTTP server for the workers' SDK calls); the APIs are created
with boto3 as Terraform creates them, and the gateway serves them at the endpoint moto
reports. Clients are real WebSocket clients; the consumer's own code posts to them through
``apigatewaymanagementapi``.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from emulator.dataplane.apigateway import ApiGateway, ApiRef, GatewaySettings
from emulator.dataplane.lambda_runtime import LambdaRuntime
from tests.support import local_platform
from tests.support.apigateway import (
    ACCOUNT,
    RECORDER,
    REGION,
    WebSocketApi,
    contract_event,
    create_connections_table,
    create_function,
    create_role,
    deploy_consumer,
    deploy_dashboard_websocket,
    deploy_websocket_api,
    invoke_arn,
    make_zip,
    moto_gateway,
    msk_batch,
    read_events,
    runtime_invoke,
)

Aws = Callable[[str], Any]


@pytest.fixture(scope="module")
def table(aws: Aws) -> str:
    return create_connections_table(aws)


@pytest.fixture(scope="module")
def dashboard(aws: Aws, gateway: ApiGateway, table: str) -> WebSocketApi:
    """The dashboard stack's API with the real ws_connect, ws_disconnect, ws_default."""
    return deploy_dashboard_websocket(aws, table)


def connection_items(aws: Aws, table: str) -> dict[str, dict[str, Any]]:
    items = aws("dynamodb").scan(TableName=table)["Items"]
    return {item["connectionId"]["S"]: item for item in items}


# The first truthy answer of a condition, polled every 0.05 s for 15.0 s at most.
wait_for = functools.partial(local_platform.wait_for, timeout=15.0, interval=0.05)


def ping(ws: ClientConnection) -> dict[str, Any]:
    ws.send(json.dumps({"action": "ping"}))
    return dict(json.loads(ws.recv(timeout=15)))


def management(api: WebSocketApi, **credentials: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=credentials.get("key", "testing"),
        aws_secret_access_key=credentials.get("secret", "testing"),
        aws_session_token=credentials.get("token"),
        region_name=REGION,
    )
    return session.client("apigatewaymanagementapi", endpoint_url=api.callback_url)


def test_the_endpoint_moto_reports_is_the_local_server(
    aws: Aws, gateway: ApiGateway, dashboard: WebSocketApi
) -> None:
    assert dashboard.endpoint.startswith("ws://127.0.0.1:")
    reported = aws("apigatewayv2").get_api(ApiId=dashboard.api_id)["ApiEndpoint"]
    assert reported == dashboard.endpoint
    assert gateway.endpoint(ApiRef(ACCOUNT, REGION, dashboard.api_id)) == dashboard.endpoint


def test_connect_ping_and_disconnect_run_the_deployed_handlers(
    aws: Aws, gateway: ApiGateway, dashboard: WebSocketApi, table: str
) -> None:
    with connect(dashboard.websocket_url, open_timeout=30) as ws:
        pong = ping(ws)
        assert pong["type"] == "pong"
        connection_id = pong["connectionId"]
        # ws_connect stored the connection with API Gateway's connectedAt, before the pong.
        item = connection_items(aws, table)[connection_id]
        assert item["connectedAt"]["S"].endswith("Z")
        assert int(item["ttl"]["N"]) > time.time() + 7000
        ref = ApiRef(ACCOUNT, REGION, dashboard.api_id)
        assert gateway.connection_ids(ref) == [connection_id]
    wait_for(lambda: connection_id not in connection_items(aws, table))
    assert gateway.connection_ids(ref) == []


def test_the_consumer_posts_to_the_connection_and_a_gone_one_answers_410(
    aws: Aws, dashboard: WebSocketApi, table: str, runtime: LambdaRuntime
) -> None:
    """The consumer's real code: scan, then @connections POST through boto3, signed with its
    role's credentials and allowed by its execute-api:ManageConnections grant."""
    consumer = deploy_consumer(aws, dashboard, table)
    # A stale entry: a connection API Gateway no longer has.
    aws("dynamodb").put_item(TableName=table, Item={"connectionId": {"S": "Z29uZS1hbHJlYWR5="}})
    batch = msk_batch([contract_event(event_type="start", title_id="t-1")])
    with connect(dashboard.websocket_url, open_timeout=30) as ws:
        connection_id = ping(ws)["connectionId"]
        invoke = runtime_invoke(runtime)
        payload, error = invoke(consumer, batch)
        assert error is None, payload
        result = json.loads(payload)
        assert result["delivered"] == 1 and result["stale_removed"] == 1, result
        message = json.loads(ws.recv(timeout=10))
        assert message["type"] == "telemetry"
        assert "Z29uZS1hbHJlYWR5=" not in connection_items(aws, table)
        assert connection_id in connection_items(aws, table)


# ---------------------------------------------------------------------------- a probe API


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("apigw-events") / "events.jsonl"


@pytest.fixture(scope="module")
def recorder(aws: Aws, gateway: ApiGateway, events_file: Path) -> str:
    """The function behind every route of the probe API (see RECORDER)."""
    suffix = uuid.uuid4().hex[:6]
    role = create_role(aws, f"recorder-{suffix}", [])
    return create_function(
        aws,
        f"recorder-{suffix}",
        make_zip({"recorder.py": RECORDER}),
        "recorder.handler",
        role,
        {"EVENTS_FILE": str(events_file)},
    )


def deploy_probe(aws: Aws, recorder: str, **options: Any) -> WebSocketApi:
    routes = {key: recorder for key in ("$connect", "$disconnect", "$default", "echo")}
    return deploy_websocket_api(aws, f"probe-{uuid.uuid4().hex[:6]}", routes, **options)


@pytest.fixture(scope="module")
def probe(aws: Aws, gateway: ApiGateway, recorder: str) -> WebSocketApi:
    """$connect, $disconnect, $default (two-way) and echo (one-way), all the recorder."""
    return deploy_probe(aws, recorder)


def events_of(events_file: Path, connection_id: str) -> list[dict[str, Any]]:
    return [
        event
        for event in read_events(events_file)
        if event.get("requestContext", {}).get("connectionId") == connection_id
    ]


def probe_connect(url: str, **options: Any) -> tuple[ClientConnection, str]:
    """Connect with a unique X-Probe header; returns the socket and its header value."""
    marker = uuid.uuid4().hex
    headers = {"X-Probe": marker, **options.pop("additional_headers", {})}
    return connect(url, open_timeout=30, additional_headers=headers, **options), marker


def connect_event_of(events_file: Path, marker: str, kind: str = "CONNECT") -> dict[str, Any]:
    """The $connect event (or, with ``kind="REQUEST"``, the authorizer's) of a probe."""

    def find() -> dict[str, Any] | None:
        for event in read_events(events_file):
            found = event.get("type") or event["requestContext"]["eventType"]
            if found == kind and (event.get("headers") or {}).get("X-Probe") == marker:
                return event
        return None

    return dict(wait_for(find))


def test_events_carry_what_api_gateway_sends(probe: WebSocketApi, events_file: Path) -> None:
    ws, marker = probe_connect(f"{probe.websocket_url}?tag=a&tag=b&token=t")
    with ws:
        connected = connect_event_of(events_file, marker)
        connection_id = connected["requestContext"]["connectionId"]
        ws.send(json.dumps({"action": "echo", "n": 1}))
        ws.send(b"\x00\x01binary")
        wait_for(lambda: len(events_of(events_file, connection_id)) == 3)
        ws.close(code=4000, reason="bye")
    wait_for(lambda: len(events_of(events_file, connection_id)) == 4)
    host = probe.endpoint.removeprefix("ws://")
    connect, echo, binary, disconnect = sorted(
        events_of(events_file, connection_id),
        key=lambda e: (
            ["CONNECT", "MESSAGE", "DISCONNECT"].index(e["requestContext"]["eventType"]),
            e.get("isBase64Encoded"),
        ),
    )
    context = connect["requestContext"]
    assert context["routeKey"] == "$connect" and context["eventType"] == "CONNECT"
    assert re.fullmatch(r"[A-Za-z0-9_-]{15}=", connection_id)
    assert (context["stage"], context["apiId"], context["domainName"]) == (
        probe.stage,
        probe.api_id,
        host,
    )
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["messageDirection"] == "IN"
    assert abs(context["connectedAt"] - time.time() * 1000) < 60_000
    assert connect["queryStringParameters"] == {"tag": "b", "token": "t"}
    assert connect["multiValueQueryStringParameters"]["tag"] == ["a", "b"]
    assert connect["headers"]["Host"] == host
    assert connect["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert "Sec-WebSocket-Key" in connect["headers"]
    assert connect["multiValueHeaders"]["X-Probe"] == [marker]

    assert echo["requestContext"]["routeKey"] == "echo"
    assert echo["requestContext"]["eventType"] == "MESSAGE"
    assert json.loads(echo["body"]) == {"action": "echo", "n": 1}
    assert echo["isBase64Encoded"] is False
    assert echo["requestContext"]["connectedAt"] == context["connectedAt"]
    assert binary["requestContext"]["routeKey"] == "$default"
    assert base64.b64decode(binary["body"]) == b"\x00\x01binary"

    assert disconnect["requestContext"]["routeKey"] == "$disconnect"
    assert disconnect["requestContext"]["disconnectStatusCode"] == 4000
    assert disconnect["requestContext"]["disconnectReason"] == "bye"
    assert disconnect["headers"] == {
        "Host": host,
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }


def test_only_a_two_way_route_answers_the_client(probe: WebSocketApi, events_file: Path) -> None:
    ws, marker = probe_connect(probe.websocket_url)
    with ws:
        connection_id = connect_event_of(events_file, marker)["requestContext"]["connectionId"]
        ws.send(json.dumps({"action": "echo", "answer": {"statusCode": 200, "body": "one-way"}}))
        wait_for(lambda: len(events_of(events_file, connection_id)) == 2)
        ws.send(json.dumps({"answer": {"statusCode": 200, "body": "two-way"}}))
        assert ws.recv(timeout=15) == "two-way"
        ws.send(
            json.dumps({"answer": {"statusCode": 200, "body": "AP8=", "isBase64Encoded": True}})
        )
        assert ws.recv(timeout=15) == b"\x00\xff"
        ws.send(json.dumps({"answer": {"statusCode": 200}}))  # no body: nothing comes back
        wait_for(lambda: len(events_of(events_file, connection_id)) == 5)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)


def test_a_failing_route_answers_internal_server_error(
    probe: WebSocketApi, events_file: Path
) -> None:
    ws, marker = probe_connect(probe.websocket_url)
    with ws:
        connection_id = connect_event_of(events_file, marker)["requestContext"]["connectionId"]
        for body in ({"answer": {"raise": "boom"}}, {"answer": "not a proxy result"}):
            ws.send(json.dumps(body))
            reply = json.loads(ws.recv(timeout=15))
            assert reply["message"] == "Internal server error"
            assert reply["connectionId"] == connection_id
            assert re.fullmatch(r"[A-Za-z0-9_-]{15}=", reply["requestId"])
        # The connection stays open after a failed message.
        ws.send(json.dumps({"answer": {"statusCode": 200, "body": "still here"}}))
        assert ws.recv(timeout=15) == "still here"


@pytest.mark.parametrize(
    ("answer_json", "status"),
    [
        ('{"statusCode": 403}', 403),
        ('{"statusCode": 401, "body": "no"}', 401),
        ('{"raise": "boom"}', 502),
        ('"not a proxy result"', 502),
    ],
)
def test_connect_refusals_are_the_handshakes_status(
    probe: WebSocketApi, answer_json: str, status: int
) -> None:
    from urllib.parse import quote

    with pytest.raises(InvalidStatus) as refused:
        connect(f"{probe.websocket_url}?answer={quote(answer_json)}", open_timeout=30)
    assert refused.value.response.status_code == status


def test_connect_accepts_any_2xx_and_no_status(probe: WebSocketApi) -> None:
    from urllib.parse import quote

    for answer_json in ('{"statusCode": 204}', "null", '{"body": "x"}'):
        with connect(f"{probe.websocket_url}?answer={quote(answer_json)}", open_timeout=30):
            pass


def test_a_client_gone_during_a_slow_connect_still_gets_its_disconnect(
    probe: WebSocketApi, events_file: Path
) -> None:
    from urllib.parse import quote

    slow = quote(json.dumps({"sleep": 1.0, "then": {"statusCode": 200}}))
    marker = uuid.uuid4().hex
    with pytest.raises(TimeoutError):
        connect(
            f"{probe.websocket_url}?answer={slow}",
            open_timeout=0.3,
            additional_headers={"X-Probe": marker},
        )
    connection_id = connect_event_of(events_file, marker)["requestContext"]["connectionId"]
    context = disconnect_of(events_file, connection_id)
    assert context["disconnectStatusCode"] == 1006


def test_an_unknown_stage_is_forbidden_and_plain_http_needs_an_upgrade(
    probe: WebSocketApi,
) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(InvalidStatus) as refused:
        connect(f"{probe.endpoint}/nope", open_timeout=10)
    assert refused.value.response.status_code == 403
    http = probe.endpoint.replace("ws://", "http://")
    with pytest.raises(urllib.error.HTTPError) as plain:
        urllib.request.urlopen(f"{http}/{probe.stage}", timeout=10)
    assert plain.value.code == 426


# ---------------------------------------------------------------------------- @connections


def client_error(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as failed:
        call()
    response = failed.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_get_post_delete_and_then_gone(aws: Aws, dashboard: WebSocketApi, table: str) -> None:
    client = management(dashboard)
    with connect(dashboard.websocket_url, open_timeout=30) as ws:
        connection_id = ping(ws)["connectionId"]
        info = client.get_connection(ConnectionId=connection_id)
        assert info["Identity"]["SourceIp"] == "127.0.0.1"
        assert info["Identity"]["UserAgent"].startswith("Python/")
        assert info["ConnectedAt"] <= info["LastActiveAt"]
        client.post_to_connection(ConnectionId=connection_id, Data=b'{"hello": "world"}')
        assert ws.recv(timeout=10) == '{"hello": "world"}'
        client.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    # ws_disconnect ran: the connection left the table.
    wait_for(lambda: connection_id not in connection_items(aws, table))
    for call in (
        lambda: client.post_to_connection(ConnectionId=connection_id, Data=b"late"),
        lambda: client.get_connection(ConnectionId=connection_id),
        lambda: client.delete_connection(ConnectionId=connection_id),
        lambda: client.post_to_connection(ConnectionId="bm9ib2R5LWV2ZXI=", Data=b"x"),
    ):
        assert client_error(call) == ("GoneException", 410)


def test_a_post_over_128_kb_is_refused_and_a_large_one_is_fragmented(
    dashboard: WebSocketApi,
) -> None:
    client = management(dashboard)
    with connect(dashboard.websocket_url, open_timeout=30, max_size=None) as ws:
        connection_id = ping(ws)["connectionId"]
        too_big = b"x" * (128 * 1024 + 1)
        assert client_error(
            lambda: client.post_to_connection(ConnectionId=connection_id, Data=too_big)
        ) == ("PayloadTooLargeException", 413)
        largest = "y" * (128 * 1024)
        client.post_to_connection(ConnectionId=connection_id, Data=largest.encode())
        assert ws.recv(timeout=10) == largest


def raw_frames_of_a_post(api: WebSocketApi, size: int) -> list[tuple[int, bool, int]]:
    """(opcode, fin, length) of each frame the client receives for one large POST."""
    import socket
    from urllib.parse import urlsplit

    from websockets.client import ClientProtocol
    from websockets.frames import Frame, Opcode
    from websockets.uri import parse_uri

    url = urlsplit(api.websocket_url)
    protocol = ClientProtocol(parse_uri(api.websocket_url), max_size=None)
    frames: list[Frame] = []
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:

        def pump(until: Callable[[], bool]) -> None:
            while not until():
                sock.sendall(b"".join(protocol.data_to_send()))
                protocol.receive_data(sock.recv(65536))
                frames.extend(e for e in protocol.events_received() if isinstance(e, Frame))

        protocol.send_request(protocol.connect())
        sock.sendall(b"".join(protocol.data_to_send()))
        pump(lambda: protocol.handshake_exc is not None or protocol.state.name == "OPEN")
        protocol.send_text(b'{"action": "ping"}')
        pump(lambda: bool(frames))
        connection_id = json.loads(bytes(frames.pop().data))["connectionId"]
        management(api).post_to_connection(ConnectionId=connection_id, Data=b"z" * size)
        pump(lambda: bool(frames) and frames[-1].fin)
        return [(int(f.opcode is Opcode.TEXT or f.opcode), f.fin, len(f.data)) for f in frames]


def test_messages_over_32_kb_reach_the_client_in_32_kb_frames(dashboard: WebSocketApi) -> None:
    frames = raw_frames_of_a_post(dashboard, 100_000)
    assert [length for _, _, length in frames] == [32768, 32768, 32768, 1696]
    assert [fin for _, fin, _ in frames] == [False, False, False, True]
    assert frames[0][0] == 1 and all(opcode == 0 for opcode, _, _ in frames[1:])


def iam_user(aws: Aws, statements: list[dict[str, Any]]) -> dict[str, str]:
    iam = aws("iam")
    name = f"ops-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(
            UserName=name,
            PolicyName="grants",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


def test_callers_need_their_execute_api_grant(aws: Aws, dashboard: WebSocketApi) -> None:
    post_only = (
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{dashboard.api_id}/{dashboard.stage}"
        "/POST/@connections/*"
    )
    allowed = iam_user(
        aws,
        [{"Effect": "Allow", "Action": "execute-api:ManageConnections", "Resource": post_only}],
    )
    nobody = iam_user(aws, [])
    with connect(dashboard.websocket_url, open_timeout=30) as ws:
        connection_id = ping(ws)["connectionId"]
        granted = management(dashboard, **allowed)
        granted.post_to_connection(ConnectionId=connection_id, Data=b"granted")
        assert ws.recv(timeout=10) == "granted"
        assert client_error(lambda: granted.get_connection(ConnectionId=connection_id)) == (
            "AccessDeniedException",
            403,
        )
        assert client_error(
            lambda: management(dashboard, **nobody).post_to_connection(
                ConnectionId=connection_id, Data=b"x"
            )
        ) == ("AccessDeniedException", 403)
        forged = management(dashboard, key=allowed["key"], secret="not-the-secret")
        assert client_error(
            lambda: forged.post_to_connection(ConnectionId=connection_id, Data=b"x")
        ) == ("InvalidSignatureException", 403)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)


# ---------------------------------------------------------------------------- limits


def test_frames_over_32_kb_and_messages_over_128_kb_close_with_1009(
    probe: WebSocketApi, events_file: Path
) -> None:
    # At the limits: one 32 KB frame, and a 128 KB message in four 32 KB fragments.
    ws, marker = probe_connect(probe.websocket_url, max_size=None)
    with ws:
        connection_id = connect_event_of(events_file, marker)["requestContext"]["connectionId"]
        ws.send("a" * 32768)
        ws.send(["b" * 32768] * 4)
        wait_for(lambda: len(events_of(events_file, connection_id)) == 3)
    bodies = [e.get("body") or "" for e in events_of(events_file, connection_id)]
    assert sorted(len(b) for b in bodies if b) == [32768, 131072]

    for oversized in ("c" * 32769, ["d" * 32768] * 4 + ["d"]):
        ws, marker = probe_connect(probe.websocket_url)
        with ws:
            connection_id = connect_event_of(events_file, marker)["requestContext"]["connectionId"]
            # The gateway may close while the client is still sending the fragments.
            with pytest.raises(ConnectionClosed) as closed:
                ws.send(oversized)
                ws.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1009, "Message too big")
        disconnected = disconnect_of(events_file, connection_id)
        assert (disconnected["disconnectStatusCode"], disconnected["disconnectReason"]) == (
            1009,
            "Message too big",
        )
        # Nothing of the oversized message reached a route.
        assert len(events_of(events_file, connection_id)) == 2


@pytest.fixture(scope="module")
def short_lived(runtime: LambdaRuntime, probe: WebSocketApi) -> Iterator[str]:
    """The probe API served by a second gateway with short idle and lifetime limits."""
    settings = GatewaySettings(idle_timeout_s=0.8, max_connection_s=2.5)
    with moto_gateway(runtime, settings, install=False) as gateway:
        endpoint = gateway.serve(ApiRef(ACCOUNT, REGION, probe.api_id), "WEBSOCKET")
        yield f"{endpoint}/{probe.stage}"


def disconnect_of(events_file: Path, connection_id: str) -> dict[str, Any]:
    found = wait_for(
        lambda: [
            e
            for e in events_of(events_file, connection_id)
            if e["requestContext"]["eventType"] == "DISCONNECT"
        ]
    )
    return dict(found[0]["requestContext"])


def test_an_idle_connection_is_closed_going_away(short_lived: str, events_file: Path) -> None:
    ws, marker = probe_connect(short_lived)
    started = time.monotonic()
    with ws:
        connection_id = connect_event_of(events_file, marker)["requestContext"]["connectionId"]
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert 0.7 < time.monotonic() - started < 5
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1001, "Going away")
    context = disconnect_of(events_file, connection_id)
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1001, "Going away")


def test_messages_keep_a_connection_until_its_lifetime_ends(
    short_lived: str, events_file: Path
) -> None:
    ws, marker = probe_connect(short_lived)
    started = time.monotonic()
    with ws:
        connect_event_of(events_file, marker)
        with pytest.raises(ConnectionClosed) as closed:
            while time.monotonic() - started < 10:
                ws.send(json.dumps({"action": "echo"}))  # one-way: nothing comes back
                time.sleep(0.3)
    # Alive past the idle limit (0.8 s) thanks to the messages, closed at the lifetime (2.5 s).
    assert 2.3 < time.monotonic() - started < 6
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


# ---------------------------------------------------------------------------- configuration


def test_an_authorizer_decides_and_its_context_reaches_the_routes(
    aws: Aws, recorder: str, events_file: Path
) -> None:
    """The later Cognito issue's shape: a REQUEST Lambda authorizer on $connect reading the
    token from the query string."""
    api = deploy_probe(aws, recorder)
    client = aws("apigatewayv2")
    authorizer = client.create_authorizer(
        ApiId=api.api_id,
        AuthorizerType="REQUEST",
        AuthorizerUri=invoke_arn(recorder),
        IdentitySource=["route.request.querystring.token"],
        Name="token",
    )
    client.update_route(
        ApiId=api.api_id,
        RouteId=api.route_ids["$connect"],
        AuthorizationType="CUSTOM",
        AuthorizerId=authorizer["AuthorizerId"],
    )
    aws("lambda").add_permission(
        FunctionName=recorder,
        StatementId=f"AllowAuthorizer-{api.api_id}",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"{api.execution_arn}/authorizers/{authorizer['AuthorizerId']}",
    )
    before = len(read_events(events_file))
    for query, status in (("", 401), ("?token=", 401), ("?token=unauthorized", 401),
                          ("?token=deny", 403), ("?token=garbage", 500)):  # fmt: skip
        with pytest.raises(InvalidStatus) as refused:
            connect(api.websocket_url + query, open_timeout=30)
        assert refused.value.response.status_code == status, query
    # No token: the authorizer was not even called; the others were, and no $connect ran.
    types = [e.get("type") or e["requestContext"]["eventType"] for e in read_events(events_file)]
    assert types[before:] == ["REQUEST"] * 3

    ws, marker = probe_connect(api.websocket_url + "?token=allow")
    with ws:
        connected = connect_event_of(events_file, marker)
        request = connect_event_of(events_file, marker, "REQUEST")
        assert request["methodArn"] == f"{api.execution_arn}/{api.stage}/$connect"
        assert request["queryStringParameters"] == {"token": "allow"}
        authorizer_context = connected["requestContext"]["authorizer"]
        assert isinstance(authorizer_context.pop("integrationLatency"), int)
        assert authorizer_context == {
            "principalId": "user-7",
            "tenant": "acme",
            "level": 3,
            "admin": False,
        }
        connection_id = connected["requestContext"]["connectionId"]
        ws.send(json.dumps({"action": "echo"}))
        message = wait_for(
            lambda: [e for e in events_of(events_file, connection_id) if e.get("body")]
        )[0]
        assert message["requestContext"]["authorizer"]["tenant"] == "acme"


def test_a_function_without_api_gateways_permission_is_not_invoked(aws: Aws, recorder: str) -> None:
    api = deploy_probe(aws, recorder, permissions=False)
    with pytest.raises(InvalidStatus) as refused:
        connect(api.websocket_url, open_timeout=30)
    assert refused.value.response.status_code == 500


def test_route_changes_apply_to_the_next_message(
    aws: Aws, recorder: str, events_file: Path
) -> None:
    api = deploy_probe(aws, recorder)
    client = aws("apigatewayv2")
    ws, marker = probe_connect(api.websocket_url)
    with ws:
        connection_id = connect_event_of(events_file, marker)["requestContext"]["connectionId"]

        def routed() -> list[str]:
            return [
                e["requestContext"]["routeKey"]
                for e in events_of(events_file, connection_id)
                if e["requestContext"]["eventType"] == "MESSAGE"
            ]

        ws.send(json.dumps({"action": "echo"}))
        wait_for(lambda: routed() == ["echo"])
        client.delete_route(ApiId=api.api_id, RouteId=api.route_ids["echo"])
        ws.send(json.dumps({"action": "echo", "answer": {"statusCode": 200, "body": "default"}}))
        assert ws.recv(timeout=15) == "default"
        assert routed() == ["echo", "$default"]
        client.delete_route(ApiId=api.api_id, RouteId=api.route_ids["$default"])
        ws.send(json.dumps({"action": "echo"}))
        reply = json.loads(ws.recv(timeout=15))
        assert (reply["message"], reply["connectionId"]) == ("Forbidden", connection_id)


def test_deleting_the_api_closes_its_sockets_and_its_port(
    aws: Aws, gateway: ApiGateway, recorder: str
) -> None:
    api = deploy_probe(aws, recorder)
    ws = connect(api.websocket_url, open_timeout=30)
    with ws:
        aws("apigatewayv2").delete_api(ApiId=api.api_id)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert gateway.endpoint(ApiRef(ACCOUNT, REGION, api.api_id)) is None
    with pytest.raises(OSError):
        connect(api.websocket_url, open_timeout=5)
