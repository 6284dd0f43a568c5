"""Every MSK cluster moto creates is served by a real broker behind the MSK front door.

CreateCluster (and CreateClusterV2) start a :class:`~.msk.LocalMskCluster` once moto stored
the cluster; its front door's address becomes the cluster's IAM bootstrap string
(:func:`emulator.kafka.serve_iam_listener`); DeleteCluster stops it. A cluster that cannot
be served makes CreateCluster fail, rather than leave a cluster nothing listens for.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moto.kafka.exceptions import KafkaException
from moto.kafka.models import KafkaBackend

from .. import kafka as kafka_control_plane
from .._compat import patch_attribute
from .credentials import IamPolicyAuthorizer, MotoIdentities
from .kafka_event_sources import ClusterAccess
from .msk import LocalMskCluster, MskClusterSettings
from .supervisor import Supervisor
from .tls import TlsFiles

log = logging.getLogger("emulator.msk")


class _ClusterNotServed(KafkaException):
    code = 500

    def __init__(self, message: str) -> None:
        super().__init__("InternalServerErrorException", message)


class MskService:
    """The local brokers of the clusters moto holds."""

    def __init__(
        self,
        *,
        supervisor: Supervisor,
        tls: TlsFiles,
        identities: MotoIdentities,
        log_dir: Path,
    ) -> None:
        self.supervisor = supervisor
        self.tls = tls
        self.identities = identities
        self.authorizer = IamPolicyAuthorizer(identities.policies)
        self.log_dir = log_dir
        self._clusters: dict[str, LocalMskCluster] = {}
        self._lock = threading.Lock()

    def serve(self, cluster_arn: str, name: str) -> LocalMskCluster:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        cluster = LocalMskCluster(
            MskClusterSettings(
                cluster_arn=cluster_arn, tls=self.tls, log_file=self.log_dir / f"{name}.log"
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
