"""Athena queries that run: moto's Athena API over the local query engine.

moto 5.2.5 records StartQueryExecution, reports every query SUCCEEDED at the next
GetQueryExecution and returns no rows. :func:`install` replaces those calls so a query runs
for real (:class:`~.athena_engine.QueryEngine`: the Glue catalog and S3 of the same moto
backends, DuckDB underneath), in the background, as Athena runs it:

* StartQueryExecution answers at once with the id; the query is QUEUED, then RUNNING on a
  worker thread, then SUCCEEDED, FAILED (``StateChangeReason`` and ``AthenaError`` carry
  Athena's error name and message) or CANCELLED. The workgroup must exist; its result
  location wins when it enforces its configuration, otherwise the request's does, and a
  query with neither is refused as Athena refuses it.
* Results are written where Athena writes them: ``<OutputLocation><QueryExecutionId>.csv``
  in the emulator's S3 (header row, every value double-quoted, NULL as nothing), so
  ``aws s3 cp`` finds them. The binary ``.csv.metadata`` file is not written.
* GetQueryResults: the header row first, then the rows, pages of MaxResults (at most 1000)
  with NextToken, and ``ColumnInfo`` with Athena's type names. GetQueryExecution carries
  ``Statistics`` (``DataScannedInBytes`` is the stored size of the objects read).
* StopQueryExecution cancels a queued or running query (DuckDB is interrupted);
  ListQueryExecutions (per workgroup, newest first, paged) and BatchGetQueryExecution
  cover every query.

Only SELECT queries (WITH, UNION, ...) run; DDL, INSERT, CTAS, SHOW, DESCRIBE and EXPLAIN
end FAILED with NOT_SUPPORTED and say so. The integrator installs it with the other
extensions (``emulator/server.py``)::

    from .dataplane import athena as athena_queries
    athena_queries.install()          # after athena.install(); version-checked

and may call :func:`shutdown` when the emulator stops. Tests use it with ``mock_aws``:
the patch works on moto's in-process backends, with or without the server.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from moto.athena.models import AthenaBackend, Execution, WorkGroup
from moto.athena.responses import AthenaResponse
from moto.core.exceptions import JsonRESTError
from moto.moto_api._internal import mock_random
from moto.moto_api._internal.managed_state_model import ManagedState

from .._compat import check_moto_version
from .._compat import patch_attribute as _patch
from .athena_catalog import CatalogError, StoredObject, parse_s3_url
from .athena_engine import QueryCancelled, QueryEngine, QueryFailed, QueryResult, results_csv
from .athena_types import column_info

__all__ = [
    "MotoGlueCatalog",
    "MotoObjectStore",
    "QueryRun",
    "install",
    "shutdown",
]

log = logging.getLogger("emulator.athena")

DEFAULT_WORKGROUP: Final = "primary"
DEFAULT_CATALOG: Final = "AwsDataCatalog"
DEFAULT_DATABASE: Final = "default"
MAX_RESULTS: Final = 1000
MAX_LIST_RESULTS: Final = 50
WORKERS_ENV: Final = "EMULATOR_ATHENA_WORKERS"
ENGINE_VERSION: Final = {
    "SelectedEngineVersion": "AUTO",
    "EffectiveEngineVersion": "Athena engine version 3",
}
_ENCRYPTION_HEADERS: Final = {"SSE_S3": "AES256", "SSE_KMS": "aws:kms", "CSE_KMS": None}

_installed = False
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _invalid(message: str) -> JsonRESTError:
    return JsonRESTError("InvalidRequestException", message)


# -- moto's Glue and S3 as the engine sees them -----------------------------------------------


class MotoGlueCatalog:
    """GetTable/GetPartitions answered from moto's Glue backend (names ignore case)."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region

    def _backend(self) -> Any:
        from moto.glue.models import glue_backends

        return glue_backends[self.account_id][self.region]

    def _table(self, database: str, name: str) -> Any:
        backend = self._backend()
        databases = {key.lower(): value for key, value in backend.databases.items()}
        found = databases.get(database.lower())
        if found is None:
            raise CatalogError("SCHEMA_NOT_FOUND", f"Schema '{database}' does not exist")
        tables = {key.lower(): value for key, value in found.tables.items()}
        table = tables.get(name.lower())
        if table is None:
            raise CatalogError(
                "TABLE_NOT_FOUND", f"Table 'awsdatacatalog.{database}.{name}' does not exist"
            )
        return table

    def get_table(self, database: str, name: str) -> dict[str, Any]:
        table: dict[str, Any] = self._table(database, name).as_dict()
        return table

    def get_partitions(self, database: str, name: str) -> list[dict[str, Any]]:
        table = self._table(database, name)
        return [partition.as_dict() for partition in list(table.partitions.values())]


class MotoObjectStore:
    """Objects in moto's S3 backend (any account's bucket, as S3's namespace is global)."""

    def __init__(self, account_id: str, partition: str = "aws") -> None:
        self.account_id = account_id
        self.partition = partition

    def _backend(self) -> Any:
        from moto.s3.models import s3_backends

        return s3_backends[self.account_id][self.partition]

    def _bucket(self, bucket: str) -> Any:
        from moto.s3.exceptions import MissingBucket

        try:
            return self._backend().get_bucket(bucket)
        except MissingBucket:
            raise CatalogError(
                "HIVE_FILESYSTEM_ERROR", f"s3://{bucket}/: The specified bucket does not exist"
            ) from None

    def list_objects(self, bucket: str, prefix: str) -> list[StoredObject]:
        found = self._bucket(bucket)
        for attempt in range(3):
            try:
                # Another thread may be writing to the bucket: retry a changed dict.
                keys, _, _, _ = self._backend().list_objects(found, prefix, None, None, None)
                return [StoredObject(key.name, key.size) for key in keys]
            except RuntimeError:
                if attempt == 2:
                    raise
        return []

    def get_object(self, bucket: str, key: str) -> bytes:
        self._bucket(bucket)
        stored = self._backend().get_object(bucket, key)
        if stored is None:
            raise CatalogError("HIVE_CANNOT_OPEN_SPLIT", f"s3://{bucket}/{key} disappeared")
        value: bytes = stored.value
        return value

    def put_object(self, bucket: str, key: str, body: bytes, encryption: str | None = None) -> None:
        self._bucket(bucket)
        self._backend().put_object(bucket, key, body, encryption=encryption)


# -- executions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Statistics:
    engine_millis: int = 0
    planning_millis: int = 0
    queue_millis: int = 0
    total_millis: int = 0
    service_millis: int = 0
    scanned_bytes: int = 0


class QueryRun(Execution):
    """One StartQueryExecution: what Athena reports about it, and its result."""

    def __init__(
        self,
        *,
        query: str,
        database: str,
        catalog: str,
        workgroup: WorkGroup | None,
        output_location: str,
        encryption: dict[str, Any] | None,
        execution_parameters: list[str] | None,
        engine: QueryEngine,
    ) -> None:
        # Not Execution.__init__: moto's own state machine would report SUCCEEDED at once.
        ManagedState.__init__(self, "athena::execution", [("QUEUED", "QUEUED")])
        self.id = str(mock_random.uuid4())
        self.query = query
        self.database = database
        self.catalog = catalog
        self.config = {"OutputLocation": output_location + f"{self.id}.csv"}
        if encryption:
            self.config["EncryptionConfiguration"] = encryption
        self.workgroup = workgroup
        self.execution_parameters = execution_parameters
        self.engine = engine
        self.start_time = time.time()
        self.end_time = self.start_time
        self.completed: float | None = None
        self.lock = threading.Lock()
        self.cancellation = engine.cancellation()
        self._state = "QUEUED"
        self.reason: str | None = None
        self.error: QueryFailed | None = None
        self.result: QueryResult | None = None
        self.statistics = _Statistics()
        self.started: float | None = None

    @property
    def status(self) -> str:
        return self._state

    @status.setter
    def status(self, value: str) -> None:
        self._state = value

    @property
    def output_location(self) -> str:
        return str(self.config["OutputLocation"])

    def finish(
        self, state: str, reason: str | None = None, error: QueryFailed | None = None
    ) -> bool:
        """Move to a final state unless already in one; True when this call did."""
        with self.lock:
            if self._state in ("SUCCEEDED", "FAILED", "CANCELLED"):
                return False
            self._state = state
            self.reason = reason
            self.error = error
            self.completed = self.end_time = time.time()
            return True

    def describe(self) -> dict[str, Any]:
        status: dict[str, Any] = {"State": self._state, "SubmissionDateTime": self.start_time}
        if self.completed is not None:
            status["CompletionDateTime"] = self.completed
        if self.reason:
            status["StateChangeReason"] = self.reason
        if self.error is not None:
            status["AthenaError"] = {
                "ErrorCategory": 1 if self.error.category == "SYSTEM" else 2,
                "Retryable": False,
                "ErrorMessage": self.error.reason,
            }
        stats = self.statistics
        description: dict[str, Any] = {
            "QueryExecutionId": self.id,
            "Query": self.query,
            "StatementType": "DML",
            "SubstatementType": "SELECT",
            "ResultConfiguration": dict(self.config),
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": {"Database": self.database, "Catalog": self.catalog},
            "Status": status,
            "Statistics": {
                "EngineExecutionTimeInMillis": stats.engine_millis,
                "DataScannedInBytes": stats.scanned_bytes,
                "TotalExecutionTimeInMillis": stats.total_millis,
                "QueryQueueTimeInMillis": stats.queue_millis,
                "QueryPlanningTimeInMillis": stats.planning_millis,
                "ServicePreProcessingTimeInMillis": 0,
                "ServiceProcessingTimeInMillis": stats.service_millis,
                "ResultReuseInformation": {"ReusedPreviousResult": False},
            },
            "WorkGroup": self.workgroup.name if self.workgroup else DEFAULT_WORKGROUP,
            "EngineVersion": dict(ENGINE_VERSION),
        }
        if self.execution_parameters is not None:
            description["ExecutionParameters"] = self.execution_parameters
        return description


def _run(run: QueryRun, store: MotoObjectStore) -> None:
    """A worker thread's job: run the query, write its CSV, record how it ended."""
    with run.lock:
        if run.status != "QUEUED":
            return  # stopped while queued
        run.status = "RUNNING"
        run.started = time.time()
    submitted = dt.datetime.fromtimestamp(run.start_time, dt.UTC)
    try:
        if run.execution_parameters:
            raise QueryFailed("NOT_SUPPORTED", "execution parameters are not emulated")
        result = run.engine.run(
            run.query,
            database=run.database,
            catalog=run.catalog,
            now=submitted,
            cancellation=run.cancellation,
        )
        engine_done = time.time()
        bucket, key = parse_s3_url(run.output_location)
        option = (run.config.get("EncryptionConfiguration") or {}).get("EncryptionOption")
        try:
            store.put_object(
                bucket, key, results_csv(result), encryption=_ENCRYPTION_HEADERS.get(option or "")
            )
        except CatalogError:
            raise QueryFailed(
                "HIVE_FILESYSTEM_ERROR", f"Unable to verify/create output bucket {bucket}"
            ) from None
        run.result = result
        now = time.time()
        run.statistics = _Statistics(
            engine_millis=result.engine_millis,
            planning_millis=result.planning_millis,
            queue_millis=round(((run.started or now) - run.start_time) * 1000),
            total_millis=round((now - run.start_time) * 1000),
            service_millis=round((now - engine_done) * 1000),
            scanned_bytes=result.data_scanned_bytes,
        )
        run.finish("SUCCEEDED")
    except QueryCancelled:
        run.finish("CANCELLED", "Query cancelled by user")
    except QueryFailed as failure:
        run.finish("FAILED", failure.reason, failure)
    except Exception as error:  # the emulator's own bug: say so, as Athena's SYSTEM errors do
        log.exception("query %s failed inside the emulator", run.id)
        internal = QueryFailed("GENERIC_INTERNAL_ERROR", repr(error), category="SYSTEM")
        run.finish("FAILED", internal.reason, internal)
    finally:
        if run.completed is not None and run.statistics.total_millis == 0:
            run.statistics = _Statistics(
                queue_millis=round(((run.started or run.completed) - run.start_time) * 1000),
                total_millis=round((run.completed - run.start_time) * 1000),
            )


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            workers = int(os.environ.get(WORKERS_ENV, "2"))
            _executor = ThreadPoolExecutor(
                max_workers=max(workers, 1), thread_name_prefix="athena-query"
            )
        return _executor


def shutdown(wait: bool = True) -> None:
    """Stop the worker threads (running queries finish or are cancelled first)."""
    global _executor
    with _executor_lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=wait, cancel_futures=True)


# -- the API ----------------------------------------------------------------------------------


def _output_location(workgroup: WorkGroup, requested: dict[str, Any] | None) -> tuple[str, Any]:
    configuration = workgroup.configuration or {}
    group = configuration.get("ResultConfiguration") or {}
    enforced = bool(configuration.get("EnforceWorkGroupConfiguration", True))
    requested = requested or {}
    if enforced and group.get("OutputLocation"):
        chosen = group
    elif requested.get("OutputLocation"):
        chosen = requested
    else:
        chosen = group
    location = chosen.get("OutputLocation")
    if not location:
        raise _invalid(
            "No output location provided. An output location is required either through "
            "the Workgroup result configuration setting or as an API input."
        )
    if not str(location).startswith("s3://"):
        raise _invalid(f"Invalid OutputLocation: {location}")
    location = str(location)
    return (location if location.endswith("/") else location + "/"), chosen.get(
        "EncryptionConfiguration"
    )


def _engine(backend: AthenaBackend) -> QueryEngine:
    return QueryEngine(
        MotoGlueCatalog(backend.account_id, backend.region_name),
        MotoObjectStore(backend.account_id, backend.partition),
    )


def _lookup(backend: AthenaBackend, query_id: str) -> QueryRun:
    found = backend.executions.get(query_id)
    if not isinstance(found, QueryRun):
        raise _invalid(f"QueryExecution {query_id} was not found")
    return found


def start_query_execution(self: AthenaResponse) -> str:
    backend = self.athena_backend
    query = self._get_param("QueryString")
    if not query or not str(query).strip():
        raise _invalid("QueryString must not be empty")
    workgroup_name = self._get_param("WorkGroup") or DEFAULT_WORKGROUP
    workgroup = backend.work_groups.get(workgroup_name)
    if workgroup is None:
        raise _invalid(f"WorkGroup {workgroup_name} is not found.")
    if workgroup.state != "ENABLED":
        raise _invalid(f"WorkGroup {workgroup_name} is disabled.")
    location, encryption = _output_location(workgroup, self._get_param("ResultConfiguration"))
    context = self._get_param("QueryExecutionContext") or {}
    run = QueryRun(
        query=str(query),
        database=context.get("Database") or DEFAULT_DATABASE,
        catalog=context.get("Catalog") or DEFAULT_CATALOG,
        workgroup=workgroup,
        output_location=location,
        encryption=encryption,
        execution_parameters=self._get_param("ExecutionParameters"),
        engine=_engine(backend),
    )
    backend.executions[run.id] = run
    store = MotoObjectStore(backend.account_id, backend.partition)
    _pool().submit(_run, run, store)
    return json.dumps({"QueryExecutionId": run.id})


def get_query_execution(self: AthenaResponse) -> str:
    run = _lookup(self.athena_backend, self._get_param("QueryExecutionId"))
    return json.dumps({"QueryExecution": run.describe()})


def batch_get_query_execution(self: AthenaResponse) -> str:
    found = []
    missing = []
    for query_id in self._get_param("QueryExecutionIds") or []:
        run = self.athena_backend.executions.get(query_id)
        if isinstance(run, QueryRun):
            found.append(run.describe())
        else:
            missing.append(
                {
                    "QueryExecutionId": query_id,
                    "ErrorCode": "INVALID_INPUT",
                    "ErrorMessage": f"QueryExecution {query_id} was not found",
                }
            )
    return json.dumps({"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing})


def stop_query_execution(self: AthenaResponse) -> str:
    run = _lookup(self.athena_backend, self._get_param("QueryExecutionId"))
    if run.finish("CANCELLED", "Query cancelled by user"):
        run.cancellation.cancel()
    return json.dumps({})


def _token(kind: str, key: str, offset: int) -> str:
    raw = json.dumps({"k": kind, "id": key, "o": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _offset(token: str | None, kind: str, key: str) -> int:
    if not token:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        if decoded["k"] == kind and decoded["id"] == key:
            return int(decoded["o"])
    except (ValueError, KeyError, TypeError):
        pass
    raise _invalid("The NextToken is not valid for this request")


def _max_results(value: Any, limit: int) -> int:
    if value is None:
        return limit
    count = int(value)
    if not 1 <= count <= limit:
        raise _invalid(f"MaxResults must be between 1 and {limit}")
    return count


def get_query_results(self: AthenaResponse) -> str:
    query_id = self._get_param("QueryExecutionId")
    run = _lookup(self.athena_backend, query_id)
    if run.status in ("QUEUED", "RUNNING"):
        raise _invalid(f"Query has not yet finished. Current state: {run.status}")
    if run.status != "SUCCEEDED" or run.result is None:
        detail = f"\n{run.reason}" if run.reason else ""
        raise _invalid(
            f"Query did not finish successfully. Final query state: {run.status}{detail}"
        )
    result = run.result
    limit = _max_results(self._get_param("MaxResults"), MAX_RESULTS)
    start = _offset(self._get_param("NextToken"), "results", query_id)
    header = [tuple(column.label for column in result.columns)]
    rows = header + list(result.rows)
    page = rows[start : start + limit]
    body: dict[str, Any] = {
        "UpdateCount": 0,
        "ResultSet": {
            "Rows": [
                {"Data": [{} if value is None else {"VarCharValue": value} for value in row]}
                for row in page
            ],
            "ResultSetMetadata": {
                "ColumnInfo": [column_info(c.label, c.type) for c in result.columns]
            },
        },
    }
    if start + limit < len(rows):
        body["NextToken"] = _token("results", query_id, start + limit)
    return json.dumps(body)


def list_query_executions(self: AthenaResponse) -> str:
    workgroup = self._get_param("WorkGroup") or DEFAULT_WORKGROUP
    runs = [
        run
        for run in list(self.athena_backend.executions.values())
        if (run.workgroup.name if run.workgroup else DEFAULT_WORKGROUP) == workgroup
    ]
    runs.sort(key=lambda run: run.start_time, reverse=True)
    limit = _max_results(self._get_param("MaxResults"), MAX_LIST_RESULTS)
    start = _offset(self._get_param("NextToken"), "list", workgroup)
    body: dict[str, Any] = {"QueryExecutionIds": [run.id for run in runs[start : start + limit]]}
    if start + limit < len(runs):
        body["NextToken"] = _token("list", workgroup, start + limit)
    return json.dumps(body)


def install() -> None:
    """Make moto's Athena run queries. Idempotent; checks the moto version."""
    global _installed
    check_moto_version(__name__)
    if _installed:
        return
    if hasattr(AthenaResponse, "batch_get_query_execution"):
        raise AttributeError(
            "moto already has AthenaResponse.batch_get_query_execution: check this patch"
        )
    AthenaResponse.batch_get_query_execution = batch_get_query_execution  # type: ignore[attr-defined]
    _patch(AthenaResponse, "start_query_execution", start_query_execution)
    _patch(AthenaResponse, "get_query_execution", get_query_execution)
    _patch(AthenaResponse, "get_query_results", get_query_results)
    _patch(AthenaResponse, "stop_query_execution", stop_query_execution)
    _patch(AthenaResponse, "list_query_executions", list_query_executions)
    _installed = True
