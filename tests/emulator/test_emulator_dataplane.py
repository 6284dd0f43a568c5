"""The data plane inside a running emulator: what moto's APIs now run for real.

Each part is exercised through the AWS API a deployed stack uses (boto3 against the server),
not through the data plane's Python objects: Invoke of every type, Event retries into an SQS
destination, logs readable with the Logs API, a scheduled rule firing its Lambda target, an
MSK cluster served by a real broker that an event source mapping polls, and no process left
behind when the emulator is killed.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import textwrap
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from emulator import control
from emulator.control import dataplane_status, fire_rule
from emulator.dataplane.credentials import Credentials
from emulator.dataplane.kafka_event_sources import RoleTokenProvider

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
STATIC = Credentials("testing", "testing")
Aws = Callable[[str], Any]

APP = textwrap.dedent(
    """
    import json, os

    def handler(event, context):
        print("handled", json.dumps(event)[:200])
        if isinstance(event, dict) and event.get("fail"):
            raise ValueError("asked to fail")
        if isinstance(event, dict) and "records" in event:
            count = sum(len(v) for v in event["records"].values())
            print("records", count)
            return {"records": count}
        return {"function": context.function_name, "memory": context.memory_limit_in_mb,
                "pid": os.getpid(), "event": event}
    """
)


def zip_of(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout} s: {what}")


@pytest.fixture(scope="module")
def function(aws: Aws) -> str:
    iam = aws("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=unique("fn"), AssumeRolePolicyDocument=json.dumps(trust))
    arn: str = aws("lambda").create_function(
        FunctionName=unique("app"),
        Runtime="python3.13",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": zip_of(APP)},
        MemorySize=256,
        Timeout=10,
    )["FunctionArn"]
    return arn


def log_lines(aws: Aws, function_arn: str) -> list[str]:
    name = function_arn.rsplit(":", 1)[-1]
    events = aws("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    return [e["message"] for e in events]


def test_request_response_runs_the_code_with_its_context(aws: Aws, function: str) -> None:
    lam = aws("lambda")
    first = lam.invoke(FunctionName=function, Payload=b'{"n": 1}')
    second = json.loads(lam.invoke(FunctionName=function, Payload=b'{"n": 2}')["Payload"].read())
    answer = json.loads(first["Payload"].read())
    assert first["StatusCode"] == 200 and "FunctionError" not in first
    # awslambdaric, as in the python3.13 runtime, reads the memory size from the environment.
    assert answer["function"] == function.rsplit(":", 1)[-1] and answer["memory"] == "256"
    assert answer["event"] == {"n": 1}
    assert second["pid"] == answer["pid"], "a warm worker serves the next invocation"

    failed = lam.invoke(FunctionName=function, Payload=b'{"fail": true}')
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorMessage"] == "asked to fail"
    assert lam.invoke(FunctionName=function, InvocationType="DryRun")["StatusCode"] == 204

    lines = log_lines(aws, function)
    assert any(line.startswith("START RequestId:") for line in lines)
    assert any(line.startswith("REPORT RequestId:") and "Max Memory Used" in line for line in lines)
    assert any('handled {"n": 2}' in line for line in lines)


def test_an_event_is_retried_then_recorded_in_the_sqs_destination(aws: Aws, function: str) -> None:
    sqs = aws("sqs")
    queue = sqs.create_queue(QueueName=unique("failures"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    lam = aws("lambda")
    lam.put_function_event_invoke_config(
        FunctionName=function,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    accepted = lam.invoke(
        FunctionName=function, InvocationType="Event", Payload=b'{"fail": true, "id": 7}'
    )
    assert accepted["StatusCode"] == 202

    def record() -> dict[str, Any] | None:
        messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
        return json.loads(messages[0]["Body"]) if messages else None

    found = wait_for(record, 30, "the destination record")
    assert found["requestContext"]["condition"] == "RetriesExhausted"
    assert found["requestContext"]["approximateInvokeCount"] == 3
    assert found["requestPayload"] == {"fail": True, "id": 7}
    assert found["responsePayload"]["errorMessage"] == "asked to fail"


def test_a_scheduled_rule_fires_its_lambda_target(
    aws: Aws, function: str, emulator_server: control.Emulator
) -> None:
    events = aws("events")
    rule = unique("every-minute")
    rule_arn = events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)")["RuleArn"]
    events.put_targets(Rule=rule, Targets=[{"Id": "app", "Arn": function}])

    def fired() -> bool:
        return any(
            f["rule_arn"] == rule_arn for f in dataplane_status(emulator_server.endpoint)["fired"]
        )

    wait_for(fired, 15, "the first fire")
    # No resource policy lets EventBridge invoke the function: nothing ran.
    assert not any('"source": "aws.events"' in line for line in log_lines(aws, function))

    aws("lambda").add_permission(
        FunctionName=function,
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    assert fire_rule(emulator_server.endpoint, rule)["targets"] == 1
    wait_for(
        lambda: any('"source": "aws.events"' in line for line in log_lines(aws, function)),
        30,
        "the function ran with the scheduled event",
    )
    with pytest.raises(control.EmulatorError, match="no EventBridge rule"):
        fire_rule(emulator_server.endpoint, "no-such-rule")


def test_an_msk_mapping_polls_the_broker_and_invokes_the_function(
    aws: Aws, function: str, emulator_server: control.Emulator
) -> None:
    kafka = aws("kafka")
    cluster = kafka.create_cluster(
        ClusterName=unique("msk"),
        KafkaVersion="3.8.x",
        NumberOfBrokerNodes=3,
        BrokerNodeGroupInfo={
            "InstanceType": "kafka.m5.large",
            "ClientSubnets": ["subnet-1", "subnet-2", "subnet-3"],
        },
        ClientAuthentication={"Sasl": {"Iam": {"Enabled": True}}},
    )["ClusterArn"]
    bootstrap = kafka.get_bootstrap_brokers(ClusterArn=cluster)["BootstrapBrokerStringSaslIam"]
    security = {
        "bootstrap_servers": bootstrap,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "OAUTHBEARER",
        "sasl_oauth_token_provider": RoleTokenProvider(REGION, lambda: STATIC),
        "ssl_cafile": dataplane_status(emulator_server.endpoint)["ca_certificate"],
    }
    admin = KafkaAdminClient(**security)
    admin.create_topics([NewTopic("events", num_partitions=2, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(**security)
    for n in range(25):
        producer.send("events", key=str(n % 5).encode(), value=json.dumps({"n": n}).encode())
    producer.flush()
    producer.close()

    # The function's role may read the topic (the front door checks its grants).
    role = aws("lambda").get_function(FunctionName=function)["Configuration"]["Role"]
    aws("iam").put_role_policy(
        RoleName=role.rsplit("/", 1)[-1],
        PolicyName="read-topic",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "kafka-cluster:*", "Resource": "*"}],
            }
        ),
    )
    mapping = aws("lambda").create_event_source_mapping(
        FunctionName=function,
        EventSourceArn=cluster,
        Topics=["events"],
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
    )["UUID"]

    def delivered() -> dict[str, Any] | None:
        for status in dataplane_status(emulator_server.endpoint)["event_source_mappings"]:
            if status["uuid"] == mapping and status["records_delivered"] == 25:
                return dict(status)
        return None

    status = wait_for(delivered, 60, "25 records delivered to the function")
    assert sum(status["committed"].values()) == 25
    counts = [
        int(line.split()[1]) for line in log_lines(aws, function) if line.startswith("records ")
    ]
    assert sum(counts) == 25 and max(counts) <= 10

    aws("lambda").update_event_source_mapping(UUID=mapping, Enabled=False)
    wait_for(
        lambda: all(
            s["uuid"] != mapping
            for s in dataplane_status(emulator_server.endpoint)["event_source_mappings"]
        ),
        10,
        "the disabled mapping's poller to stop",
    )


@pytest.fixture
def throwaway_emulator(tmp_path: Path) -> Iterator[control.Emulator]:
    with control.running(pid_file=tmp_path / "emulator.pid", log_file=tmp_path / "log") as server:
        yield server


def test_killing_the_emulator_leaves_no_process_behind(
    throwaway_emulator: control.Emulator, lambda_zip: bytes
) -> None:
    import boto3

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=throwaway_emulator.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    client("kafka").create_cluster(
        ClusterName="doomed",
        KafkaVersion="3.8.x",
        NumberOfBrokerNodes=3,
        BrokerNodeGroupInfo={"InstanceType": "kafka.m5.large", "ClientSubnets": ["s1", "s2", "s3"]},
        ClientAuthentication={"Sasl": {"Iam": {"Enabled": True}}},
    )
    role = client("iam").create_role(RoleName="doomed", AssumeRolePolicyDocument="{}")
    client("lambda").create_function(
        FunctionName="doomed",
        Runtime="python3.13",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": lambda_zip},
    )
    client("lambda").invoke(FunctionName="doomed", Payload=b"{}")
    status = dataplane_status(throwaway_emulator.endpoint)
    children = [b["broker_pid"] for b in status["brokers"]] + [
        f["pid"] for f in status["functions"] if f["pid"]
    ]
    assert len(children) == 2 and all(alive(pid) for pid in children)

    os.kill(throwaway_emulator.pid, signal.SIGKILL)
    wait_for(lambda: not any(alive(pid) for pid in children), 10, "every child gone")


def alive(pid: int) -> bool:
    state = subprocess.run(
        ["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True
    ).stdout.strip()
    return bool(state) and not state.startswith("Z")
