"""Every MSK cluster moto creates is served by a real broker behind the MSK front door.

CreateCluster (and CreateClusterV2) start a :class:`~.msk.LocalMskCluster` once moto stored
the cluster; its front door's address becomes the cluster's IAM bootstrap string
(:func:`emulator.kafka.serve_iam_listener`); DeleteCluster stops it. A cluster that cannot
be served makes CreateCluster fail, rather than leave a cluster nothing listens for.

With :class:`S3BrokerStorage` each broker keeps its log in a bucket of the emulator's own S3
(tansu's ``s3://`` storage engine), so the broker can be killed and restarted without losing
what it acknowledged, as an MSK broker's EBS volume survives a broker restart. The bucket,
``emulator-msk-<cluster uuid>``, is the emulator's, not the platform's; DeleteCluster empties
and removes it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.kafka.exceptions import KafkaException
from moto.kafka.models import KafkaBackend
from moto.s3.models import s3_backends

from .. import kafka as kafka_control_plane
from .._compat import patch_attribute
from .credentials import IamPolicyAuthorizer, MotoIdentities
from .kafka_event_sources import ClusterAccess
from .msk import MEMORY_STORAGE, LocalMskCluster, MskClusterSettings
from .msk_auth import ClusterArns
from .supervisor import Supervisor
from .tls import TlsFiles

log = logging.getLogger("emulator.msk")


class _ClusterNotServed(KafkaException):
    code = 500

    def __init__(self, message: str) -> None:
        super().__init__("InternalServerErrorException", message)


@dataclass(frozen=True)
class S3BrokerStorage:
    """tansu's log in a bucket of the emulator's S3, reached at ``endpoint_url``."""

    endpoint_url: str

    def __post_init__(self) -> None:
        if not self.endpoint_url.startswith("http://"):
            raise ValueError(
                f"endpoint_url must be the emulator's http:// URL: {self.endpoint_url}"
            )

    @staticmethod
    def bucket_for(arns: ClusterArns) -> str:
        uuid = re.sub(r"[^a-z0-9-]", "-", arns.cluster_uuid.lower())
        return f"emulator-msk-{uuid}"[:63].rstrip("-")

    def prepare(self, arns: ClusterArns) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Creates the cluster's bucket; answers tansu's storage URL and environment."""
        bucket = self.bucket_for(arns)
        backend = s3_backends[arns.account_id][arns.partition]
        if bucket not in backend.buckets:
            backend.create_bucket(bucket, arns.region)
        environment = (
            ("AWS_ENDPOINT", self.endpoint_url),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "testing"),  # the emulator's root identity
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_DEFAULT_REGION", arns.region),
        )
        return f"s3://{bucket}/", environment

    def release(self, arns: ClusterArns) -> None:
        """Empties and removes the cluster's bucket: a new cluster starts with no topics."""
        backend = s3_backends[arns.account_id][arns.partition]
        bucket = self.bucket_for(arns)
        if bucket not in backend.buckets:
            return
        for key in list(backend.buckets[bucket].keys.keys()):
            backend.delete_object(bucket, key)
        backend.delete_bucket(bucket)


class MskService:
    """The local brokers of the clusters moto holds."""

    def __init__(
        self,
        *,
        supervisor: Supervisor,
        tls: TlsFiles,
        identities: MotoIdentities,
        log_dir: Path,
        storage: S3BrokerStorage | None = None,
    ) -> None:
        self.supervisor = supervisor
        self.storage = storage
        self.tls = tls
        self.identities = identities
        self.authorizer = IamPolicyAuthorizer(identities.policies)
        self.log_dir = log_dir
        self._clusters: dict[str, LocalMskCluster] = {}
        self._lock = threading.Lock()

    def serve(self, cluster_arn: str, name: str) -> LocalMskCluster:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        engine: str = MEMORY_STORAGE
        environment: tuple[tuple[str, str], ...] = ()
        if self.storage is not None:
            engine, environment = self.storage.prepare(ClusterArns(cluster_arn))
        cluster = LocalMskCluster(
            MskClusterSettings(
                cluster_arn=cluster_arn,
                tls=self.tls,
                log_file=self.log_dir / f"{name}.log",
                storage_engine=engine,
                broker_environment=environment,
            ),
            credentials=self.identities.lookup,
            authorizer=self.authorizer,
            supervisor=self.supervisor,
        )
        cluster.start()
        with self._lock:
            self._clusters[cluster_arn] = cluster
        kafka_control_plane.serve_iam_listener(cluster_arn, cluster.bootstrap_brokers)
        log.info("cluster %s served at %s", name, cluster.bootstrap_brokers)
        return cluster

    def retire(self, cluster_arn: str) -> None:
        kafka_control_plane.serve_iam_listener(cluster_arn, None)
        with self._lock:
            cluster = self._clusters.pop(cluster_arn, None)
        if cluster is not None:
            cluster.stop()
            if self.storage is not None:
                self.storage.release(cluster.settings.arns)

    def access(self, cluster_arn: str) -> ClusterAccess | None:
        with self._lock:
            cluster = self._clusters.get(cluster_arn)
        if cluster is None:
            return None
        return ClusterAccess(cluster.bootstrap_brokers, self.tls.ca_cert)

    def clusters(self) -> dict[str, LocalMskCluster]:
        with self._lock:
            return dict(self._clusters)

    def stop(self) -> None:
        for arn in list(self.clusters()):
            self.retire(arn)

    def install(self) -> None:
        service = self

        def created(original: Callable[..., Any]) -> Callable[..., Any]:
            def create(backend: KafkaBackend, *args: Any, **kwargs: Any) -> Any:
                result = original(backend, *args, **kwargs)
                arn = result[0]
                try:
                    service.serve(arn, backend.clusters[arn].cluster_name)
                except Exception as error:
                    del backend.clusters[arn]
                    raise _ClusterNotServed(
                        f"the emulator could not start a broker for {arn}: {error}"
                    ) from error
                return result

            return create

        def deleted(original: Callable[..., Any]) -> Callable[..., Any]:
            def delete(backend: KafkaBackend, cluster_arn: str, *args: Any, **kw: Any) -> Any:
                result = original(backend, cluster_arn, *args, **kw)
                service.retire(cluster_arn)
                return result

            return delete

        patch_attribute(KafkaBackend, "create_cluster", created(KafkaBackend.create_cluster))
        patch_attribute(KafkaBackend, "create_cluster_v2", created(KafkaBackend.create_cluster_v2))
        patch_attribute(KafkaBackend, "delete_cluster", deleted(KafkaBackend.delete_cluster))
