"""Athena named queries that can be deleted and read in batches, added to moto 5.2.5.

Written for moto 5.2.5 (``moto.athena``); :func:`install` checks the installed version.
moto 5.2.5 has no DeleteNamedQuery (its server answers 500 with an HTML page, so
``terraform destroy`` of an ``aws_athena_named_query`` fails), and GetNamedQuery of an
unknown id fails with a 500 as well. This module adds DeleteNamedQuery and answers both
for an unknown id as AWS does: ``InvalidRequestException`` saying it does not exist, the
text the provider treats as "already gone". It also adds BatchGetNamedQuery (missing too),
which ``python -m ops.query`` and the console use to find saved queries by name.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from moto.athena.models import AthenaBackend, NamedQuery
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


def _named_query(query: NamedQuery) -> dict[str, str]:
    return {
        "Name": query.name,
        "Description": query.description,
        "Database": query.database,
        "QueryString": query.query_string,
        "NamedQueryId": query.id,
        "WorkGroup": query.workgroup.name,
    }


def batch_get_named_query(self: AthenaResponse) -> str:
    backend: AthenaBackend = self.athena_backend
    found = []
    missing = []
    for query_id in self._get_param("NamedQueryIds") or []:
        query = backend.get_named_query(query_id)
        if query is None:
            missing.append(
                {
                    "NamedQueryId": query_id,
                    "ErrorCode": "INVALID_INPUT",
                    "ErrorMessage": f"NamedQuery {query_id} does not exist",
                }
            )
        else:
            found.append(_named_query(query))
    return json.dumps({"NamedQueries": found, "UnprocessedNamedQueryIds": missing})


def _wrap_get(original: Callable[[AthenaResponse], str]) -> Callable[[AthenaResponse], str]:
    def get_named_query(self: AthenaResponse) -> str:
        query_id = self._get_param("NamedQueryId")
        if self.athena_backend.get_named_query(query_id) is None:
            raise _missing(query_id)
        return original(self)

    return get_named_query


def install() -> None:
    """Add DeleteNamedQuery and BatchGetNamedQuery, fix GetNamedQuery of an unknown id."""
    global _installed
    check_moto_version(__name__)
    if _installed:
        return
    if hasattr(AthenaResponse, "delete_named_query"):
        raise AttributeError("moto already has AthenaResponse.delete_named_query: drop this patch")
    if hasattr(AthenaResponse, "batch_get_named_query"):
        raise AttributeError("moto already has AthenaResponse.batch_get_named_query")
    AthenaResponse.delete_named_query = delete_named_query  # type: ignore[attr-defined]
    AthenaResponse.batch_get_named_query = batch_get_named_query  # type: ignore[attr-defined]
    _patch(AthenaResponse, "get_named_query", _wrap_get(AthenaResponse.get_named_query))
    _installed = True
