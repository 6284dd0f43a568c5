"""The constructs of modules/ on their own, each synthesized alone with CDKTF's Testing.

Testing.synth_scope takes a JavaScript callback, which jsii cannot pass from Python
("Cannot pass function as argument here"); what it does, a test stack holding only the
construct, synthesized with Testing.synth, is done here instead.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import modules  # noqa: F401  # the lazy provider bindings, as main.py loads them

# isort: split
import pytest
from cdktf import TerraformStack, Testing

from modules.deploy_time_invocation import DeployTimeInvocation, DeployTimeInvocationProps
from modules.lambda_function import PythonFunctionProps, RuntimeSettings
from modules.msk_to_s3_delivery import MskToS3Delivery, MskToS3DeliveryProps
from modules.websocket_route import WebSocketRoute, WebSocketRouteProps

pytestmark = pytest.mark.synth


def synth(build: Any) -> dict[str, Any]:
    stack = TerraformStack(Testing.app(), "test-stack")
    build(stack)
    document: dict[str, Any] = json.loads(Testing.synth(stack))
    return document


def resources(document: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return list(document.get("resource", {}).get(resource_type, {}).values())


# ---------------------------------------------------------------- WebSocketRoute

ROUTE = WebSocketRouteProps(
    api_id="api-1",
    api_execution_arn="arn:aws:execute-api:us-west-2:123456789012:api-1",
    stage_name="live",
    route_key="$connect",
    function_name="connect-fn",
    function_invoke_arn="arn:aws:apigateway:us-west-2:lambda:path/connect-fn/invocations",
)


def test_a_route_invokes_its_function_for_its_route_and_stage_only() -> None:
    document = synth(lambda scope: WebSocketRoute(scope, "connect", ROUTE))
    [integration] = resources(document, "aws_apigatewayv2_integration")
    assert integration["integration_type"] == "AWS_PROXY"
    assert integration["integration_uri"] == ROUTE.function_invoke_arn
    [route] = resources(document, "aws_apigatewayv2_route")
    assert route["route_key"] == "$connect"
    assert route["target"].startswith("integrations/${aws_apigatewayv2_integration.")
    assert "route_response_selection_expression" not in route
    assert resources(document, "aws_apigatewayv2_route_response") == []
    assert "authorization_type" not in route and "authorizer_id" not in route
    [permission] = resources(document, "aws_lambda_permission")
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["function_name"] == "connect-fn"
    assert permission["source_arn"] == f"{ROUTE.api_execution_arn}/live/$connect"


def test_a_two_way_route_answers_the_client() -> None:
    props = replace(ROUTE, route_key="$default", two_way=True)
    document = synth(lambda scope: WebSocketRoute(scope, "default", props))
    [route] = resources(document, "aws_apigatewayv2_route")
    assert route["route_response_selection_expression"] == "$default"
    [response] = resources(document, "aws_apigatewayv2_route_response")
    assert response["route_response_key"] == "$default"
    assert response["route_id"].startswith("${aws_apigatewayv2_route.")


def test_connect_may_name_an_authorizer() -> None:
    props = replace(ROUTE, authorizer_id="auth-1")
    document = synth(lambda scope: WebSocketRoute(scope, "connect", props))
    [route] = resources(document, "aws_apigatewayv2_route")
    assert route["authorization_type"] == "CUSTOM"
    assert route["authorizer_id"] == "auth-1"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"route_key": "$default", "authorizer_id": "auth-1"}, "on \\$connect only"),
        ({"route_key": "$disconnect", "authorizer_id": "auth-1"}, "on \\$connect only"),
        ({"authorizer_id": ""}, "authorizer_id: empty"),
        ({"route_key": ""}, "route_key"),
        ({"route_key": "$join"}, "route_key"),
        ({"stage_name": "live stage"}, "stage_name"),
        ({"route_key": "$disconnect", "two_way": True}, "cannot answer"),
    ],
)
def test_bad_route_props_name_the_problem(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(ROUTE, **change)


# ---------------------------------------------------------------- MskToS3Delivery

DELIVERY = MskToS3DeliveryProps(
    stream_name="acme-dev-telemetry-to-s3",
    role_name="acme-dev-firehose",
    cluster_arn="arn:aws:kafka:us-west-2:123456789012:cluster/c/uuid-1",
    topic_name="acme-telemetry",
    topic_arn="arn:aws:kafka:us-west-2:123456789012:topic/c/uuid-1/acme-telemetry",
    bucket_arn="arn:aws:s3:::acme-data",
    prefix="telemetry/year=!{timestamp:yyyy}/",
    error_prefix="errors/!{firehose:error-output-type}/",
    read_from_timestamp="1970-01-01T00:00:00Z",
    buffer_interval_seconds=60,
    buffer_size_mb=5,
    log_retention_days=14,
    source_account="123456789012",
)


def test_delivery_reads_the_topic_privately_and_writes_gzip_json_lines() -> None:
    document = synth(lambda scope: MskToS3Delivery(scope, "delivery", DELIVERY))
    [stream] = resources(document, "aws_kinesis_firehose_delivery_stream")
    source = stream["msk_source_configuration"]
    assert source["msk_cluster_arn"] == DELIVERY.cluster_arn
    assert source["read_from_timestamp"] == "1970-01-01T00:00:00Z"
    assert source["authentication_configuration"]["connectivity"] == "PRIVATE"
    s3 = stream["extended_s3_configuration"]
    assert (s3["prefix"], s3["error_output_prefix"]) == (DELIVERY.prefix, DELIVERY.error_prefix)
    assert (s3["buffering_interval"], s3["buffering_size"]) == (60, 5)
    assert s3["compression_format"] == "GZIP"
    assert s3["processing_configuration"]["processors"] == [{"type": "AppendDelimiterToRecord"}]
    assert stream["depends_on"] == [
        f"aws_iam_role_policy.{next(iter(document['resource']['aws_iam_role_policy']))}"
    ]
    [logs] = resources(document, "aws_cloudwatch_log_group")
    assert logs["name"] == "/aws/kinesisfirehose/acme-dev-telemetry-to-s3"
    assert logs["retention_in_days"] == 14


def test_delivery_role_may_only_read_the_topic_and_write_the_bucket() -> None:
    document = synth(lambda scope: MskToS3Delivery(scope, "delivery", DELIVERY))
    documents = document["data"]["aws_iam_policy_document"]
    permissions = next(d for name, d in documents.items() if "permissions" in name)
    by_sid = {s["sid"]: s for s in permissions["statement"]}
    assert set(by_sid) == {
        "DescribeCluster",
        "ReadTelemetryTopic",
        "WriteDataBucket",
        "WriteDeliveryLogs",
    }
    assert by_sid["ReadTelemetryTopic"]["resources"] == [DELIVERY.topic_arn]
    assert "kafka-cluster:WriteData" not in json.dumps(permissions)
    assert by_sid["WriteDataBucket"]["resources"] == [
        "arn:aws:s3:::acme-data",
        "arn:aws:s3:::acme-data/*",
    ]
    trust = next(d for name, d in documents.items() if "trust" in name)
    [statement] = trust["statement"]
    assert statement["principals"][0]["identifiers"] == ["firehose.amazonaws.com"]
    assert statement["condition"][0]["values"] == ["123456789012"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"buffer_interval_seconds": 901}, "buffer_interval_seconds"),
        ({"buffer_size_mb": 0}, "buffer_size_mb"),
        ({"log_retention_days": 10}, "log_retention_days"),
        ({"error_prefix": "errors/"}, "error-output-type"),
        ({"stream_name": ""}, "stream_name"),
    ],
)
def test_bad_delivery_props_name_the_problem(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(DELIVERY, **change)


# ---------------------------------------------------------------- DeployTimeInvocation


class Code:
    asset_path = "assets/topic_admin.zip"
    source_code_hash = "abc="
    handler = "topic_admin.lambda_handler"
    runtime = "python3.13"
    architectures = ["arm64"]  # noqa: RUF012


FUNCTION = PythonFunctionProps(
    function_name="acme-dev-topic-admin",
    description="Creates topics",
    code=Code(),
    settings=RuntimeSettings(
        log_retention_days=14,
        log_group_arn_prefix="arn:aws:logs:us-west-2:123456789012:log-group:",
    ),
    memory_mb=256,
    timeout_seconds=120,
)


def test_the_function_runs_at_deploy_time_and_again_when_its_input_or_triggers_change() -> None:
    request = {"topic": "acme-telemetry", "partitions": 6}
    props = DeployTimeInvocationProps(FUNCTION, request, triggers={"cluster": "uuid-1"})
    document = synth(lambda scope: DeployTimeInvocation(scope, "topic-admin", props))
    [function] = resources(document, "aws_lambda_function")
    assert function["function_name"] == "acme-dev-topic-admin"
    # The runtime the zip was built for, not a second setting.
    assert (function["runtime"], function["architectures"]) == ("python3.13", ["arm64"])
    [invocation] = resources(document, "aws_lambda_invocation")
    assert json.loads(invocation["input"]) == request
    assert invocation["function_name"].startswith("${aws_lambda_function.")
    assert invocation["triggers"] == {"cluster": "uuid-1", "request": json.dumps(request)}


def test_input_must_be_json() -> None:
    with pytest.raises(ValueError, match="input is not JSON"):
        DeployTimeInvocationProps(FUNCTION, {"when": object()})
