"""ARNs of MSK resources, as IAM policies for kafka-cluster actions need them.

Topic and group ARNs carry the cluster's name and UUID:
arn:<partition>:kafka:<region>:<account>:topic/<cluster name>/<cluster uuid>/<topic>.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KafkaArns:
    partition: str
    region: str
    account_id: str
    cluster_name: str
    cluster_uuid: str

    def _arn(self, kind: str, name: str) -> str:
        return (
            f"arn:{self.partition}:kafka:{self.region}:{self.account_id}:"
            f"{kind}/{self.cluster_name}/{self.cluster_uuid}/{name}"
        )

    def topic(self, name: str) -> str:
        return self._arn("topic", name)

    def group(self, name: str) -> str:
        return self._arn("group", name)
