"""Emulated identities: role credentials, key lookup and identity-policy decisions (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from emulator.dataplane.credentials import IamPolicyAuthorizer, MotoIdentities

TOPIC = "arn:aws:kafka:us-west-2:123456789012:topic/acme/abc-1/acme-telemetry"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@pytest.fixture
def role_arn() -> Iterator[str]:
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        arn = iam.create_role(RoleName="producer-role", AssumeRolePolicyDocument=json.dumps(TRUST))[
            "Role"
        ]["Arn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "kafka-cluster:WriteData", "Resource": TOPIC},
                {"Effect": "Allow", "Action": "kafka-cluster:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "kafka-cluster:DeleteTopic", "Resource": "*"},
            ],
        }
        iam.put_role_policy(
            RoleName="producer-role", PolicyName="least", PolicyDocument=json.dumps(policy)
        )
        yield arn


def test_role_credentials_are_found_again_by_their_key(role_arn: str) -> None:
    identities = MotoIdentities()
    credentials = identities.for_role(role_arn)
    assert credentials.session_token
    assert credentials.principal_arn.startswith(
        "arn:aws:sts::123456789012:assumed-role/producer-role/"
    )
    assert identities.for_role(role_arn) == credentials, "cached until near expiry"
    found = identities.lookup(credentials.access_key_id)
    assert found is not None
    assert found.secret_access_key == credentials.secret_access_key
    assert found.principal_arn == credentials.principal_arn
    assert identities.lookup("AKIANOBODYISSUEDTHIS") is None
    static = identities.lookup("testing")
    assert static is not None and static.principal_arn == "arn:aws:iam::123456789012:root"
    assert credentials.environment()["AWS_SESSION_TOKEN"] == credentials.session_token


def test_identity_policies_decide_with_explicit_deny_first(role_arn: str) -> None:
    identities = MotoIdentities()
    authorizer = IamPolicyAuthorizer(identities.policies)
    principal = identities.for_role(role_arn).principal_arn
    assert authorizer.is_allowed(principal, "kafka-cluster:WriteData", TOPIC)
    assert authorizer.is_allowed(principal, "kafka-cluster:ReadData", TOPIC)
    assert not authorizer.is_allowed(principal, "kafka-cluster:DeleteTopic", TOPIC)
    assert not authorizer.is_allowed(principal, "s3:GetObject", "arn:aws:s3:::bucket/key")
    root = "arn:aws:iam::123456789012:root"
    assert authorizer.is_allowed(root, "s3:GetObject", "arn:aws:s3:::bucket/key")
