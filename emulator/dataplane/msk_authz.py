"""Which ``kafka-cluster`` action each Kafka request needs, and what a denial looks like.

MSK IAM access control maps Kafka's ACL checks onto IAM actions (AWS's "Semantics of IAM
authorization policy actions and resources"): WRITE topic is ``WriteData``, READ topic is
``ReadData``, DESCRIBE topic ``DescribeTopic``, CREATE topic ``CreateTopic``, READ group
``AlterGroup``, DESCRIBE group ``DescribeGroup``, IDEMPOTENT_WRITE cluster
``WriteDataIdempotently``, and so on. Kafka checks per resource and answers a denial with an
error on that resource (TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED, ...), not by
failing the whole request. This module does the same for one decoded request:

* requests that change something (Produce, CreateTopics, DeleteTopics, OffsetCommit,
  DeleteGroups) are *filtered*: the denied resources are taken out before the request reaches
  the broker, and error entries for them are added to the broker's answer (or, when nothing
  is left, the whole answer is made here);
* requests that only read (Fetch, ListOffsets, Metadata, OffsetFetch, DescribeGroups,
  FindCoordinator, DescribeConfigs, OffsetForLeaderEpoch) go to the broker unchanged, and
  the entries of denied resources in its answer are replaced by errors (a list of all topics
  simply leaves them out, as Kafka does);
* group membership calls and InitProducerId are allowed or denied as a whole;
* any other API needs ``AlterCluster`` (or ``DescribeCluster`` when it only reads); a denial
  closes the connection, since no per-API error answer is built for those.

Encoding and decoding use kafka-python's own protocol classes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Protocol

import kafka.protocol.admin as admin_api
import kafka.protocol.consumer as consumer_api
import kafka.protocol.metadata as metadata_api
import kafka.protocol.producer as producer_api
import kafka.protocol.sasl as sasl_api
from kafka.protocol.api_key import ApiKey
from kafka.protocol.api_message import ApiMessage

from .msk_auth import ClusterArns

# Kafka error codes used in denials (kafka.errors names them too).
TOPIC_AUTHORIZATION_FAILED: Final = 29
GROUP_AUTHORIZATION_FAILED: Final = 30
CLUSTER_AUTHORIZATION_FAILED: Final = 31
TRANSACTIONAL_ID_AUTHORIZATION_FAILED: Final = 53

# kafka-cluster actions (AWS's action table for Apache Kafka APIs for Amazon MSK clusters).
CONNECT: Final = "kafka-cluster:Connect"
DESCRIBE_CLUSTER: Final = "kafka-cluster:DescribeCluster"
ALTER_CLUSTER: Final = "kafka-cluster:AlterCluster"
DESCRIBE_CLUSTER_CONFIG: Final = "kafka-cluster:DescribeClusterDynamicConfiguration"
WRITE_DATA_IDEMPOTENTLY: Final = "kafka-cluster:WriteDataIdempotently"
CREATE_TOPIC: Final = "kafka-cluster:CreateTopic"
DESCRIBE_TOPIC: Final = "kafka-cluster:DescribeTopic"
DELETE_TOPIC: Final = "kafka-cluster:DeleteTopic"
READ_DATA: Final = "kafka-cluster:ReadData"
WRITE_DATA: Final = "kafka-cluster:WriteData"
DESCRIBE_TOPIC_CONFIG: Final = "kafka-cluster:DescribeTopicDynamicConfiguration"
DESCRIBE_GROUP: Final = "kafka-cluster:DescribeGroup"
ALTER_GROUP: Final = "kafka-cluster:AlterGroup"
DELETE_GROUP: Final = "kafka-cluster:DeleteGroup"
DESCRIBE_TRANSACTIONAL_ID: Final = "kafka-cluster:DescribeTransactionalId"
ALTER_TRANSACTIONAL_ID: Final = "kafka-cluster:AlterTransactionalId"

# APIs every authenticated client may call (Kafka checks no ACL for them).
UNCHECKED: Final = frozenset(
    {
        ApiKey.ApiVersions,
        ApiKey.SaslHandshake,
        ApiKey.SaslAuthenticate,
        ApiKey.GetTelemetrySubscriptions,
        ApiKey.PushTelemetry,
    }
)
# Other APIs that only read: they need DescribeCluster when no rule below covers them.
READ_ONLY: Final = frozenset(
    {
        ApiKey.DescribeAcls,
        ApiKey.DescribeLogDirs,
        ApiKey.DescribeClientQuotas,
        ApiKey.DescribeUserScramCredentials,
        ApiKey.ListPartitionReassignments,
        ApiKey.DescribeProducers,
        ApiKey.DescribeTransactions,
        ApiKey.ListTransactions,
        ApiKey.DescribeTopicPartitions,
        ApiKey.ConsumerGroupDescribe,
        ApiKey.DescribeQuorum,
    }
)
ZERO_UUID: Final = uuid.UUID(int=0)


def _message_classes(suffix: str) -> dict[int, Any]:
    """kafka-python's request (or response) class of every API it knows, by API key."""
    classes: dict[int, Any] = {}
    for module in (admin_api, consumer_api, metadata_api, producer_api, sasl_api):
        for name in getattr(module, "__all__", dir(module)):
            value: Any = getattr(module, name, None)
            if not (isinstance(value, type) and issubclass(value, ApiMessage)):
                continue
            message: Any = value  # kafka-python's classes are untyped
            if name.endswith(suffix) and message.json is not None:
                classes[int(message.API_KEY)] = message
    return classes


REQUEST_CLASSES: Final = _message_classes("Request")
RESPONSE_CLASSES: Final = _message_classes("Response")


def decode_request(api_key: int, version: int, payload: bytes) -> Any:
    """The request (header included) decoded with kafka-python's class for ``api_key``.

    Raises KeyError for an API kafka-python has no class for, ValueError (or a decoding
    error) for a version or body it cannot read.
    """
    return REQUEST_CLASSES[api_key].decode(payload, version=version, header=True)


def encode_response(response: Any, correlation_id: int) -> bytes:
    """A framed response for the client."""
    response.with_header(correlation_id=correlation_id)
    return bytes(response.encode(header=True, framed=True))


class Gate(Protocol):
    """What authorization needs from the connection: the caller's permissions, names."""

    @property
    def arns(self) -> ClusterArns: ...

    def allowed(self, action: str, resource_arn: str) -> bool: ...

    def topic_name(self, topic_id: uuid.UUID) -> str | None: ...

    def learn_topics(self, names_by_id: dict[uuid.UUID, str]) -> None: ...


# Rewrites the broker's answer: the response payload (header included, unframed) -> frame.
ResponseRewrite = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Verdict:
    """What to do with one request.

    ``payload`` replaces the request sent to the broker (None: the original bytes);
    ``local`` is a complete framed answer made here (nothing goes to the broker);
    ``rewrite`` changes the broker's answer; ``close`` ends the connection (the reason is
    logged); ``expects_response`` is False for Produce with acks=0.
    """

    payload: bytes | None = None
    local: bytes | None = None
    rewrite: ResponseRewrite | None = None
    close: str | None = None
    expects_response: bool = True


FORWARD: Final = Verdict()


def authorize(request: Any, gate: Gate) -> Verdict:
    """Authorize one decoded request (see the module docstring)."""
    api_key = int(request.API_KEY)
    if api_key in UNCHECKED:
        return FORWARD
    rule = RULES.get(api_key)
    if rule is not None:
        return rule(request, gate)
    action = DESCRIBE_CLUSTER if api_key in READ_ONLY else ALTER_CLUSTER
    if gate.allowed(action, gate.arns.cluster_arn):
        return FORWARD
    return Verdict(close=f"{_api_name(api_key)} needs {action} on {gate.arns.cluster_arn}")


def produce_expects_response(request: Any) -> bool:
    return int(request.acks) != 0


def _api_name(api_key: int) -> str:
    try:
        return str(ApiKey(api_key).name)
    except ValueError:
        return f"API {api_key}"


def _version(message: Any) -> int:
    return int(message.API_VERSION)


def _correlation_id(request: Any) -> int:
    return int(request.header.correlation_id)


def _response_class(request: Any) -> Any:
    return RESPONSE_CLASSES[int(request.API_KEY)]


def _encode_request(request: Any) -> bytes:
    return bytes(request.encode(header=True, framed=False))


def _rewriter(request: Any, change: Callable[[Any], None]) -> ResponseRewrite:
    """A rewrite that decodes the broker's answer, applies ``change``, re-encodes it."""
    response_class = _response_class(request)
    version = _version(request)

    def rewrite(payload: bytes) -> bytes:
        response = response_class.decode(payload, version=version, header=True)
        change(response)
        return bytes(response.encode(header=True, framed=True))

    return rewrite


def _local(request: Any, **fields: Any) -> Verdict:
    response = _response_class(request)(version=_version(request), **fields)
    return Verdict(local=encode_response(response, _correlation_id(request)))


def _topic_of(gate: Gate, item: Any, name_field: str) -> str | None:
    """The topic name of a request/response entry (by name, or by id on newer versions)."""
    name = getattr(item, name_field, None)
    if name:
        return str(name)
    topic_id = getattr(item, "topic_id", None)
    if isinstance(topic_id, uuid.UUID) and topic_id != ZERO_UUID:
        return gate.topic_name(topic_id)
    return None


def _denied_topic(gate: Gate, action: str, topic: str | None) -> bool:
    # An id the broker does not know is left for the broker to refuse (UNKNOWN_TOPIC_ID).
    return topic is not None and not gate.allowed(action, gate.arns.topic(topic))


def _split(items: Iterable[Any], denied: Callable[[Any], bool]) -> tuple[list[Any], list[Any]]:
    kept: list[Any] = []
    refused: list[Any] = []
    for item in items:
        (refused if denied(item) else kept).append(item)
    return kept, refused


def _filtered(
    request: Any,
    *,
    request_list: str,
    response_list: str,
    kept: list[Any],
    errors: list[Any],
    expects_response: bool = True,
    local_fields: dict[str, Any] | None = None,
) -> Verdict:
    """Forward ``request`` with only ``kept`` in ``request_list``; add ``errors`` to the
    answer's ``response_list``. With nothing kept, answer here."""
    if not errors:
        return FORWARD
    if not kept:
        if not expects_response:
            return Verdict(close="every topic of an acks=0 produce was denied")
        return _local(request, **{response_list: errors, **(local_fields or {})})
    setattr(request, request_list, kept)

    def add_errors(response: Any) -> None:
        getattr(response, response_list).extend(errors)

    return Verdict(
        payload=_encode_request(request),
        rewrite=_rewriter(request, add_errors) if expects_response else None,
        expects_response=expects_response,
    )


# --- Produce, Fetch, ListOffsets, Metadata -----------------------------------------------------


def _produce(request: Any, gate: Gate) -> Verdict:
    response_class = _response_class(request)
    version = _version(request)
    topic_class = response_class.TopicProduceResponse
    partition_class = topic_class.PartitionProduceResponse
    expects_response = produce_expects_response(request)

    transactional_id = request.transactional_id
    txn_denied = transactional_id is not None and not gate.allowed(
        ALTER_TRANSACTIONAL_ID, gate.arns.transactional_id(transactional_id)
    )

    def error_entry(topic: Any, code: int) -> Any:
        return topic_class(
            version=version,
            name=topic.name,
            topic_id=getattr(topic, "topic_id", None),
            partition_responses=[
                partition_class(version=version, index=p.index, error_code=code, base_offset=-1)
                for p in topic.partition_data
            ],
        )

    if txn_denied:
        if not expects_response:
            return Verdict(close="produce with a denied transactional id")
        entries = [
            error_entry(t, TRANSACTIONAL_ID_AUTHORIZATION_FAILED) for t in request.topic_data
        ]
        return _local(request, responses=entries)
    kept, refused = _split(
        request.topic_data,
        lambda t: _denied_topic(gate, WRITE_DATA, _topic_of(gate, t, "name")),
    )
    return _filtered(
        request,
        request_list="topic_data",
        response_list="responses",
        kept=kept,
        errors=[error_entry(t, TOPIC_AUTHORIZATION_FAILED) for t in refused],
        expects_response=expects_response,
    )


def _replace_topics(
    request: Any,
    gate: Gate,
    *,
    action: str,
    asked: list[str | None],
    response_list: str,
    name_field: str,
    denied_partition: dict[str, Any],
) -> Verdict:
    """Forward a read unchanged; in the answer, every partition of a denied topic gets
    TOPIC_AUTHORIZATION_FAILED and the ``denied_partition`` values. Where none of the
    ``asked`` topics is denied, the answer is left as it is."""
    if not any(_denied_topic(gate, action, topic) for topic in asked):
        return FORWARD

    def change(response: Any) -> None:
        for entry in getattr(response, response_list):
            if _denied_topic(gate, action, _topic_of(gate, entry, name_field)):
                for partition in entry.partitions:
                    partition.error_code = TOPIC_AUTHORIZATION_FAILED
                    for field_name, value in denied_partition.items():
                        setattr(partition, field_name, value)

    return Verdict(rewrite=_rewriter(request, change))


def _fetch(request: Any, gate: Gate) -> Verdict:
    return _replace_topics(
        request,
        gate,
        action=READ_DATA,
        asked=[_topic_of(gate, t, "topic") for t in request.topics],
        response_list="responses",
        name_field="topic",
        denied_partition={
            "high_watermark": -1,
            "last_stable_offset": -1,
            "log_start_offset": -1,
            "aborted_transactions": None,
            "records": None,
        },
    )


def _list_offsets(request: Any, gate: Gate) -> Verdict:
    return _replace_topics(
        request,
        gate,
        action=DESCRIBE_TOPIC,
        asked=[t.name for t in request.topics],
        response_list="topics",
        name_field="name",
        denied_partition={"offset": -1, "timestamp": -1},
    )


def _offset_for_leader_epoch(request: Any, gate: Gate) -> Verdict:
    return _replace_topics(
        request,
        gate,
        action=DESCRIBE_TOPIC,
        asked=[t.topic for t in request.topics],
        response_list="topics",
        name_field="topic",
        denied_partition={"end_offset": -1},
    )


def _metadata(request: Any, gate: Gate) -> Verdict:
    """Metadata: listed topics need DescribeTopic (denied ones answer TOPIC_AUTHORIZATION_FAILED);
    a list of all topics leaves out the ones the caller may not describe. Auto-creation
    needs CreateTopic. Every answer teaches the front door topic ids (Fetch v13+ uses them).
    """
    listed = request.topics is not None and (len(request.topics) > 0 or _version(request) > 0)
    payload = None
    if listed and getattr(request, "allow_auto_topic_creation", False):
        names = [_topic_of(gate, t, "name") for t in request.topics]
        if any(_denied_topic(gate, CREATE_TOPIC, n) for n in names):
            request.allow_auto_topic_creation = False
            payload = _encode_request(request)

    def change(response: Any) -> None:
        gate.learn_topics(
            {
                t.topic_id: t.name
                for t in response.topics
                if t.name and isinstance(t.topic_id, uuid.UUID) and t.topic_id != ZERO_UUID
            }
        )
        if listed:
            for topic in response.topics:
                if _denied_topic(gate, DESCRIBE_TOPIC, _topic_of(gate, topic, "name")):
                    topic.error_code = TOPIC_AUTHORIZATION_FAILED
                    topic.partitions = []
                    topic.is_internal = False
        else:
            response.topics = [
                t
                for t in response.topics
                if not _denied_topic(gate, DESCRIBE_TOPIC, _topic_of(gate, t, "name"))
            ]

    return Verdict(payload=payload, rewrite=_rewriter(request, change))


# --- Topics: create, delete, configs ----------------------------------------------------------


def _create_topics(request: Any, gate: Gate) -> Verdict:
    result_class = _response_class(request).CreatableTopicResult
    version = _version(request)
    kept, refused = _split(request.topics, lambda t: _denied_topic(gate, CREATE_TOPIC, t.name))
    errors = [
        result_class(
            version=version,
            name=t.name,
            error_code=TOPIC_AUTHORIZATION_FAILED,
            error_message=f"{CREATE_TOPIC} denied on {gate.arns.topic(t.name)}",
            num_partitions=-1,
            replication_factor=-1,
            configs=None,
        )
        for t in refused
    ]
    return _filtered(
        request, request_list="topics", response_list="topics", kept=kept, errors=errors
    )


def _delete_topics(request: Any, gate: Gate) -> Verdict:
    result_class = _response_class(request).DeletableTopicResult
    version = _version(request)

    def error(name: str | None, topic_id: Any) -> Any:
        return result_class(
            version=version,
            name=name,
            topic_id=topic_id,
            error_code=TOPIC_AUTHORIZATION_FAILED,
            error_message=f"{DELETE_TOPIC} denied",
        )

    if version < 6:
        kept, refused = _split(request.topic_names, lambda n: _denied_topic(gate, DELETE_TOPIC, n))
        return _filtered(
            request,
            request_list="topic_names",
            response_list="responses",
            kept=kept,
            errors=[error(n, None) for n in refused],
        )
    kept, refused = _split(
        request.topics, lambda t: _denied_topic(gate, DELETE_TOPIC, _topic_of(gate, t, "name"))
    )
    return _filtered(
        request,
        request_list="topics",
        response_list="responses",
        kept=kept,
        errors=[error(t.name, t.topic_id) for t in refused],
    )


# Kafka's config resource types (DescribeConfigs).
CONFIG_RESOURCE_TOPIC: Final = 2
CONFIG_RESOURCE_BROKER: Final = 4
CONFIG_RESOURCE_BROKER_LOGGER: Final = 8


def _describe_configs(request: Any, gate: Gate) -> Verdict:
    def denied(resource_type: int, name: str) -> tuple[bool, int]:
        if resource_type == CONFIG_RESOURCE_TOPIC:
            return (
                not gate.allowed(DESCRIBE_TOPIC_CONFIG, gate.arns.topic(name)),
                TOPIC_AUTHORIZATION_FAILED,
            )
        return (
            not gate.allowed(DESCRIBE_CLUSTER_CONFIG, gate.arns.cluster_arn),
            CLUSTER_AUTHORIZATION_FAILED,
        )

    if not any(denied(r.resource_type, r.resource_name)[0] for r in request.resources):
        return FORWARD

    def change(response: Any) -> None:
        for result in response.results:
            refused, code = denied(result.resource_type, result.resource_name)
            if refused:
                result.error_code = code
                result.error_message = "access denied by the caller's IAM policies"
                result.configs = []

    return Verdict(rewrite=_rewriter(request, change))


# --- Groups -----------------------------------------------------------------------------------


def _group_denied(gate: Gate, action: str, group: str) -> bool:
    return not gate.allowed(action, gate.arns.group(group))


def _group_call(request: Any, gate: Gate) -> Verdict:
    """JoinGroup, SyncGroup, Heartbeat, LeaveGroup: READ on the group, i.e. AlterGroup."""
    if not _group_denied(gate, ALTER_GROUP, request.group_id):
        return FORWARD
    return _local(request, error_code=GROUP_AUTHORIZATION_FAILED)


def _find_coordinator(request: Any, gate: Gate) -> Verdict:
    key_type = int(getattr(request, "key_type", 0) or 0)
    action, code = (
        (DESCRIBE_TRANSACTIONAL_ID, TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        if key_type == 1
        else (DESCRIBE_GROUP, GROUP_AUTHORIZATION_FAILED)
    )

    def denied(key: str) -> bool:
        resource = gate.arns.transactional_id(key) if key_type == 1 else gate.arns.group(key)
        return not gate.allowed(action, resource)

    if _version(request) < 4:
        if not denied(request.key):
            return FORWARD
        return _local(
            request, error_code=code, error_message="access denied", node_id=-1, host="", port=-1
        )
    if not any(denied(k) for k in request.coordinator_keys):
        return FORWARD

    def change(response: Any) -> None:
        for coordinator in response.coordinators:
            if denied(coordinator.key):
                coordinator.error_code = code
                coordinator.error_message = "access denied"
                coordinator.node_id, coordinator.host, coordinator.port = -1, "", -1

    return Verdict(rewrite=_rewriter(request, change))


def _offset_commit(request: Any, gate: Gate) -> Verdict:
    version = _version(request)
    topic_class = _response_class(request).OffsetCommitResponseTopic
    partition_class = topic_class.OffsetCommitResponsePartition

    def error_entry(topic: Any, code: int) -> Any:
        return topic_class(
            version=version,
            name=topic.name,
            topic_id=getattr(topic, "topic_id", None),
            partitions=[
                partition_class(version=version, partition_index=p.partition_index, error_code=code)
                for p in topic.partitions
            ],
        )

    if _group_denied(gate, ALTER_GROUP, request.group_id):
        return _local(
            request, topics=[error_entry(t, GROUP_AUTHORIZATION_FAILED) for t in request.topics]
        )
    kept, refused = _split(
        request.topics, lambda t: _denied_topic(gate, READ_DATA, _topic_of(gate, t, "name"))
    )
    return _filtered(
        request,
        request_list="topics",
        response_list="topics",
        kept=kept,
        errors=[error_entry(t, TOPIC_AUTHORIZATION_FAILED) for t in refused],
    )


def _offset_fetch(request: Any, gate: Gate) -> Verdict:
    version = _version(request)
    groups = [g.group_id for g in request.groups] if version >= 8 else [request.group_id]
    group_refused = {g for g in groups if _group_denied(gate, DESCRIBE_GROUP, g)}

    def deny_topics(topics: list[Any]) -> list[Any]:
        out = []
        for topic in topics:
            if _denied_topic(gate, DESCRIBE_TOPIC, _topic_of(gate, topic, "name")):
                for partition in topic.partitions:
                    partition.error_code = TOPIC_AUTHORIZATION_FAILED
                    partition.committed_offset = -1
                    partition.metadata = None
            out.append(topic)
        return out

    def change(response: Any) -> None:
        if version >= 8:
            for group in response.groups:
                if group.group_id in group_refused:
                    group.error_code = GROUP_AUTHORIZATION_FAILED
                    group.topics = []
                else:
                    group.topics = deny_topics(group.topics)
        elif group_refused:
            response.topics = []
            if version >= 2:
                response.error_code = GROUP_AUTHORIZATION_FAILED
        else:
            response.topics = deny_topics(response.topics)

    return Verdict(rewrite=_rewriter(request, change))


def _describe_groups(request: Any, gate: Gate) -> Verdict:
    refused = {g for g in request.groups if _group_denied(gate, DESCRIBE_GROUP, g)}
    if not refused:
        return FORWARD

    def change(response: Any) -> None:
        for group in response.groups:
            if group.group_id in refused:
                group.error_code = GROUP_AUTHORIZATION_FAILED
                group.group_state, group.protocol_type, group.protocol_data = "", "", ""
                group.members = []

    return Verdict(rewrite=_rewriter(request, change))


def _list_groups(request: Any, gate: Gate) -> Verdict:
    def change(response: Any) -> None:
        response.groups = [
            g for g in response.groups if not _group_denied(gate, DESCRIBE_GROUP, g.group_id)
        ]

    return Verdict(rewrite=_rewriter(request, change))


def _delete_groups(request: Any, gate: Gate) -> Verdict:
    result_class = _response_class(request).DeletableGroupResult
    version = _version(request)
    kept, refused = _split(request.groups_names, lambda g: _group_denied(gate, DELETE_GROUP, g))
    errors = [
        result_class(version=version, group_id=g, error_code=GROUP_AUTHORIZATION_FAILED)
        for g in refused
    ]
    return _filtered(
        request, request_list="groups_names", response_list="results", kept=kept, errors=errors
    )


# --- Producer ids, cluster --------------------------------------------------------------------


def _init_producer_id(request: Any, gate: Gate) -> Verdict:
    transactional_id = request.transactional_id
    if transactional_id is None:
        if gate.allowed(WRITE_DATA_IDEMPOTENTLY, gate.arns.cluster_arn):
            return FORWARD
        code = CLUSTER_AUTHORIZATION_FAILED
    else:
        if gate.allowed(ALTER_TRANSACTIONAL_ID, gate.arns.transactional_id(transactional_id)):
            return FORWARD
        code = TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    return _local(request, error_code=code, producer_id=-1, producer_epoch=-1)


def _describe_cluster(request: Any, gate: Gate) -> Verdict:
    if gate.allowed(DESCRIBE_CLUSTER, gate.arns.cluster_arn):
        return FORWARD
    return _local(
        request,
        error_code=CLUSTER_AUTHORIZATION_FAILED,
        error_message=f"{DESCRIBE_CLUSTER} denied",
        brokers=[],
    )


Rule = Callable[[Any, Gate], Verdict]

RULES: Final[dict[int, Rule]] = {
    ApiKey.Produce: _produce,
    ApiKey.Fetch: _fetch,
    ApiKey.ListOffsets: _list_offsets,
    ApiKey.Metadata: _metadata,
    ApiKey.OffsetCommit: _offset_commit,
    ApiKey.OffsetFetch: _offset_fetch,
    ApiKey.FindCoordinator: _find_coordinator,
    ApiKey.JoinGroup: _group_call,
    ApiKey.Heartbeat: _group_call,
    ApiKey.LeaveGroup: _group_call,
    ApiKey.SyncGroup: _group_call,
    ApiKey.DescribeGroups: _describe_groups,
    ApiKey.ListGroups: _list_groups,
    ApiKey.DeleteGroups: _delete_groups,
    ApiKey.CreateTopics: _create_topics,
    ApiKey.DeleteTopics: _delete_topics,
    ApiKey.InitProducerId: _init_producer_id,
    ApiKey.OffsetForLeaderEpoch: _offset_for_leader_epoch,
    ApiKey.DescribeConfigs: _describe_configs,
    ApiKey.DescribeCluster: _describe_cluster,
}


def topic_ids_in(request: Any) -> set[uuid.UUID]:
    """Every topic id a request names (Fetch v13+, OffsetCommit v10, ...), to resolve first."""
    found: set[uuid.UUID] = set()
    for attribute in ("topics", "topic_data", "groups"):
        for item in getattr(request, attribute, None) or ():
            topic_id = getattr(item, "topic_id", None)
            if isinstance(topic_id, uuid.UUID) and topic_id != ZERO_UUID:
                found.add(topic_id)
            for nested in getattr(item, "topics", None) or ():  # OffsetFetch v10 groups
                nested_id = getattr(nested, "topic_id", None)
                if isinstance(nested_id, uuid.UUID) and nested_id != ZERO_UUID:
                    found.add(nested_id)
    return found
