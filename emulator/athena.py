"""Athena named queries that can be deleted, added to moto 5.2.5.

Written for moto 5.2.5 (``moto.athena``); :func:`install` checks the installed version.
moto 5.2.5 has no DeleteNamedQuery (its server answers 500 with an HTML page, so
``terraform destroy`` of an ``aws_athena_named_query`` fails), and GetNamedQuery of an
unknown id fails with a 500 as well. This module adds DeleteNamedQuery and answers both
for an unknown id as AWS does: ``InvalidRequestException`` saying it does not exist, the
text the provider treats as "already gone".
"""

from __future__ import annotations

import json
from collections.abc import Callable

from moto.athena.models import AthenaBackend
from moto.athena.responses import AthenaResponse
from moto.core.exceptions import JsonRESTError

from ._compat import check_moto_version
from ._compat import patch_attribute as _patch

__all__ = ["install"]

_installed = False


def _missing(query_id: str) -> JsonRESTError:
    return JsonRESTError("InvalidRequestException", f"NamedQuery {query_id} does not exist")


def delete_named_query(self: AthenaResponse) -> str:
    query_id = self._get_param("NamedQueryId")
    backend: AthenaBackend = self.athena_backend
    if backend.named_queries.pop(query_id, None) is None:
        raise _missing(query_id)
    return json.dumps({})


def _wrap_get(original: Callable[[AthenaResponse], str]) -> Callable[[AthenaResponse], str]:
    def get_named_query(self: AthenaResponse) -> str:
        query_id = self._get_param("NamedQueryId")
        if self.athena_backend.get_named_query(query_id) is None:
            raise _missing(query_id)
        return original(self)

    return get_named_query


def install() -> None:
    """Add DeleteNamedQuery and fix GetNamedQuery of an unknown id. Idempotent."""
    global _installed
    check_moto_version(__name__)
    if _installed:
        return
    if hasattr(AthenaResponse, "delete_named_query"):
        raise AttributeError("moto already has AthenaResponse.delete_named_query: drop this patch")
    AthenaResponse.delete_named_query = delete_named_query  # type: ignore[attr-defined]
    _patch(AthenaResponse, "get_named_query", _wrap_get(AthenaResponse.get_named_query))
    _installed = True
