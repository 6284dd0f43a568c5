"""WebSocket $connect REQUEST authorizer: only signed-in users of the dashboard's user pool.

Input: API Gateway's REQUEST authorizer event for a WebSocket ``$connect`` (``type``
"REQUEST", ``methodArn``, ``queryStringParameters``, ``headers``, ``requestContext``). The
token travels in the query string (``?token=<Cognito access token>``): browsers cannot set
headers on a WebSocket.

The token is a Cognito **access** token, verified with PyJWT: RS256 signature against the
user pool's JWKS (fetched once, then cached by the warm environment), ``iss`` equal to the
pool's issuer, ``client_id`` equal to the dashboard's app client, ``token_use`` "access",
``exp`` in the future (no leeway).

Answers (what API Gateway does with them):
- no token: raises ``Exception("Unauthorized")``: API Gateway answers 401, the socket is
  never opened. (API Gateway itself answers 401 without calling the authorizer when the
  identity source ``route.request.querystring.token`` is absent; this covers an empty one.)
- any token that fails verification (forged, expired, another pool, another client, an ID
  token): an IAM policy denying ``execute-api:Invoke`` on the ``methodArn``: 403.
- the JWKS cannot be fetched: the error propagates (500): fail closed, and visibly.
- a valid token: a policy allowing it, ``principalId`` the user's ``sub``, and the context
  ``{"username": ..., "sub": ...}`` (``requestContext.authorizer`` of the ``$connect``
  Lambda's event).
Refused connections never reach the ``$connect`` Lambda, so nothing is stored for them.

Environment variables:
    JWKS_URL            required; <issuer>/.well-known/jwks.json on AWS (on the local
                        platform the emulator's endpoint, same path).
    COGNITO_ISSUER      required; https://cognito-idp.<region>.amazonaws.com/<pool id>.
    COGNITO_CLIENT_ID   required; the dashboard app client's id.
    LOG_LEVEL           optional, default INFO (Powertools Logger).
    POWERTOOLS_SERVICE_NAME  optional, default telemetry-ws-authorizer.

IAM: none (the JWKS is public).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jwt
from aws_lambda_powertools import Logger

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "telemetry-ws-authorizer")

TOKEN_PARAMETER: Final = "token"
TOKEN_USE: Final = "access"
ALGORITHMS: Final = ["RS256"]  # Cognito signs its tokens with RS256 only
JWKS_TIMEOUT_SECONDS: Final = 5
JWKS_CACHE_SECONDS: Final = 3600
REQUIRED_CLAIMS: Final = ["exp", "iss", "sub", "token_use", "client_id"]


class SettingsError(RuntimeError):
    """A missing or invalid environment variable."""


class Unauthorized(Exception):
    """No token: API Gateway's 401 comes from a function error whose message is exactly this."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


class TokenRejected(Exception):
    """The token failed verification; the message says why (logged, never returned)."""


@dataclass(frozen=True)
class Settings:
    jwks_url: str
    issuer: str
    client_id: str


def settings_from(environ: Mapping[str, str]) -> Settings:
    values = {}
    for name in ("JWKS_URL", "COGNITO_ISSUER", "COGNITO_CLIENT_ID"):
        value = environ.get(name, "").strip()
        if not value:
            raise SettingsError(f"{name} is required")
        values[name] = value
    if not values["JWKS_URL"].startswith(("https://", "http://127.", "http://localhost")):
        raise SettingsError(
            f"JWKS_URL must be https:// (or http:// to a loopback host), got {values['JWKS_URL']!r}"
        )
    return Settings(values["JWKS_URL"], values["COGNITO_ISSUER"], values["COGNITO_CLIENT_ID"])


def token_from(event: Mapping[str, Any]) -> str:
    """The token in the query string; raises Unauthorized when there is none."""
    query = event.get("queryStringParameters") or {}
    token = query.get(TOKEN_PARAMETER) if isinstance(query, Mapping) else None
    if not isinstance(token, str) or not token.strip():
        raise Unauthorized()
    return token.strip()


# Token -> the public key that should have signed it (found by the header's kid).
KeyResolver = Callable[[str], Any]


def verify(token: str, settings: Settings, resolve_key: KeyResolver) -> dict[str, Any]:
    """The token's claims when it is a valid access token of this pool and client."""
    try:
        key = resolve_key(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            issuer=settings.issuer,
            options={"require": REQUIRED_CLAIMS, "verify_aud": False},
        )
    except jwt.PyJWKClientConnectionError:
        raise  # the JWKS could not be fetched: an error (500), not a verdict on the token
    except (jwt.PyJWTError, ValueError, KeyError) as error:
        raise TokenRejected(f"{type(error).__name__}: {error}") from None
    if claims.get("token_use") != TOKEN_USE:
        raise TokenRejected(f"token_use is {claims.get('token_use')!r}, not {TOKEN_USE!r}")
    if claims.get("client_id") != settings.client_id:
        raise TokenRejected("the token was issued to another app client")
    return claims


def policy(
    principal_id: str, effect: str, method_arn: str, context: Mapping[str, str]
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}
            ],
        },
    }
    if context:
        answer["context"] = dict(context)
    return answer


def authorize(
    event: Mapping[str, Any], settings: Settings, resolve_key: KeyResolver
) -> dict[str, Any]:
    """The authorizer's answer for one $connect; raises Unauthorized when there is no token."""
    method_arn = str(event.get("methodArn", ""))
    token = token_from(event)
    try:
        claims = verify(token, settings, resolve_key)
    except TokenRejected as rejected:
        logger.info("connection refused", reason=str(rejected))
        return policy("unauthorized", "Deny", method_arn, {})
    username = str(claims.get("username") or claims["sub"])
    logger.info("connection allowed", username=username)
    return policy(
        str(claims["sub"]), "Allow", method_arn, {"username": username, "sub": claims["sub"]}
    )


@functools.cache
def _jwks_client(url: str) -> jwt.PyJWKClient:
    # One client per warm environment: the key set is fetched once and kept an hour
    # (an unknown kid makes PyJWKClient fetch again, which picks up Cognito's key rotation).
    return jwt.PyJWKClient(
        url, cache_jwk_set=True, lifespan=JWKS_CACHE_SECONDS, timeout=JWKS_TIMEOUT_SECONDS
    )


def jwks_resolver(url: str) -> KeyResolver:
    client = _jwks_client(url)
    return lambda token: client.get_signing_key_from_jwt(token).key


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    settings = settings_from(os.environ)
    try:
        return authorize(event, settings, jwks_resolver(settings.jwks_url))
    except Unauthorized:
        logger.info("connection refused", reason="no token")
        raise
