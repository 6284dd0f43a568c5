"""In-memory Glue catalog and S3 for the Athena engine's unit tests (no moto needed)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from emulator.dataplane.athena_catalog import OPENX_JSON_SERDE, CatalogError, StoredObject
from emulator.dataplane.athena_engine import QueryEngine, QueryFailed, QueryResult

NOW = dt.datetime(2026, 12, 1, 1, 30, 15, 123000, tzinfo=dt.UTC)


@dataclass
class MemoryStore:
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def list_objects(self, bucket: str, prefix: str) -> list[StoredObject]:
        return [
            StoredObject(key, len(body))
            for (name, key), body in sorted(self.objects.items())
            if name == bucket and key.startswith(prefix)
        ]

    def get_object(self, bucket: str, key: str) -> bytes:
        return self.objects[(bucket, key)]

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        self.objects[(bucket, key)] = body

    def put_lines(self, url: str, lines: Iterable[str], compress: bool = True) -> None:
        bucket, _, key = url.removeprefix("s3://").partition("/")
        body = "".join(line + "\n" for line in lines).encode()
        self.put_object(bucket, key, gzip.compress(body) if compress else body)

    def put_events(self, url: str, events: Iterable[Mapping[str, Any]]) -> None:
        self.put_lines(url, (json.dumps(event) for event in events))


@dataclass
class MemoryCatalog:
    tables: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    partitions: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: dict[str, Any]) -> None:
        self.tables[(table["DatabaseName"], table["Name"])] = table

    def get_table(self, database: str, name: str) -> Mapping[str, Any]:
        if database not in {db for db, _ in self.tables} | {"default"}:
            raise CatalogError("SCHEMA_NOT_FOUND", f"Schema '{database}' does not exist")
        try:
            return self.tables[(database, name)]
        except KeyError:
            raise CatalogError(
                "TABLE_NOT_FOUND", f"Table 'awsdatacatalog.{database}.{name}' does not exist"
            ) from None

    def get_partitions(self, database: str, name: str) -> Sequence[Mapping[str, Any]]:
        return self.partitions.get((database, name), [])


def json_table(
    name: str,
    columns: Sequence[tuple[str, str]],
    *,
    location: str,
    partition_keys: Sequence[str] = (),
    parameters: Mapping[str, str] | None = None,
    serde_parameters: Mapping[str, str] | None = None,
    database: str = "lake",
) -> dict[str, Any]:
    """A Glue table (GetTable's shape) read with the OpenX JSON SerDe."""
    return {
        "DatabaseName": database,
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": dict(parameters or {}),
        "PartitionKeys": [{"Name": key, "Type": "string"} for key in partition_keys],
        "StorageDescriptor": {
            "Location": location,
            "Columns": [{"Name": column, "Type": kind} for column, kind in columns],
            "SerdeInfo": {
                "SerializationLibrary": OPENX_JSON_SERDE,
                "Parameters": dict(serde_parameters or {"serialization.format": "1"}),
            },
        },
    }


@dataclass
class Lakehouse:
    """A catalog, a store and an engine over them."""

    catalog: MemoryCatalog = field(default_factory=MemoryCatalog)
    store: MemoryStore = field(default_factory=MemoryStore)

    @property
    def engine(self) -> QueryEngine:
        return QueryEngine(self.catalog, self.store, threads=1)

    def run(self, sql: str, database: str = "lake", now: dt.datetime = NOW) -> QueryResult:
        return self.engine.run(sql, database=database, now=now)

    def rows(self, sql: str, database: str = "lake") -> list[tuple[str | None, ...]]:
        return list(self.run(sql, database).rows)

    def failure(self, sql: str, database: str = "lake") -> QueryFailed:
        try:
            result = self.run(sql, database)
        except QueryFailed as failure:
            return failure
        raise AssertionError(f"expected {sql!r} to fail, got {result.rows}")
