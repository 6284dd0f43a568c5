"""Lambda event source mappings from Amazon MSK, added to moto 5.2.5.

Written for moto 5.2.5 (``moto.awslambda``); :func:`install` checks the installed version.
moto 5.2.5 accepts only SQS, DynamoDB Streams and Kinesis as event sources: an MSK cluster
ARN is rejected ("Unsupported event source type" / "Invalid EventSourceArn"). This module
lets CreateEventSourceMapping take the ARN of an MSK cluster that exists in moto's Kafka
backend, with the behaviour AWS documents for MSK sources:

* ``Topics`` (exactly one) and ``StartingPosition`` (``LATEST``, ``TRIM_HORIZON`` or
  ``AT_TIMESTAMP``) are required;
* ``BatchSize`` defaults to 100 and may go up to 10,000;
* ``AmazonManagedKafkaEventSourceConfig.ConsumerGroupId`` defaults to the mapping's UUID;
* a second mapping of the same function, cluster and topic is a ``ResourceConflictException``.

Get, List, Update and Delete then work through moto's own code, which already stores and
returns every field. Nothing polls Kafka: the function is never invoked by the mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.awslambda.models import EventSourceMapping, LambdaBackend
from moto.kafka.models import kafka_backends

from ._compat import check_moto_version
from ._compat import patch_attribute as _patch

__all__ = ["KafkaEventSourceMapping", "install"]

KAFKA_BATCH_SIZE_DEFAULT = 100
KAFKA_BATCH_SIZE_MAX = 10_000
KAFKA_STARTING_POSITIONS = ("LATEST", "TRIM_HORIZON", "AT_TIMESTAMP")

_installed = False


class _ResourceNotFound(LambdaClientError):
    code = 404

    def __init__(self, message: str):
        super().__init__("ResourceNotFoundException", message)


class _ResourceConflict(LambdaClientError):
    code = 409

    def __init__(self, message: str):
        super().__init__("ResourceConflictException", message)


def _invalid(message: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(message)


def is_kafka_arn(arn: str | None) -> bool:
    parts = (arn or "").split(":")
    return len(parts) > 5 and parts[2] == "kafka"


class KafkaEventSourceMapping(EventSourceMapping):
    """An event source mapping whose source is an MSK cluster."""

    @property
    def event_source_arn(self) -> str:
        return self._event_source_arn

    @event_source_arn.setter
    def event_source_arn(self, event_source_arn: str) -> None:
        if not is_kafka_arn(event_source_arn):
            raise ValueError("InvalidParameterValueException", "Unsupported event source type")
        self._event_source_arn = event_source_arn

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @batch_size.setter
    def batch_size(self, new_batch_size: int | None) -> None:
        if new_batch_size is None:
            self._batch_size = KAFKA_BATCH_SIZE_DEFAULT
        elif not 1 <= int(new_batch_size) <= KAFKA_BATCH_SIZE_MAX:
            raise ValueError(
                "InvalidParameterValueException",
                f"BatchSize {new_batch_size} is not between 1 and {KAFKA_BATCH_SIZE_MAX}",
            )
        else:
            self._batch_size = int(new_batch_size)


def _cluster_exists(arn: str) -> bool:
    _, _, _, region, account, *_ = arn.split(":")
    return arn in kafka_backends[account][region].clusters


def _create_kafka_mapping(backend: LambdaBackend, spec: dict[str, Any]) -> EventSourceMapping:
    arn = spec["EventSourceArn"]
    if not spec.get("FunctionName"):
        raise _invalid("Missing FunctionName")
    topics = spec.get("Topics") or []
    if len(topics) != 1:
        raise _invalid("Topics must contain exactly one topic for an Amazon MSK event source.")
    if spec.get("StartingPosition") not in KAFKA_STARTING_POSITIONS:
        raise _invalid(
            "StartingPosition must be one of " + ", ".join(KAFKA_STARTING_POSITIONS) + "."
        )
    if not _cluster_exists(arn):
        raise _ResourceNotFound(f"Cluster {arn} does not exist.")
    func = backend._lambdas.get_function_by_name_or_arn_with_qualifier(spec["FunctionName"])
    for existing in backend._event_source_mappings.values():
        if (
            existing.event_source_arn == arn
            and existing.function_arn == func.function_arn
            and (existing.topics or []) == topics
        ):
            raise _ResourceConflict(
                f"An event source mapping with Kafka arn {arn} and topic {topics[0]} "
                f"already exists. Please update or delete the existing mapping with UUID "
                f"{existing.uuid}",
            )
    spec["RegionName"] = backend.region_name
    spec["AccountId"] = backend.account_id
    spec["FunctionArn"] = func.function_arn
    esm = KafkaEventSourceMapping(spec)  # type: ignore[abstract]
    config = dict(esm.kafka_config or {})
    config.setdefault("ConsumerGroupId", esm.uuid)
    esm.kafka_config = config
    backend._event_source_mappings[esm.uuid] = esm
    return esm


def _wrap_create(
    original: Callable[[LambdaBackend, dict[str, Any]], EventSourceMapping],
) -> Callable[[LambdaBackend, dict[str, Any]], EventSourceMapping]:
    def create_event_source_mapping(
        self: LambdaBackend, spec: dict[str, Any]
    ) -> EventSourceMapping:
        if is_kafka_arn(spec.get("EventSourceArn")):
            try:
                return _create_kafka_mapping(self, spec)
            except ValueError as exc:  # moto's models raise (code, message) ValueErrors
                raise _invalid(str(exc.args[-1])) from exc
        return original(self, spec)

    return create_event_source_mapping


def install() -> None:
    """Patch moto's Lambda backend (also used by the no-Docker one). Idempotent."""
    global _installed
    check_moto_version(__name__)
    if _installed:
        return
    _patch(
        LambdaBackend,
        "create_event_source_mapping",
        _wrap_create(LambdaBackend.create_event_source_mapping),
    )
    _installed = True
