"""Least-privilege IAM building blocks shared by the constructs."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from constructs import Construct


@dataclass(frozen=True)
class Allow:
    """One Allow statement. Resources are ARNs (or tokens that resolve to ARNs)."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.sid.isalnum():
            raise ValueError(f"Allow.sid = {self.sid!r}: IAM statement ids are alphanumeric")
        if not self.actions or not self.resources:
            raise ValueError(f"Allow {self.sid}: needs at least one action and one resource")
        for action in self.actions:
            if ":" not in action or action.endswith(":*") or action == "*":
                raise ValueError(
                    f"Allow {self.sid}: action {action!r} must name one "
                    "service:Action (no wildcards)"
                )


def policy_document(scope: Construct, construct_id: str, statements: tuple[Allow, ...]) -> str:
    """JSON of a policy document holding ``statements``."""
    document = DataAwsIamPolicyDocument(
        scope,
        construct_id,
        statement=[
            DataAwsIamPolicyDocumentStatement(
                sid=s.sid, effect="Allow", actions=list(s.actions), resources=list(s.resources)
            )
            for s in statements
        ],
    )
    return document.json


def service_trust_policy(
    scope: Construct, construct_id: str, service: str, source_account: str | None = None
) -> str:
    """Trust policy letting one AWS service assume a role, optionally for one account only."""
    conditions = (
        [
            DataAwsIamPolicyDocumentStatementCondition(
                test="StringEquals", variable="aws:SourceAccount", values=[source_account]
            )
        ]
        if source_account
        else None
    )
    document = DataAwsIamPolicyDocument(
        scope,
        construct_id,
        statement=[
            DataAwsIamPolicyDocumentStatement(
                effect="Allow",
                actions=["sts:AssumeRole"],
                principals=[
                    DataAwsIamPolicyDocumentStatementPrincipals(
                        type="Service", identifiers=[service]
                    )
                ],
                condition=conditions,
            )
        ],
    )
    return document.json
