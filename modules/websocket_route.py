"""One API Gateway WebSocket route: its Lambda proxy integration, the route, and the
permission that lets API Gateway invoke the function for this route and stage only."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.apigatewayv2_integration import Apigatewayv2Integration
from cdktf_cdktf_provider_aws.apigatewayv2_route import Apigatewayv2Route
from cdktf_cdktf_provider_aws.apigatewayv2_route_response import Apigatewayv2RouteResponse
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from constructs import Construct

_ROUTE_KEY = re.compile(r"^(\$connect|\$disconnect|\$default|[A-Za-z0-9_.-]{1,128})$")


@dataclass(frozen=True)
class WebSocketRouteProps:
    """api_id, api_execution_arn, function_name and function_invoke_arn may be tokens.

    two_way: the route answers the client (a route response on ``$default`` key), as a
    request/response route such as a ping does; not allowed on ``$disconnect``.
    authorizer_id: an API Gateway authorizer (may be a token) that decides who may connect;
    API Gateway runs authorizers on ``$connect`` only, so no other route may name one. With
    it the route's authorization type is CUSTOM; without it NONE.
    """

    api_id: str
    api_execution_arn: str
    stage_name: str
    route_key: str
    function_name: str
    function_invoke_arn: str
    two_way: bool = False
    authorizer_id: str | None = None

    def __post_init__(self) -> None:
        if not _ROUTE_KEY.match(self.route_key):
            raise ValueError(
                f"WebSocketRouteProps.route_key = {self.route_key!r}: $connect, $disconnect, "
                "$default or an action name of letters, digits, '_', '.', '-'"
            )
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", self.stage_name):
            raise ValueError(
                f"WebSocketRouteProps.stage_name = {self.stage_name!r}: 1-128 letters, digits, "
                "'_' or '-'"
            )
        if self.two_way and self.route_key == "$disconnect":
            raise ValueError("WebSocketRouteProps: $disconnect cannot answer the client")
        if self.authorizer_id is not None and self.route_key != "$connect":
            raise ValueError(
                f"WebSocketRouteProps.authorizer_id on {self.route_key!r}: API Gateway runs "
                "WebSocket authorizers on $connect only"
            )
        if self.authorizer_id == "":
            raise ValueError(
                "WebSocketRouteProps.authorizer_id: empty (use None for no authorizer)"
            )


class WebSocketRoute(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: WebSocketRouteProps) -> None:
        super().__init__(scope, construct_id)
        self.integration = Apigatewayv2Integration(
            self,
            "integration",
            api_id=props.api_id,
            integration_type="AWS_PROXY",
            integration_uri=props.function_invoke_arn,
            integration_method="POST",
        )
        self.route = Apigatewayv2Route(
            self,
            "route",
            api_id=props.api_id,
            route_key=props.route_key,
            target=f"integrations/{self.integration.id}",
            route_response_selection_expression="$default" if props.two_way else None,
            authorization_type="CUSTOM" if props.authorizer_id else None,
            authorizer_id=props.authorizer_id,
        )
        if props.two_way:
            Apigatewayv2RouteResponse(
                self,
                "response",
                api_id=props.api_id,
                route_id=self.route.id,
                route_response_key="$default",
            )
        LambdaPermission(
            self,
            "permission",
            statement_id="AllowApiGatewayInvoke",
            action="lambda:InvokeFunction",
            function_name=props.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=f"{props.api_execution_arn}/{props.stage_name}/{props.route_key}",
        )
