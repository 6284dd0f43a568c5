"""The emulated identities: a role's temporary credentials, a key's owner, a principal's grants.

Runs inside the emulator process and reads moto's IAM and STS backends directly:

* :meth:`MotoIdentities.for_role` assumes a role through moto's STS (what Lambda does for a
  function's execution role), cached until shortly before the credentials expire;
* :meth:`MotoIdentities.lookup` finds the secret and the principal behind an access key id
  (an assumed role, an IAM user's key, or the emulator's own static key), which is what a
  service needs to check a SigV4 signature;
* :meth:`MotoIdentities.is_allowed` evaluates the principal's identity policies with moto's
  policy evaluator (explicit deny wins; no allow means deny). Resource policies, permission
  boundaries, SCPs and session policies are not evaluated.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Final

from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

DEFAULT_ACCOUNT: Final = "123456789012"
# Terraform, tests and tools talk to the emulator with this key (moto's root identity).
STATIC_ACCESS_KEY: Final = "testing"
STATIC_SECRET_KEY: Final = "testing"
# moto's STS gives one-hour credentials; refresh this long before.
REFRESH_MARGIN_SECONDS: Final = 300.0
SESSION_DURATION_SECONDS: Final = 3600


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None
    principal_arn: str
    expires_at: float | None = None  # epoch seconds; None for long-term keys

    def environment(self) -> dict[str, str]:
        """The standard variables the AWS SDKs read."""
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env


class MotoIdentities:
    """Credentials and permissions of the identities moto knows, in one account."""

    def __init__(self, account_id: str = DEFAULT_ACCOUNT, partition: str = "aws") -> None:
        self.account_id = account_id
        self.partition = partition
        self._lock = threading.Lock()
        self._by_role: dict[str, Credentials] = {}

    @property
    def root_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    def for_role(self, role_arn: str, session_name: str = "emulator") -> Credentials:
        """Temporary credentials of ``role_arn``, as Lambda gets them for a function."""
        with self._lock:
            cached = self._by_role.get(role_arn)
            if cached and (cached.expires_at or 0) - time.time() > REFRESH_MARGIN_SECONDS:
                return cached
            sts = sts_backends[self.account_id][self.partition]
            assumed = sts.assume_role(
                region_name="us-east-1",
                role_session_name=session_name[:64],
                role_arn=role_arn,
                policy="",
                duration=SESSION_DURATION_SECONDS,
                external_id="",
            )
            credentials = Credentials(
                access_key_id=assumed.access_key_id,
                secret_access_key=assumed.secret_access_key,
                session_token=assumed.session_token,
                principal_arn=assumed.arn,
                expires_at=assumed.expiration.timestamp(),
            )
            self._by_role[role_arn] = credentials
            return credentials

    def lookup(self, access_key_id: str) -> Credentials | None:
        """The credentials behind an access key id, or None for a key nobody issued."""
        if access_key_id == STATIC_ACCESS_KEY:
            return Credentials(STATIC_ACCESS_KEY, STATIC_SECRET_KEY, None, self.root_arn)
        sts = sts_backends[self.account_id][self.partition]
        assumed = sts.get_assumed_role_from_access_key(access_key_id)
        if assumed is not None:
            return Credentials(
                assumed.access_key_id,
                assumed.secret_access_key,
                assumed.session_token,
                assumed.arn,
                assumed.expiration.timestamp(),
            )
        iam = iam_backends[self.account_id][self.partition]
        for user in iam.users.values():
            for key in user.access_keys:
                if key.access_key_id == access_key_id and key.status == "Active":
                    return Credentials(key.access_key_id, key.secret_access_key, None, user.arn)
        return None

    def policies(self, principal_arn: str) -> list[str]:
        """Identity policy documents of an assumed role's role or of an IAM user."""
        iam = iam_backends[self.account_id][self.partition]
        resource = principal_arn.split(":", 5)[-1]
        documents: list[str] = []
        if resource.startswith("assumed-role/"):
            role_name = resource.split("/")[1]
            for name in iam.list_role_policies(role_name):
                documents.append(iam.get_role_policy(role_name, name)[1])
            attached, _ = iam.list_attached_role_policies(role_name)
            documents.extend(self._managed_document(p.arn) for p in attached)
        elif resource.startswith("user/"):
            user_name = resource.split("/")[-1]
            for name in iam.list_user_policies(user_name):
                documents.append(iam.get_user_policy(user_name, name)["policy_document"])
            attached, _ = iam.list_attached_user_policies(user_name)
            documents.extend(self._managed_document(p.arn) for p in attached)
        return documents

    def _managed_document(self, policy_arn: str) -> str:
        iam = iam_backends[self.account_id][self.partition]
        policy = iam.get_policy(policy_arn)
        document: str = next(v.document for v in policy.versions if v.is_default)
        return document

    def is_allowed(self, principal_arn: str, action: str, resource: str) -> bool:
        """Identity-policy decision for ``action`` on ``resource`` (root may do anything)."""
        if principal_arn == self.root_arn:
            return True
        allowed = False
        for document in self.policies(principal_arn):
            result = IAMPolicy(document).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return False
            allowed = allowed or result == PermissionResult.PERMITTED
        return allowed
