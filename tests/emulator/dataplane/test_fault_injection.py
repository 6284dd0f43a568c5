"""Faults the emulator injects for the fault suite: what each does, and bad bodies refused.

The broker test runs tansu with its log in an in-process moto server's S3, kills it with
SIGKILL and restarts it: what it acknowledged before the kill is read back after.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from emulator.control import threaded_moto_server
from emulator.dataplane.credentials import Credentials
from emulator.dataplane.faults import (
    FaultControl,
    FaultError,
    InjectedFaults,
    dynamodb_table_names,
    install_dynamodb_faults,
)
from emulator.dataplane.kafka_event_sources import RoleTokenProvider
from emulator.dataplane.lambda_runtime import EnvironmentInfo
from emulator.dataplane.msk import LocalMskCluster, MskClusterSettings
from emulator.dataplane.msk_auth import ClusterArns
from emulator.dataplane.msk_service import S3BrokerStorage
from emulator.dataplane.supervisor import Supervisor
from emulator.dataplane.tls import TlsFiles
from tests.support.msk_front_door import ACCOUNT, CLUSTER_ARN, REGION

DEV = Credentials("AKIADEV", "dev-secret", None, f"arn:aws:iam::{ACCOUNT}:user/dev")
PRODUCER = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:acme-producer"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def control(
    faults: InjectedFaults | None = None,
    environments: list[EnvironmentInfo] | None = None,
    killed: list[int] | None = None,
) -> FaultControl:
    return FaultControl(
        clusters=dict,
        environments=lambda: list(environments or []),
        faults=faults or InjectedFaults(),
        kill=(killed if killed is not None else []).append,
    )


# --- the bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ([], '"fault": <name>'),
        ({"fault": "melt"}, "unknown fault 'melt'"),
        ({"fault": "dynamodb", "mode": "throttle", "table": "t"}, '"seconds"'),
        ({"fault": "dynamodb", "mode": "slow", "table": "t", "seconds": 5}, "mode"),
        ({"fault": "dynamodb", "mode": "error", "seconds": 5}, '"table"'),
        ({"fault": "connections", "status": 404, "seconds": 5}, "status"),
        ({"fault": "firehose-s3", "seconds": 0}, '"seconds"'),
        ({"fault": "firehose-s3", "seconds": True}, '"seconds"'),
        ({"fault": "worker-kill"}, '"function"'),
        ({"fault": "broker-kill"}, "no MSK cluster"),
    ],
)
def test_bad_bodies_name_the_problem(body: object, named: str) -> None:
    with pytest.raises(FaultError, match=named.replace("(", r"\(")):
        control().act(body)


def test_timed_faults_end_by_themselves_or_on_clear() -> None:
    clock = Clock()
    faults = InjectedFaults(clock)
    ctl = control(faults)
    ctl.act({"fault": "dynamodb", "mode": "throttle", "table": "conns", "seconds": 20})
    ctl.act({"fault": "connections", "status": 500, "seconds": 30})
    ctl.act({"fault": "firehose-s3", "seconds": 40})

    assert faults.dynamodb_error(["conns"]) is not None
    assert faults.dynamodb_error(["other"]) is None
    assert faults.connections_error() == (
        500,
        "InternalServerErrorException",
        "Internal server error",
    )
    assert faults.firehose_s3_failing()
    assert [f["fault"] for f in faults.status()] == ["dynamodb", "connections", "firehose-s3"]

    clock.now += 25
    assert faults.dynamodb_error(["conns"]) is None
    assert faults.connections_error() is not None
    ctl.act({"fault": "clear"})
    assert not faults.firehose_s3_failing()
    assert faults.status() == []


def test_worker_kill_waits_for_a_running_invocation_of_that_function() -> None:
    killed: list[int] = []
    environments = [
        EnvironmentInfo("arn:aws:lambda:eu-west-1:1:function:other", "e1", "s", 11, True, 1),
        EnvironmentInfo(PRODUCER, "e2", "s", 22, False, 3),
        EnvironmentInfo(PRODUCER, "e3", "s", 33, True, 4),
    ]
    answer = control(environments=environments, killed=killed).act(
        {"fault": "worker-kill", "function": "acme-producer", "wait_seconds": 1}
    )
    assert killed == [33]
    assert answer == {"fault": "worker-kill", "function": PRODUCER, "killed": 33}

    idle = [EnvironmentInfo(PRODUCER, "e2", "s", 22, False, 3)]
    started = time.monotonic()
    with pytest.raises(FaultError, match=r"no invocation of acme-producer ran within 0\.3 s"):
        control(environments=idle, killed=killed).act(
            {"fault": "worker-kill", "function": "acme-producer", "wait_seconds": 0.3}
        )
    assert 0.3 <= time.monotonic() - started < 5
    assert killed == [33]


def test_dynamodb_requests_name_their_tables() -> None:
    assert dynamodb_table_names({"TableName": "a"}) == ["a"]
    assert dynamodb_table_names({"RequestItems": {"a": [], "b": []}}) == ["a", "b"]
    assert dynamodb_table_names({"TransactItems": []}) == []
    assert dynamodb_table_names("garbage") == []


# --- against moto and tansu ----------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with threaded_moto_server() as endpoint:
        yield endpoint


def test_a_failing_table_answers_dynamodb_errors_botocore_knows(moto_endpoint: str) -> None:
    faults = InjectedFaults()
    install_dynamodb_faults(faults)
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    for name in ("conns", "others"):
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    try:
        faults.switch_on("dynamodb", 30, mode="throttle", table="conns")
        with pytest.raises(ClientError) as throttled:
            dynamodb.scan(TableName="conns")
        assert throttled.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
        assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        dynamodb.scan(TableName="others")  # only the named table fails

        faults.switch_on("dynamodb", 30, mode="error", table="conns")
        with pytest.raises(ClientError) as failing:
            dynamodb.put_item(TableName="conns", Item={"id": {"S": "x"}})
        assert failing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500

        faults.clear()
        assert dynamodb.scan(TableName="conns")["Count"] == 0  # the failed put wrote nothing
    finally:
        faults.clear()


@pytest.mark.integration
def test_a_killed_broker_restarts_with_what_it_acknowledged(
    moto_endpoint: str, tls: TlsFiles, cluster_supervisor: Supervisor, tmp_path: Path
) -> None:
    storage = S3BrokerStorage(moto_endpoint)
    arns = ClusterArns(CLUSTER_ARN)
    engine, environment = storage.prepare(arns)
    assert engine == f"s3://{S3BrokerStorage.bucket_for(arns)}/"
    cluster = LocalMskCluster(
        MskClusterSettings(
            cluster_arn=CLUSTER_ARN,
            tls=tls,
            storage_engine=engine,
            broker_environment=environment,
            log_file=tmp_path / "tansu.log",
        ),
        credentials={DEV.access_key_id: DEV}.get,
        supervisor=cluster_supervisor,
    )
    client = {
        "bootstrap_servers": "",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "OAUTHBEARER",
        "sasl_oauth_token_provider": RoleTokenProvider(REGION, lambda: DEV),
        "ssl_cafile": str(tls.ca_cert),
    }
    partitions = [TopicPartition("faults", p) for p in range(3)]

    def read_all(expected: int) -> list[int]:
        consumer = KafkaConsumer(**client, enable_auto_commit=False)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        seen: list[int] = []
        deadline = time.monotonic() + 20
        while len(seen) < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                seen += [json.loads(record.value)["n"] for record in records]
        consumer.close()
        return sorted(seen)

    with cluster:
        client["bootstrap_servers"] = cluster.bootstrap_brokers
        admin = KafkaAdminClient(**client)
        admin.create_topics([NewTopic("faults", 3, 1)])
        admin.close()
        producer = KafkaProducer(**client, acks="all", enable_idempotence=True)
        for n in range(200):
            producer.send("faults", json.dumps({"n": n}).encode())
        producer.flush()
        producer.close()

        killed = cluster.kill_broker()
        assert not cluster.running
        with pytest.raises(RuntimeError, match="not running"):
            cluster.kill_broker()
        restarted = cluster.restart_broker()
        assert restarted != killed and cluster.running
        with pytest.raises(RuntimeError, match="is running"):
            cluster.restart_broker()

        assert read_all(200) == list(range(200))
        producer = KafkaProducer(**client, acks="all", enable_idempotence=True)
        for n in range(200, 300):
            producer.send("faults", json.dumps({"n": n}).encode())
        producer.flush()
        producer.close()
        assert read_all(300) == list(range(300))  # offsets go on after the restart

    storage.release(arns)
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert S3BrokerStorage.bucket_for(arns) not in buckets
