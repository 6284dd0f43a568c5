"""What each synthesized stack builds, asserted with CDKTF's testing helpers.

One synth per session (the ``synth`` fixture); each test reads the JSON it needs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cdktf import Testing as CdktfTesting

from platform_config import load_config, load_contract
from stacks.outputs import ALL_CONTRACTS
from tests.conftest import ROOT, STACK_NAMES, Synthesized


def has(synth: Synthesized, stack: str, resource_type: str, properties: dict[str, object]) -> bool:
    return bool(
        CdktfTesting.to_have_resource_with_properties(
            synth.json_text[stack], resource_type, properties
        )
    )


def test_every_stack_declares_its_contract_outputs_with_descriptions(synth: Synthesized) -> None:
    for contract in ALL_CONTRACTS:
        outputs = synth.stack(contract.stack_name).get("output", {})
        for declared in contract.outputs():
            assert declared.name in outputs, f"{contract.stack_name}: {declared.name} missing"
            assert outputs[declared.name]["description"] == declared.description


def test_no_implicit_cross_stack_references(synth: Synthesized) -> None:
    for name in STACK_NAMES:
        assert "cross-stack-output" not in synth.json_text[name]
        assert "cross-stack-reference" not in synth.json_text[name]


def test_downstream_stacks_read_upstream_only_through_remote_state(synth: Synthesized) -> None:
    expected = {
        "network": set(),
        "msk": {"upstream-network"},
        "data-lake": set(),
        "data-gen": {"upstream-network", "upstream-msk", "upstream-data-lake"},
        "dashboard": {"upstream-network", "upstream-msk"},
    }
    for name, upstreams in expected.items():
        remote = synth.stack(name).get("data", {}).get("terraform_remote_state", {})
        assert set(remote) == upstreams, name
        for reader in remote.values():
            assert reader["backend"] == "s3"
            assert reader["config"]["bucket"] == "acme-data-terraform-state"


def test_stack_dependencies_give_deploy_its_order(synth: Synthesized) -> None:
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    dependencies = {name: set(stack["dependencies"]) for name, stack in manifest["stacks"].items()}
    # Exactly the stacks each one reads through remote state: independent ones deploy together.
    assert dependencies == {
        "network": set(),
        "msk": {"network"},
        "data-lake": set(),
        "data-gen": {"network", "msk", "data-lake"},
        "dashboard": {"network", "msk"},
    }


def test_each_stack_has_its_own_s3_state_with_locking(synth: Synthesized) -> None:
    keys = set()
    for name in STACK_NAMES:
        backend = synth.stack(name)["terraform"]["backend"]["s3"]
        assert backend["encrypt"] is True
        assert backend["use_lockfile"] is True
        assert backend["region"] == "us-west-2"
        assert backend["key"] == f"acme-telemetry/dev/{name}.tfstate"
        keys.add(backend["key"])
    assert len(keys) == len(STACK_NAMES)


def test_synthesized_stacks_hold_no_path_of_the_build_machine(synth: Synthesized) -> None:
    forbidden = {str(ROOT), str(Path.home()), str(synth.outdir)}
    for name in STACK_NAMES:
        for path in forbidden:
            assert path not in synth.json_text[name], f"{name} contains {path}"


def test_network_spans_three_azs_with_nat_and_no_open_ingress(synth: Synthesized) -> None:
    subnets = synth.resources("network", "aws_subnet")
    assert len(subnets) == 6
    assert len([s for s in subnets.values() if s["tags"]["Tier"] == "private"]) == 3
    assert len(synth.resources("network", "aws_nat_gateway")) == 1  # dev shares one
    ingress = synth.resources("network", "aws_vpc_security_group_ingress_rule")
    assert ingress, "MSK must accept its clients"
    for rule in ingress.values():
        assert "cidr_ipv4" not in rule, "no ingress from address ranges, only from groups"
        assert (rule["from_port"], rule["to_port"], rule["ip_protocol"]) == (9098, 9098, "tcp")
        assert rule["referenced_security_group_id"]


def test_msk_cluster_is_iam_only_tls_and_monitored(synth: Synthesized) -> None:
    cluster = synth.one("msk", "aws_msk_cluster")
    assert cluster["kafka_version"] == "3.8.x"
    assert cluster["number_of_broker_nodes"] == 3
    assert cluster["client_authentication"] == {"sasl": {"iam": True}, "unauthenticated": False}
    assert cluster["encryption_info"]["encryption_in_transit"] == {
        "client_broker": "TLS",
        "in_cluster": True,
    }
    assert cluster["enhanced_monitoring"] == "PER_TOPIC_PER_BROKER"
    logs = cluster["logging_info"]["broker_logs"]
    assert logs["cloudwatch_logs"]["enabled"] and logs["s3"]["enabled"]
    assert cluster["broker_node_group_info"]["connectivity_info"]["vpc_connectivity"] == {
        "client_authentication": {"sasl": {"iam": True}}
    }
    assert (
        cluster["broker_node_group_info"]["storage_info"]["ebs_storage_info"]["volume_size"] == 100
    )
    assert has(synth, "msk", "aws_cloudwatch_log_group", {"retention_in_days": 7})


def test_msk_configuration_disables_auto_create_and_requires_durable_writes(
    synth: Synthesized,
) -> None:
    configuration = synth.one("msk", "aws_msk_configuration")
    properties = dict(line.split("=", 1) for line in configuration["server_properties"].split("\n"))
    assert properties["auto.create.topics.enable"] == "false"
    assert properties["default.replication.factor"] == "3"
    assert properties["min.insync.replicas"] == "2"
    assert configuration["kafka_versions"] == ["3.8.x"]


def test_cluster_policy_lets_firehose_open_a_private_connection(synth: Synthesized) -> None:
    assert synth.resources("msk", "aws_msk_cluster_policy")
    policy_docs = synth.stack("msk")["data"]["aws_iam_policy_document"]
    statement = policy_docs["cluster-policy-document"]["statement"][0]
    assert statement["principals"][0]["identifiers"] == ["firehose.amazonaws.com"]
    assert "kafka:CreateVpcConnection" in statement["actions"]


def test_topic_is_created_by_an_invocation_during_the_msk_apply(synth: Synthesized) -> None:
    invocation = synth.one("msk", "aws_lambda_invocation")
    request = json.loads(invocation["input"])
    assert request["topic"] == load_contract().topic
    assert request["replication_factor"] == 3
    assert "aws_msk_cluster.cluster" in invocation["depends_on"]


def test_data_bucket_is_private_encrypted_versioned_and_tiered(synth: Synthesized) -> None:
    assert has(
        synth,
        "data-lake",
        "aws_s3_bucket_public_access_block",
        {
            "block_public_acls": True,
            "block_public_policy": True,
            "ignore_public_acls": True,
            "restrict_public_buckets": True,
        },
    )
    assert has(
        synth,
        "data-lake",
        "aws_s3_bucket_versioning",
        {"versioning_configuration": {"status": "Enabled"}},
    )
    lifecycles = synth.resources("data-lake", "aws_s3_bucket_lifecycle_configuration")
    data_lifecycle = [lc for lc in lifecycles.values() if "data-bucket" in lc["bucket"]]
    assert len(data_lifecycle) == 1
    data_rules = {r["id"]: r for r in data_lifecycle[0]["rule"]}
    tiering = next(r for r in data_rules.values() if r.get("transition"))
    assert [(t["days"], t["storage_class"]) for t in tiering["transition"]] == [
        (30, "STANDARD_IA"),
        (90, "GLACIER"),
    ]
    assert any(
        r.get("noncurrent_version_expiration") == [{"noncurrent_days": 30}]
        for r in data_rules.values()
    )
    assert any(
        r.get("abort_incomplete_multipart_upload") == [{"days_after_initiation": 7}]
        for r in data_rules.values()
    )
    policies = synth.stack("data-lake")["data"]["aws_iam_policy_document"]
    deny = [s for p in policies.values() for s in p["statement"] if s.get("effect") == "Deny"]
    assert deny and all(s["condition"][0]["variable"] == "aws:SecureTransport" for s in deny)


def test_glue_table_has_the_contract_columns_and_projection_matching_firehose(
    synth: Synthesized,
) -> None:
    table = synth.one("data-lake", "aws_glue_catalog_table")
    columns = [(c["name"], c["type"]) for c in table["storage_descriptor"]["columns"]]
    assert columns == [(f.name, f.glue_type) for f in load_contract().fields]
    assert len(columns) == 25
    assert [k["name"] for k in table["partition_keys"]] == ["year", "month", "day", "hour"]
    parameters = table["parameters"]
    assert parameters["projection.enabled"] == "true"
    template = parameters["storage.location.template"]
    # "$${" in the JSON is Terraform's escape for a literal "${" that Athena fills in.
    assert template.endswith("/telemetry/year=$${year}/month=$${month}/day=$${day}/hour=$${hour}/")
    stream = synth.one("data-gen", "aws_kinesis_firehose_delivery_stream")
    prefix = stream["extended_s3_configuration"]["prefix"]
    firehose_layout = re.sub(r"!\{timestamp:[^}]+\}", "X", prefix.split("}", 1)[1])
    projected_layout = re.sub(r"\$\$\{[a-z]+\}", "X", template.split("/telemetry/", 1)[1])
    assert firehose_layout == projected_layout == "year=X/month=X/day=X/hour=X/"
    for key in ("month", "day", "hour"):
        assert parameters[f"projection.{key}.digits"] == "2"


def test_athena_workgroup_encrypts_results_and_holds_the_named_queries(
    synth: Synthesized,
) -> None:
    workgroup = synth.one("data-lake", "aws_athena_workgroup")
    result = workgroup["configuration"]["result_configuration"]
    assert result["encryption_configuration"]["encryption_option"] == "SSE_S3"
    assert workgroup["configuration"]["enforce_workgroup_configuration"] is True
    queries = synth.resources("data-lake", "aws_athena_named_query")
    assert len(queries) == 6
    assert all("acme_telemetry.streaming_events" in q["query"] for q in queries.values())
    # Every saved query reads the last 7 days through the projection, never a literal date.
    assert all("current_date - interval '7' day" in q["query"] for q in queries.values())
    assert not any(re.search(r"\b(year|month)\s*=\s*'", q["query"]) for q in queries.values())


def test_data_gen_wires_schedule_async_failure_queue_and_firehose(synth: Synthesized) -> None:
    assert has(
        synth, "data-gen", "aws_cloudwatch_event_rule", {"schedule_expression": "rate(5 minutes)"}
    )
    invoke_config = synth.one("data-gen", "aws_lambda_function_event_invoke_config")
    assert "aws_sqs_queue" in invoke_config["destination_config"]["on_failure"]["destination"]
    stream = synth.one("data-gen", "aws_kinesis_firehose_delivery_stream")
    source = stream["msk_source_configuration"]
    assert source["authentication_configuration"]["connectivity"] == "PRIVATE"
    assert source["read_from_timestamp"] == "1970-01-01T00:00:00Z"
    s3 = stream["extended_s3_configuration"]
    assert s3["compression_format"] == "GZIP"
    assert (s3["buffering_interval"], s3["buffering_size"]) == (60, 5)
    assert "!{firehose:error-output-type}" in s3["error_output_prefix"]
    assert s3["cloudwatch_logging_options"]["enabled"] is True
    assert s3["processing_configuration"]["processors"][0]["type"] == "AppendDelimiterToRecord"
    functions = {
        f["function_name"]: f for f in synth.resources("data-gen", "aws_lambda_function").values()
    }
    producer = functions["acme-data-dev-producer"]
    assert producer["vpc_config"]["subnet_ids"]
    assert producer["memory_size"] == 512 and producer["timeout"] == 30
    assert functions["acme-data-dev-generator"]["memory_size"] == 256


def test_dashboard_has_routes_stage_ttl_table_and_msk_event_source(synth: Synthesized) -> None:
    routes = {
        r["route_key"] for r in synth.resources("dashboard", "aws_apigatewayv2_route").values()
    }
    assert routes == {"$connect", "$disconnect", "$default"}
    assert has(synth, "dashboard", "aws_apigatewayv2_stage", {"auto_deploy": True})
    assert has(
        synth,
        "dashboard",
        "aws_dynamodb_table",
        {"ttl": {"attribute_name": "ttl", "enabled": True}},
    )
    # 3 routes + the $connect authorizer + page
    assert len(synth.resources("dashboard", "aws_lambda_permission")) == 5
    mapping = synth.one("dashboard", "aws_lambda_event_source_mapping")
    assert mapping["batch_size"] == 100
    assert mapping["starting_position"] == "LATEST"
    assert mapping["amazon_managed_kafka_event_source_config"]["consumer_group_id"]
    assert "upstream-msk.outputs.topic_name" in mapping["topics"][0]


def _policies(synth: Synthesized, stack: str) -> list[dict[str, Any]]:
    docs = synth.stack(stack).get("data", {}).get("aws_iam_policy_document", {})
    return [s for d in docs.values() for s in d["statement"]]


def test_iam_is_least_privilege(synth: Synthesized) -> None:
    for stack in STACK_NAMES:
        for statement in _policies(synth, stack):
            actions = statement.get("actions", [])
            assert "*" not in actions
            kafka = [a for a in actions if str(a).startswith("kafka-cluster:")]
            if kafka:
                assert statement["resources"] != ["*"], f"{stack}: kafka-cluster on *"
            if any(
                str(a).startswith(("s3:", "dynamodb:", "execute-api:", "sqs:")) for a in actions
            ):
                assert "*" not in statement["resources"], statement
    consumer = [s for s in _policies(synth, "dashboard") if s.get("sid") == "EventSourceGroup"]
    assert consumer and ":group/" in consumer[0]["resources"][0]
    manage = [s for s in _policies(synth, "dashboard") if s.get("sid") == "PostToConnections"]
    assert manage[0]["resources"][0].endswith("/live/POST/@connections/*")


def _function_statements(synth: Synthesized, stack: str, prefix: str) -> dict[str, Any]:
    """Sid -> statement of the permissions policy of the function with this construct id."""
    docs = synth.stack(stack)["data"]["aws_iam_policy_document"]
    (doc,) = [d for name, d in docs.items() if name.startswith(f"{prefix}_permissions_")]
    return {s.get("sid"): s for s in doc["statement"]}


def test_consumer_hands_slices_to_the_broadcaster(synth: Synthesized) -> None:
    functions = {
        name.rsplit("_", 2)[0]: f
        for name, f in synth.resources("dashboard", "aws_lambda_function").items()
    }
    broadcaster, consumer = functions["broadcaster"], functions["consumer"]
    assert broadcaster["function_name"] == "acme-data-dev-broadcaster"
    assert broadcaster["handler"] == "broadcaster.lambda_handler"
    assert "vpc_config" not in broadcaster  # it talks to API Gateway and DynamoDB only
    assert broadcaster["timeout"] < 60  # the consumer's Lambda client waits 60 s at most
    names = {f["function_name"]: key for key, f in functions.items()}
    assert set(names) >= {"acme-data-dev-broadcaster", "acme-data-dev-consumer"}
    broadcaster_env = broadcaster["environment"]["variables"]
    consumer_env = consumer["environment"]["variables"]
    assert set(broadcaster_env) == {
        "CONNECTIONS_TABLE",
        "WEBSOCKET_CALLBACK_URL",
        "POWERTOOLS_METRICS_NAMESPACE",
    }
    for name in ("CONNECTIONS_TABLE", "WEBSOCKET_CALLBACK_URL"):
        assert broadcaster_env[name] == consumer_env[name]
    assert re.fullmatch(
        r"\$\{aws_lambda_function\.broadcaster_function_\w+\.function_name\}",
        consumer_env["BROADCASTER_FUNCTION_NAME"],
    )

    # Least privilege: the consumer may invoke only the broadcaster; the broadcaster may
    # only post to connections and delete the gone ones.
    invoke = _function_statements(synth, "dashboard", "consumer")["InvokeBroadcaster"]
    assert invoke["actions"] == ["lambda:InvokeFunction"]
    assert re.fullmatch(
        r"\$\{aws_lambda_function\.broadcaster_function_\w+\.arn\}", invoke["resources"][0]
    )
    assert len(invoke["resources"]) == 1
    granted = _function_statements(synth, "dashboard", "broadcaster")
    assert {sid: s["actions"] for sid, s in granted.items()} == {
        "WriteOwnLogs": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "PostToConnections": ["execute-api:ManageConnections"],
        "RemoveGoneConnections": ["dynamodb:DeleteItem"],
    }
    assert granted["PostToConnections"]["resources"][0].endswith("/live/POST/@connections/*")
    assert granted["RemoveGoneConnections"]["resources"] == [
        "${aws_dynamodb_table.connections.arn}"
    ]


def test_every_lambda_has_its_own_role_and_a_log_group_with_retention(
    synth: Synthesized,
) -> None:
    for stack in STACK_NAMES:
        functions = synth.resources(stack, "aws_lambda_function")
        log_groups = {
            g["name"]
            for g in synth.resources(stack, "aws_cloudwatch_log_group").values()
            if g.get("retention_in_days")
        }
        roles = {f["role"] for f in functions.values()}
        assert len(roles) == len(functions)
        for function in functions.values():
            assert f"/aws/lambda/{function['function_name']}" in log_groups
            assert function["runtime"] == "python3.13"
            variables = function.get("environment", {}).get("variables", {})
            assert not {"AWS_REGION", "AWS_DEFAULT_REGION"} & set(variables)
            assert function["filename"].startswith("assets/")
            assert function["source_code_hash"]


def test_prod_gets_one_nat_gateway_per_az(tmp_path_factory) -> None:
    # Built without a full synth: only the network stack is needed.
    from cdktf import App

    from main import stack_context
    from stacks.network import NetworkStack, NetworkStackProps

    config = load_config({"ACME_ENV": "prod"})
    app = App(outdir=str(tmp_path_factory.mktemp("prod")))
    stack = NetworkStack(app, NetworkStackProps(stack_context(config), config.network))
    text = CdktfTesting.synth(stack)
    assert len(json.loads(text)["resource"]["aws_nat_gateway"]) == 3


def test_dashboard_page_is_served_by_an_http_api_pointing_at_the_websocket(
    synth: Synthesized,
) -> None:
    apis = {
        a["protocol_type"]: a for a in synth.resources("dashboard", "aws_apigatewayv2_api").values()
    }
    assert set(apis) == {"HTTP", "WEBSOCKET"}
    functions = {
        f["function_name"]: f for f in synth.resources("dashboard", "aws_lambda_function").values()
    }
    page = functions["acme-data-dev-dashboard-page"]
    # Built from the API's endpoint (which carries the local address on the emulator) and the
    # stage; on AWS it equals the stage's invoke_url.
    websocket_url = (
        "${aws_apigatewayv2_api.websocket-api.api_endpoint}/${aws_apigatewayv2_stage.stage.name}"
    )
    assert page["environment"]["variables"]["WEBSOCKET_URL"] == websocket_url
    assert synth.stack("dashboard")["output"]["websocket_url"]["value"] == websocket_url
    consumer = functions["acme-data-dev-consumer"]["environment"]["variables"]
    assert consumer["WEBSOCKET_CALLBACK_URL"] == (
        '${replace(aws_apigatewayv2_api.websocket-api.api_endpoint, "/^ws/", "http")}'
        "/${aws_apigatewayv2_stage.stage.name}"
    )
    assert has(
        synth,
        "dashboard",
        "aws_apigatewayv2_integration",
        {"payload_format_version": "2.0", "integration_type": "AWS_PROXY"},
    )
    outputs = synth.stack("dashboard")["output"]
    assert "aws_apigatewayv2_api.page-api.api_endpoint" in outputs["dashboard_url"]["value"]


def test_resources_moved_into_constructs_keep_their_state(synth: Synthesized) -> None:
    """Each entry of stacks/moved.py becomes a moved block from an address no longer
    synthesized to one that is, so an upgrade moves state instead of replacing resources."""
    from stacks.moved import MOVED

    for stack, moves in MOVED.items():
        document = synth.stack(stack)
        addresses = {
            f"{kind}.{name}"
            for kind, found in document.get("resource", {}).items()
            for name in found
        }
        blocks = document.get("moved", [])
        assert sorted(b["from"] for b in blocks) == sorted(moves.values()), stack
        for block in blocks:
            assert block["from"] not in addresses and block["to"] in addresses, block
            assert block["from"].split(".")[0] == block["to"].split(".")[0], block


def test_the_vpc_logs_every_flow_and_its_default_group_allows_nothing(synth: Synthesized) -> None:
    flow = synth.one("network", "aws_flow_log")
    assert flow["traffic_type"] == "ALL"
    assert flow["log_destination_type"] == "cloud-watch-logs"
    assert flow["log_destination"].startswith("${aws_cloudwatch_log_group.flow-logs")
    groups = synth.resources("network", "aws_cloudwatch_log_group")
    assert groups["flow-logs"]["retention_in_days"] == 14
    default = synth.one("network", "aws_default_security_group")
    # No ingress or egress blocks: Terraform removes every rule of the default group.
    assert "ingress" not in default and "egress" not in default
    role = synth.one("network", "aws_iam_role")
    assert "vpc-flow-logs.amazonaws.com" in json.dumps(synth.stack("network")["data"])
    assert role["name"].endswith("vpc-flow-logs")


def test_both_api_stages_write_json_access_logs_with_retention(synth: Synthesized) -> None:
    stages = synth.resources("dashboard", "aws_apigatewayv2_stage")
    groups = synth.resources("dashboard", "aws_cloudwatch_log_group")
    assert len(stages) == 2
    for stage in stages.values():
        settings = stage["access_log_settings"]
        fields = json.loads(settings["format"])
        assert {"requestId", "ip", "requestTime", "status"} <= set(fields)
        group = settings["destination_arn"].split(".")[1]
        assert groups[group]["retention_in_days"] == 14
    websocket = stages["stage"]
    assert "connectionId" in json.loads(websocket["access_log_settings"]["format"])
    # WebSocket stages log only once the account names API Gateway's CloudWatch role.
    account = synth.one("dashboard", "aws_api_gateway_account")
    assert account["cloudwatch_role_arn"].startswith("${aws_iam_role.api-gateway-logging-role")
    assert websocket["depends_on"] == ["aws_api_gateway_account.api-gateway-account"]


def test_public_facing_functions_and_the_consumer_have_reserved_concurrency(
    synth: Synthesized,
) -> None:
    functions = {
        f["function_name"].removeprefix("acme-data-dev-"): f
        for f in synth.resources("dashboard", "aws_lambda_function").values()
    }
    reserved = {name: f.get("reserved_concurrent_executions") for name, f in functions.items()}
    assert reserved == {
        "ws-connect": 20,
        "ws-disconnect": 20,
        "ws-default": 10,
        "ws-authorizer": 20,  # runs before every $connect
        "dashboard-page": 10,
        "consumer": 6,  # one a partition of the dev topic
        "broadcaster": None,  # invoked only by the consumer, in slices
    }


def test_an_account_that_manages_its_api_gateway_role_keeps_it(tmp_path_factory) -> None:
    import dataclasses

    from cdktf import App

    from main import stack_context
    from stacks.dashboard import DashboardStack, DashboardStackProps

    config = load_config({"ACME_ENV": "dev"})
    dashboard = dataclasses.replace(config.dashboard, manage_api_gateway_logging_role=False)
    app = App(outdir=str(tmp_path_factory.mktemp("no-account-role")))
    stack = DashboardStack(
        app, DashboardStackProps(stack_context(config), dashboard, config.lambdas, 6)
    )
    document = json.loads(CdktfTesting.synth(stack))
    assert "aws_api_gateway_account" not in document["resource"]
    assert "depends_on" not in document["resource"]["aws_apigatewayv2_stage"]["stage"]


def alarms_of(synth: Synthesized, stack: str) -> dict[str, dict[str, object]]:
    return {
        str(a["alarm_name"]): a
        for a in synth.resources(stack, "aws_cloudwatch_metric_alarm").values()
    }


def test_every_alarm_notifies_the_one_alarm_topic_in_alarm_and_when_ok(synth: Synthesized) -> None:
    topic = synth.one("network", "aws_sns_topic")
    assert topic["name"] == "acme-data-dev-alarms"
    assert "alarm_topic_arn" in synth.stack("network")["output"]
    count = 0
    for stack in ("msk", "data-gen", "dashboard"):
        for alarm in alarms_of(synth, stack).values():
            count += 1
            reads = "${data.terraform_remote_state.upstream-network.outputs.alarm_topic_arn}"
            assert alarm["alarm_actions"] == [reads] == alarm["ok_actions"], alarm["alarm_name"]
            assert "runbook:" in str(alarm["alarm_description"])
    assert count == 6 + 7 + 19  # the dashboard's seven functions, two alarms each, and five


def test_each_function_alarms_on_errors_and_throttles(synth: Synthesized) -> None:
    functions = {
        "data-gen": ("generator", "producer"),
        "dashboard": (
            "ws-connect",
            "ws-disconnect",
            "ws-default",
            "ws-authorizer",
            "dashboard-page",
            "consumer",
            "broadcaster",
        ),
    }
    for stack, names in functions.items():
        alarms = alarms_of(synth, stack)
        for name in names:
            for metric in ("errors", "throttles"):
                alarm = alarms[f"acme-data-dev-{name}-{metric}"]
                assert alarm["namespace"] == "AWS/Lambda"
                assert alarm["dimensions"] == {"FunctionName": f"acme-data-dev-{name}"}
                assert alarm["threshold"] == 1 and alarm["statistic"] == "Sum"


def test_platform_alarms_watch_lag_delivery_brokers_queues_and_apis(synth: Synthesized) -> None:
    gen, dash, msk = (alarms_of(synth, s) for s in ("data-gen", "dashboard", "msk"))
    lag = dash["acme-data-dev-consumer-offset-lag"]
    assert (lag["metric_name"], lag["threshold"]) == ("OffsetLag", 10_000)
    assert gen["acme-data-dev-producer-failures-not-empty"]["threshold"] == 1
    assert dash["acme-data-dev-consumer-failures-not-empty"]["threshold"] == 1
    freshness = gen["acme-data-dev-telemetry-to-s3-freshness"]
    assert (freshness["metric_name"], freshness["threshold"]) == ("DeliveryToS3.DataFreshness", 900)
    success = gen["acme-data-dev-telemetry-to-s3-success"]
    assert (success["comparison_operator"], success["threshold"]) == ("LessThanThreshold", 0.99)
    for broker in (1, 2, 3):
        disk = msk[f"acme-data-dev-msk-broker-{broker}-disk"]
        assert disk["dimensions"] == {"Cluster Name": "acme-data-dev-msk", "Broker ID": str(broker)}
        assert msk[f"acme-data-dev-msk-broker-{broker}-cpu"]["metric_name"] == "CpuUser"
    assert dash["acme-data-dev-dashboard-5xx"]["metric_name"] == "5xx"
    assert dash["acme-data-dev-live-integrationerror"]["metric_name"] == "IntegrationError"
    assert dash["acme-data-dev-live-executionerror"]["metric_name"] == "ExecutionError"


def test_a_stuck_batch_cannot_block_its_partition(synth: Synthesized) -> None:
    mapping = synth.one("dashboard", "aws_lambda_event_source_mapping")
    destination = mapping["destination_config"]["on_failure"]["destination_arn"]
    assert destination == "${aws_sqs_queue.consumer-failures.arn}"
    queue = synth.one("dashboard", "aws_sqs_queue")
    assert queue["sqs_managed_sse_enabled"] is True


def test_operators_get_one_cloudwatch_dashboard(synth: Synthesized) -> None:
    board = synth.one("dashboard", "aws_cloudwatch_dashboard")
    assert board["dashboard_name"] == "acme-data-dev-operations"
    body = json.loads(board["dashboard_body"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert len(titles) == 6
    text = json.dumps(body)
    for metric in (
        "EventsGenerated",
        "EventsPublished",
        "EventsBroadcast",
        "DeliveryToS3.Records",
        "OffsetLag",
        "Errors",
        "ConnectCount",
        "OpenConnections",
    ):
        assert metric in text, metric


def test_prod_alarms_look_sooner(tmp_path_factory) -> None:
    config = load_config({"ACME_ENV": "prod"})
    assert (config.alarms.period_seconds, config.alarms.evaluation_periods) == (60, 2)


def test_every_function_publishes_its_metrics_under_the_one_namespace(synth: Synthesized) -> None:
    from platform_config.model import METRICS_NAMESPACE

    for stack in ("msk", "data-gen", "dashboard"):
        for function in synth.resources(stack, "aws_lambda_function").values():
            variables = function["environment"]["variables"]
            assert variables["POWERTOOLS_METRICS_NAMESPACE"] == METRICS_NAMESPACE
    board = json.loads(synth.one("dashboard", "aws_cloudwatch_dashboard")["dashboard_body"])
    assert f"{{{METRICS_NAMESPACE},service}}" in json.dumps(board)


def test_dashboard_viewers_are_cognito_users_the_platform_team_creates(
    synth: Synthesized,
) -> None:
    pool = synth.one("dashboard", "aws_cognito_user_pool")
    assert pool["admin_create_user_config"] == {"allow_admin_create_user_only": True}
    assert pool["password_policy"]["minimum_length"] >= 12
    client = synth.one("dashboard", "aws_cognito_user_pool_client")
    assert client["user_pool_id"] == "${aws_cognito_user_pool.users.id}"
    assert client["generate_secret"] is False  # a public client: it runs in the browser
    assert sorted(client["explicit_auth_flows"]) == [
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_USER_PASSWORD_AUTH",
    ]
    assert client["prevent_user_existence_errors"] == "ENABLED"
    outputs = synth.stack("dashboard")["output"]
    assert outputs["dashboard_user_pool_id"]["value"] == "${aws_cognito_user_pool.users.id}"
    assert outputs["dashboard_user_pool_client_id"]["value"] == (
        "${aws_cognito_user_pool_client.dashboard-client.id}"
    )


def test_only_connect_has_the_cognito_authorizer(synth: Synthesized) -> None:
    authorizer = synth.one("dashboard", "aws_apigatewayv2_authorizer")
    assert authorizer["authorizer_type"] == "REQUEST"
    assert authorizer["identity_sources"] == ["route.request.querystring.token"]
    uri = authorizer["authorizer_uri"]
    assert uri.startswith("${aws_lambda_function.ws-authorizer") and uri.endswith(".invoke_arn}")
    routes = {
        r["route_key"]: r for r in synth.resources("dashboard", "aws_apigatewayv2_route").values()
    }
    assert routes["$connect"]["authorization_type"] == "CUSTOM"
    assert (
        routes["$connect"]["authorizer_id"]
        == "${aws_apigatewayv2_authorizer.connect-authorizer.id}"
    )
    for key in ("$disconnect", "$default"):
        assert "authorizer_id" not in routes[key] and "authorization_type" not in routes[key]
    [permission] = [
        p
        for p in synth.resources("dashboard", "aws_lambda_permission").values()
        if p["statement_id"] == "AllowApiGatewayAuthorizer"
    ]
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert "ws-authorizer" in permission["function_name"]
    assert permission["source_arn"] == (
        "${aws_apigatewayv2_api.websocket-api.execution_arn}/authorizers/"
        "${aws_apigatewayv2_authorizer.connect-authorizer.id}"
    )
    functions = {
        f["function_name"]: f for f in synth.resources("dashboard", "aws_lambda_function").values()
    }
    variables = dict(functions["acme-data-dev-ws-authorizer"]["environment"]["variables"])
    assert variables.pop("POWERTOOLS_METRICS_NAMESPACE") == "AcmeTelemetry"
    issuer = "https://cognito-idp.us-west-2.amazonaws.com/${aws_cognito_user_pool.users.id}"
    assert variables == {
        "JWKS_URL": f"{issuer}/.well-known/jwks.json",
        "COGNITO_ISSUER": issuer,
        "COGNITO_CLIENT_ID": "${aws_cognito_user_pool_client.dashboard-client.id}",
    }
    page = functions["acme-data-dev-dashboard-page"]["environment"]["variables"]
    assert page["COGNITO_ENDPOINT"] == "https://cognito-idp.us-west-2.amazonaws.com/"
    assert page["COGNITO_CLIENT_ID"] == variables["COGNITO_CLIENT_ID"]


def _dashboard_document(tmp_path_factory, environ: dict[str, str], **changes: Any) -> Any:
    import dataclasses

    from cdktf import App

    from main import stack_context
    from stacks.dashboard import DashboardStack, DashboardStackProps

    config = load_config(environ)
    dashboard = dataclasses.replace(config.dashboard, **changes)
    app = App(outdir=str(tmp_path_factory.mktemp("dashboard")))
    stack = DashboardStack(
        app, DashboardStackProps(stack_context(config), dashboard, config.lambdas, 6)
    )
    return json.loads(CdktfTesting.synth(stack))


def test_public_access_leaves_connect_open_and_the_page_without_sign_in(tmp_path_factory) -> None:
    document = _dashboard_document(tmp_path_factory, {"ACME_ENV": "dev"}, access="public")
    assert "aws_apigatewayv2_authorizer" not in document["resource"]
    for route in document["resource"]["aws_apigatewayv2_route"].values():
        assert "authorizer_id" not in route
    functions = {
        f["function_name"]: f for f in document["resource"]["aws_lambda_function"].values()
    }
    assert "acme-data-dev-ws-authorizer" not in functions
    page = functions["acme-data-dev-dashboard-page"]["environment"]["variables"]
    assert set(page) == {"WEBSOCKET_URL", "POWERTOOLS_METRICS_NAMESPACE"}


def test_on_the_local_platform_keys_and_sign_in_come_from_the_emulator(tmp_path_factory) -> None:
    document = _dashboard_document(
        tmp_path_factory, {"ACME_ENV": "dev", "ACME_AWS_ENDPOINT_URL": "http://127.0.0.1:4640"}
    )
    functions = {
        f["function_name"]: f for f in document["resource"]["aws_lambda_function"].values()
    }
    variables = dict(functions["acme-data-dev-ws-authorizer"]["environment"]["variables"])
    assert variables.pop("POWERTOOLS_METRICS_NAMESPACE") == "AcmeTelemetry"
    assert variables["JWKS_URL"] == (
        "http://127.0.0.1:4640/${aws_cognito_user_pool.users.id}/.well-known/jwks.json"
    )
    # The issuer is what Cognito (and moto's Cognito) writes into the token, wherever it runs.
    assert variables["COGNITO_ISSUER"].startswith("https://cognito-idp.us-west-2.amazonaws.com/")
    page = functions["acme-data-dev-dashboard-page"]["environment"]["variables"]
    assert page["COGNITO_ENDPOINT"] == "http://127.0.0.1:4640/"
    [provider] = document["provider"]["aws"]
    assert provider["endpoints"][0]["cognitoidp"] == "http://127.0.0.1:4640"
