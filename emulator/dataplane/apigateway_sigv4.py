"""SigV4 header authentication of requests to an API's ``@connections`` endpoint.

What API Gateway does before it looks at an ``execute-api`` call: the ``Authorization``
header (``AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/execute-api/aws4_request,
SignedHeaders=..., Signature=...``) is parsed, the date checked against the clock (5 minutes
either way), the key looked up in the emulated IAM/STS (with its session token), and the
signature recomputed from the request as received: the raw path (encoded once more, as SigV4
does for every service but S3), the query string, exactly the headers the client signed, and
the SHA-256 of the body. The refusals carry the error types and messages API Gateway answers
with, so botocore reports the same ``ClientError`` codes.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlsplit

from botocore.utils import normalize_url_path
from multidict import MultiMapping

from .credentials import Credentials

__all__ = ["SignatureRejected", "SignedCaller", "verify_request"]

ALGORITHM: Final = "AWS4-HMAC-SHA256"
SERVICE: Final = "execute-api"
AMZ_DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
_AMZ_DATE: Final = re.compile(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z")
MAX_SKEW: Final = datetime.timedelta(minutes=5)
UNSIGNED_PAYLOAD: Final = "UNSIGNED-PAYLOAD"
SIGNATURE_MISMATCH: Final = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)
INVALID_TOKEN: Final = "The security token included in the request is invalid."


class SignatureRejected(Exception):
    """The request is not authentic: API Gateway answers 403 with this type and message."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class SignedCaller:
    access_key_id: str
    principal_arn: str


def _authorization(value: str) -> dict[str, str]:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureRejected(
            "IncompleteSignatureException",
            f"Unsupported Authorization Type: {algorithm or 'none'}",
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, equals, item = part.strip().partition("=")
        if equals:
            fields[name] = item
    for required in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(required):
            raise SignatureRejected(
                "IncompleteSignatureException",
                f"Authorization header requires '{required}' parameter. Authorization={value}",
            )
    return fields


def _signed_at(amz_date: str | None, now: datetime.datetime) -> datetime.datetime:
    if not amz_date:
        raise SignatureRejected(
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    match = _AMZ_DATE.fullmatch(amz_date)
    try:
        if match is None:
            raise ValueError(amz_date)
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        signed = datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.UTC)
    except ValueError:
        raise SignatureRejected(
            "IncompleteSignatureException", f"Date must be in ISO-8601 'basic format': {amz_date}"
        ) from None
    if signed < now - MAX_SKEW:
        earliest = (now - MAX_SKEW).strftime(AMZ_DATE_FORMAT)
        raise SignatureRejected(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {earliest} "
            f"({now.strftime(AMZ_DATE_FORMAT)} - 5 min.)",
        )
    if signed > now + MAX_SKEW:
        latest = (now + MAX_SKEW).strftime(AMZ_DATE_FORMAT)
        raise SignatureRejected(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than {latest} "
            f"({now.strftime(AMZ_DATE_FORMAT)} + 5 min.)",
        )
    return signed


@functools.lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's derived key: the same for a key's every request of a day (so cached)."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@functools.lru_cache(maxsize=4096)
def _canonical_path(raw_path: str) -> str:
    """The path as sent, with dot segments resolved, percent-encoded once more (every
    service but S3 does this); what botocore computes for the same request."""
    return quote(normalize_url_path(raw_path), safe="/~")


def _canonical_query(raw_query: str) -> str:
    """botocore's canonical query string of an already-encoded query: pairs sorted."""
    if not raw_query:
        return ""
    pairs = [
        tuple(part.split("=", 1)) if "=" in part else (part, "") for part in raw_query.split("&")
    ]
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def _canonical_headers(headers: MultiMapping[str], names: list[str]) -> str | None:
    lines = []
    for name in sorted(set(names)):
        values = headers.getall(name, [])
        if not values:
            return None
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}")
    return "\n".join(lines)


def verify_request(
    *,
    method: str,
    url: str,
    headers: MultiMapping[str],
    body: bytes,
    region: str,
    lookup: Callable[[str], Credentials | None],
    now: datetime.datetime | None = None,
) -> SignedCaller:
    """Who signed this request; :class:`SignatureRejected` when it is not authentic.

    ``url`` is ``http://<Host header><raw path>[?<raw query>]``: the path exactly as it was
    sent (still percent-encoded), since that is what the client signed.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    authorization = headers.get("Authorization")
    if not authorization:
        raise SignatureRejected(
            "MissingAuthenticationTokenException", "Missing Authentication Token"
        )
    fields = _authorization(authorization)
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise SignatureRejected(
            "IncompleteSignatureException",
            f"Credential should be scoped to a valid region. Credential={fields['Credential']}",
        )
    access_key_id, scope_date, scope_region, scope_service, _ = scope
    if scope_region != region:
        raise SignatureRejected(
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not '{scope_region}'.",
        )
    if scope_service != SERVICE:
        raise SignatureRejected(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{SERVICE}'.",
        )
    amz_date = headers.get("X-Amz-Date")
    _signed_at(amz_date, now)
    assert amz_date is not None
    if scope_date != amz_date[:8]:
        raise SignatureRejected(
            "InvalidSignatureException",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{scope_date}' != '{amz_date[:8]}', from '{amz_date}'.",
        )

    signed_names = fields["SignedHeaders"].split(";")
    if "host" not in signed_names or "x-amz-date" not in signed_names:
        raise SignatureRejected("InvalidSignatureException", SIGNATURE_MISMATCH)
    credentials = lookup(access_key_id)
    if credentials is None:
        raise SignatureRejected("UnrecognizedClientException", INVALID_TOKEN)
    presented_token = headers.get("X-Amz-Security-Token")
    if (presented_token or None) != (credentials.session_token or None):
        raise SignatureRejected("UnrecognizedClientException", INVALID_TOKEN)

    canonical_headers = _canonical_headers(headers, signed_names)
    if canonical_headers is None:
        raise SignatureRejected("InvalidSignatureException", SIGNATURE_MISMATCH)
    body_hash = hashlib.sha256(body).hexdigest()
    declared_hash = headers.get("X-Amz-Content-SHA256")
    if declared_hash not in (None, UNSIGNED_PAYLOAD, body_hash):
        raise SignatureRejected(
            "InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match"
        )
    parts = urlsplit(url)
    canonical = "\n".join(
        [
            method.upper(),
            _canonical_path(parts.path),
            _canonical_query(parts.query),
            canonical_headers + "\n",
            ";".join(signed_names),
            declared_hash or body_hash,
        ]
    )
    credential_scope = f"{scope_date}/{region}/{SERVICE}/aws4_request"
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, credential_scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _signing_key(credentials.secret_access_key, scope_date, region, SERVICE)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise SignatureRejected("InvalidSignatureException", SIGNATURE_MISMATCH)
    return SignedCaller(access_key_id, credentials.principal_arn)
