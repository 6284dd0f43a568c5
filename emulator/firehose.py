"""Firehose delivery streams with an Amazon MSK source, added to moto 5.2.5.

Written for moto 5.2.5 (``moto.firehose``); :func:`install` checks the installed version.
moto 5.2.5 accepts ``DeliveryStreamType = MSKAsSource`` but drops
``MSKSourceConfiguration``: DescribeDeliveryStream then has no ``Source``, so the
provider reads ``msk_source_configuration`` back as empty and plans to replace the stream.
This module keeps the configuration and returns it as ``Source.MSKSourceDescription``
(with ``DeliveryStartTimestamp``, which AWS sets to ``ReadFromTimestamp`` or the creation
time), and rejects an MSK source on any other stream type, as AWS does.

No record is read from Kafka or written to S3.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.firehose.exceptions import InvalidArgumentException
from moto.firehose.models import FirehoseBackend
from moto.firehose.responses import FirehoseResponse

from ._compat import check_moto_version
from ._compat import patch_attribute as _patch

__all__ = ["install"]

MSK_STREAM_TYPE = "MSKAsSource"

_installed = False


def _msk_sources(backend: FirehoseBackend) -> dict[str, dict[str, Any]]:
    # Kept beside, not on, the DeliveryStream: moto dumps every attribute of it into
    # DescribeDeliveryStream.
    store: dict[str, dict[str, Any]] = backend.__dict__.setdefault("emulator_msk_sources", {})
    return store


def _description(config: dict[str, Any], created: datetime) -> dict[str, Any]:
    description: dict[str, Any] = {
        "MSKClusterARN": config.get("MSKClusterARN"),
        "TopicName": config.get("TopicName"),
        "AuthenticationConfiguration": config.get("AuthenticationConfiguration"),
        "DeliveryStartTimestamp": config.get("ReadFromTimestamp") or created,
    }
    if config.get("ReadFromTimestamp"):
        description["ReadFromTimestamp"] = config["ReadFromTimestamp"]
    return description


def _wrap_create(
    original: Callable[[FirehoseResponse], ActionResult],
) -> Callable[[FirehoseResponse], ActionResult]:
    def create_delivery_stream(self: FirehoseResponse) -> ActionResult:
        msk = self._get_param("MSKSourceConfiguration")
        stream_type = self._get_param("DeliveryStreamType")
        if msk and stream_type != MSK_STREAM_TYPE:
            raise InvalidArgumentException(
                f"MSKSourceConfiguration is only applicable for {MSK_STREAM_TYPE} stream type"
            )
        if stream_type == MSK_STREAM_TYPE and not msk:
            raise InvalidArgumentException(
                f"MSKSourceConfiguration is required for {MSK_STREAM_TYPE} stream type"
            )
        result = original(self)
        if msk:
            name = self._get_param("DeliveryStreamName")
            _msk_sources(self.firehose_backend)[name] = _description(msk, datetime.now(UTC))
        return result

    return create_delivery_stream


def _wrap_describe(
    original: Callable[[FirehoseBackend, str], dict[str, Any]],
) -> Callable[[FirehoseBackend, str], dict[str, Any]]:
    def describe_delivery_stream(self: FirehoseBackend, delivery_stream_name: str) -> Any:
        result = original(self, delivery_stream_name)
        source = _msk_sources(self).get(delivery_stream_name)
        if source is not None:
            result["DeliveryStreamDescription"]["Source"] = {"MSKSourceDescription": source}
        return result

    return describe_delivery_stream


def _wrap_delete(
    original: Callable[[FirehoseBackend, str], None],
) -> Callable[[FirehoseBackend, str], None]:
    def delete_delivery_stream(self: FirehoseBackend, delivery_stream_name: str) -> None:
        original(self, delivery_stream_name)
        _msk_sources(self).pop(delivery_stream_name, None)

    return delete_delivery_stream


def install() -> None:
    """Patch moto's Firehose response and backend. Idempotent."""
    global _installed
    check_moto_version(__name__)
    if _installed:
        return
    _patch(
        FirehoseResponse,
        "create_delivery_stream",
        _wrap_create(FirehoseResponse.create_delivery_stream),
    )
    _patch(
        FirehoseBackend,
        "describe_delivery_stream",
        _wrap_describe(FirehoseBackend.describe_delivery_stream),
    )
    _patch(
        FirehoseBackend,
        "delete_delivery_stream",
        _wrap_delete(FirehoseBackend.delete_delivery_stream),
    )
    _installed = True
