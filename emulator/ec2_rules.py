"""Descriptions of security group rules that reference another group, fixed in moto 5.2.5.

Written for moto 5.2.5 (``moto.ec2``); :func:`install` checks the installed version.
moto keeps a rule's description in ``ip_range`` for CIDR rules but in ``source_group`` for
rules that reference a security group, and ``DescribeSecurityGroupRules`` reads only the
former. Every ``aws_vpc_security_group_ingress_rule``/``egress_rule`` with
``referenced_security_group_id`` and a description then plans an in-place update after each
apply. AWS returns the description for both kinds; so does this patch.
"""

from __future__ import annotations

from moto.ec2.models.security_groups import SecurityGroupRule

from ._compat import check_moto_version
from ._compat import patch_attribute as _patch

__all__ = ["install"]

_installed = False


def _description(self: SecurityGroupRule) -> str | None:
    description = self.ip_range.get("Description")
    if description is None and self.source_group:
        description = self.source_group.get("Description")
    return description


def install() -> None:
    """Patch moto's SecurityGroupRule.description. Idempotent."""
    global _installed
    check_moto_version(__name__)
    if _installed:
        return
    _patch(SecurityGroupRule, "description", property(_description))
    _installed = True
