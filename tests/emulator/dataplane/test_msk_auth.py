"""MSK IAM token verification, cluster ARNs, and policy evaluation (no broker, no server)."""

from __future__ import annotations

import base64
import datetime
import functools
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import boto3
import pytest
from moto import mock_aws

from emulator.dataplane.credentials import Credentials as Known
from emulator.dataplane.credentials import IamPolicyAuthorizer, MotoIdentities
from emulator.dataplane.msk_auth import ClusterArns, TokenRejected, verify_token
from stacks.kafka_arns import KafkaArns
from tests.support import msk_front_door as front_door
from tests.support.msk_front_door import ACCOUNT, CLUSTER_ARN, REGION

USER = f"arn:aws:iam::{ACCOUNT}:user/dev"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/producer/lambda"
SIGNED_AT = datetime.datetime(2026, 11, 30, 12, 0, 0, tzinfo=datetime.UTC)


# Tokens from the real MSK signer, signed at SIGNED_AT unless told otherwise.
sign = functools.partial(front_door.sign, at=SIGNED_AT)


KEYS = {
    "AKIAUSER": Known("AKIAUSER", "user-secret", None, USER),
    "ASIASESSION": Known("ASIASESSION", "session-secret", "session-token", SESSION),
}


def lookup(access_key_id: str) -> Known | None:
    return KEYS.get(access_key_id)


def verify(token: str, **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "region": REGION,
        "credentials": lookup,
        "now": SIGNED_AT + datetime.timedelta(seconds=30),
    }
    options.update(kwargs)
    return verify_token(token, **options)


def retoken(token: str, **changes: str) -> str:
    """The token with query parameters changed (as an attacker or a buggy client would)."""
    url = urlsplit(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
    params = dict(parse_qsl(url.query, keep_blank_values=True))
    params.update(changes)
    changed = urlunsplit(url._replace(query=urlencode(params)))
    return base64.urlsafe_b64encode(changed.encode()).decode().rstrip("=")


def test_tokens_of_the_real_signer_verify() -> None:
    verified = verify(sign("AKIAUSER", "user-secret"))
    assert verified.principal_arn == USER
    assert verified.access_key_id == "AKIAUSER"
    assert verified.signed_at == SIGNED_AT
    assert verified.expires_at == SIGNED_AT + datetime.timedelta(seconds=900)
    assert verified.lifetime_ms(SIGNED_AT + datetime.timedelta(seconds=30)) == 870_000
    session = verify(sign("ASIASESSION", "session-secret", "session-token"))
    assert session.principal_arn == SESSION


@pytest.mark.parametrize(
    ("token", "options", "reason"),
    [
        (lambda: sign("AKIAUSER", "not-the-secret"), {}, "signature does not match"),
        (lambda: sign("AKIAUNKNOWN", "x"), {}, "not known to the emulated IAM"),
        (lambda: sign("ASIASESSION", "session-secret", "stolen"), {}, "security token"),
        (lambda: sign("ASIASESSION", "session-secret"), {}, "lacks its X-Amz-Security-Token"),
        (lambda: sign("AKIAUSER", "user-secret", "extra"), {}, "security token"),
        (lambda: sign("AKIAUSER", "user-secret", region="us-east-1"), {}, "wrong region"),
        (
            lambda: sign("AKIAUSER", "user-secret"),
            {"now": SIGNED_AT + datetime.timedelta(seconds=900)},
            "expired at 2026-11-30T12:15:00Z",
        ),
        (
            lambda: sign("AKIAUSER", "user-secret"),
            {"now": SIGNED_AT - datetime.timedelta(minutes=6)},
            "signed in the future",
        ),
        # Parameters are covered by the signature: a longer life or another action fails.
        (
            lambda: retoken(sign("AKIAUSER", "user-secret"), **{"X-Amz-Expires": "86400"}),
            {},
            "signature does not match",
        ),
        (
            lambda: retoken(sign("AKIAUSER", "user-secret"), Action="kafka-cluster:WriteData"),
            {},
            "not kafka-cluster:Connect",
        ),
        (lambda: "not base64 at all!", {}, "not an MSK IAM token"),
        (lambda: base64.b64encode(b"https://example.com/").decode(), {}, "not https://kafka"),
    ],
)
def test_bad_tokens_are_rejected_with_the_reason(
    token: Any, options: dict[str, Any], reason: str
) -> None:
    with pytest.raises(TokenRejected, match=reason):
        verify(token(), **options)


def test_cluster_arns_match_the_stacks_policy_arns() -> None:
    arns = ClusterArns(CLUSTER_ARN)
    assert (arns.region, arns.account_id, arns.partition) == (REGION, ACCOUNT, "aws")
    assert arns.cluster_name == "acme-msk"
    stacks = KafkaArns(
        partition="aws",
        region=REGION,
        account_id=ACCOUNT,
        cluster_name=arns.cluster_name,
        cluster_uuid=arns.cluster_uuid,
    )
    assert arns.topic("acme-telemetry") == stacks.topic("acme-telemetry")
    assert arns.group("dashboard") == stacks.group("dashboard")
    assert arns.cluster_uuid == "5f3c2a1e-0b9d-4c7e-8a6f-1d2e3f4a5b6c-2"
    for bad in ("arn:aws:kafka:eu-west-1:1:cluster/only-name", "arn:aws:s3:::bucket", ""):
        with pytest.raises(ValueError, match="not an MSK cluster ARN"):
            ClusterArns(bad)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_policy_evaluation_allow_deny_and_implicit_deny() -> None:
    arns = ClusterArns(CLUSTER_ARN)
    documents = {
        SESSION: [
            policy(
                {"Effect": "Allow", "Action": "kafka-cluster:Connect", "Resource": CLUSTER_ARN},
                {
                    "Effect": "Allow",
                    "Action": ["kafka-cluster:WriteData", "kafka-cluster:DescribeTopic"],
                    "Resource": arns.topic("*"),
                },
            ),
            policy(
                {"Effect": "Deny", "Action": "kafka-cluster:*", "Resource": arns.topic("secret")}
            ),
        ]
    }
    authorizer = IamPolicyAuthorizer(lambda principal: documents.get(principal, []))
    assert authorizer.is_allowed(SESSION, "kafka-cluster:Connect", CLUSTER_ARN)
    assert authorizer.is_allowed(SESSION, "kafka-cluster:WriteData", arns.topic("events"))
    assert not authorizer.is_allowed(SESSION, "kafka-cluster:WriteData", arns.topic("secret"))
    assert not authorizer.is_allowed(SESSION, "kafka-cluster:ReadData", arns.topic("events"))
    assert not authorizer.is_allowed(USER, "kafka-cluster:Connect", CLUSTER_ARN)


def test_policies_are_refetched_after_the_refresh_interval() -> None:
    now = [0.0]
    documents: list[str] = []
    authorizer = IamPolicyAuthorizer(lambda _: list(documents), clock=lambda: now[0])
    assert not authorizer.is_allowed(USER, "kafka-cluster:Connect", CLUSTER_ARN)
    documents.append(policy({"Effect": "Allow", "Action": "kafka-cluster:*", "Resource": "*"}))
    assert not authorizer.is_allowed(USER, "kafka-cluster:Connect", CLUSTER_ARN)  # cached
    now[0] = 1.5
    assert authorizer.is_allowed(USER, "kafka-cluster:Connect", CLUSTER_ARN)


@pytest.fixture
def moto_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    with mock_aws():
        yield


def test_moto_identities_read_sessions_users_and_their_policies(moto_models: None) -> None:
    iam = boto3.client("iam", region_name=REGION)
    sts = boto3.client("sts", region_name=REGION)
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    )
    role = iam.create_role(RoleName="producer", AssumeRolePolicyDocument=trust)["Role"]
    connect = policy(
        {"Effect": "Allow", "Action": "kafka-cluster:Connect", "Resource": CLUSTER_ARN}
    )
    iam.put_role_policy(RoleName="producer", PolicyName="connect", PolicyDocument=connect)
    managed = iam.create_policy(
        PolicyName="write",
        PolicyDocument=policy(
            {"Effect": "Allow", "Action": "kafka-cluster:WriteData", "Resource": "*"}
        ),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="producer", PolicyArn=managed)
    session = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="lambda")["Credentials"]

    iam.create_user(UserName="dev")
    iam.put_user_policy(UserName="dev", PolicyName="connect", PolicyDocument=connect)
    key = iam.create_access_key(UserName="dev")["AccessKey"]

    identities = MotoIdentities()
    credentials, policies = identities.lookup, identities.policies
    found = credentials(session["AccessKeyId"])
    assert found is not None
    assert (found.secret_access_key, found.session_token, found.principal_arn) == (
        session["SecretAccessKey"],
        session["SessionToken"],
        SESSION,
    )
    assert credentials(key["AccessKeyId"]) == Known(
        key["AccessKeyId"], key["SecretAccessKey"], None, USER
    )
    assert credentials("AKIANOBODY") is None

    authorizer = IamPolicyAuthorizer(policies)
    arns = ClusterArns(CLUSTER_ARN)
    assert authorizer.is_allowed(SESSION, "kafka-cluster:Connect", CLUSTER_ARN)
    assert authorizer.is_allowed(SESSION, "kafka-cluster:WriteData", arns.topic("t"))
    assert not authorizer.is_allowed(SESSION, "kafka-cluster:ReadData", arns.topic("t"))
    assert authorizer.is_allowed(USER, "kafka-cluster:Connect", CLUSTER_ARN)
    assert not authorizer.is_allowed(USER, "kafka-cluster:WriteData", arns.topic("t"))

    # A token signed now with the session's credentials verifies against moto's models.
    token = sign(
        session["AccessKeyId"],
        session["SecretAccessKey"],
        session["SessionToken"],
        at=datetime.datetime.now(datetime.UTC),
    )
    assert verify_token(token, region=REGION, credentials=credentials).principal_arn == SESSION
