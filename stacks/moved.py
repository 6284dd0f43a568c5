"""Where resources were before they moved into constructs, so upgrades move state.

A resource's Terraform address comes from its construct path. When a resource moves into a
construct (modules/), its address changes, and without a ``moved`` block Terraform would
destroy the deployed resource and create a new one: a Firehose stream would lose its read
position, a WebSocket route would drop for the apply. Each entry maps the resource's
construct path in its stack to the address it had before; the stacks add one moved block
for each (PlatformStack.check_contract fails synth if an entry matches nothing). Keep the
entries as long as someone may upgrade from a release older than the move.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# stack name -> {construct path in the stack: address before the move}
MOVED: Final[Mapping[str, Mapping[str, str]]] = {
    # WebSocket routes became modules.websocket_route.WebSocketRoute.
    "dashboard": {
        **{
            f"{route}-route/integration": f"aws_apigatewayv2_integration.{route}-integration"
            for route in ("ws-connect", "ws-disconnect", "ws-default")
        },
        **{
            f"{route}-route/route": f"aws_apigatewayv2_route.{route}-route"
            for route in ("ws-connect", "ws-disconnect", "ws-default")
        },
        **{
            f"{route}-route/permission": f"aws_lambda_permission.{route}-invoke"
            for route in ("ws-connect", "ws-disconnect", "ws-default")
        },
        "ws-default-route/response": "aws_apigatewayv2_route_response.default-route-response",
    },
    # Firehose became modules.msk_to_s3_delivery.MskToS3Delivery.
    "data-gen": {
        "delivery/logs": "aws_cloudwatch_log_group.firehose-logs",
        "delivery/log-stream": "aws_cloudwatch_log_stream.firehose-log-stream",
        "delivery/role": "aws_iam_role.firehose-role",
        "delivery/policy": "aws_iam_role_policy.firehose-policy",
        "delivery/stream": "aws_kinesis_firehose_delivery_stream.delivery-stream",
    },
    # The topic admin function and its invocation became
    # modules.deploy_time_invocation.DeployTimeInvocation.
    "msk": {
        "topic-admin/function/logs": "aws_cloudwatch_log_group.topic-admin_logs_19CEA3F0",
        "topic-admin/function/role": "aws_iam_role.topic-admin_role_B5E2FA32",
        "topic-admin/function/policy": "aws_iam_role_policy.topic-admin_policy_59FC8571",
        "topic-admin/function/function": "aws_lambda_function.topic-admin_function_CC242843",
        "topic-admin/invocation": "aws_lambda_invocation.create-topic",
    },
}
