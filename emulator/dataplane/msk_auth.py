"""MSK IAM authentication and authorization, as the local MSK front door checks them.

Authentication: an MSK IAM client (aws-msk-iam-sasl-signer, or the Java aws-msk-iam-auth)
sends, as its SASL/OAUTHBEARER token, a SigV4 *presigned URL* for
``GET https://kafka.<region>.amazonaws.com/?Action=kafka-cluster:Connect``, base64url-encoded
without padding. :func:`verify_token` recomputes that signature with botocore's own SigV4
signer from the secret of the access key id in the token, and checks the action, the host,
the credential scope and the time window (``X-Amz-Date`` + ``X-Amz-Expires``).
The secret comes from an injected :data:`CredentialsLookup`, so nothing here needs a
running moto server; :func:`moto_identity` builds one (and a :data:`PolicyLookup`) over
moto's in-process IAM and STS models.

Authorization: :class:`IamPolicyAuthorizer` evaluates the caller's identity policies with
moto's policy evaluator (``moto.iam.access_control.IAMPolicy``) for a ``kafka-cluster:*``
action on a cluster, topic, group or transactional-id ARN (:class:`ClusterArns`).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hmac
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple, Protocol
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

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


class Credential(NamedTuple):
    """What the emulated IAM knows of an access key id."""

    secret_access_key: str
    session_token: str | None
    principal_arn: str


# access key id -> its secret, session token (None for a long-term key) and principal ARN,
# or None when the key is unknown.
CredentialsLookup = Callable[[str], "Credential | tuple[str, str | None, str] | None"]
# principal ARN -> the identity-based policy documents (JSON text) that apply to it.
PolicyLookup = Callable[[str], Sequence[str]]


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

    found = credentials(access_key_id)
    if found is None:
        raise TokenRejected(f"the access key id {access_key_id} is not known to the emulated IAM")
    credential = Credential(*found)
    presented_session = params.get("X-Amz-Security-Token")
    if presented_session != credential.session_token:
        raise TokenRejected(
            f"the security token for {access_key_id} is invalid"
            if presented_session
            else f"{access_key_id} is a temporary key: the token lacks its X-Amz-Security-Token"
        )

    signer = SigV4QueryAuth(
        Credentials(access_key_id, credential.secret_access_key, credential.session_token),
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


class Authorizer(Protocol):
    """Decides whether a principal may take an action on a resource."""

    def is_allowed(self, principal_arn: str, action: str, resource_arn: str) -> bool: ...


class AllowAll:
    """Authentication only (MSK IAM with every action granted)."""

    def is_allowed(self, principal_arn: str, action: str, resource_arn: str) -> bool:
        return True


@dataclass
class IamPolicyAuthorizer:
    """Identity-policy evaluation with moto's evaluator, as IAM does it for one principal.

    An explicit Deny wins, then any Allow; nothing matching is an implicit deny. Policies are
    fetched through ``policies`` at most every ``refresh_seconds`` per principal, so a policy
    changed in the emulator applies to connections already open within that time.
    """

    policies: PolicyLookup
    refresh_seconds: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[float, list[Any]]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _evaluators(self, principal_arn: str) -> list[Any]:
        from moto.iam.access_control import IAMPolicy

        now = self.clock()
        with self._lock:
            cached = self._cache.get(principal_arn)
            if cached is not None and now - cached[0] < self.refresh_seconds:
                return cached[1]
        evaluators = [IAMPolicy(document) for document in self.policies(principal_arn)]
        with self._lock:
            self._cache[principal_arn] = (now, evaluators)
        return evaluators

    def is_allowed(self, principal_arn: str, action: str, resource_arn: str) -> bool:
        from moto.iam.access_control import PermissionResult

        allowed = False
        for evaluator in self._evaluators(principal_arn):
            try:
                result = evaluator.is_action_permitted(action, resource_arn)
            except (KeyError, TypeError, AttributeError):
                continue  # a malformed document grants nothing (IAM would have refused it)
            if result == PermissionResult.DENIED:
                return False
            allowed = allowed or result == PermissionResult.PERMITTED
        return allowed


# --- moto's in-process models as the identity store -------------------------------------------


def moto_identity(partition: str = "aws") -> tuple[CredentialsLookup, PolicyLookup]:
    """A credentials lookup and a policy lookup over moto's in-process IAM and STS models.

    Keys are IAM users' access keys and STS assumed-role sessions (expired sessions are
    unknown). Policies are the principal's inline and attached (and, for users, group)
    policies; for a session that is its role's. Call it inside the moto server process (or
    under ``mock_aws``): it reads the models of every account moto holds.
    """
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    def credentials(access_key_id: str) -> Credential | None:
        for account_id in list(sts_backends.keys()):
            backend = sts_backends[account_id][partition]
            session = backend.get_assumed_role_from_access_key(access_key_id)
            if session is not None:
                expiration = session.expiration.replace(tzinfo=datetime.UTC)
                if expiration <= datetime.datetime.now(datetime.UTC):
                    return None
                return Credential(session.secret_access_key, session.session_token, session.arn)
        for account_id in list(iam_backends.keys()):
            iam = iam_backends[account_id][partition]
            for user in list(iam.users.values()):
                for key in user.access_keys:
                    if key.access_key_id == access_key_id and key.status == "Active":
                        return Credential(key.secret_access_key, None, user.arn)
        return None

    def policies(principal_arn: str) -> list[str]:
        parts = principal_arn.split(":", 5)
        if len(parts) != 6:
            return []
        account_id, resource = parts[4], parts[5]
        iam = iam_backends[account_id][partition]
        kind, _, rest = resource.partition("/")
        try:
            if kind == "assumed-role":
                return list(_role_documents(iam, rest.split("/")[0]))
            if kind == "user":
                return list(_user_documents(iam, rest.split("/")[-1]))
        except Exception:  # moto raises its own NotFound types: a gone principal has nothing
            return []
        return []

    return credentials, policies


def _document(policy: Any) -> str:
    """JSON text of a moto policy (a managed Policy, an inline dict, or a document string)."""
    if isinstance(policy, str):
        return policy
    if isinstance(policy, dict):
        return str(policy["policy_document"])
    version = next(v for v in policy.versions if v.is_default)
    return str(version.document)


def _role_documents(iam: Any, role_name: str) -> Iterable[str]:
    for name in iam.list_role_policies(role_name):
        yield _document(iam.get_role_policy(role_name, name)[1])
    attached, _ = iam.list_attached_role_policies(role_name)
    yield from (_document(p) for p in attached)


def _user_documents(iam: Any, user_name: str) -> Iterable[str]:
    for name in iam.list_user_policies(user_name):
        yield _document(iam.get_user_policy(user_name, name))
    attached, _ = iam.list_attached_user_policies(user_name)
    yield from (_document(p) for p in attached)
    for group in iam.get_groups_for_user(user_name):
        for name in iam.list_group_policies(group.name):
            yield _document(iam.get_group_policy(group.name, name))
        group_attached, _ = iam.list_attached_group_policies(group.name)
        yield from (_document(p) for p in group_attached)
