"""Dashboard stack: a WebSocket API that pushes live telemetry to browsers.

MSK --event source mapping--> consumer Lambda --@connections--> every open WebSocket.
Above BROADCAST_SLICE_SIZE connections the consumer hands slices of them to broadcaster
Lambdas, invoked in parallel, which post to their slice. Connections live in DynamoDB with
a TTL, so a client that vanishes without $disconnect is forgotten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from cdktf import Fn
from cdktf_cdktf_provider_aws.api_gateway_account import ApiGatewayAccount
from cdktf_cdktf_provider_aws.apigatewayv2_api import Apigatewayv2Api
from cdktf_cdktf_provider_aws.apigatewayv2_authorizer import Apigatewayv2Authorizer
from cdktf_cdktf_provider_aws.apigatewayv2_integration import Apigatewayv2Integration
from cdktf_cdktf_provider_aws.apigatewayv2_route import Apigatewayv2Route
from cdktf_cdktf_provider_aws.apigatewayv2_stage import Apigatewayv2Stage
from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cognito_user_pool import CognitoUserPool
from cdktf_cdktf_provider_aws.cognito_user_pool_client import CognitoUserPoolClient
from cdktf_cdktf_provider_aws.dynamodb_table import DynamodbTable
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.lambda_event_source_mapping import LambdaEventSourceMapping
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from constructs import Construct

from modules.alarms import AlarmSchedule, MetricAlarm, MetricAlarmProps
from modules.iam import Allow, service_trust_policy
from modules.lambda_function import PythonFunction, PythonFunctionProps
from modules.websocket_route import WebSocketRoute, WebSocketRouteProps
from platform_config.model import (
    METRICS_NAMESPACE,
    AlarmSettings,
    DashboardSettings,
    LambdaSettings,
)

from .base import PlatformStack, StackContext
from .kafka_arns import KafkaArns
from .outputs import DashboardOutputs, MskOutputs, NetworkOutputs

# What Lambda's MSK event poller needs besides the ENI actions every VPC function gets.
MSK_POLLER_NETWORK = ("ec2:DescribeVpcs", "ec2:DescribeSecurityGroups")
# A slice of 500 posts takes well under a second; the consumer waits at most 60 s for one
# (its Lambda client's read timeout), so a broadcaster must give up before that.
BROADCASTER_TIMEOUT_SECONDS = 30
# One JSON object a request in the stages' access logs: who came, when, what they got.
WEBSOCKET_ACCESS_LOG = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "eventType": "$context.eventType",
    "connectionId": "$context.connectionId",
    "status": "$context.status",
    "error": "$context.error.message",
    "integrationError": "$context.integrationErrorMessage",
}
HTTP_ACCESS_LOG = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "requestTime": "$context.requestTime",
    "method": "$context.httpMethod",
    "path": "$context.path",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "error": "$context.error.message",
}
# The dashboard stack's functions, by the short names their resources use.
FUNCTIONS = (
    "ws-connect",
    "ws-disconnect",
    "ws-default",
    "ws-authorizer",
    "dashboard-page",
    "consumer",
)
# The authorizer reads the token from the query string: browsers cannot set WebSocket headers.
TOKEN_IDENTITY_SOURCE = "route.request.querystring.token"
# What the dashboard's public app client may do: sign in with a password, refresh.
CLIENT_AUTH_FLOWS = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
# AWS's managed policy for API Gateway's account-level CloudWatch role.
PUSH_TO_CLOUDWATCH_POLICY = "service-role/AmazonAPIGatewayPushToCloudWatchLogs"


@dataclass(frozen=True)
class _Cognito:
    pool: CognitoUserPool
    client: CognitoUserPoolClient
    issuer: str
    jwks_url: str
    # Cognito's API for InitiateAuth from the page, with a trailing slash.
    endpoint: str


@dataclass(frozen=True)
class DashboardStackProps:
    context: StackContext
    dashboard: DashboardSettings
    lambdas: LambdaSettings
    # The topic's partitions: at most one consumer invocation runs per partition, so this
    # is the consumer's reserved concurrency.
    topic_partitions: int
    alarms: AlarmSettings = field(default_factory=AlarmSettings)


class DashboardStack(PlatformStack):
    contract = DashboardOutputs

    def __init__(self, scope: Construct, props: DashboardStackProps) -> None:
        super().__init__(scope, props.context)
        msk = self.read_upstream(MskOutputs)
        alarm_topic = self.read_upstream(NetworkOutputs).string(NetworkOutputs.ALARM_TOPIC_ARN)
        settings, lambdas = props.dashboard, props.lambdas
        cluster_arn = msk.string(MskOutputs.CLUSTER_ARN)
        arns = KafkaArns(
            partition=self.partition.partition,
            region=self.context.region,
            account_id=self.account_id,
            cluster_name=msk.string(MskOutputs.CLUSTER_NAME),
            cluster_uuid=msk.string(MskOutputs.CLUSTER_UUID),
        )
        runtime = self.runtime_settings(lambdas)

        table = DynamodbTable(
            self,
            "connections",
            name=self.name("ws-connections"),
            billing_mode="PAY_PER_REQUEST",
            hash_key="connectionId",
            attribute=[{"name": "connectionId", "type": "S"}],
            ttl={"attribute_name": "ttl", "enabled": True},
            server_side_encryption={"enabled": True},
        )
        api = Apigatewayv2Api(
            self,
            "websocket-api",
            name=self.name("live"),
            protocol_type="WEBSOCKET",
            route_selection_expression="$request.body.action",
            description="Live telemetry for the dashboard",
        )
        logging_role = self._api_gateway_logging_role(settings)
        stage = Apigatewayv2Stage(
            self,
            "stage",
            api_id=api.id,
            name=settings.stage_name,
            auto_deploy=True,
            default_route_settings={"throttling_burst_limit": 500, "throttling_rate_limit": 100},
            access_log_settings=self._access_log("websocket", WEBSOCKET_ACCESS_LOG, settings),
            depends_on=logging_role or None,
        )
        cognito = self._user_pool()
        authorizer_id = (
            self._connect_authorizer(api, cognito, settings, lambdas)
            if settings.access == "cognito"
            else None
        )
        connections_arn = f"{api.execution_arn}/{settings.stage_name}/POST/@connections/*"
        # Built from the API's endpoint, not the stage's invoke_url (which the provider derives
        # from the region's DNS name): on AWS both give wss://<id>.execute-api.<region>...; on
        # the local platform only the endpoint carries the emulator's loopback address.
        websocket_url = f"{api.api_endpoint}/{stage.name}"
        # The @connections API: the same host over HTTPS (wss -> https; locally ws -> http).
        callback_url = f"{Fn.replace(api.api_endpoint, '/^ws/', 'http')}/{stage.name}"

        websocket_functions = []
        for route_key, handler, actions, concurrency in (
            ("$connect", "ws_connect", ("dynamodb:PutItem",), settings.connect_concurrency),
            (
                "$disconnect",
                "ws_disconnect",
                ("dynamodb:DeleteItem",),
                settings.disconnect_concurrency,
            ),
            ("$default", "ws_default", (), settings.default_route_concurrency),
        ):
            short = handler.replace("_", "-")
            # $default answers from the request alone: it gets no table and no permissions.
            environment = {} if handler == "ws_default" else {"CONNECTIONS_TABLE": table.name}
            if handler == "ws_connect":
                environment["CONNECTION_TTL_SECONDS"] = str(settings.connection_ttl_seconds)
            function = PythonFunction(
                self,
                short,
                PythonFunctionProps(
                    function_name=self.name(short),
                    description=f"WebSocket {route_key} route",
                    code=self.package(handler, lambdas),
                    memory_mb=lambdas.websocket_memory_mb,
                    timeout_seconds=29,  # API Gateway's integration timeout
                    environment=environment,
                    statements=(Allow("Connections", actions, (table.arn,)),) if actions else (),
                    settings=runtime,
                    reserved_concurrency=concurrency,
                ),
            )
            websocket_functions.append(function)
            WebSocketRoute(
                self,
                f"{short}-route",
                WebSocketRouteProps(
                    api_id=api.id,
                    api_execution_arn=api.execution_arn,
                    stage_name=settings.stage_name,
                    route_key=route_key,
                    function_name=function.function_name,
                    function_invoke_arn=function.invoke_arn,
                    # $default answers the client (pong or a clear error): a two-way route.
                    two_way=route_key == "$default",
                    # Only signed-in users of the pool may connect (dashboard.access).
                    authorizer_id=authorizer_id if route_key == "$connect" else None,
                ),
            )

        # Posts one batch's message to a slice of the connections; the consumer invokes one
        # per slice, synchronously and in parallel, when there are many connections.
        broadcaster = PythonFunction(
            self,
            "broadcaster",
            PythonFunctionProps(
                function_name=self.name("broadcaster"),
                description="Posts a dashboard message to a slice of the WebSocket connections",
                code=self.package("broadcaster", lambdas),
                memory_mb=lambdas.consumer_memory_mb,
                timeout_seconds=BROADCASTER_TIMEOUT_SECONDS,
                environment={
                    "CONNECTIONS_TABLE": table.name,
                    "WEBSOCKET_CALLBACK_URL": callback_url,
                },
                statements=(
                    Allow(
                        "PostToConnections", ("execute-api:ManageConnections",), (connections_arn,)
                    ),
                    Allow("RemoveGoneConnections", ("dynamodb:DeleteItem",), (table.arn,)),
                ),
                settings=runtime,
            ),
        )

        # Batches the consumer still fails after Lambda's retries (at most 10 with a
        # destination): described here, so a bad batch cannot hold its partition forever.
        consumer_failures_name = self.name("consumer-failures")
        consumer_failures = SqsQueue(
            self,
            "consumer-failures",
            name=consumer_failures_name,
            message_retention_seconds=1_209_600,
            sqs_managed_sse_enabled=True,
        )
        consumer = PythonFunction(
            self,
            "consumer",
            PythonFunctionProps(
                function_name=self.name("consumer"),
                description="Broadcasts telemetry from MSK to the open WebSocket connections",
                code=self.package("consumer", lambdas),
                memory_mb=lambdas.consumer_memory_mb,
                timeout_seconds=lambdas.timeout_seconds,
                environment={
                    "CONNECTIONS_TABLE": table.name,
                    "WEBSOCKET_CALLBACK_URL": callback_url,
                    "BROADCASTER_FUNCTION_NAME": broadcaster.function_name,
                },
                statements=(
                    Allow(
                        "ReadConnections", ("dynamodb:Scan", "dynamodb:DeleteItem"), (table.arn,)
                    ),
                    Allow(
                        "PostToConnections", ("execute-api:ManageConnections",), (connections_arn,)
                    ),
                    Allow("InvokeBroadcaster", ("lambda:InvokeFunction",), (broadcaster.arn,)),
                    # Lambda sends failed-batch records with the function's role.
                    Allow(
                        "KeepFailedBatches",
                        ("sqs:SendMessage",),
                        (self.arn("sqs", consumer_failures_name),),
                    ),
                    Allow(
                        "EventSourceCluster",
                        (
                            "kafka:DescribeClusterV2",
                            "kafka:GetBootstrapBrokers",
                            "kafka-cluster:Connect",
                            "kafka-cluster:DescribeClusterDynamicConfiguration",
                        ),
                        (cluster_arn,),
                    ),
                    Allow(
                        "EventSourceTopic",
                        ("kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"),
                        (msk.string(MskOutputs.TOPIC_ARN),),
                    ),
                    Allow(
                        "EventSourceGroup",
                        ("kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"),
                        (arns.group(settings.consumer_group_id),),
                    ),
                    # The event poller runs in the cluster's subnets: AWS allows no narrower
                    # resource than "*" for these.
                    Allow(
                        "EventSourceNetwork",
                        (
                            "ec2:CreateNetworkInterface",
                            "ec2:DescribeNetworkInterfaces",
                            "ec2:DeleteNetworkInterface",
                            "ec2:DescribeSubnets",
                            *MSK_POLLER_NETWORK,
                        ),
                        ("*",),
                    ),
                ),
                settings=runtime,
                reserved_concurrency=props.topic_partitions,
            ),
        )
        LambdaEventSourceMapping(
            self,
            "consumer-source",
            function_name=consumer.arn,
            event_source_arn=cluster_arn,
            topics=[msk.string(MskOutputs.TOPIC_NAME)],
            starting_position=settings.starting_position,
            batch_size=settings.consumer_batch_size,
            amazon_managed_kafka_event_source_config={
                "consumer_group_id": settings.consumer_group_id,
            },
            destination_config={"on_failure": {"destination_arn": consumer_failures.arn}},
            depends_on=[consumer.function],
        )

        page_url, page_api_id = self._dashboard_page(props, websocket_url, cognito)
        self._alarms(props, alarm_topic, api.id, page_api_id, consumer_failures_name)
        self._operator_dashboard(props, api.id, page_api_id)

        out = DashboardOutputs
        self.export(out.DASHBOARD_URL, page_url)
        self.export(out.WEBSOCKET_URL, websocket_url)
        self.export(out.WEBSOCKET_API_ID, api.id)
        self.export(out.CONNECTIONS_TABLE, table.name)
        self.export(out.CONSUMER_FUNCTION, consumer.function_name)
        self.export(out.WEBSOCKET_FUNCTION_NAMES, [f.function_name for f in websocket_functions])
        self.export(out.USER_POOL_ID, cognito.pool.id)
        self.export(out.USER_POOL_CLIENT_ID, cognito.client.id)
        self.check_contract()

    def _user_pool(self) -> _Cognito:
        """Who may watch: users the platform team creates (no self sign-up), signing in to
        the page through a public app client (no secret: it runs in the browser)."""
        pool = CognitoUserPool(
            self,
            "users",
            name=self.name("dashboard-users"),
            admin_create_user_config={"allow_admin_create_user_only": True},
            password_policy={
                "minimum_length": 12,
                "require_lowercase": True,
                "require_uppercase": True,
                "require_numbers": True,
                "require_symbols": False,
                "temporary_password_validity_days": 3,
            },
            username_configuration={"case_sensitive": False},
        )
        client = CognitoUserPoolClient(
            self,
            "dashboard-client",
            name=self.name("dashboard-page"),
            user_pool_id=pool.id,
            generate_secret=False,
            explicit_auth_flows=list(CLIENT_AUTH_FLOWS),
            # Unknown user and wrong password answer alike: no probing for user names.
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
        )
        # The issuer Cognito writes into its tokens (moto's Cognito writes the same).
        cognito_api = f"https://cognito-idp.{self.context.region}.amazonaws.com"
        issuer = f"{cognito_api}/{pool.id}"
        # Where the authorizer fetches the pool's keys and the page signs in: Cognito on
        # AWS; the emulator's endpoint (which serves the same paths) on the local platform.
        api_base = self.context.emulator.endpoint_url or cognito_api
        jwks_url = f"{api_base}/{pool.id}/.well-known/jwks.json"
        endpoint = f"{api_base}/"
        return _Cognito(pool, client, issuer, jwks_url, endpoint)

    def _connect_authorizer(
        self,
        api: Apigatewayv2Api,
        cognito: _Cognito,
        settings: DashboardSettings,
        lambdas: LambdaSettings,
    ) -> str:
        """A REQUEST authorizer on $connect: a valid access token of the pool, or no socket."""
        function = PythonFunction(
            self,
            "ws-authorizer",
            PythonFunctionProps(
                function_name=self.name("ws-authorizer"),
                description="Allows WebSocket connections with a valid Cognito access token",
                code=self.package("ws_authorizer", lambdas),
                memory_mb=lambdas.websocket_memory_mb,
                timeout_seconds=10,
                environment={
                    "JWKS_URL": cognito.jwks_url,
                    "COGNITO_ISSUER": cognito.issuer,
                    "COGNITO_CLIENT_ID": cognito.client.id,
                },
                settings=self.runtime_settings(lambdas),
                # Every connection attempt runs it first: as many as $connect's.
                reserved_concurrency=settings.connect_concurrency,
            ),
        )
        authorizer = Apigatewayv2Authorizer(
            self,
            "connect-authorizer",
            api_id=api.id,
            name=self.name("connect-authorizer"),
            authorizer_type="REQUEST",
            authorizer_uri=function.invoke_arn,
            identity_sources=[TOKEN_IDENTITY_SOURCE],
        )
        LambdaPermission(
            self,
            "connect-authorizer-invoke",
            statement_id="AllowApiGatewayAuthorizer",
            action="lambda:InvokeFunction",
            function_name=function.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=f"{api.execution_arn}/authorizers/{authorizer.id}",
        )
        return authorizer.id

    def _dashboard_page(
        self, props: DashboardStackProps, websocket_url: str, cognito: _Cognito
    ) -> tuple[str, str]:
        """The live web page: an HTTP API whose every GET is answered by a small Lambda.

        Served by Lambda rather than S3 and CloudFront: the page is three small files and
        one setting (the WebSocket URL), read rarely; one function keeps it in step with
        the API it talks to.
        """
        lambdas = props.lambdas
        page_environment = {"WEBSOCKET_URL": websocket_url}
        if props.dashboard.access == "cognito":
            # The page signs in against Cognito's API directly (InitiateAuth).
            page_environment["COGNITO_ENDPOINT"] = cognito.endpoint
            page_environment["COGNITO_CLIENT_ID"] = cognito.client.id
        page = PythonFunction(
            self,
            "dashboard-page",
            PythonFunctionProps(
                function_name=self.name("dashboard-page"),
                description="Serves the live dashboard web page",
                code=self.package("dashboard_page", lambdas),
                settings=self.runtime_settings(lambdas),
                memory_mb=lambdas.websocket_memory_mb,
                timeout_seconds=10,
                environment=page_environment,
                reserved_concurrency=props.dashboard.page_concurrency,
            ),
        )
        api = Apigatewayv2Api(
            self,
            "page-api",
            name=self.name("dashboard"),
            protocol_type="HTTP",
            description="The live dashboard web page",
        )
        integration = Apigatewayv2Integration(
            self,
            "page-integration",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_uri=page.invoke_arn,
            integration_method="POST",
            payload_format_version="2.0",
        )
        Apigatewayv2Route(
            self,
            "page-route",
            api_id=api.id,
            route_key="$default",
            target=f"integrations/{integration.id}",
        )
        Apigatewayv2Stage(
            self,
            "page-stage",
            api_id=api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings={"throttling_burst_limit": 100, "throttling_rate_limit": 50},
            access_log_settings=self._access_log("page", HTTP_ACCESS_LOG, props.dashboard),
        )
        LambdaPermission(
            self,
            "page-invoke",
            statement_id="AllowHttpApiInvoke",
            action="lambda:InvokeFunction",
            function_name=page.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=f"{api.execution_arn}/*/$default",
        )
        return f"{api.api_endpoint}/", api.id

    def _access_log(
        self, api: str, fields: dict[str, str], settings: DashboardSettings
    ) -> dict[str, str]:
        logs = CloudwatchLogGroup(
            self,
            f"{api}-access-logs",
            name=f"/aws/apigateway/{self.name(api)}/access",
            retention_in_days=settings.access_log_retention_days,
        )
        return {"destination_arn": logs.arn, "format": json.dumps(fields, separators=(",", ":"))}

    def _api_gateway_logging_role(self, settings: DashboardSettings) -> list[ApiGatewayAccount]:
        """The account's API Gateway CloudWatch role, which WebSocket stage logging needs."""
        if not settings.manage_api_gateway_logging_role:
            return []
        role = IamRole(
            self,
            "api-gateway-logging-role",
            name=self.name("apigateway-cloudwatch"),
            assume_role_policy=service_trust_policy(
                self, "api-gateway-logging-trust", "apigateway.amazonaws.com"
            ),
        )
        attachment = IamRolePolicyAttachment(
            self,
            "api-gateway-logging-policy",
            role=role.name,
            policy_arn=f"arn:{self.partition.partition}:iam::aws:policy/{PUSH_TO_CLOUDWATCH_POLICY}",
        )
        return [
            ApiGatewayAccount(
                self,
                "api-gateway-account",
                cloudwatch_role_arn=role.arn,
                depends_on=[attachment],
            )
        ]

    def _alarms(
        self,
        props: DashboardStackProps,
        topic_arn: str,
        websocket_api_id: str,
        page_api_id: str,
        consumer_failures_name: str,
    ) -> None:
        alarms, stage = props.alarms, props.dashboard.stage_name
        for function in (*FUNCTIONS, "broadcaster"):
            self.watch_function(self.name(function), topic_arn, alarms)
        common = AlarmSchedule(
            period_seconds=alarms.period_seconds,
            evaluation_periods=alarms.evaluation_periods,
            topic_arn=topic_arn,
        )
        consumer = self.name("consumer")
        specs = [
            (
                "consumer-lag",
                MetricAlarmProps(
                    name=f"{consumer}-offset-lag",
                    description=(
                        f"The dashboard consumer is {alarms.consumer_offset_lag:,} or more "
                        "records behind the topic (runbook: consumer lag)"
                    ),
                    namespace="AWS/Lambda",
                    metric="OffsetLag",
                    dimensions={"FunctionName": consumer},
                    statistic="Maximum",
                    comparison="GreaterThanOrEqualToThreshold",
                    threshold=alarms.consumer_offset_lag,
                    **common,
                ),
            ),
            (
                "consumer-failures-waiting",
                MetricAlarmProps(
                    name=f"{consumer_failures_name}-not-empty",
                    description=(
                        "Batches the consumer failed after its retries were skipped and "
                        "described in its on-failure queue (runbook: consumer on-failure queue)"
                    ),
                    namespace="AWS/SQS",
                    metric="ApproximateNumberOfMessagesVisible",
                    dimensions={"QueueName": consumer_failures_name},
                    statistic="Maximum",
                    comparison="GreaterThanOrEqualToThreshold",
                    threshold=1,
                    **common,
                ),
            ),
            (
                "page-api-5xx",
                MetricAlarmProps(
                    name=f"{self.name('dashboard')}-5xx",
                    description="The dashboard page's HTTP API answered 5xx (runbook: API errors)",
                    namespace="AWS/ApiGateway",
                    metric="5xx",
                    dimensions={"ApiId": page_api_id, "Stage": "$default"},
                    statistic="Sum",
                    comparison="GreaterThanOrEqualToThreshold",
                    threshold=alarms.api_errors,
                    **common,
                ),
            ),
        ]
        for metric in ("IntegrationError", "ExecutionError"):
            specs.append(
                (
                    f"websocket-{metric.lower()}",
                    MetricAlarmProps(
                        name=f"{self.name('live')}-{metric.lower()}",
                        description=(
                            f"The WebSocket API's {metric}s: routes failing (runbook: API errors)"
                        ),
                        namespace="AWS/ApiGateway",
                        metric=metric,
                        dimensions={"ApiId": websocket_api_id, "Stage": stage},
                        statistic="Sum",
                        comparison="GreaterThanOrEqualToThreshold",
                        threshold=alarms.api_errors,
                        **common,
                    ),
                )
            )
        for construct_id, alarm in specs:
            MetricAlarm(self, construct_id, alarm)

    def _operator_dashboard(
        self, props: DashboardStackProps, websocket_api_id: str, page_api_id: str
    ) -> None:
        """One CloudWatch dashboard for operators: the flow end to end, lag, errors.

        Metrics of other stacks' resources are found by SEARCH over this environment's name
        prefix, never by names read from another stack.
        """
        prefix = self.context.name_prefix
        region = self.context.region
        period = props.alarms.period_seconds

        def search(namespace: str, metric: str, statistic: str = "Sum") -> dict[str, str]:
            query = f'{{{namespace}}} MetricName="{metric}" "{prefix}-"'
            return {"expression": f"SEARCH('{query}', '{statistic}', {period})"}

        def widget(title: str, x: int, y: int, metrics: list[object]) -> dict[str, object]:
            return {
                "type": "metric",
                "x": x,
                "y": y,
                "width": 12,
                "height": 6,
                "properties": {
                    "title": title,
                    "region": region,
                    "view": "timeSeries",
                    "stat": "Sum",
                    "period": period,
                    "metrics": metrics,
                },
            }

        consumer = self.name("consumer")
        body = {
            "widgets": [
                widget(
                    "Events: generated, published, broadcast (handler metrics)",
                    0,
                    0,
                    [
                        [search(f"{METRICS_NAMESPACE},service", name)]
                        for name in ("EventsGenerated", "EventsPublished", "EventsBroadcast")
                    ],
                ),
                widget(
                    "Records delivered to S3 (Firehose)",
                    12,
                    0,
                    [[search("AWS/Firehose,DeliveryStreamName", "DeliveryToS3.Records")]],
                ),
                widget(
                    "Consumer lag (records behind the topic)",
                    0,
                    6,
                    [["AWS/Lambda", "OffsetLag", "FunctionName", consumer, {"stat": "Maximum"}]],
                ),
                widget(
                    "Function errors and throttles",
                    12,
                    6,
                    [
                        [search("AWS/Lambda,FunctionName", "Errors")],
                        [search("AWS/Lambda,FunctionName", "Throttles")],
                    ],
                ),
                widget(
                    "Dashboard connections: opened, and held (consumer's count)",
                    0,
                    12,
                    [
                        [
                            "AWS/ApiGateway",
                            "ConnectCount",
                            "ApiId",
                            websocket_api_id,
                            "Stage",
                            props.dashboard.stage_name,
                        ],
                        [search(f"{METRICS_NAMESPACE},service", "OpenConnections", "Maximum")],
                    ],
                ),
                widget(
                    "API errors",
                    12,
                    12,
                    [
                        ["AWS/ApiGateway", "5xx", "ApiId", page_api_id, "Stage", "$default"],
                        [
                            "AWS/ApiGateway",
                            "IntegrationError",
                            "ApiId",
                            websocket_api_id,
                            "Stage",
                            props.dashboard.stage_name,
                        ],
                    ],
                ),
            ]
        }
        CloudwatchDashboard(
            self,
            "operator-dashboard",
            dashboard_name=self.name("operations"),
            dashboard_body=json.dumps(body),
        )
