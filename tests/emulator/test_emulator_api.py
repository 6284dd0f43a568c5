"""boto3 against a started extended moto server: the MSK, Lambda and Firehose additions."""

from __future__ import annotations

import json
import re
import socket
import ssl
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.control import dataplane_status

pytestmark = pytest.mark.integration  # they start a moto server

REGION = "eu-west-1"
ACCOUNT = "123456789012"
# The data plane serves every cluster's IAM listeners at its front door on loopback.
LOCAL_BROKER = re.compile(r"^127\.0\.0\.1:(?P<port>\d+)$")

Aws = Callable[[str], Any]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_cluster(aws: Aws, name: str, *, vpc_iam: bool = False, **extra: Any) -> str:
    node_group: dict[str, Any] = {
        "InstanceType": "kafka.m5.large",
        "ClientSubnets": ["subnet-a", "subnet-b", "subnet-c"],
        "SecurityGroups": ["sg-1"],
        "StorageInfo": {"EbsStorageInfo": {"VolumeSize": 100}},
    }
    args: dict[str, Any] = {
        "ClusterName": name,
        "KafkaVersion": "3.8.x",
        "NumberOfBrokerNodes": 3,
        "BrokerNodeGroupInfo": node_group,
        "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}},
        "EncryptionInfo": {"EncryptionInTransit": {"ClientBroker": "TLS", "InCluster": True}},
        **extra,
    }
    arn: str = aws("kafka").create_cluster(**args)["ClusterArn"]
    if vpc_iam:
        kafka = aws("kafka")
        version = kafka.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]["CurrentVersion"]
        kafka.update_connectivity(
            ClusterArn=arn,
            CurrentVersion=version,
            ConnectivityInfo={
                "VpcConnectivity": {"ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}}}
            },
        )
    return arn


# --- MSK configurations -----------------------------------------------------------------------


def test_configuration_create_describe_update_delete(aws: Aws) -> None:
    kafka = aws("kafka")
    name = unique("cfg")
    props = b"auto.create.topics.enable=false\ndefault.replication.factor=3\nmin.insync.replicas=2"
    created = kafka.create_configuration(
        Name=name, Description="first", KafkaVersions=["3.8.x"], ServerProperties=props
    )
    arn = created["Arn"]
    assert re.fullmatch(
        rf"arn:aws:kafka:{REGION}:{ACCOUNT}:configuration/{name}/[0-9a-f-]{{36}}-\d+", arn
    )
    assert created["LatestRevision"]["Revision"] == 1
    assert created["State"] == "ACTIVE"

    described = kafka.describe_configuration(Arn=arn)
    assert described["Name"] == name
    assert described["KafkaVersions"] == ["3.8.x"]
    assert described["LatestRevision"]["Description"] == "first"
    revision = kafka.describe_configuration_revision(Arn=arn, Revision=1)
    assert revision["ServerProperties"] == props

    updated = kafka.update_configuration(
        Arn=arn, Description="second", ServerProperties=props + b"\nlog.retention.hours=24"
    )
    assert updated["LatestRevision"]["Revision"] == 2
    revisions = kafka.list_configuration_revisions(Arn=arn)["Revisions"]
    assert [r["Revision"] for r in revisions] == [1, 2]
    assert arn in [c["Arn"] for c in kafka.list_configurations()["Configurations"]]

    with pytest.raises(ClientError) as dup:
        kafka.create_configuration(Name=name, KafkaVersions=["3.8.x"], ServerProperties=props)
    assert dup.value.response["Error"]["Code"] == "ConflictException"

    assert kafka.delete_configuration(Arn=arn)["State"] == "DELETING"
    with pytest.raises(ClientError) as gone:
        kafka.describe_configuration(Arn=arn)
    # AWS's answer for a deleted configuration; the provider's delete waiter relies on it.
    assert gone.value.response["Error"]["Code"] == "BadRequestException"
    assert "Configuration ARN does not exist" in gone.value.response["Error"]["Message"]


# --- MSK clusters -----------------------------------------------------------------------------


def test_cluster_arn_has_aws_form_and_cluster_becomes_active(aws: Aws) -> None:
    kafka = aws("kafka")
    name = unique("acme")
    created = kafka.create_cluster(
        ClusterName=name,
        KafkaVersion="3.8.x",
        NumberOfBrokerNodes=3,
        BrokerNodeGroupInfo={"InstanceType": "kafka.m5.large", "ClientSubnets": ["s-1"]},
    )
    arn = created["ClusterArn"]
    assert created["State"] == "CREATING"
    assert re.fullmatch(
        rf"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/{name}/[0-9a-f-]{{36}}-\d+", arn
    )

    info = kafka.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]
    assert info["State"] == "ACTIVE"
    assert kafka.describe_cluster(ClusterArn=arn)["ClusterInfo"]["State"] == "ACTIVE"
    provisioned = info["Provisioned"]
    assert provisioned["ZookeeperConnectString"].startswith(f"z-1.{name}.")
    assert provisioned["ZookeeperConnectString"].endswith(".amazonaws.com:2181")
    assert provisioned["EncryptionInfo"]["EncryptionAtRest"]["DataVolumeKMSKeyId"].startswith(
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/"
    )


def test_get_bootstrap_brokers_sasl_iam_and_vpc_connectivity(
    aws: Aws, emulator_server: Any
) -> None:
    kafka = aws("kafka")
    name = unique("acme")
    arn = create_cluster(aws, name)
    brokers = kafka.get_bootstrap_brokers(ClusterArn=arn)
    address = brokers["BootstrapBrokerStringSaslIam"]
    match = LOCAL_BROKER.match(address)
    assert match, address
    # Something real listens there: the front door answers a TLS handshake with the local CA.
    ca_file = dataplane_status(emulator_server.endpoint)["ca_certificate"]
    context = ssl.create_default_context(cafile=ca_file)
    with (
        socket.create_connection(("127.0.0.1", int(match["port"])), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version()
    # SASL/IAM over TLS only: no plaintext, TLS or SCRAM listener, no multi-VPC yet.
    assert {k for k in brokers if k.startswith("BootstrapBroker")} == {
        "BootstrapBrokerStringSaslIam"
    }

    version = kafka.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]["CurrentVersion"]
    update = kafka.update_connectivity(
        ClusterArn=arn,
        CurrentVersion=version,
        ConnectivityInfo={
            "VpcConnectivity": {"ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}}}
        },
    )
    operation = kafka.describe_cluster_operation(ClusterOperationArn=update["ClusterOperationArn"])
    assert operation["ClusterOperationInfo"]["OperationState"] == "UPDATE_COMPLETE"
    operation_v2 = kafka.describe_cluster_operation_v2(
        ClusterOperationArn=update["ClusterOperationArn"]
    )
    assert operation_v2["ClusterOperationInfo"]["OperationType"] == "UPDATE_CONNECTIVITY"
    info = kafka.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]
    assert info["CurrentVersion"] != version
    assert info["Provisioned"]["BrokerNodeGroupInfo"]["ConnectivityInfo"]["VpcConnectivity"]

    vpc = kafka.get_bootstrap_brokers(ClusterArn=arn)["BootstrapBrokerStringVpcConnectivitySaslIam"]
    assert vpc == address, "multi-VPC clients reach the same front door"

    with pytest.raises(ClientError) as stale:
        kafka.update_connectivity(ClusterArn=arn, CurrentVersion=version, ConnectivityInfo={})
    assert stale.value.response["Error"]["Code"] == "BadRequestException"


def test_bootstrap_listeners_follow_encryption_and_auth(aws: Aws) -> None:
    kafka = aws("kafka")
    arn = create_cluster(
        aws,
        unique("open"),
        ClientAuthentication={
            "Unauthenticated": {"Enabled": True},
            "Sasl": {"Scram": {"Enabled": True}},
        },
        EncryptionInfo={"EncryptionInTransit": {"ClientBroker": "TLS_PLAINTEXT"}},
    )
    brokers = kafka.get_bootstrap_brokers(ClusterArn=arn)
    ports = {
        key: {h.rsplit(":", 1)[1] for h in value.split(",")}
        for key, value in brokers.items()
        if key.startswith("BootstrapBroker")
    }
    assert ports == {
        "BootstrapBrokerString": {"9092"},
        "BootstrapBrokerStringTls": {"9094"},
        "BootstrapBrokerStringSaslScram": {"9096"},
    }


def test_cluster_policy_round_trip(aws: Aws) -> None:
    kafka = aws("kafka")
    arn = create_cluster(aws, unique("pol"))
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "firehose.amazonaws.com"},
                    "Action": [
                        "kafka:CreateVpcConnection",
                        "kafka:GetBootstrapBrokers",
                        "kafka:DescribeCluster",
                        "kafka:DescribeClusterV2",
                    ],
                    "Resource": arn,
                }
            ],
        }
    )
    with pytest.raises(ClientError) as none_yet:
        kafka.get_cluster_policy(ClusterArn=arn)
    assert none_yet.value.response["Error"]["Code"] == "NotFoundException"

    version = kafka.put_cluster_policy(ClusterArn=arn, Policy=policy)["CurrentVersion"]
    got = kafka.get_cluster_policy(ClusterArn=arn)
    assert got["Policy"] == policy
    assert got["CurrentVersion"] == version
    kafka.delete_cluster_policy(ClusterArn=arn)
    with pytest.raises(ClientError) as gone:
        kafka.get_cluster_policy(ClusterArn=arn)
    assert gone.value.response["Error"]["Code"] == "NotFoundException"


def test_delete_cluster_then_not_found(aws: Aws) -> None:
    kafka = aws("kafka")
    arn = create_cluster(aws, unique("gone"))
    assert kafka.delete_cluster(ClusterArn=arn)["State"] == "DELETING"
    for call in (kafka.describe_cluster, kafka.describe_cluster_v2, kafka.get_bootstrap_brokers):
        with pytest.raises(ClientError) as err:
            call(ClusterArn=arn)
        assert err.value.response["Error"]["Code"] == "NotFoundException"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# --- Lambda -----------------------------------------------------------------------------------


def create_function(aws: Aws, zip_bytes: bytes) -> str:
    iam = aws("iam")
    role = iam.create_role(
        RoleName=unique("fn-role"),
        AssumeRolePolicyDocument=json.dumps(
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
        ),
    )["Role"]["Arn"]
    arn: str = aws("lambda").create_function(
        FunctionName=unique("consumer"),
        Runtime="python3.13",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": zip_bytes},
    )["FunctionArn"]
    return arn


def test_a_retried_create_function_answers_as_the_first_and_only_that(
    aws: Aws, lambda_zip: bytes
) -> None:
    # A client retrying after a lost response sends the very same body: it gets the first
    # answer. Anything else naming an existing function is still ResourceConflictException.
    lam = aws("lambda")
    existing = lam.get_function(FunctionName=create_function(aws, lambda_zip))
    role_arn = existing["Configuration"]["Role"]
    request = {
        "FunctionName": unique("retried"),
        "Runtime": "python3.13",
        "Role": role_arn,
        "Handler": "handler.handler",
        "Code": {"ZipFile": lambda_zip},
    }
    first = lam.create_function(**request)
    again = lam.create_function(**request)
    assert again["FunctionArn"] == first["FunctionArn"]
    assert again["CodeSha256"] == first["CodeSha256"]
    with pytest.raises(ClientError) as conflict:
        lam.create_function(**{**request, "Handler": "handler.other"})
    assert conflict.value.response["Error"]["Code"] == "ResourceConflictException"


def test_invoke_runs_the_function_without_docker(aws: Aws, lambda_zip: bytes) -> None:
    function_arn = create_function(aws, lambda_zip)
    payload = json.dumps({"action": "seed", "topic": "acme-telemetry"}).encode()
    result = aws("lambda").invoke(FunctionName=function_arn, Payload=payload)
    assert result["StatusCode"] == 200
    assert "FunctionError" not in result
    assert result["Payload"].read() == payload


def test_kafka_event_source_mapping_lifecycle(aws: Aws, lambda_zip: bytes) -> None:
    lam = aws("lambda")
    cluster_arn = create_cluster(aws, unique("esm"))
    function_arn = create_function(aws, lambda_zip)

    created = lam.create_event_source_mapping(
        FunctionName=function_arn,
        EventSourceArn=cluster_arn,
        Topics=["acme-telemetry"],
        StartingPosition="LATEST",
        BatchSize=100,
        AmazonManagedKafkaEventSourceConfig={"ConsumerGroupId": "acme-consumer"},
    )
    uuid_ = created["UUID"]
    got = lam.get_event_source_mapping(UUID=uuid_)
    assert got["EventSourceArn"] == cluster_arn
    assert got["FunctionArn"] == function_arn
    assert got["Topics"] == ["acme-telemetry"]
    assert got["StartingPosition"] == "LATEST"
    assert got["BatchSize"] == 100
    assert got["AmazonManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": "acme-consumer"}
    assert got["State"] == "Enabled"

    listed = lam.list_event_source_mappings(EventSourceArn=cluster_arn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid_]

    with pytest.raises(ClientError) as dup:
        lam.create_event_source_mapping(
            FunctionName=function_arn,
            EventSourceArn=cluster_arn,
            Topics=["acme-telemetry"],
            StartingPosition="LATEST",
        )
    assert dup.value.response["Error"]["Code"] == "ResourceConflictException"

    updated = lam.update_event_source_mapping(UUID=uuid_, BatchSize=500, Enabled=False)
    assert updated["BatchSize"] == 500
    assert lam.get_event_source_mapping(UUID=uuid_)["State"] == "Disabled"

    lam.delete_event_source_mapping(UUID=uuid_)
    with pytest.raises(ClientError) as gone:
        lam.get_event_source_mapping(UUID=uuid_)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_kafka_event_source_mapping_defaults_and_rejections(aws: Aws, lambda_zip: bytes) -> None:
    lam = aws("lambda")
    cluster_arn = create_cluster(aws, unique("esm"))
    function_arn = create_function(aws, lambda_zip)

    created = lam.create_event_source_mapping(
        FunctionName=function_arn,
        EventSourceArn=cluster_arn,
        Topics=["other"],
        StartingPosition="TRIM_HORIZON",
    )
    assert created["BatchSize"] == 100
    # AWS names the consumer group after the mapping when none is given.
    assert created["AmazonManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": created["UUID"]}
    lam.delete_event_source_mapping(UUID=created["UUID"])

    missing_cluster = cluster_arn.rsplit("/", 1)[0] + f"/{uuid.uuid4()}-2"
    bad_calls: list[tuple[dict[str, Any], str]] = [
        ({"EventSourceArn": missing_cluster}, "ResourceNotFoundException"),
        ({"Topics": None}, "InvalidParameterValueException"),
        ({"Topics": ["a", "b"]}, "InvalidParameterValueException"),
        ({"StartingPosition": None}, "InvalidParameterValueException"),
        ({"BatchSize": 10_001}, "InvalidParameterValueException"),
    ]
    for override, code in bad_calls:
        args: dict[str, Any] = {
            "FunctionName": function_arn,
            "EventSourceArn": cluster_arn,
            "Topics": ["t"],
            "StartingPosition": "LATEST",
            **override,
        }
        with pytest.raises(ClientError) as err:
            lam.create_event_source_mapping(**{k: v for k, v in args.items() if v is not None})
        assert err.value.response["Error"]["Code"] == code, override


# --- Firehose ---------------------------------------------------------------------------------


def test_firehose_keeps_msk_source(aws: Aws) -> None:
    firehose = aws("firehose")
    cluster_arn = create_cluster(aws, unique("fh"), vpc_iam=True)
    role = f"arn:aws:iam::{ACCOUNT}:role/firehose"
    name = unique("raw")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    msk_source = {
        "MSKClusterARN": cluster_arn,
        "TopicName": "acme-telemetry",
        "AuthenticationConfiguration": {"RoleARN": role, "Connectivity": "PRIVATE"},
        "ReadFromTimestamp": start,
    }
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="MSKAsSource",
        MSKSourceConfiguration=msk_source,
        ExtendedS3DestinationConfiguration={
            "RoleARN": role,
            "BucketARN": "arn:aws:s3:::acme-raw",
            "Prefix": "telemetry/year=!{timestamp:yyyy}/",
            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
            "CompressionFormat": "GZIP",
            "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 5},
        },
    )
    description = firehose.describe_delivery_stream(DeliveryStreamName=name)
    stream = description["DeliveryStreamDescription"]
    assert stream["DeliveryStreamType"] == "MSKAsSource"
    source = stream["Source"]["MSKSourceDescription"]
    assert source["MSKClusterARN"] == cluster_arn
    assert source["TopicName"] == "acme-telemetry"
    assert source["AuthenticationConfiguration"] == {"RoleARN": role, "Connectivity": "PRIVATE"}
    assert source["ReadFromTimestamp"] == start
    assert source["DeliveryStartTimestamp"] == start

    firehose.delete_delivery_stream(DeliveryStreamName=name)

    with pytest.raises(ClientError) as err:
        firehose.create_delivery_stream(
            DeliveryStreamName=unique("bad"),
            DeliveryStreamType="DirectPut",
            MSKSourceConfiguration=msk_source,
            ExtendedS3DestinationConfiguration={"RoleARN": role, "BucketARN": "arn:aws:s3:::b"},
        )
    assert err.value.response["Error"]["Code"] == "InvalidArgumentException"


# --- Reset (keep last: it empties the module's server) -----------------------------------------


def test_reset_empties_extensions_and_stops_brokers_but_keeps_lambda(
    aws: Aws, lambda_zip: bytes, emulator_server: Any
) -> None:
    kafka = aws("kafka")
    create_cluster(aws, unique("reset"))
    assert dataplane_status(emulator_server.endpoint)["brokers"]
    kafka.create_configuration(
        Name=unique("reset"), KafkaVersions=["3.8.x"], ServerProperties=b"a=b"
    )
    request = urllib.request.Request(f"{emulator_server.endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 200
    assert kafka.list_clusters_v2()["ClusterInfoList"] == []
    assert kafka.list_configurations()["Configurations"] == []
    assert dataplane_status(emulator_server.endpoint)["brokers"] == []
    function_arn = create_function(aws, lambda_zip)
    echoed = aws("lambda").invoke(FunctionName=function_arn, Payload=b'{"still": "echo"}')
    assert echoed["Payload"].read() == b'{"still": "echo"}'


def test_group_referencing_rule_keeps_its_description(aws: Aws) -> None:
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    brokers = ec2.create_security_group(GroupName="b", Description="b", VpcId=vpc)["GroupId"]
    clients = ec2.create_security_group(GroupName="c", Description="c", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=brokers,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 9098,
                "ToPort": 9098,
                "UserIdGroupPairs": [{"GroupId": clients, "Description": "from clients"}],
            }
        ],
    )
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [brokers]}])[
        "SecurityGroupRules"
    ]
    ingress = [r for r in rules if not r["IsEgress"]]
    assert [r["Description"] for r in ingress] == ["from clients"]


def test_named_query_can_be_deleted_and_is_then_gone(aws: Aws) -> None:
    athena = aws("athena")
    athena.create_work_group(Name="wg-delete", Tags=[{"Key": "k", "Value": "v"}])
    query_id = athena.create_named_query(
        Name="q", Database="db", QueryString="SELECT 1", WorkGroup="wg-delete"
    )["NamedQueryId"]
    assert athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]["Name"] == "q"
    athena.delete_named_query(NamedQueryId=query_id)
    for call in (athena.get_named_query, athena.delete_named_query):
        with pytest.raises(athena.exceptions.InvalidRequestException, match="does not exist"):
            call(NamedQueryId=query_id)


def test_named_queries_are_read_in_a_batch_with_unknown_ids_reported(aws: Aws) -> None:
    athena = aws("athena")
    athena.create_work_group(Name="wg-batch")
    ids = [
        athena.create_named_query(
            Name=name,
            Description=f"the {name} one",
            Database="db",
            QueryString=f"SELECT '{name}'",
            WorkGroup="wg-batch",
        )["NamedQueryId"]
        for name in ("first", "second")
    ]
    answer = athena.batch_get_named_query(NamedQueryIds=[*ids, "no-such-id"])
    assert [q["Name"] for q in answer["NamedQueries"]] == ["first", "second"]
    assert answer["NamedQueries"][1] == {
        "Name": "second",
        "Description": "the second one",
        "Database": "db",
        "QueryString": "SELECT 'second'",
        "NamedQueryId": ids[1],
        "WorkGroup": "wg-batch",
    }
    assert answer["UnprocessedNamedQueryIds"] == [
        {
            "NamedQueryId": "no-such-id",
            "ErrorCode": "INVALID_INPUT",
            "ErrorMessage": "NamedQuery no-such-id does not exist",
        }
    ]


def test_a_tls_only_bucket_policy_lets_requests_through_as_over_tls(aws: Aws) -> None:
    s3 = aws("s3")
    bucket = unique("tls-only")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    deny_plain_http = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    deny_all_but_true = {**deny_plain_http, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny_plain_http]}),
    )
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"x"
    # The condition is really evaluated: one that matches the request context denies.
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny_all_but_true]}),
    )
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="a")


def test_cluster_creation_follows_moto_state_manager(aws: Aws, emulator_server: Any) -> None:
    transition = {
        "model_name": "kafka::cluster",
        "transition": {"progression": "manual", "times": 3},
    }
    request = urllib.request.Request(
        f"{emulator_server.endpoint}/moto-api/state-manager/set-transition",
        data=json.dumps(transition).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()
    try:
        arn = create_cluster(aws, unique("slow"))
        kafka = aws("kafka")
        states = [kafka.describe_cluster(ClusterArn=arn)["ClusterInfo"]["State"] for _ in range(3)]
        assert states == ["CREATING", "CREATING", "ACTIVE"]
    finally:
        unset = urllib.request.Request(
            f"{emulator_server.endpoint}/moto-api/state-manager/unset-transition",
            data=json.dumps({"model_name": "kafka::cluster"}).encode(),
            method="POST",
        )
        urllib.request.urlopen(unset, timeout=10).close()
