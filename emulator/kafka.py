"""Amazon MSK (Kafka) additions to moto 5.2.5.

Written for moto 5.2.5 (``moto.kafka``); :func:`install` checks the installed version first.
What moto 5.2.5 lacks or gets wrong for ``aws_msk_configuration``, ``aws_msk_cluster`` and
``aws_msk_cluster_policy`` of the AWS provider 5.100.0, and what this module does about it:

* Cluster ARNs: moto builds ``cluster/<uuid>``; AWS (and the provider, which parses
  ``cluster_uuid`` out of the ARN) use ``cluster/<name>/<uuid>-<n>``. Fixed.
* Cluster state: moto clusters stay ``CREATING`` forever. A cluster's state is now one of
  moto's managed states (model ``kafka::cluster``): it answers ``CREATING`` to CreateCluster
  and is ``ACTIVE`` from its first read on, unless the state manager is told otherwise.
* Reads of an unknown or deleted cluster raised ``KeyError`` (HTTP 500); they now raise
  ``NotFoundException`` (HTTP 404), which the provider's delete waiter expects.
  DeleteCluster answers ``DELETING`` as AWS does.
* DescribeCluster(V2) carries ``encryptionAtRest`` (AWS fills in the AWS-managed key when
  none is given) and ZooKeeper connect strings in the AWS form
  (``z-N.<name>.<id>.c2.kafka.<region>.amazonaws.com:2181``) instead of moto's
  ``zookeeper.example.com``. Not needed for an empty plan; there so that outputs read
  like AWS's.
* GetBootstrapBrokers: missing. Returns per-broker strings
  ``b-N.<name>.<id>.c2.kafka.<region>.amazonaws.com:<port>`` for each listener the cluster's
  encryption, client authentication and connectivity settings enable (9092 plaintext,
  9094 TLS, 9096 SASL/SCRAM, 9098 SASL/IAM, 919x public, 14001+ multi-VPC connectivity).
* UpdateConnectivity (the provider calls it right after creation to turn on multi-VPC
  connectivity) and DescribeClusterOperation(V2): missing. The change is applied at once and
  the operation reported ``UPDATE_COMPLETE``; the cluster gets a new ``currentVersion``.
* MSK configurations (Create/Describe/DescribeRevision/List/ListRevisions/Update/Delete):
  missing. Stored in the Kafka backend, with revisions. A missing one is
  ``BadRequestException: Configuration ARN does not exist``, as AWS answers; the
  provider's delete waiter waits for exactly that.
* Cluster policies: GetClusterPolicy without a policy answered 200 with an empty policy;
  it is ``NotFoundException`` now, as on AWS. Deleting a cluster drops its policy and tags.

Nothing here runs Kafka. The data plane (:mod:`emulator.dataplane.msk_service`) runs a broker
for every cluster and registers its front door with :func:`serve_iam_listener`: the IAM
listeners (``SaslIam``, public and multi-VPC) then report that ``127.0.0.1:<port>``; other
listeners keep AWS's host names, which resolve nowhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from moto.kafka import urls as kafka_urls
from moto.kafka.exceptions import BadRequestException, KafkaException, NotFoundException
from moto.kafka.models import FakeKafkaCluster, KafkaBackend
from moto.kafka.responses import KafkaResponse
from moto.moto_api import state_manager
from moto.moto_api._internal.managed_state_model import ManagedState
from moto.utilities.utils import get_partition

from ._compat import check_moto_version
from ._compat import patch_attribute as _patch

__all__ = ["VPC_CONNECTIVITY_BASE_PORT", "broker_strings", "install"]

# Listener ports of MSK brokers (AWS "Port information" page).
PORT_PLAINTEXT = 9092
PORT_TLS = 9094
PORT_SASL_SCRAM = 9096
PORT_SASL_IAM = 9098
PUBLIC_PORT_OFFSET = 100  # 9194, 9196, 9198
# Multi-VPC private connectivity: broker N listens on 14000 + N (14001, 14002, ...).
VPC_CONNECTIVITY_BASE_PORT = 14000

_installed = False
# Clusters the data plane serves (emulator/dataplane/msk_service.py): ARN -> "host:port" of
# the front door, which speaks SASL/IAM over TLS like MSK's IAM listeners.
_served_iam_listeners: dict[str, str] = {}


def serve_iam_listener(cluster_arn: str, address: str | None) -> None:
    """Report ``address`` for the cluster's IAM listeners (None: stop reporting it)."""
    if address is None:
        _served_iam_listeners.pop(cluster_arn, None)
    else:
        _served_iam_listeners[cluster_arn] = address


class ConflictException(KafkaException):
    code = 409

    def __init__(self, msg: str):
        super().__init__("ConflictException", msg)


class _NotFound(NotFoundException):
    code = 404


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --- Configurations ---------------------------------------------------------------------------


@dataclass
class ConfigurationRevision:
    revision: int
    description: str
    server_properties: str  # base64, as on the wire
    creation_time: str = field(default_factory=_now)

    def summary(self) -> dict[str, Any]:
        return {
            "creationTime": self.creation_time,
            "description": self.description,
            "revision": self.revision,
        }


@dataclass
class MskConfiguration:
    arn: str
    name: str
    kafka_versions: list[str]
    revisions: list[ConfigurationRevision]
    state: str = "ACTIVE"
    creation_time: str = field(default_factory=_now)

    @property
    def latest(self) -> ConfigurationRevision:
        return self.revisions[-1]

    def describe(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "creationTime": self.creation_time,
            "description": self.latest.description,
            "kafkaVersions": list(self.kafka_versions),
            "latestRevision": self.latest.summary(),
            "name": self.name,
            "state": self.state,
        }


def _configurations(backend: KafkaBackend) -> dict[str, MskConfiguration]:
    store: dict[str, MskConfiguration] = backend.__dict__.setdefault("emulator_configurations", {})
    return store


def _check_server_properties(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise BadRequestException("serverProperties is required (base64 of the properties)")
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise BadRequestException("serverProperties must be base64-encoded") from exc
    return value


def create_configuration(
    backend: KafkaBackend,
    name: str,
    description: str,
    kafka_versions: list[str],
    server_properties: str,
) -> MskConfiguration:
    if not name:
        raise BadRequestException("name is required")
    store = _configurations(backend)
    if any(c.name == name for c in store.values()):
        raise ConflictException(f"A configuration named {name} already exists.")
    partition = get_partition(backend.region_name)
    arn = (
        f"arn:{partition}:kafka:{backend.region_name}:{backend.account_id}:"
        f"configuration/{name}/{uuid.uuid4()}-2"
    )
    config = MskConfiguration(
        arn=arn,
        name=name,
        kafka_versions=list(kafka_versions or []),
        revisions=[
            ConfigurationRevision(1, description or "", _check_server_properties(server_properties))
        ],
    )
    store[arn] = config
    return config


def get_configuration(backend: KafkaBackend, arn: str) -> MskConfiguration:
    config = _configurations(backend).get(arn)
    if config is None:
        # What AWS answers, and what the provider's delete waiter looks for.
        raise BadRequestException("Configuration ARN does not exist.")
    return config


# --- Clusters ---------------------------------------------------------------------------------


def _cluster_arn(self: FakeKafkaCluster) -> str:
    """AWS form ``cluster/<name>/<uuid>-<n>`` (moto 5.2.5 leaves the name out)."""
    partition = get_partition(self.region_name)
    return (
        f"arn:{partition}:kafka:{self.region_name}:{self.account_id}:"
        f"cluster/{self.cluster_name}/{self.cluster_id}-2"
    )


def _dns_id(cluster: FakeKafkaCluster) -> str:
    """Six-character cluster id used in broker host names (e.g. ``xuy0sb``)."""
    digest = hashlib.sha256(cluster.cluster_id.encode()).hexdigest()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[int(digest[i : i + 2], 16) % len(alphabet)] for i in range(0, 12, 2))


def _host(cluster: FakeKafkaCluster, prefix: str, index: int) -> str:
    suffix = "amazonaws.com.cn" if cluster.region_name.startswith("cn-") else "amazonaws.com"
    name = cluster.cluster_name.lower()
    return f"{prefix}-{index}.{name}.{_dns_id(cluster)}.c2.kafka.{cluster.region_name}.{suffix}"


def _broker_list(cluster: FakeKafkaCluster, port: int, per_broker: bool = False) -> str:
    count = int(cluster.number_of_broker_nodes or 0)
    return ",".join(
        f"{_host(cluster, 'b', i)}:{port + i if per_broker else port}" for i in range(1, count + 1)
    )


def _zookeeper(cluster: FakeKafkaCluster, port: int) -> str:
    return ",".join(f"{_host(cluster, 'z', i)}:{port}" for i in range(1, 4))


def _enabled(value: Any) -> bool:
    return isinstance(value, dict) and bool(value.get("enabled"))


def broker_strings(cluster: FakeKafkaCluster) -> dict[str, str]:
    """The GetBootstrapBrokers answer for ``cluster`` (only the listeners it has)."""
    if cluster.cluster_type != "PROVISIONED":
        raise BadRequestException("Use GetBootstrapBrokers on provisioned clusters only.")
    transit = (cluster.encryption_info or {}).get("encryptionInTransit") or {}
    client_broker = transit.get("clientBroker", "TLS")
    auth = cluster.client_authentication or {}
    sasl = auth.get("sasl") or {}
    tls_auth = auth.get("tls") or {}
    iam = _enabled(sasl.get("iam"))
    scram = _enabled(sasl.get("scram"))
    mtls = _enabled(tls_auth) or bool(tls_auth.get("certificateAuthorityArnList"))
    unauthenticated = _enabled(auth.get("unauthenticated")) or not (iam or scram or mtls)
    tls_allowed = client_broker in ("TLS", "TLS_PLAINTEXT")

    connectivity = (cluster.broker_node_group_info or {}).get("connectivityInfo") or {}
    public = (connectivity.get("publicAccess") or {}).get("type") == "SERVICE_PROVIDED_EIPS"
    vpc_auth = (connectivity.get("vpcConnectivity") or {}).get("clientAuthentication") or {}
    vpc_sasl = vpc_auth.get("sasl") or {}

    served = _served_iam_listeners.get(cluster.arn)
    out: dict[str, str] = {}
    if client_broker in ("PLAINTEXT", "TLS_PLAINTEXT") and unauthenticated:
        out["bootstrapBrokerString"] = _broker_list(cluster, PORT_PLAINTEXT)
    listeners = [
        ("Tls", tls_allowed and (mtls or unauthenticated), PORT_TLS),
        ("SaslScram", tls_allowed and scram, PORT_SASL_SCRAM),
        ("SaslIam", tls_allowed and iam, PORT_SASL_IAM),
    ]
    for suffix, on, port in listeners:
        if on:
            local = served if suffix == "SaslIam" else None
            out[f"bootstrapBrokerString{suffix}"] = local or _broker_list(cluster, port)
            if public:
                out[f"bootstrapBrokerStringPublic{suffix}"] = local or _broker_list(
                    cluster, port + PUBLIC_PORT_OFFSET
                )
    vpc_listeners = [
        ("Tls", _enabled(vpc_auth.get("tls"))),
        ("SaslScram", _enabled(vpc_sasl.get("scram"))),
        ("SaslIam", _enabled(vpc_sasl.get("iam"))),
    ]
    for suffix, on in vpc_listeners:
        if on:
            local = served if suffix == "SaslIam" else None
            out[f"bootstrapBrokerStringVpcConnectivity{suffix}"] = local or _broker_list(
                cluster, VPC_CONNECTIVITY_BASE_PORT, per_broker=True
            )
    return out


# moto's managed-state mechanism drives a cluster from CREATING to ACTIVE: by default the
# first read after CreateCluster finds it done (moto's clusters otherwise stay CREATING);
# POST /moto-api/state-manager/set-transition can make creation take reads or seconds.
CLUSTER_STATE_MODEL = "kafka::cluster"
CLUSTER_TRANSITION = {"progression": "manual", "times": 1}


def _managed(cluster: FakeKafkaCluster) -> ManagedState:
    managed: ManagedState | None = cluster.__dict__.get("_managed_state")
    if managed is None:
        managed = cluster.__dict__["_managed_state"] = ManagedState(
            CLUSTER_STATE_MODEL, [("CREATING", "ACTIVE")]
        )
    return managed


def _state(cluster: FakeKafkaCluster) -> str | None:
    return _managed(cluster).status


def _set_state(cluster: FakeKafkaCluster, value: str) -> None:
    _managed(cluster).status = value


def _get_cluster(backend: KafkaBackend, arn: str) -> FakeKafkaCluster:
    cluster = backend.clusters.get(arn)
    if cluster is None:
        raise _NotFound(f"Cluster {arn} does not exist.")
    _managed(cluster).advance()  # a read: what moto's manual progression counts
    return cluster


def _complete_cluster(cluster: FakeKafkaCluster) -> None:
    """Fill in what AWS always reports for a provisioned cluster."""
    if cluster.cluster_type != "PROVISIONED":
        return
    encryption = cluster.encryption_info = dict(cluster.encryption_info or {})
    if not encryption.get("encryptionAtRest"):
        key_id = uuid.uuid5(uuid.NAMESPACE_URL, f"aws/kafka/{cluster.account_id}")
        partition = get_partition(cluster.region_name)
        encryption["encryptionAtRest"] = {
            "dataVolumeKMSKeyId": (
                f"arn:{partition}:kms:{cluster.region_name}:{cluster.account_id}:key/{key_id}"
            )
        }
    encryption.setdefault("encryptionInTransit", {"clientBroker": "TLS", "inCluster": True})
    if cluster.zookeeper_connect_string is None:
        cluster.zookeeper_connect_string = _zookeeper(cluster, 2181)
        cluster.zookeeper_connect_string_tls = _zookeeper(cluster, 2182)


# --- Patched backend methods ------------------------------------------------------------------


def _wrap_describe(
    original: Callable[[KafkaBackend, str], dict[str, Any]],
) -> Callable[[KafkaBackend, str], dict[str, Any]]:
    def describe(self: KafkaBackend, cluster_arn: str) -> dict[str, Any]:
        cluster = _get_cluster(self, cluster_arn)
        _complete_cluster(cluster)
        info = original(self, cluster_arn)
        info.pop("activeOperationArn", None)  # moto's is a placeholder, not an ARN
        info["stateInfo"] = {}
        return info

    return describe


def _delete_cluster(self: KafkaBackend, cluster_arn: str, current_version: str) -> tuple[str, str]:
    cluster = _get_cluster(self, cluster_arn)
    if current_version and current_version != cluster.current_version:
        raise BadRequestException(
            f"The current version {current_version} does not match {cluster.current_version}."
        )
    del self.clusters[cluster_arn]
    self.policies.pop(cluster_arn, None)
    self.tagger.delete_all_tags_for_resource(cluster_arn)
    return cluster_arn, "DELETING"


# --- Cluster operations -----------------------------------------------------------------------


@dataclass
class ClusterOperation:
    arn: str
    cluster_arn: str
    operation_type: str
    source: dict[str, Any]
    target: dict[str, Any]
    time: str = field(default_factory=_now)

    def describe_v1(self) -> dict[str, Any]:
        return {
            "clusterArn": self.cluster_arn,
            "creationTime": self.time,
            "endTime": self.time,
            "operationArn": self.arn,
            "operationState": "UPDATE_COMPLETE",
            "operationType": self.operation_type,
            "sourceClusterInfo": self.source,
            "targetClusterInfo": self.target,
        }

    def describe_v2(self) -> dict[str, Any]:
        return {
            "clusterArn": self.cluster_arn,
            "clusterType": "PROVISIONED",
            "startTime": self.time,
            "endTime": self.time,
            "operationArn": self.arn,
            "operationState": "UPDATE_COMPLETE",
            "operationType": self.operation_type,
            "provisioned": {"sourceClusterInfo": self.source, "targetClusterInfo": self.target},
        }


def _operations(backend: KafkaBackend) -> dict[str, ClusterOperation]:
    store: dict[str, ClusterOperation] = backend.__dict__.setdefault("emulator_operations", {})
    return store


def _new_version() -> str:
    """A cluster version string like AWS's (``K3T4TT2Z381HKD``)."""
    return uuid.uuid4().hex[:14].upper()


def update_connectivity(
    backend: KafkaBackend, cluster_arn: str, current_version: str, connectivity: dict[str, Any]
) -> ClusterOperation:
    """Apply UpdateConnectivity at once; the operation is complete when it is returned."""
    cluster = _get_cluster(backend, cluster_arn)
    if cluster.state != "ACTIVE":
        raise BadRequestException(f"Cluster {cluster_arn} is {cluster.state}, not ACTIVE.")
    if current_version != cluster.current_version:
        raise BadRequestException(
            f"The current version {current_version} does not match {cluster.current_version}."
        )
    node_group = cluster.broker_node_group_info = dict(cluster.broker_node_group_info or {})
    before = dict(node_group.get("connectivityInfo") or {})
    after = {**before, **{k: v for k, v in connectivity.items() if v is not None}}
    node_group["connectivityInfo"] = after
    cluster.current_version = _new_version()
    partition = get_partition(cluster.region_name)
    operation = ClusterOperation(
        arn=(
            f"arn:{partition}:kafka:{cluster.region_name}:{cluster.account_id}:"
            f"cluster-operation/{cluster.cluster_name}/{cluster.cluster_id}-2/{uuid.uuid4()}"
        ),
        cluster_arn=cluster.arn,
        operation_type="UPDATE_CONNECTIVITY",
        source={"connectivityInfo": before},
        target={"connectivityInfo": after},
    )
    _operations(backend)[operation.arn] = operation
    return operation


def get_operation(backend: KafkaBackend, arn: str) -> ClusterOperation:
    operation = _operations(backend).get(arn)
    if operation is None:
        raise _NotFound(f"Cluster operation {arn} does not exist.")
    return operation


# --- Patched response handlers ----------------------------------------------------------------


def _uri_param(response: KafkaResponse, name: str) -> str:
    value = (response.uri_match or {}).get(name)
    if value is None:
        raise BadRequestException(f"Missing path parameter {name}")
    return unquote(str(value))


def _body(response: KafkaResponse) -> dict[str, Any]:
    if not response.body:
        return {}
    data = json.loads(response.body)
    return data if isinstance(data, dict) else {}


def create_configuration_handler(self: KafkaResponse) -> str:
    body = _body(self)
    config = create_configuration(
        self.kafka_backend,
        name=body.get("name", ""),
        description=body.get("description", ""),
        kafka_versions=body.get("kafkaVersions") or [],
        server_properties=body.get("serverProperties", ""),
    )
    return json.dumps(
        {
            "arn": config.arn,
            "creationTime": config.creation_time,
            "latestRevision": config.latest.summary(),
            "name": config.name,
            "state": config.state,
        }
    )


def describe_configuration_handler(self: KafkaResponse) -> str:
    config = get_configuration(self.kafka_backend, _uri_param(self, "arn"))
    return json.dumps(config.describe())


def describe_configuration_revision_handler(self: KafkaResponse) -> str:
    config = get_configuration(self.kafka_backend, _uri_param(self, "arn"))
    wanted = int(_uri_param(self, "revision"))
    for rev in config.revisions:
        if rev.revision == wanted:
            return json.dumps(
                {
                    "arn": config.arn,
                    "creationTime": rev.creation_time,
                    "description": rev.description,
                    "revision": rev.revision,
                    "serverProperties": rev.server_properties,
                }
            )
    raise _NotFound(f"Revision {wanted} of configuration {config.arn} does not exist.")


def list_configurations_handler(self: KafkaResponse) -> str:
    configs = [c.describe() for c in _configurations(self.kafka_backend).values()]
    return json.dumps({"configurations": configs})


def list_configuration_revisions_handler(self: KafkaResponse) -> str:
    config = get_configuration(self.kafka_backend, _uri_param(self, "arn"))
    return json.dumps({"revisions": [r.summary() for r in config.revisions]})


def update_configuration_handler(self: KafkaResponse) -> str:
    config = get_configuration(self.kafka_backend, _uri_param(self, "arn"))
    body = _body(self)
    revision = ConfigurationRevision(
        revision=config.latest.revision + 1,
        description=body.get("description", config.latest.description) or "",
        server_properties=_check_server_properties(body.get("serverProperties")),
    )
    config.revisions.append(revision)
    return json.dumps({"arn": config.arn, "latestRevision": revision.summary()})


def delete_configuration_handler(self: KafkaResponse) -> str:
    backend = self.kafka_backend
    config = get_configuration(backend, _uri_param(self, "arn"))
    in_use = [
        c.arn
        for c in backend.clusters.values()
        if (c.configuration_info or {}).get("arn") == config.arn
    ]
    if in_use:
        raise BadRequestException(f"Configuration {config.arn} is in use by {in_use[0]}.")
    del _configurations(backend)[config.arn]
    return json.dumps({"arn": config.arn, "state": "DELETING"})


def get_bootstrap_brokers_handler(self: KafkaResponse) -> str:
    cluster = _get_cluster(self.kafka_backend, _uri_param(self, "clusterArn"))
    return json.dumps(broker_strings(cluster))


def update_connectivity_handler(self: KafkaResponse) -> str:
    body = _body(self)
    operation = update_connectivity(
        self.kafka_backend,
        cluster_arn=_uri_param(self, "clusterArn"),
        current_version=body.get("currentVersion", ""),
        connectivity=body.get("connectivityInfo") or {},
    )
    return json.dumps({"clusterArn": operation.cluster_arn, "clusterOperationArn": operation.arn})


def describe_cluster_operation_handler(self: KafkaResponse) -> str:
    operation = get_operation(self.kafka_backend, _uri_param(self, "clusterOperationArn"))
    return json.dumps({"clusterOperationInfo": operation.describe_v1()})


def describe_cluster_operation_v2_handler(self: KafkaResponse) -> str:
    operation = get_operation(self.kafka_backend, _uri_param(self, "clusterOperationArn"))
    return json.dumps({"clusterOperationInfo": operation.describe_v2()})


def _cluster_arn_from_path(self: KafkaResponse) -> str:
    return _uri_param(self, "clusterArn")


def describe_cluster_handler(self: KafkaResponse) -> str:
    info = self.kafka_backend.describe_cluster(cluster_arn=_cluster_arn_from_path(self))
    return json.dumps({"clusterInfo": info})


def describe_cluster_v2_handler(self: KafkaResponse) -> str:
    info = self.kafka_backend.describe_cluster_v2(cluster_arn=_cluster_arn_from_path(self))
    return json.dumps({"clusterInfo": info})


def delete_cluster_handler(self: KafkaResponse) -> str:
    arn, state = self.kafka_backend.delete_cluster(
        cluster_arn=_cluster_arn_from_path(self),
        current_version=self._get_param("currentVersion"),
    )
    return json.dumps({"clusterArn": arn, "state": state})


def _policy_handler(name: str) -> Callable[[KafkaResponse], str]:
    """Cluster policy calls, with the ARN taken from the routed path (it holds slashes)."""

    def handler(self: KafkaResponse) -> str:
        arn = _cluster_arn_from_path(self)
        backend = self.kafka_backend
        _get_cluster(backend, arn)
        if name == "put":
            version = backend.put_cluster_policy(
                cluster_arn=arn,
                current_version=self._get_param("currentVersion"),
                policy=self._get_param("policy"),
            )
            return json.dumps({"currentVersion": version})
        if name == "get":
            if arn not in backend.policies:
                raise _NotFound(f"Cluster {arn} has no cluster policy.")
            policy, version = backend.get_cluster_policy(cluster_arn=arn)
            return json.dumps({"currentVersion": version, "policy": policy})
        if arn not in backend.policies:
            raise _NotFound(f"Cluster {arn} has no cluster policy.")
        backend.delete_cluster_policy(cluster_arn=arn)
        return json.dumps({})

    handler.__name__ = f"{name}_cluster_policy"
    return handler


# Extra routes: requests reach KafkaResponse.dispatch, which picks the operation from the
# botocore model, so one catch-all path per prefix is enough.
EXTRA_URL_PATHS = {
    "{0}/v1/configurations$": KafkaResponse.dispatch,
    "{0}/v1/configurations/(?P<arn>.+)$": KafkaResponse.dispatch,
    "{0}/v1/operations/(?P<clusterOperationArn>.+)$": KafkaResponse.dispatch,
    "{0}/api/v2/operations/(?P<clusterOperationArn>.+)$": KafkaResponse.dispatch,
}


def install() -> None:
    """Patch moto's Kafka backend and responses. Idempotent; call before the app is built."""
    global _installed
    check_moto_version(__name__)
    if _installed:
        return
    kafka_urls.url_paths.update(EXTRA_URL_PATHS)

    _patch(FakeKafkaCluster, "_generate_arn", _cluster_arn)
    FakeKafkaCluster.state = property(_state, _set_state)  # type: ignore[assignment]
    state_manager.register_default_transition(CLUSTER_STATE_MODEL, CLUSTER_TRANSITION)
    _patch(KafkaBackend, "describe_cluster", _wrap_describe(KafkaBackend.describe_cluster))
    _patch(KafkaBackend, "describe_cluster_v2", _wrap_describe(KafkaBackend.describe_cluster_v2))
    _patch(KafkaBackend, "delete_cluster", _delete_cluster)

    handlers: dict[str, Callable[[KafkaResponse], str]] = {
        "create_configuration": create_configuration_handler,
        "describe_configuration": describe_configuration_handler,
        "describe_configuration_revision": describe_configuration_revision_handler,
        "list_configurations": list_configurations_handler,
        "list_configuration_revisions": list_configuration_revisions_handler,
        "update_configuration": update_configuration_handler,
        "delete_configuration": delete_configuration_handler,
        "get_bootstrap_brokers": get_bootstrap_brokers_handler,
        "update_connectivity": update_connectivity_handler,
        "describe_cluster_operation": describe_cluster_operation_handler,
        "describe_cluster_operation_v2": describe_cluster_operation_v2_handler,
        "describe_cluster": describe_cluster_handler,
        "describe_cluster_v2": describe_cluster_v2_handler,
        "delete_cluster": delete_cluster_handler,
        "put_cluster_policy": _policy_handler("put"),
        "get_cluster_policy": _policy_handler("get"),
        "delete_cluster_policy": _policy_handler("delete"),
    }
    for name, handler in handlers.items():
        setattr(KafkaResponse, name, handler)
    _installed = True
