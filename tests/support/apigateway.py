"""API Gateway data plane test helpers: deploy as Terraform does, invoke through the runtime.

The functions and APIs are created with boto3 against an in-process moto server, the way the
dashboard stack's resources create them; the gateway runs each function's zip in the real
Lambda runtime, with the role's credentials from moto's STS.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import textwrap
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.dataplane import apigateway_moto
from emulator.dataplane.apigateway import ApiGateway, GatewaySettings
from emulator.dataplane.apigateway_core import Invoke
from emulator.dataplane.credentials import IamPolicyAuthorizer, MotoIdentities
from emulator.dataplane.lambda_logs import MemoryLogSink
from emulator.dataplane.lambda_runtime import Credentials, FunctionConfig, LambdaRuntime
from emulator.dataplane.lambda_service import function_config, lambda_backend
from emulator.dataplane.lambda_site import RuntimeSite
from emulator.dataplane.supervisor import Supervisor
from platform_config.model import METRICS_NAMESPACE
from tests.support.lambda_workers import alive

ACCOUNT = "123456789012"
REGION = "us-west-2"
ROOT = Path(__file__).resolve().parents[2]
LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)

# A function that records every event it gets (one JSON line in EVENTS_FILE) and answers
# {"statusCode": 200}, or what the request asks for: the $connect query parameter "answer" or
# a message's "answer" key (JSON). {"raise": text} raises Exception(text); {"sleep": s,
# "then": answer} sleeps first. As an authorizer (event type REQUEST) the query parameter
# "token" decides: "allow" and "deny" answer that policy, "unauthorized" fails with
# "Unauthorized", anything else is a malformed answer.
RECORDER = textwrap.dedent(
    """
    import json, os, time

    def authorize(event):
        token = (event.get("queryStringParameters") or {}).get("token")
        if token == "unauthorized":
            raise Exception("Unauthorized")
        if token not in ("allow", "deny"):
            return {"nonsense": True}
        statement = {
            "Action": "execute-api:Invoke",
            "Effect": "Allow" if token == "allow" else "Deny",
            "Resource": event["methodArn"],
        }
        return {
            "principalId": "user-7",
            "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
            "context": {"tenant": "acme", "level": 3, "admin": False},
        }

    def handler(event, context):
        with open(os.environ["EVENTS_FILE"], "a") as f:
            f.write(json.dumps(event) + "\\n")
        if event.get("type") == "REQUEST":
            return authorize(event)
        answer = {"statusCode": 200}
        query = event.get("queryStringParameters") or {}
        if "answer" in query:
            answer = json.loads(query["answer"])
        body = event.get("body")
        if (event.get("requestContext") or {}).get("eventType") == "MESSAGE" and body:
            try:
                message = json.loads(body)
            except ValueError:
                message = None
            if isinstance(message, dict) and "answer" in message:
                answer = message["answer"]
        if isinstance(answer, dict) and "sleep" in answer:
            time.sleep(answer["sleep"])
            answer = answer.get("then", {"statusCode": 200})
        if isinstance(answer, dict) and "raise" in answer:
            raise Exception(answer["raise"])
        return answer
    """
)


def make_zip(files: Mapping[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def package_zip(function: str) -> tuple[bytes, str]:
    """A handler's zip as ``make packages`` builds it, and its handler string."""
    from modules.packaging import PackageSpec, build_package

    built = build_package(
        PackageSpec(
            handlers_root=ROOT / "handlers",
            function=function,
            build_dir=ROOT / "build" / "lambda",
            contract_path=ROOT / "contracts" / "telemetry_event.json",
        )
    )
    return built.zip_path.read_bytes(), built.handler


def function_parts(function_arn: str) -> tuple[str, str, str]:
    parts = function_arn.split(":")
    return parts[4], parts[3], parts[6]


def moto_function_config(function_arn: str) -> FunctionConfig:
    """The function moto stores under ``function_arn``, as the runtime runs it."""
    account, region, name = function_parts(function_arn)
    return function_config(lambda_backend(account, region).get_function(name))


def runtime_invoke(runtime: LambdaRuntime) -> Invoke:
    """The gateway's ``invoke``: moto's function, run by the real runtime."""

    def invoke(function_arn: str, payload: bytes) -> tuple[bytes, str | None]:
        result = runtime.invoke(moto_function_config(function_arn), payload)
        return result.payload, result.function_error

    return invoke


@contextlib.contextmanager
def lambda_runtime(endpoint_url: str, site: RuntimeSite, work_dir: Path) -> Iterator[LambdaRuntime]:
    """A runtime whose workers call ``endpoint_url`` with their role's moto credentials;
    every worker is gone afterwards."""
    supervisor = Supervisor()
    runtime = LambdaRuntime(
        supervisor=supervisor,
        site=site,
        endpoint_url=endpoint_url,
        credentials=role_credentials(MotoIdentities()),
        log_sink=MemoryLogSink(),
        work_dir=work_dir,
    )
    try:
        yield runtime
    finally:
        pids = [info.pid for info in runtime.environments() if info.pid]
        runtime.shutdown()
        supervisor.stop_all(grace=1)
        assert not [pid for pid in pids if alive(pid)], "workers survived shutdown"


@contextlib.contextmanager
def moto_gateway(
    runtime: LambdaRuntime, settings: GatewaySettings | None = None, *, install: bool = True
) -> Iterator[ApiGateway]:
    """A gateway wired as the emulator wires it: moto's APIs, identities and permissions."""
    identities = MotoIdentities()
    gateway = ApiGateway(
        apis=apigateway_moto.MotoApis(),
        invoke=runtime_invoke(runtime),
        credentials=identities.lookup,
        is_allowed=IamPolicyAuthorizer(identities.policies).is_allowed,
        permission=apigateway_moto.lambda_permission,
        settings=settings,
    )
    gateway.start()
    if install:
        apigateway_moto.install(gateway)
    try:
        yield gateway
    finally:
        if install:
            apigateway_moto.uninstall()
        gateway.stop()


def role_credentials(identities: MotoIdentities) -> Callable[[str], Credentials]:
    def credentials(role_arn: str) -> Credentials:
        found = identities.for_role(role_arn)
        return Credentials(found.access_key_id, found.secret_access_key, found.session_token or "")

    return credentials


def create_role(aws: Callable[[str], Any], name: str, statements: list[dict[str, Any]]) -> str:
    iam = aws("iam")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    if statements:
        iam.put_role_policy(
            RoleName=name,
            PolicyName="grants",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
    return arn


def create_function(
    aws: Callable[[str], Any],
    name: str,
    code: bytes,
    handler: str,
    role_arn: str,
    environment: Mapping[str, str] | None = None,
    timeout: int = 29,
) -> str:
    created = aws("lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role_arn,
        Handler=handler,
        Code={"ZipFile": code},
        # What the stacks give every function, and the test's own settings.
        Environment={
            "Variables": {"POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE, **(environment or {})}
        },
        Timeout=timeout,
        MemorySize=256,
    )
    return str(created["FunctionArn"]).removesuffix(":$LATEST")


def invoke_arn(function_arn: str) -> str:
    """``aws_lambda_function.invoke_arn``."""
    region = function_arn.split(":")[3]
    return (
        f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    )


@dataclass(frozen=True)
class WebSocketApi:
    api_id: str
    endpoint: str
    stage: str
    route_ids: Mapping[str, str]
    integration_ids: Mapping[str, str]

    @property
    def execution_arn(self) -> str:
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{self.api_id}"

    @property
    def websocket_url(self) -> str:
        """What the stacks export as websocket_url: ``${api_endpoint}/${stage}``."""
        return f"{self.endpoint}/{self.stage}"

    @property
    def callback_url(self) -> str:
        """The consumer's WEBSOCKET_CALLBACK_URL: the scheme ws -> http, wss -> https."""
        return re.sub(r"^ws", "http", self.endpoint) + f"/{self.stage}"


def deploy_websocket_api(
    aws: Callable[[str], Any],
    name: str,
    routes: Mapping[str, str],
    *,
    stage: str = "live",
    two_way: tuple[str, ...] = ("$default",),
    permissions: bool = True,
) -> WebSocketApi:
    """The dashboard stack's WEBSOCKET API: route key -> function ARN, AWS_PROXY each."""
    client = aws("apigatewayv2")
    api = client.create_api(
        Name=name, ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )
    api_id = api["ApiId"]
    route_ids: dict[str, str] = {}
    integration_ids: dict[str, str] = {}
    for route_key, function_arn in routes.items():
        integration = client.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=invoke_arn(function_arn),
            IntegrationMethod="POST",
        )
        integration_ids[route_key] = integration["IntegrationId"]
        extra = {"RouteResponseSelectionExpression": "$default"} if route_key in two_way else {}
        route = client.create_route(
            ApiId=api_id,
            RouteKey=route_key,
            Target=f"integrations/{integration['IntegrationId']}",
            **extra,
        )
        route_ids[route_key] = route["RouteId"]
        if route_key in two_way:
            client.create_route_response(
                ApiId=api_id, RouteId=route["RouteId"], RouteResponseKey="$default"
            )
        if permissions:
            aws("lambda").add_permission(
                FunctionName=function_arn,
                StatementId=f"AllowApiGatewayInvoke-{api_id}-{route_key.strip('$')}",
                Action="lambda:InvokeFunction",
                Principal="apigateway.amazonaws.com",
                SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/{stage}/{route_key}",
            )
    client.create_stage(ApiId=api_id, StageName=stage, AutoDeploy=True)
    return WebSocketApi(api_id, api["ApiEndpoint"], stage, route_ids, integration_ids)


def create_connections_table(aws: Callable[[str], Any]) -> str:
    """The dashboard stack's connections table (partition key connectionId)."""
    name = f"ws-connections-{uuid.uuid4().hex[:6]}"
    aws("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def table_arn(table: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"


def deploy_dashboard_websocket(aws: Callable[[str], Any], table: str) -> WebSocketApi:
    """The dashboard stack's WebSocket API with the real ws_connect, ws_disconnect and
    ws_default packages, each with the grants the stack gives it."""
    functions = {}
    for route_key, handler, actions in (
        ("$connect", "ws_connect", ["dynamodb:PutItem"]),
        ("$disconnect", "ws_disconnect", ["dynamodb:DeleteItem"]),
        ("$default", "ws_default", []),
    ):
        suffix = uuid.uuid4().hex[:6]
        statements = [{"Effect": "Allow", "Action": actions, "Resource": table_arn(table)}]
        role = create_role(aws, f"{handler}-{suffix}", statements if actions else [])
        code, entry = package_zip(handler)
        environment = {} if handler == "ws_default" else {"CONNECTIONS_TABLE": table}
        functions[route_key] = create_function(
            aws, f"{handler}-{suffix}", code, entry, role, environment
        )
    return deploy_websocket_api(aws, f"live-{uuid.uuid4().hex[:6]}", functions)


def deploy_consumer(aws: Callable[[str], Any], api: WebSocketApi, table: str) -> str:
    """The real consumer package, with the stack's grants and WEBSOCKET_CALLBACK_URL."""
    connections_arn = f"{api.execution_arn}/{api.stage}/POST/@connections/*"
    suffix = uuid.uuid4().hex[:6]
    role = create_role(
        aws,
        f"consumer-{suffix}",
        [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:Scan", "dynamodb:DeleteItem"],
                "Resource": table_arn(table),
            },
            {
                "Effect": "Allow",
                "Action": "execute-api:ManageConnections",
                "Resource": connections_arn,
            },
        ],
    )
    code, entry = package_zip("consumer")
    return create_function(
        aws,
        f"consumer-{suffix}",
        code,
        entry,
        role,
        {"CONNECTIONS_TABLE": table, "WEBSOCKET_CALLBACK_URL": api.callback_url},
    )


def contract_event(**values: Any) -> dict[str, Any]:
    """An event that keeps the telemetry contract (a value of each field's Glue type; the
    consumer broadcasts nothing else), with ``values`` set."""
    from tests.support.paths import CONTRACT_PATH

    typed = {"string": "x", "int": 1, "double": 1.5}
    fields = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))["fields"]
    return {f["name"]: typed[f["type"]] for f in fields} | values


def msk_batch(events: list[dict[str, Any]]) -> bytes:
    """An MSK event source mapping batch carrying ``events`` (what the consumer gets)."""
    records = [
        {
            "topic": "acme-telemetry",
            "partition": 0,
            "offset": offset,
            "value": base64.b64encode(json.dumps(event).encode()).decode(),
        }
        for offset, event in enumerate(events)
    ]
    return json.dumps(
        {"eventSource": "aws:kafka", "records": {"acme-telemetry-0": records}}
    ).encode()


def deploy_dashboard_page(aws: Callable[[str], Any], websocket_url: str) -> str:
    """The dashboard stack's HTTP API serving the real dashboard_page; its dashboard_url."""
    suffix = uuid.uuid4().hex[:6]
    code, handler = package_zip("dashboard_page")
    page = create_function(
        aws,
        f"dashboard-page-{suffix}",
        code,
        handler,
        create_role(aws, f"dashboard-page-{suffix}", []),
        {"WEBSOCKET_URL": websocket_url},
        timeout=10,
    )
    client = aws("apigatewayv2")
    api = client.create_api(Name=f"dashboard-{suffix}", ProtocolType="HTTP")
    integration = client.create_integration(
        ApiId=api["ApiId"],
        IntegrationType="AWS_PROXY",
        IntegrationUri=invoke_arn(page),
        IntegrationMethod="POST",
        PayloadFormatVersion="2.0",
    )
    client.create_route(
        ApiId=api["ApiId"],
        RouteKey="$default",
        Target=f"integrations/{integration['IntegrationId']}",
    )
    client.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    aws("lambda").add_permission(
        FunctionName=page,
        StatementId="AllowHttpApiInvoke",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api['ApiId']}/*/$default",
    )
    return f"{api['ApiEndpoint']}/"


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
