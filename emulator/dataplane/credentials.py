"""The emulated identities: credentials, the key behind a signature, and identity policies.

One place for what every data-plane service needs of IAM and STS:

* :class:`Credentials`: a key pair, its session token and whose it is;
* :class:`MotoIdentities` reads moto's in-process IAM and STS models (every account):
  :meth:`~MotoIdentities.for_role` assumes a role as Lambda does for a function's execution
  role (cached until shortly before expiry), :meth:`~MotoIdentities.lookup` finds the
  secret and principal behind an access key id (what a SigV4 check needs), and
  :meth:`~MotoIdentities.policies` lists a principal's identity policy documents;
* :class:`IamPolicyAuthorizer` decides an action on a resource from those documents with
  moto's own evaluator: an explicit Deny wins, then any Allow; nothing matching is denied.
  Resource policies, permission boundaries, SCPs and session policies are not evaluated.
"""

from __future__ import annotations

import datetime
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

STATIC_ACCESS_KEY: Final = "testing"  # Terraform, tests and tools use it: moto's root
STATIC_SECRET_KEY: Final = "testing"
DEFAULT_ACCOUNT: Final = "123456789012"
REFRESH_MARGIN_SECONDS: Final = 300.0  # renew role credentials this long before expiry
SESSION_SECONDS: Final = 3600


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    principal_arn: str = ""
    expires_at: float | None = None  # epoch seconds; None for long-term keys

    def __post_init__(self) -> None:
        if not self.access_key_id or not self.secret_access_key:
            raise ValueError("Credentials need an access key id and a secret access key")

    def environment(self) -> dict[str, str]:
        """The variables the AWS SDKs read."""
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env


# access key id -> what the emulated IAM knows of it, or None for a key nobody issued.
CredentialsLookup = Callable[[str], Credentials | None]
# principal ARN -> its identity-based policy documents (JSON text).
PolicyLookup = Callable[[str], Sequence[str]]


class Authorizer(Protocol):
    """Decides whether a principal may take an action on a resource."""

    def is_allowed(self, principal_arn: str, action: str, resource_arn: str) -> bool: ...


class MotoIdentities:
    """Credentials and identity policies of everyone moto knows (call in moto's process)."""

    def __init__(self, partition: str = "aws") -> None:
        self.partition = partition
        self._lock = threading.Lock()
        self._by_role: dict[str, Credentials] = {}

    def for_role(self, role_arn: str, session_name: str = "emulator") -> Credentials:
        """Temporary credentials of ``role_arn``, as Lambda gets them for a function."""
        from moto.sts.models import sts_backends

        with self._lock:
            cached = self._by_role.get(role_arn)
            if cached and (cached.expires_at or 0) - time.time() > REFRESH_MARGIN_SECONDS:
                return cached
            account = role_arn.split(":")[4] or DEFAULT_ACCOUNT
            assumed = sts_backends[account][self.partition].assume_role(
                region_name="us-east-1",
                role_session_name=session_name[:64],
                role_arn=role_arn,
                policy="",
                duration=SESSION_SECONDS,
                external_id="",
            )
            credentials = Credentials(
                assumed.access_key_id,
                assumed.secret_access_key,
                assumed.session_token,
                assumed.arn,
                assumed.expiration.replace(tzinfo=datetime.UTC).timestamp(),
            )
            self._by_role[role_arn] = credentials
            return credentials

    def lookup(self, access_key_id: str) -> Credentials | None:
        """Assumed-role sessions (unexpired), IAM users' active keys, the static key."""
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        if access_key_id == STATIC_ACCESS_KEY:
            root = f"arn:{self.partition}:iam::{DEFAULT_ACCOUNT}:root"
            return Credentials(STATIC_ACCESS_KEY, STATIC_SECRET_KEY, None, root)
        for account_id in list(sts_backends.keys()):
            session = sts_backends[account_id][self.partition].get_assumed_role_from_access_key(
                access_key_id
            )
            if session is not None:
                expires = session.expiration.replace(tzinfo=datetime.UTC).timestamp()
                if expires <= time.time():
                    return None
                return Credentials(
                    access_key_id,
                    session.secret_access_key,
                    session.session_token,
                    session.arn,
                    expires,
                )
        for account_id in list(iam_backends.keys()):
            for user in list(iam_backends[account_id][self.partition].users.values()):
                for key in user.access_keys:
                    if key.access_key_id == access_key_id and key.status == "Active":
                        return Credentials(access_key_id, key.secret_access_key, None, user.arn)
        return None

    def policies(self, principal_arn: str) -> list[str]:
        """Identity policies: a session's role's, or a user's own and its groups'."""
        from moto.iam.models import iam_backends

        parts = principal_arn.split(":", 5)
        if len(parts) != 6 or not parts[4]:
            return []
        iam = iam_backends[parts[4]][self.partition]
        kind, _, rest = parts[5].partition("/")
        try:
            if kind == "assumed-role":
                return list(_role_documents(iam, rest.split("/")[0]))
            if kind == "user":
                return list(_user_documents(iam, rest.split("/")[-1]))
        except Exception:  # moto raises its own NotFound types: a gone principal has nothing
            return []
        return []


@dataclass
class IamPolicyAuthorizer:
    """Identity-policy evaluation with moto's evaluator (see the module docstring).

    Root may do anything. Documents are fetched through ``policies`` at most every
    ``refresh_seconds`` per principal, so a changed policy applies within that time.
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

        if principal_arn.endswith(":root"):
            return True
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


def arn_like(pattern: str, value: str) -> bool:
    """IAM's ArnLike/StringLike: ``*`` matches any run of characters, ``?`` one character."""
    expression = "".join(
        ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern
    )
    return re.fullmatch(expression, value, re.DOTALL) is not None


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
