"""MSK IAM authentication and authorization, as the local MSK front door checks them.

Authentication: an MSK IAM client (aws-msk-iam-sasl-signer, or the Java aws-msk-iam-auth)
sends, as its SASL/OAUTHBEARER token, a SigV4 *presigned URL* for
``GET https://kafka.<region>.amazonaws.com/?Action=kafka-cluster:Connect``, base64url-encoded
without padding. :func:`verify_token` recomputes that signature with botocore's own SigV4
signer from the secret of the access key id in the token, and checks the action, the host,
the credential scope and the time window (``X-Amz-Date`` + ``X-Amz-Expires``).
The secret comes from an injected ``CredentialsLookup`` (in the emulator,
``MotoIdentities.lookup`` of :mod:`emulator.dataplane.credentials`), so nothing here needs a
running moto server.

Authorization of ``kafka-cluster:*`` actions on a cluster, topic, group or transactional-id
ARN (:class:`ClusterArns`) goes through an
:class:`~emulator.dataplane.credentials.Authorizer`, such as the identity-policy one in
:mod:`emulator.dataplane.credentials`.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hmac
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from .credentials import CredentialsLookup

CONNECT_ACTION: Final = "kafka-cluster:Connect"
SIGNING_SERVICE: Final = "kafka-cluster"
ALGORITHM: Final = "AWS4-HMAC-SHA256"
AMZ_DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
# SigV4 presigned URLs live at most 7 days; the MSK signers ask for 900 s.
MAX_EXPIRES_SECONDS: Final = 7 * 24 * 3600
# A token signed this far in the future is refused (clock skew AWS tolerates).
MAX_CLOCK_SKEW: Final = datetime.timedelta(minutes=5)
# Query parameters outside the signature: the signature itself, and the User-Agent the
# MSK signers append after signing.
UNSIGNED_PARAMS: Final = frozenset({"X-Amz-Signature", "User-Agent"})
REQUIRED_PARAMS: Final = (
    "Action",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)
MAX_TOKEN_LENGTH: Final = 16 * 1024


class TokenRejected(Exception):
    """The token does not authenticate anyone; ``str()`` says why, for the client."""


@dataclass(frozen=True)
class VerifiedToken:
    access_key_id: str
    principal_arn: str
    signed_at: datetime.datetime
    expires_at: datetime.datetime

    def lifetime_ms(self, now: datetime.datetime) -> int:
        """Milliseconds until the token expires (0 if it has)."""
        return max(int((self.expires_at - now).total_seconds() * 1000), 0)


def decode_token(token: str) -> str:
    """The presigned URL inside an MSK IAM token (base64url, padding optional)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenRejected("the token is empty or too long to be an MSK IAM token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return raw.decode("utf-8")
    except (binascii.Error, ValueError) as error:
        raise TokenRejected("the token is not base64url: not an MSK IAM token") from error


def verify_token(
    token: str,
    *,
    region: str,
    credentials: CredentialsLookup,
    now: datetime.datetime | None = None,
) -> VerifiedToken:
    """Check an MSK IAM token as MSK does; raises :class:`TokenRejected` with the reason."""
    now = now or datetime.datetime.now(datetime.UTC)
    url = urlsplit(decode_token(token))
    expected_host = f"kafka.{region}.amazonaws.com"
    if url.scheme != "https" or url.netloc != expected_host or url.path not in ("", "/"):
        raise TokenRejected(
            f"the token signs {url.scheme}://{url.netloc}{url.path}, not "
            f"https://{expected_host}/ (wrong region, or not an MSK IAM token)"
        )
    try:
        pairs = parse_qsl(url.query, keep_blank_values=True, strict_parsing=True)
    except ValueError as error:
        raise TokenRejected("the token's query string is malformed") from error
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise TokenRejected(f"the token repeats the query parameter {key}")
        params[key] = value
    missing = [name for name in REQUIRED_PARAMS if not params.get(name)]
    if missing:
        raise TokenRejected(f"the token lacks {', '.join(missing)}")
    if params["Action"] != CONNECT_ACTION:
        raise TokenRejected(f"the token's Action is {params['Action']!r}, not {CONNECT_ACTION}")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise TokenRejected(f"unsupported signing algorithm {params['X-Amz-Algorithm']!r}")
    if params["X-Amz-SignedHeaders"] != "host":
        raise TokenRejected("the token must sign exactly the host header")

    scope = params["X-Amz-Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise TokenRejected("the token's credential scope is malformed")
    access_key_id, scope_date, scope_region, scope_service = scope[:4]
    if scope_region != region or scope_service != SIGNING_SERVICE:
        raise TokenRejected(
            f"the token is signed for {scope_service} in {scope_region}, "
            f"not {SIGNING_SERVICE} in {region}"
        )
    amz_date = params["X-Amz-Date"]
    try:
        signed_at = datetime.datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(
            tzinfo=datetime.UTC
        )
        expires_in = int(params["X-Amz-Expires"])
    except ValueError as error:
        raise TokenRejected("the token's X-Amz-Date or X-Amz-Expires is malformed") from error
    if scope_date != amz_date[:8]:
        raise TokenRejected("the token's credential scope date differs from X-Amz-Date")
    if not 0 < expires_in <= MAX_EXPIRES_SECONDS:
        raise TokenRejected(f"X-Amz-Expires={expires_in} is outside 1..{MAX_EXPIRES_SECONDS}")
    expires_at = signed_at + datetime.timedelta(seconds=expires_in)
    if now >= expires_at:
        raise TokenRejected(
            f"the token expired at {expires_at:%Y-%m-%dT%H:%M:%SZ} (signed {amz_date}, "
            f"valid {expires_in} s; now {now:%Y-%m-%dT%H:%M:%SZ})"
        )
    if signed_at > now + MAX_CLOCK_SKEW:
        raise TokenRejected(f"the token is signed in the future ({amz_date})")

    credential = credentials(access_key_id)
    if credential is None:
        raise TokenRejected(f"the access key id {access_key_id} is not known to the emulated IAM")
    presented_session = params.get("X-Amz-Security-Token")
    if presented_session != credential.session_token:
        raise TokenRejected(
            f"the security token for {access_key_id} is invalid"
            if presented_session
            else f"{access_key_id} is a temporary key: the token lacks its X-Amz-Security-Token"
        )

    signer = SigV4QueryAuth(
        BotocoreCredentials(access_key_id, credential.secret_access_key, credential.session_token),
        SIGNING_SERVICE,
        region,
        expires=expires_in,
    )
    signed = {k: v for k, v in params.items() if k not in UNSIGNED_PARAMS}
    request = AWSRequest(method="GET", url=f"https://{expected_host}/", params=signed)
    request.context["timestamp"] = amz_date
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, params["X-Amz-Signature"]):
        raise TokenRejected(
            f"the signature does not match: the token was not signed with the secret key "
            f"of {access_key_id}"
        )
    return VerifiedToken(access_key_id, credential.principal_arn, signed_at, expires_at)


# --- Authorization ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterArns:
    """ARNs of one MSK cluster's resources, as ``kafka-cluster`` policies name them.

    ``arn:<partition>:kafka:<region>:<account>:topic/<cluster name>/<cluster uuid>/<topic>``
    and likewise ``group/...`` and ``transactional-id/...``; the cluster ARN is
    ``...:cluster/<cluster name>/<cluster uuid>`` (the uuid includes AWS's ``-N`` suffix).
    """

    cluster_arn: str

    def __post_init__(self) -> None:
        parts = self.cluster_arn.split(":", 5)
        ok = len(parts) == 6 and parts[0] == "arn" and parts[2] == "kafka"
        resource = parts[5].split("/") if ok else []
        if not ok or len(resource) != 3 or resource[0] != "cluster" or not all(resource):
            raise ValueError(
                f"not an MSK cluster ARN (arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>):"
                f" {self.cluster_arn!r}"
            )

    @property
    def _parts(self) -> list[str]:
        return self.cluster_arn.split(":", 5)

    @property
    def partition(self) -> str:
        return self._parts[1]

    @property
    def region(self) -> str:
        return self._parts[3]

    @property
    def account_id(self) -> str:
        return self._parts[4]

    @property
    def cluster_name(self) -> str:
        return self._parts[5].split("/")[1]

    @property
    def cluster_uuid(self) -> str:
        return self._parts[5].split("/")[2]

    def _arn(self, kind: str, name: str) -> str:
        return (
            f"arn:{self.partition}:kafka:{self.region}:{self.account_id}:"
            f"{kind}/{self.cluster_name}/{self.cluster_uuid}/{name}"
        )

    def topic(self, name: str) -> str:
        return self._arn("topic", name)

    def group(self, name: str) -> str:
        return self._arn("group", name)

    def transactional_id(self, name: str) -> str:
        return self._arn("transactional-id", name)


class AllowAll:
    """Authentication only (MSK IAM with every action granted)."""

    def is_allowed(self, principal_arn: str, action: str, resource_arn: str) -> bool:
        return True
