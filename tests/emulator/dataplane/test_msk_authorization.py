"""Per-request authorization against the caller's IAM policies (kafka-cluster actions).

Unit tests drive msk_authz with kafka-python messages and a fake gate; integration tests run
the deployed handlers against a cluster whose principals hold the platform's policies, less
one grant at a time, and expect the Kafka error AWS would give.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from kafka.protocol.consumer import HeartbeatRequest, HeartbeatResponse
from kafka.protocol.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.producer import (
    InitProducerIdRequest,
    InitProducerIdResponse,
    ProduceRequest,
    ProduceResponse,
)
from moto import mock_aws

from emulator.dataplane import msk_authz
from emulator.dataplane.credentials import Credentials, IamPolicyAuthorizer, MotoIdentities
from emulator.dataplane.msk import LocalMskCluster, MskClusterSettings
from emulator.dataplane.msk_auth import ClusterArns
from emulator.dataplane.supervisor import Supervisor
from emulator.dataplane.tls import TlsFiles
from tests.support.msk_front_door import ACCOUNT, CLUSTER_ARN, REGION, TOPIC, run_worker

ARNS = ClusterArns(CLUSTER_ARN)


# --- unit: what a denial does to a request and its answer ---------------------------------------


class FakeGate:
    def __init__(self, denied: set[tuple[str, str]]) -> None:
        self.denied = denied
        self.names: dict[uuid.UUID, str] = {}

    @property
    def arns(self) -> ClusterArns:
        return ARNS

    def allowed(self, action: str, resource_arn: str) -> bool:
        return (action, resource_arn) not in self.denied

    def topic_name(self, topic_id: uuid.UUID) -> str | None:
        return self.names.get(topic_id)

    def learn_topics(self, names_by_id: dict[uuid.UUID, str]) -> None:
        self.names.update(names_by_id)


def roundtrip(request: Any) -> Any:
    """The request as the front door sees it: encoded by a client, decoded from bytes."""
    request.with_header(correlation_id=42, client_id="unit")
    payload = bytes(request.encode(header=True))
    return msk_authz.decode_request(int(request.API_KEY), request.API_VERSION, payload)


def produce_request(topics: list[str], acks: int = -1) -> Any:
    data = ProduceRequest.TopicProduceData
    partition = data.PartitionProduceData
    return roundtrip(
        ProduceRequest(
            version=9,
            transactional_id=None,
            acks=acks,
            timeout_ms=1000,
            topic_data=[
                data(name=t, partition_data=[partition(index=0, records=b"batch")]) for t in topics
            ],
        )
    )


def broker_produce_answer(topics: list[str]) -> bytes:
    topic_class = ProduceResponse.TopicProduceResponse
    partition = topic_class.PartitionProduceResponse
    response = ProduceResponse(
        version=9,
        responses=[
            topic_class(
                name=t, partition_responses=[partition(index=0, error_code=0, base_offset=7)]
            )
            for t in topics
        ],
    )
    response.with_header(correlation_id=42)
    return bytes(response.encode(header=True))


def decode_frame(response_class: Any, version: int, frame: bytes) -> Any:
    return response_class.decode(frame[4:], version=version, header=True)


def test_a_produce_to_a_denied_topic_is_taken_out_and_answered_with_its_error() -> None:
    gate = FakeGate({(msk_authz.WRITE_DATA, ARNS.topic("secret"))})
    verdict = msk_authz.authorize(produce_request(["events", "secret"]), gate)
    assert verdict.payload is not None and verdict.rewrite is not None
    forwarded = msk_authz.decode_request(0, 9, verdict.payload)
    assert [t.name for t in forwarded.topic_data] == ["events"]  # the broker never sees it
    assert forwarded.header.correlation_id == 42
    answer = decode_frame(ProduceResponse, 9, verdict.rewrite(broker_produce_answer(["events"])))
    errors = {t.name: t.partition_responses[0].error_code for t in answer.responses}
    assert errors == {"events": 0, "secret": msk_authz.TOPIC_AUTHORIZATION_FAILED}
    assert answer.header.correlation_id == 42


def test_a_fully_denied_produce_is_answered_here_or_closes_with_acks_0() -> None:
    gate = FakeGate({(msk_authz.WRITE_DATA, ARNS.topic("secret"))})
    verdict = msk_authz.authorize(produce_request(["secret"]), gate)
    assert verdict.local is not None and verdict.payload is None
    answer = decode_frame(ProduceResponse, 9, verdict.local)
    assert answer.responses[0].partition_responses[0].error_code == 29
    assert msk_authz.authorize(produce_request(["secret"], acks=0), gate).close
    assert msk_authz.authorize(produce_request(["events"]), gate) == msk_authz.FORWARD


def test_metadata_hides_denied_topics_from_a_listing_and_flags_named_ones() -> None:
    gate = FakeGate(
        {
            (msk_authz.DESCRIBE_TOPIC, ARNS.topic("secret")),
            (msk_authz.CREATE_TOPIC, ARNS.topic("secret")),
        }
    )
    topic_class = MetadataResponse.MetadataResponseTopic
    ids = {name: uuid.uuid4() for name in ("events", "secret")}
    response = MetadataResponse(
        version=12,
        brokers=[],
        topics=[
            topic_class(name=name, topic_id=topic_id, error_code=0, partitions=[])
            for name, topic_id in ids.items()
        ],
    )
    response.with_header(correlation_id=42)
    answer = bytes(response.encode(header=True))

    listing = msk_authz.authorize(roundtrip(MetadataRequest(version=12, topics=None)), gate)
    assert listing.rewrite is not None
    listed = decode_frame(MetadataResponse, 12, listing.rewrite(answer))
    assert [t.name for t in listed.topics] == ["events"]
    assert gate.names == {v: k for k, v in ids.items()}  # ids learnt for Fetch v13+

    named_request = MetadataRequest(
        version=12,
        topics=[MetadataRequest.MetadataRequestTopic(name=n) for n in ids],
        allow_auto_topic_creation=True,
    )
    named = msk_authz.authorize(roundtrip(named_request), gate)
    assert named.payload is not None  # auto-creation switched off: no CreateTopic grant
    assert not msk_authz.decode_request(3, 12, named.payload).allow_auto_topic_creation
    assert named.rewrite is not None
    flagged = decode_frame(MetadataResponse, 12, named.rewrite(answer))
    assert {t.name: t.error_code for t in flagged.topics} == {"events": 0, "secret": 29}


def test_group_calls_and_idempotent_producer_ids_are_checked_as_a_whole() -> None:
    gate = FakeGate(
        {
            (msk_authz.ALTER_GROUP, ARNS.group("g")),
            (msk_authz.WRITE_DATA_IDEMPOTENTLY, CLUSTER_ARN),
        }
    )
    heartbeat = HeartbeatRequest(version=4, group_id="g", generation_id=1, member_id="m")
    verdict = msk_authz.authorize(roundtrip(heartbeat), gate)
    assert verdict.local is not None
    answer = decode_frame(HeartbeatResponse, 4, verdict.local)
    assert answer.error_code == msk_authz.GROUP_AUTHORIZATION_FAILED
    init = InitProducerIdRequest(version=4, transactional_id=None, transaction_timeout_ms=1)
    denied = msk_authz.authorize(roundtrip(init), gate)
    assert denied.local is not None
    refused = decode_frame(InitProducerIdResponse, 4, denied.local)
    assert (refused.error_code, refused.producer_id) == (msk_authz.CLUSTER_AUTHORIZATION_FAILED, -1)
    assert msk_authz.authorize(roundtrip(heartbeat), FakeGate(set())) == msk_authz.FORWARD


# --- integration: the deployed handlers against the platform's policies -------------------------


def policy(*statements: tuple[tuple[str, ...], str]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": list(actions), "Resource": resource}
                for actions, resource in statements
            ],
        }
    )


CONNECT = ("kafka-cluster:Connect",)
TOPIC_ARN = ARNS.topic(TOPIC)
GROUPS = ARNS.group("*")
# The grants of stacks/msk.py (topic admin), stacks/data_gen.py (producer) and
# stacks/dashboard.py (reader), each principal also in a variant missing one grant.
Grant = tuple[tuple[str, ...], str]
GRANTS: dict[str, list[Grant]] = {
    "admin": [
        (("kafka-cluster:Connect", "kafka-cluster:DescribeCluster"), CLUSTER_ARN),
        (("kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopic"), TOPIC_ARN),
    ],
    "admin-no-create": [(CONNECT, CLUSTER_ARN), (("kafka-cluster:DescribeTopic",), TOPIC_ARN)],
    "producer": [
        (("kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"), CLUSTER_ARN),
        (("kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"), TOPIC_ARN),
    ],
    "producer-no-write": [
        (("kafka-cluster:Connect", "kafka-cluster:WriteDataIdempotently"), CLUSTER_ARN),
        (("kafka-cluster:DescribeTopic",), TOPIC_ARN),
    ],
    "producer-no-connect": [
        (("kafka-cluster:WriteDataIdempotently",), CLUSTER_ARN),
        (("kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"), TOPIC_ARN),
    ],
    "reader": [
        (CONNECT, CLUSTER_ARN),
        (("kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"), TOPIC_ARN),
        (("kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"), GROUPS),
    ],
    "reader-no-read": [
        (CONNECT, CLUSTER_ARN),
        (("kafka-cluster:DescribeTopic",), TOPIC_ARN),
        (("kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"), GROUPS),
    ],
}


def principal(name: str) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/lambda"


def key_of(name: str) -> str:
    return "ASIA" + name.upper().replace("-", "")


CREDENTIALS = {
    key_of(name): Credentials(key_of(name), f"{name}-secret", f"{name}-session", principal(name))
    for name in GRANTS
}
POLICIES = {principal(name): [policy(*grants)] for name, grants in GRANTS.items()}


@pytest.fixture(scope="module")
def cluster(tls: TlsFiles, cluster_supervisor: Supervisor) -> Iterator[LocalMskCluster]:
    local = LocalMskCluster(
        MskClusterSettings(cluster_arn=CLUSTER_ARN, tls=tls),
        credentials=CREDENTIALS.get,
        authorizer=IamPolicyAuthorizer(lambda arn: POLICIES.get(arn, [])),
        supervisor=cluster_supervisor,
    )
    with local:
        yield local


def as_principal(cluster: LocalMskCluster, tls: TlsFiles, name: str, command: dict[str, Any]):
    return run_worker(
        cluster.bootstrap_brokers,
        tls,
        command,
        access_key=key_of(name),
        secret=f"{name}-secret",
        session_token=f"{name}-session",
    )


@pytest.mark.integration
def test_the_platform_policies_are_enough_and_each_missing_grant_fails(
    cluster: LocalMskCluster, tls: TlsFiles
) -> None:
    # Topic admin without CreateTopic: TOPIC_AUTHORIZATION_FAILED from CreateTopics.
    refused = as_principal(cluster, tls, "admin-no-create", {"do": "create_topic", "topic": TOPIC})
    assert refused.output.get("error") == "TopicAuthorizationFailedError", refused.output
    assert "kafka-cluster:CreateTopic denied" in refused.output["message"]
    created = as_principal(cluster, tls, "admin", {"do": "create_topic", "topic": TOPIC})
    assert created.ok == {"topic": TOPIC, "created": True}

    # Producer without WriteData: the send fails with TOPIC_AUTHORIZATION_FAILED.
    no_write = as_principal(cluster, tls, "producer-no-write", {"do": "produce", "count": 5})
    assert no_write.output.get("error") == "PublishError", no_write.output
    assert "TopicAuthorizationFailedError" in no_write.output["message"]
    # Producer without Connect: refused at authentication.
    no_connect = as_principal(
        cluster, tls, "producer-no-connect", {"do": "produce", "count": 5, "timeout": 6}
    )
    assert no_connect.output.get("error") == "KafkaTimeoutError"
    assert "is not allowed kafka-cluster:Connect" in no_connect.stderr
    produced = as_principal(cluster, tls, "producer", {"do": "produce", "count": 40}).ok
    assert produced["published"] == 40

    # Reader without ReadData: the fetch answers TOPIC_AUTHORIZATION_FAILED.
    no_read = as_principal(
        cluster, tls, "reader-no-read", {"do": "consume", "topic": TOPIC, "expected": 40}
    )
    assert no_read.output.get("error") == "TopicAuthorizationFailedError", no_read.output
    read = as_principal(cluster, tls, "reader", {"do": "consume", "topic": TOPIC, "expected": 40})
    assert read.ok["event_ids"] == produced["event_ids"]


@pytest.fixture
def moto_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    with mock_aws():
        yield


@pytest.mark.integration
def test_moto_roles_and_policies_decide(
    moto_models: None, tls: TlsFiles, cluster_supervisor: Supervisor
) -> None:
    """A Lambda role in moto's IAM: its session's token authenticates, its policies decide;
    a Deny added while the cluster runs applies to the next request."""
    iam = boto3.client("iam", region_name=REGION)
    sts = boto3.client("sts", region_name=REGION)
    trust = json.dumps(
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
    role = iam.create_role(RoleName="telemetry-producer", AssumeRolePolicyDocument=trust)
    iam.put_role_policy(
        RoleName="telemetry-producer",
        PolicyName="kafka",
        PolicyDocument=policy(*GRANTS["producer"], *GRANTS["admin"]),
    )
    session = sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="lambda")
    keys = session["Credentials"]
    identities = MotoIdentities()
    local = LocalMskCluster(
        MskClusterSettings(cluster_arn=CLUSTER_ARN, tls=tls),
        credentials=identities.lookup,
        authorizer=IamPolicyAuthorizer(identities.policies, refresh_seconds=0),
        supervisor=cluster_supervisor,
    )

    def run(command: dict[str, Any]):
        return run_worker(
            local.bootstrap_brokers,
            tls,
            command,
            access_key=keys["AccessKeyId"],
            secret=keys["SecretAccessKey"],
            session_token=keys["SessionToken"],
        )

    with local:
        assert run({"do": "create_topic", "topic": TOPIC}).ok["created"] is True
        assert run({"do": "produce", "count": 10}).ok["published"] == 10
        deny = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "kafka-cluster:WriteData", "Resource": "*"}],
        }
        iam.put_role_policy(
            RoleName="telemetry-producer", PolicyName="deny", PolicyDocument=json.dumps(deny)
        )
        denied = run({"do": "produce", "count": 10})
        assert denied.output.get("error") == "PublishError", denied.output
        assert "TopicAuthorizationFailedError" in denied.output["message"]
