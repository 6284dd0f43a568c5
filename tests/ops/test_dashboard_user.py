"""make dashboard-user: a user the platform team creates signs in, and the authorizer takes
the access token moto's Cognito issued (signature checked against moto's own JWKS)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
from moto import mock_aws
from moto.utilities.utils import load_resource

from ops.local import create_dashboard_user

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "handlers" / "ws_authorizer"))
import ws_authorizer

REGION = "us-west-2"
PASSWORD = "Correct-Horse-42"


@pytest.fixture
def cognito(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("cognito-idp", region_name=REGION)


def pool_and_client(cognito: Any) -> tuple[str, str]:
    pool = cognito.create_user_pool(
        PoolName="dashboard-users",
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
    )["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool,
        ClientName="dashboard-page",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    return pool, client


def test_a_created_user_signs_in_and_the_authorizer_allows_the_access_token(
    cognito: Any,
) -> None:
    pool, client = pool_and_client(cognito)
    create_dashboard_user(cognito, pool, "alice", PASSWORD)
    user = cognito.admin_get_user(UserPoolId=pool, Username="alice")
    assert user["UserStatus"] == "CONFIRMED"  # no password change at first sign-in
    tokens = cognito.initiate_auth(
        ClientId=client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]

    keys = jwt.PyJWKSet.from_dict(load_resource("cognitoidp/resources/jwks-public.json"))
    settings = ws_authorizer.Settings(
        jwks_url="unused",
        issuer=f"https://cognito-idp.{REGION}.amazonaws.com/{pool}",
        client_id=client,
    )

    def resolve(token: str) -> Any:
        return keys[jwt.get_unverified_header(token)["kid"]].key

    event = {"methodArn": "arn:aws:execute-api:us-west-2:1:api/live/$connect"}
    allowed = ws_authorizer.authorize(
        {**event, "queryStringParameters": {"token": tokens["AccessToken"]}}, settings, resolve
    )
    assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert allowed["context"]["username"] == "alice"
    # The ID token is not what the page sends: refused.
    refused = ws_authorizer.authorize(
        {**event, "queryStringParameters": {"token": tokens["IdToken"]}}, settings, resolve
    )
    assert refused["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    # A refresh gives a new access token the authorizer takes as well.
    time.sleep(1)
    refreshed = cognito.initiate_auth(
        ClientId=client,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )["AuthenticationResult"]
    again = ws_authorizer.authorize(
        {**event, "queryStringParameters": {"token": refreshed["AccessToken"]}}, settings, resolve
    )
    assert again["policyDocument"]["Statement"][0]["Effect"] == "Allow"
