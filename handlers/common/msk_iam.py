"""kafka-python connection settings for Amazon MSK with IAM access control.

MSK IAM over SASL/OAUTHBEARER: kafka-python asks a token provider object (it must subclass
kafka-python's AbstractTokenProvider; a plain function is rejected) for a token, and
aws-msk-iam-sasl-signer-python builds that token by presigning a request with the Lambda
role's credentials. The token is cached until shortly before it expires.

Environment variables (read when ``kafka_client_settings()`` is called, never at import):
    BOOTSTRAP_SERVERS        required; comma-separated host:port list (the MSK IAM
                             bootstrap brokers, port 9098).
    KAFKA_SECURITY_PROTOCOL  optional, default SASL_SSL; PLAINTEXT or SSL for brokers
                             without authentication (a local broker in tests).
    KAFKA_SASL_MECHANISM     optional, default OAUTHBEARER (the only mechanism supported;
                             ignored unless the protocol is SASL_*).
    AWS_REGION               set by the Lambda runtime; the region the token is signed for.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from kafka.net.sasl.oauth import AbstractTokenProvider
from settings import SettingsError

SECURITY_PROTOCOLS: Final = frozenset({"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"})
SUPPORTED_SASL_MECHANISMS: Final = frozenset({"OAUTHBEARER"})
DEFAULT_SECURITY_PROTOCOL: Final = "SASL_SSL"
DEFAULT_SASL_MECHANISM: Final = "OAUTHBEARER"

# Refresh the token this long before MSK would reject it (tokens live 15 minutes).
TOKEN_REFRESH_MARGIN_SECONDS: Final = 60.0

TokenGenerator = Callable[[str], tuple[str, int]]


class MSKIAMTokenProvider(AbstractTokenProvider):  # type: ignore[misc]  # kafka-python is untyped
    """OAUTHBEARER token provider for MSK IAM, safe to share between threads.

    ``generate`` and ``clock`` are injectable for tests; by default the token comes from
    ``MSKAuthTokenProvider.generate_auth_token(region)``, which returns
    ``(token, expiry_epoch_ms)`` and needs only credentials, no network. The signer (and
    boto3, which it imports) is loaded when the first token is needed, not at import: about
    300 ms of a cold start that a PLAINTEXT client, or a failed validation, never needs.
    """

    def __init__(
        self,
        region: str,
        *,
        generate: TokenGenerator | None = None,
        clock: Callable[[], float] = time.time,
        refresh_margin_seconds: float = TOKEN_REFRESH_MARGIN_SECONDS,
    ) -> None:
        super().__init__()
        if not region:
            raise SettingsError("MSK IAM needs a region (AWS_REGION is empty)")
        self.region = region
        self._generate: TokenGenerator = generate or _signer_token
        self._clock = clock
        self._margin = refresh_margin_seconds
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0  # epoch seconds

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - self._margin:
                token, expiry_ms = self._generate(self.region)
                self._token, self._expires_at = token, expiry_ms / 1000.0
            return self._token


def _signer_token(region: str) -> tuple[str, int]:
    """``MSKAuthTokenProvider.generate_auth_token(region)``, the signer imported on first use."""
    from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

    token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
    return str(token), int(expiry_ms)


def bootstrap_servers_from(value: str | None) -> list[str]:
    servers = [s.strip() for s in (value or "").split(",") if s.strip()]
    if not servers:
        raise SettingsError(
            f"BOOTSTRAP_SERVERS must be a comma-separated list of host:port, got {value!r}"
        )
    for server in servers:
        host, sep, port = server.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise SettingsError(f"BOOTSTRAP_SERVERS entry {server!r} is not host:port")
    return servers


def kafka_client_settings(
    environ: Mapping[str, str] | None = None,
    *,
    token_provider: AbstractTokenProvider | None = None,
) -> dict[str, Any]:
    """Keyword arguments for KafkaProducer / KafkaConsumer / KafkaAdminClient.

    ``environ`` defaults to ``os.environ``. ``token_provider`` replaces the MSK IAM provider
    (tests); with PLAINTEXT or SSL no SASL setting is returned at all.
    """
    env = os.environ if environ is None else environ
    servers = bootstrap_servers_from(env.get("BOOTSTRAP_SERVERS"))
    protocol = (env.get("KAFKA_SECURITY_PROTOCOL") or DEFAULT_SECURITY_PROTOCOL).strip().upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise SettingsError(
            f"KAFKA_SECURITY_PROTOCOL={protocol!r}; expected one of {sorted(SECURITY_PROTOCOLS)}"
        )
    settings: dict[str, Any] = {"bootstrap_servers": servers, "security_protocol": protocol}
    if not protocol.startswith("SASL_"):
        return settings
    mechanism = (env.get("KAFKA_SASL_MECHANISM") or DEFAULT_SASL_MECHANISM).strip().upper()
    if mechanism not in SUPPORTED_SASL_MECHANISMS:
        raise SettingsError(
            f"KAFKA_SASL_MECHANISM={mechanism!r} is not supported; MSK IAM uses OAUTHBEARER"
        )
    if token_provider is None:
        region = (env.get("AWS_REGION") or "").strip()
        if not region:
            raise SettingsError(
                "AWS_REGION is not set: the Lambda runtime sets it; locally, export it"
            )
        token_provider = MSKIAMTokenProvider(region)
    settings["sasl_mechanism"] = mechanism
    settings["sasl_oauth_token_provider"] = token_provider
    return settings
