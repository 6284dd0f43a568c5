"""The WebSocket $connect authorizer: Cognito access tokens verified against a JWKS.

Keys are generated here (RSA 2048) and published as a JWKS dict: no network. The tokens
carry the claims Cognito (and moto's Cognito) put in an access token.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
import ws_authorizer
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.lambda_context import FakeLambdaContext

POOL_ID = "us-west-2_Abc123"
ISSUER = f"https://cognito-idp.us-west-2.amazonaws.com/{POOL_ID}"
CLIENT_ID = "5dashboardclient"
METHOD_ARN = "arn:aws:execute-api:us-west-2:123456789012:abcd1234/live/$connect"
SETTINGS = ws_authorizer.Settings(f"{ISSUER}/.well-known/jwks.json", ISSUER, CLIENT_ID)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


POOL_KEY = _key()
OTHER_KEY = _key()


def jwks(*pairs: tuple[str, rsa.RSAPrivateKey]) -> dict[str, Any]:
    keys = []
    for kid, key in pairs:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
    return {"keys": keys}


def resolver(keyset: dict[str, Any]) -> ws_authorizer.KeyResolver:
    """What PyJWKClient does, from a dict: the key whose kid the token's header names."""
    keys = jwt.PyJWKSet.from_dict(keyset)
    return lambda token: keys[jwt.get_unverified_header(token)["kid"]].key


RESOLVE = resolver(jwks(("pool-key", POOL_KEY)))


def access_token(key: rsa.RSAPrivateKey = POOL_KEY, kid: str = "pool-key", **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "sub": "0b1c2d3e-user",
        "client_id": CLIENT_ID,
        "token_use": "access",
        "username": "alice",
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
        "jti": "jti-1",
        **claims,
    }
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def connect_event(token: str | None) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "headers": {"Host": "abcd1234.execute-api.us-west-2.amazonaws.com"},
        "queryStringParameters": None if token is None else {"token": token},
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT"},
    }


def effect(answer: dict[str, Any]) -> str:
    [statement] = answer["policyDocument"]["Statement"]
    assert statement["Resource"] == METHOD_ARN
    assert statement["Action"] == "execute-api:Invoke"
    return str(statement["Effect"])


def test_a_valid_access_token_is_allowed_with_the_user_in_the_context() -> None:
    answer = ws_authorizer.authorize(connect_event(access_token()), SETTINGS, RESOLVE)
    assert effect(answer) == "Allow"
    assert answer["principalId"] == "0b1c2d3e-user"
    assert answer["context"] == {"username": "alice", "sub": "0b1c2d3e-user"}


@pytest.mark.parametrize("token", [None, "", "   "])
def test_no_token_is_unauthorized(token: str | None) -> None:
    with pytest.raises(ws_authorizer.Unauthorized) as raised:
        ws_authorizer.authorize(connect_event(token), SETTINGS, RESOLVE)
    # API Gateway answers 401 only for a function error with exactly this message.
    assert str(raised.value) == "Unauthorized"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(access_token(key=OTHER_KEY), id="forged-signature"),
        pytest.param(access_token(kid="unknown-key"), id="unknown-kid"),
        pytest.param(access_token(iss=ISSUER.replace("Abc123", "Other9")), id="wrong-issuer"),
        pytest.param(access_token(client_id="another-client"), id="wrong-client"),
        pytest.param(access_token(token_use="id"), id="id-token"),
        pytest.param(access_token(token_use=None), id="no-token-use"),
        pytest.param(access_token(client_id=None), id="no-client-id"),
        pytest.param(
            access_token(exp=int(time.time()) - 5, iat=int(time.time()) - 3605), id="expired"
        ),
        pytest.param(access_token(exp=None), id="no-expiry"),
        pytest.param("not-a-jwt", id="garbage"),
        pytest.param(
            jwt.encode(
                {
                    "iss": ISSUER,
                    "sub": "x",
                    "client_id": CLIENT_ID,
                    "token_use": "access",
                    "exp": int(time.time()) + 60,
                },
                "a-shared-hmac-secret-of-32-bytes!",
                algorithm="HS256",
                headers={"kid": "pool-key"},
            ),
            id="hs256-with-the-pool-kid",
        ),
    ],
)
def test_a_bad_token_is_denied(token: str) -> None:
    answer = ws_authorizer.authorize(connect_event(token), SETTINGS, RESOLVE)
    assert effect(answer) == "Deny"
    assert "context" not in answer


def test_an_id_token_with_the_right_audience_is_still_denied() -> None:
    # ID tokens carry aud, not client_id: the page must send its access token.
    token = access_token(token_use="id", client_id=None, aud=CLIENT_ID)
    assert effect(ws_authorizer.authorize(connect_event(token), SETTINGS, RESOLVE)) == "Deny"


def test_settings_need_every_variable_and_a_safe_jwks_url() -> None:
    environ = {
        "JWKS_URL": SETTINGS.jwks_url,
        "COGNITO_ISSUER": ISSUER,
        "COGNITO_CLIENT_ID": CLIENT_ID,
    }
    assert ws_authorizer.settings_from(environ) == SETTINGS
    for name in environ:
        with pytest.raises(ws_authorizer.SettingsError, match=name):
            ws_authorizer.settings_from({**environ, name: " "})
    with pytest.raises(ws_authorizer.SettingsError, match="https"):
        ws_authorizer.settings_from({**environ, "JWKS_URL": "http://example.com/jwks.json"})
    local = {**environ, "JWKS_URL": f"http://127.0.0.1:4599/{POOL_ID}/.well-known/jwks.json"}
    assert ws_authorizer.settings_from(local).jwks_url.startswith("http://127.0.0.1:4599/")


def test_handler_raises_unauthorized_and_fails_closed_when_the_jwks_is_unreachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JWKS_URL", "http://127.0.0.1:9/pool/.well-known/jwks.json")
    monkeypatch.setenv("COGNITO_ISSUER", ISSUER)
    monkeypatch.setenv("COGNITO_CLIENT_ID", CLIENT_ID)
    ws_authorizer._jwks_client.cache_clear()
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        ws_authorizer.lambda_handler(connect_event(None), FakeLambdaContext())
    # Port 9 refuses: no verdict on the token, an error (API Gateway's 500), never an Allow.
    with pytest.raises(jwt.PyJWKClientConnectionError):
        ws_authorizer.lambda_handler(connect_event(access_token()), FakeLambdaContext())


def test_the_jwks_client_is_kept_across_invocations() -> None:
    ws_authorizer._jwks_client.cache_clear()
    first = ws_authorizer._jwks_client(SETTINGS.jwks_url)
    assert ws_authorizer._jwks_client(SETTINGS.jwks_url) is first
