"""The moto side: the endpoint moto reports, DeleteApi and reset, Lambda resource policies."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.apigatewayv2.models import apigatewayv2_backends

from emulator.dataplane import apigateway_moto
from emulator.dataplane.apigateway import ApiGateway, ApiRef
from emulator.dataplane.credentials import IamPolicyAuthorizer, MotoIdentities
from tests.support.apigateway import ACCOUNT, create_function, create_role, make_zip

REGION = "ap-south-1"  # apart from the other modules' APIs, since this one resets its region
Aws = Callable[[str], Any]


@pytest.fixture(scope="module")
def aws(moto_endpoint: str) -> Aws:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return lambda service: session.client(service, endpoint_url=moto_endpoint)


def _no_lambda(function_arn: str, payload: bytes) -> tuple[bytes, str | None]:
    raise AssertionError("no function runs in these tests")


@pytest.fixture
def gateway() -> Iterator[ApiGateway]:
    identities = MotoIdentities()
    gateway = ApiGateway(
        apis=apigateway_moto.MotoApis(),
        invoke=_no_lambda,
        credentials=identities.lookup,
        is_allowed=IamPolicyAuthorizer(identities.policies).is_allowed,
    )
    apigateway_moto.install(gateway)  # serve() starts the gateway on the first CreateApi
    try:
        yield gateway
    finally:
        apigateway_moto.uninstall()
        gateway.stop()


def listening(endpoint: str) -> bool:
    port = int(endpoint.rsplit(":", 1)[1])
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def create(aws: Aws, protocol: str) -> dict[str, Any]:
    extra = {"RouteSelectionExpression": "$request.body.action"} if protocol == "WEBSOCKET" else {}
    api: dict[str, Any] = aws("apigatewayv2").create_api(
        Name=f"api-{uuid.uuid4().hex[:6]}", ProtocolType=protocol, **extra
    )
    return api


def test_create_and_get_report_the_local_endpoint(aws: Aws, gateway: ApiGateway) -> None:
    websocket, http = create(aws, "WEBSOCKET"), create(aws, "HTTP")
    assert websocket["ApiEndpoint"].startswith("ws://127.0.0.1:")
    assert http["ApiEndpoint"].startswith("http://127.0.0.1:")
    assert websocket["ApiEndpoint"] != http["ApiEndpoint"].replace("http", "ws")
    client = aws("apigatewayv2")
    for api in (websocket, http):
        assert client.get_api(ApiId=api["ApiId"])["ApiEndpoint"] == api["ApiEndpoint"]
        assert listening(api["ApiEndpoint"])
    listed = {a["ApiId"]: a["ApiEndpoint"] for a in client.get_apis()["Items"]}
    assert listed[websocket["ApiId"]] == websocket["ApiEndpoint"]
    # The port stays the API's: an update does not move it.
    client.update_api(ApiId=websocket["ApiId"], Description="changed")
    assert client.get_api(ApiId=websocket["ApiId"])["ApiEndpoint"] == websocket["ApiEndpoint"]


def test_delete_and_reset_stop_serving(aws: Aws, gateway: ApiGateway) -> None:
    deleted, kept, reset = create(aws, "WEBSOCKET"), create(aws, "HTTP"), create(aws, "HTTP")
    aws("apigatewayv2").delete_api(ApiId=deleted["ApiId"])
    assert not listening(deleted["ApiEndpoint"])
    assert gateway.endpoint(ApiRef(ACCOUNT, REGION, deleted["ApiId"])) is None
    assert listening(kept["ApiEndpoint"])
    apigatewayv2_backends[ACCOUNT][REGION].reset()  # what POST /moto-api/reset does per region
    assert not listening(kept["ApiEndpoint"]) and not listening(reset["ApiEndpoint"])
    assert aws("apigatewayv2").get_apis()["Items"] == []


def test_install_serves_existing_apis_and_uninstall_restores_moto(
    aws: Aws, gateway: ApiGateway
) -> None:
    apigateway_moto.uninstall()
    before = create(aws, "WEBSOCKET")
    assert before["ApiEndpoint"] == f"https://{before['ApiId']}.execute-api.{REGION}.amazonaws.com"
    apigateway_moto.install(gateway)
    endpoint = aws("apigatewayv2").get_api(ApiId=before["ApiId"])["ApiEndpoint"]
    assert endpoint.startswith("ws://127.0.0.1:") and listening(endpoint)


def test_lambda_permission_reads_the_functions_resource_policy(aws: Aws) -> None:
    suffix = uuid.uuid4().hex[:6]
    function = create_function(
        aws,
        f"perm-{suffix}",
        make_zip({"app.py": "def handler(event, context):\n    return event\n"}),
        "app.handler",
        create_role(aws, f"perm-{suffix}", []),
    )
    execution = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123"
    assert not apigateway_moto.lambda_permission(function, f"{execution}/live/$connect")

    def grant(sid: str, **extra: Any) -> None:
        aws("lambda").add_permission(
            FunctionName=function,
            StatementId=sid,
            Action=extra.pop("Action", "lambda:InvokeFunction"),
            Principal=extra.pop("Principal", "apigateway.amazonaws.com"),
            **extra,
        )

    grant("connect", SourceArn=f"{execution}/live/$connect")
    grant("page", SourceArn=f"{execution}/*/$default")
    grant("other-service", Principal="events.amazonaws.com", SourceArn=f"{execution}/*")
    assert apigateway_moto.lambda_permission(function, f"{execution}/live/$connect")
    assert not apigateway_moto.lambda_permission(function, f"{execution}/live/$disconnect")
    assert apigateway_moto.lambda_permission(function, f"{execution}/$default/$default")
    assert not apigateway_moto.lambda_permission(function, f"{execution}-other/live/$default")
    grant("account-wide", SourceAccount=ACCOUNT)
    assert apigateway_moto.lambda_permission(function, f"{execution}/live/$disconnect")
    unknown = function.replace(f"perm-{suffix}", "no-such-function")
    assert not apigateway_moto.lambda_permission(unknown, f"{execution}/live/$connect")
    policy = json.loads(aws("lambda").get_policy(FunctionName=function)["Policy"])
    assert len(policy["Statement"]) == 4
