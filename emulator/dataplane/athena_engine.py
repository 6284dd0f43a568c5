"""Run one Athena query: Glue tables, S3 objects, DuckDB, Athena's strings back.

A query gets a fresh in-memory DuckDB database. For each Glue table it reads, the engine
lists the objects the table's partitions hold (partition projection or Glue partitions,
:mod:`.athena_catalog`), prunes partitions with the query's WHERE conjuncts over partition
keys (evaluated by DuckDB on the partition values, so any predicate Trino would accept
prunes the same way), loads the objects' text (GZIP and BZIP2 by magic bytes or name, as
Hadoop does) and defines the table as a view decoding it with the JSON SerDe
(:mod:`.athena_serde`). Then the translated query (:mod:`.athena_sql`) runs, and every value
comes back as the string Athena prints (:func:`~.athena_types.athena_text`).

``DataScannedInBytes`` counts the stored (compressed) bytes of the objects read, as
Athena's does for text formats.
"""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import logging
import re
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import duckdb

from .athena_catalog import (
    DEFAULT_CATALOG,
    CatalogError,
    GlueCatalog,
    ObjectStore,
    PartitionedObject,
    TableSpec,
    list_table_objects,
    table_spec,
)
from .athena_serde import json_table_sql, quote_identifier
from .athena_sql import MACROS, OutputColumn, TableReference, TranslationError, translate
from .athena_types import athena_text

__all__ = [
    "QueryCancelled",
    "QueryEngine",
    "QueryFailed",
    "QueryResult",
    "results_csv",
]

log = logging.getLogger("emulator.athena")

_DUCKDB_ERROR_NAMES: Final = (
    ("Conversion Error", "INVALID_CAST_ARGUMENT"),
    ("Out of Range Error", "NUMERIC_VALUE_OUT_OF_RANGE"),
    ("Division by zero", "DIVISION_BY_ZERO"),
)
_ATHENA_ERROR: Final = re.compile(r"([A-Z][A-Z_]+): (.*)", re.DOTALL)


class QueryFailed(Exception):
    """The query ends FAILED: Athena's error name, message and category."""

    def __init__(self, error_name: str, message: str, category: str = "USER") -> None:
        super().__init__(f"{error_name}: {message}")
        self.error_name = error_name
        self.message = message
        self.category = category

    @property
    def reason(self) -> str:
        """StateChangeReason, as Athena words it."""
        return f"{self.error_name}: {self.message}"


class QueryCancelled(Exception):
    """StopQueryExecution arrived while the query ran."""


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[OutputColumn, ...]
    rows: tuple[tuple[str | None, ...], ...]
    data_scanned_bytes: int
    planning_millis: int
    engine_millis: int


@dataclass
class _Cancellation:
    """Lets another thread stop the query, at whatever stage it is in."""

    event: threading.Event = field(default_factory=threading.Event)
    connection: duckdb.DuckDBPyConnection | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def cancel(self) -> None:
        with self.lock:
            self.event.set()
            if self.connection is not None:
                self.connection.interrupt()

    def check(self) -> None:
        if self.event.is_set():
            raise QueryCancelled()


def _decompress(data: bytes, key: str) -> bytes:
    """Text of an object, as Hadoop's codecs read it (by magic bytes, then by name)."""
    name = key.lower()
    if data[:2] == b"\x1f\x8b" or name.endswith((".gz", ".gzip")):
        return gzip.decompress(data)
    if data[:3] == b"BZh" or name.endswith(".bz2"):
        return bz2.decompress(data)
    if name.endswith(".deflate"):
        return zlib.decompress(data)
    if name.endswith((".snappy", ".zst", ".lz4", ".lzo")):
        raise QueryFailed(
            "NOT_SUPPORTED", f"the emulator cannot decompress {key} (GZIP, BZIP2 and DEFLATE only)"
        )
    return data


def _text(data: bytes) -> str:
    """Lines as Hadoop's LineRecordReader splits them, joined by \\n, final newline dropped."""
    text = data.decode("utf-8", errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.endswith("\n"):
        text = text[:-1]
    return text


def _duckdb_failure(error: duckdb.Error) -> QueryFailed:
    """DuckDB's error as Athena's: our own error() texts carry Athena's error name."""
    text = str(error).strip()
    _, _, rest = text.partition(": ")
    message = (rest or text).splitlines()[0].strip()
    match = _ATHENA_ERROR.match(message)
    if match:
        return QueryFailed(match.group(1), match.group(2).strip())
    if "Division by zero" in text:
        return QueryFailed("DIVISION_BY_ZERO", "Division by zero")
    if "Could not parse string" in text:
        return QueryFailed("INVALID_FUNCTION_ARGUMENT", message)
    for marker, name in _DUCKDB_ERROR_NAMES:
        if marker in text:
            return QueryFailed(name, message)
    return QueryFailed("GENERIC_USER_ERROR", f"{message} (DuckDB)")


def results_csv(result: QueryResult) -> bytes:
    """The result file Athena writes: a header, every value double-quoted, NULL empty."""

    def field_text(value: str | None) -> str:
        return "" if value is None else '"' + value.replace('"', '""') + '"'

    lines = [",".join(field_text(column.label) for column in result.columns)]
    lines.extend(",".join(field_text(value) for value in row) for row in result.rows)
    return ("\n".join(lines) + "\n").encode("utf-8")


class QueryEngine:
    """Runs Athena queries over a Glue catalog and an object store."""

    def __init__(self, catalog: GlueCatalog, store: ObjectStore, threads: int = 2) -> None:
        self.catalog = catalog
        self.store = store
        self.threads = threads

    def cancellation(self) -> _Cancellation:
        return _Cancellation()

    def run(
        self,
        sql: str,
        *,
        database: str,
        catalog: str = DEFAULT_CATALOG,
        now: dt.datetime | None = None,
        cancellation: _Cancellation | None = None,
    ) -> QueryResult:
        """Run ``sql``; QueryFailed (with Athena's error) or QueryCancelled otherwise."""
        now = now or dt.datetime.now(dt.UTC)
        cancellation = cancellation or _Cancellation()
        started = time.monotonic()
        try:
            translation = translate(
                sql,
                catalog=catalog,
                database=database,
                resolve=self._resolve(catalog),
                now=now,
            )
        except (TranslationError, CatalogError) as error:
            raise QueryFailed(error.error_name, error.message) from None
        planned = time.monotonic()
        connection = duckdb.connect(":memory:", config={"threads": self.threads})
        try:
            with cancellation.lock:
                cancellation.check()
                cancellation.connection = connection
            self._prepare(connection)
            scanned = self._load_tables(connection, translation.references, now, cancellation)
            cancellation.check()
            try:
                cursor = connection.execute(translation.sql)
                rows = cursor.fetchall()
            except duckdb.InterruptException:
                raise QueryCancelled() from None
            except duckdb.Error as error:
                cancellation.check()
                raise _duckdb_failure(error) from None
        finally:
            with cancellation.lock:
                cancellation.connection = None
            connection.close()
        types = [column.type for column in translation.columns]
        text_rows = tuple(
            tuple(
                athena_text(value, value_type) for value, value_type in zip(row, types, strict=True)
            )
            for row in rows
        )
        finished = time.monotonic()
        return QueryResult(
            columns=translation.columns,
            rows=text_rows,
            data_scanned_bytes=scanned,
            planning_millis=round((planned - started) * 1000),
            engine_millis=round((finished - started) * 1000),
        )

    def _resolve(self, catalog: str) -> Callable[[str, str], TableSpec]:
        def resolve(database: str, name: str) -> TableSpec:
            return table_spec(self.catalog.get_table(database, name), catalog=catalog.lower())

        return resolve

    def _prepare(self, connection: duckdb.DuckDBPyConnection) -> None:
        # Athena's session: UTC, NULLs last; the emulated functions' helper macros.
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute("SET default_null_order = 'nulls_last'")
        for macro in MACROS:
            connection.execute(macro)

    def _load_tables(
        self,
        connection: duckdb.DuckDBPyConnection,
        references: Sequence[TableReference],
        now: dt.datetime,
        cancellation: _Cancellation,
    ) -> int:
        by_table: dict[str, list[TableReference]] = {}
        specs: dict[str, TableSpec] = {}
        for reference in references:
            by_table.setdefault(reference.table.qualified, []).append(reference)
            specs[reference.table.qualified] = reference.table
        scanned = 0
        for index, (qualified, uses) in enumerate(sorted(by_table.items())):
            spec = specs[qualified]
            injected = _merged_injected(uses)
            try:
                objects = list_table_objects(spec, self.store, self.catalog, now, injected)
            except CatalogError as error:
                raise QueryFailed(error.error_name, error.message) from None
            filters = [use.partition_filter for use in uses]
            if objects and spec.partition_keys and all(f is not None for f in filters):
                combined = " OR ".join(f"({f})" for f in filters if f is not None)
                objects = self._prune(connection, spec, objects, combined, index)
            scanned += self._load(connection, spec, objects, index, cancellation)
        return scanned

    def _prune(
        self,
        connection: duckdb.DuckDBPyConnection,
        spec: TableSpec,
        objects: list[PartitionedObject],
        predicate: str,
        index: int,
    ) -> list[PartitionedObject]:
        """Keep the objects whose partition values satisfy the WHERE conjuncts."""
        keys = [quote_identifier(key.name) for key in spec.partition_keys]
        table = f"__partitions_{index}"
        values = sorted({obj.values for obj in objects})
        connection.execute(f"CREATE TEMP TABLE {table} ({', '.join(f'{k} VARCHAR' for k in keys)})")
        connection.executemany(
            f"INSERT INTO {table} VALUES ({', '.join('?' for _ in keys)})", values
        )
        try:
            kept = {
                tuple(row)
                for row in connection.execute(
                    f"SELECT {', '.join(keys)} FROM {table} WHERE {predicate}"
                ).fetchall()
            }
        except duckdb.Error as error:
            # The query itself will fail the same way, or not need the predicate: read all.
            log.debug("partition pruning skipped for %s: %s", spec.qualified, error)
            return objects
        return [obj for obj in objects if obj.values in kept]

    def _load(
        self,
        connection: duckdb.DuckDBPyConnection,
        spec: TableSpec,
        objects: list[PartitionedObject],
        index: int,
        cancellation: _Cancellation,
    ) -> int:
        keys = [quote_identifier(key.name) for key in spec.partition_keys]
        table = f"__objects_{index}"
        columns = ", ".join(["__url VARCHAR", "__content VARCHAR", *(f"{k} VARCHAR" for k in keys)])
        connection.execute(f"CREATE TEMP TABLE {table} ({columns})")
        scanned = 0
        batch: list[tuple[str, ...]] = []
        placeholders = ", ".join("?" for _ in range(2 + len(keys)))
        for obj in objects:
            cancellation.check()
            data = self.store.get_object(obj.bucket, obj.key)
            scanned += len(data)
            raw = _decompress(data, obj.key)
            if raw:  # an empty object holds no lines at all; "\n" holds one empty line
                batch.append((obj.url, _text(raw), *obj.values))
        if batch:
            connection.executemany(f"INSERT INTO {table} VALUES ({placeholders})", batch)
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(spec.database)}")
        view = f"{quote_identifier(spec.database)}.{quote_identifier(spec.name)}"
        try:
            body = json_table_sql(spec, table)
        except CatalogError as error:
            raise QueryFailed(error.error_name, error.message) from None
        connection.execute(f"CREATE VIEW {view} AS {body}")
        return scanned


def _merged_injected(uses: Sequence[TableReference]) -> dict[str, frozenset[str]]:
    """Injected values every use of the table names (a use naming none reads nothing)."""
    names = set.intersection(*(set(use.injected) for use in uses)) if uses else set()
    merged: dict[str, frozenset[str]] = {}
    for name in names:
        merged[name] = frozenset().union(*(use.injected[name] for use in uses))
    return merged
