"""The data lake of the synthesized data-lake stack, recreated in moto for Athena tests.

The Glue database and table, the workgroup and the saved queries are read from the stack's
Terraform JSON (not re-typed), with Terraform's references and ``$${`` escapes resolved the
way Terraform would. Events are written as Firehose writes them: GZIP JSON lines under
``telemetry/year=YYYY/month=MM/day=DD/hour=HH/``. The expected answers are computed here,
in Python, from the objects read back from S3, with the projection's visibility rules
written out independently of the emulator's code.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import random
import re
import sys
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "us-west-2"
STREAM = "acme-data-dev-telemetry-to-s3"
KEY_PATTERN = re.compile(
    r"telemetry/year=(?P<year>[^/]+)/month=(?P<month>[^/]+)/day=(?P<day>[^/]+)/"
    r"hour=(?P<hour>[^/]+)/(?P<name>[^/]+)$"
)
_REFERENCE = re.compile(r"(?<!\$)\$\{([^}]+)\}")


def generator_module() -> Any:
    """The generator Lambda's code, imported as its package imports it."""
    os.environ.setdefault("TELEMETRY_CONTRACT_PATH", str(ROOT / "contracts/telemetry_event.json"))
    for folder in ("handlers/generator", "handlers/common"):
        path = str(ROOT / folder)
        if path not in sys.path:
            sys.path.insert(0, path)
    import generator

    return generator


def events_at(moment: dt.datetime, count: int, rng: random.Random) -> list[dict[str, Any]]:
    """``count`` realistic events stamped within the hour of ``moment``."""
    events: list[dict[str, Any]] = generator_module().generate_events(
        count, rng, now=lambda: moment + dt.timedelta(seconds=rng.randint(0, 3599))
    )
    return events


def _resolve(value: Any, stack: Mapping[str, Any], account: str) -> Any:
    """Terraform's interpolation of the references the data-lake stack uses."""
    if isinstance(value, dict):
        return {k: _resolve(v, stack, account) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, stack, account) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        path = match.group(1)
        if path == "data.aws_caller_identity.caller.account_id":
            return account
        kind, name, attribute = path.split(".")
        resource = stack["resource"][kind][name]
        attribute = {"name": "name", "bucket": "bucket"}[attribute]
        return str(_resolve(resource[attribute], stack, account))

    return _REFERENCE.sub(substitute, value).replace("$${", "${")


def _camel(value: Any) -> Any:
    """Terraform's snake_case blocks as the Glue/Athena APIs' CamelCase shapes."""
    names = {
        "ser_de_info": "SerdeInfo",
        "serialization_library": "SerializationLibrary",
        "input_format": "InputFormat",
        "output_format": "OutputFormat",
    }
    if isinstance(value, list):
        return [_camel(v) for v in value]
    if not isinstance(value, dict):
        return value
    converted = {}
    for key, item in value.items():
        if key == "parameters":
            converted["Parameters"] = dict(item)
            continue
        name = names.get(key) or "".join(part.title() for part in key.split("_"))
        converted[name] = _camel(item)
    return converted


@dataclass(frozen=True)
class SavedQuery:
    name: str
    description: str
    database: str
    workgroup: str
    query: str


@dataclass(frozen=True)
class Lake:
    """What the data-lake stack declares, resolved for one account."""

    database: str
    table: str
    table_input: dict[str, Any]
    workgroup: str
    workgroup_configuration: dict[str, Any]
    saved_queries: tuple[SavedQuery, ...]
    data_bucket: str
    results_bucket: str

    @classmethod
    def from_stack(cls, stack: Mapping[str, Any], account: str = ACCOUNT) -> Lake:
        resources = stack["resource"]
        database = _resolve(
            next(iter(resources["aws_glue_catalog_database"].values())), stack, account
        )
        table = _resolve(next(iter(resources["aws_glue_catalog_table"].values())), stack, account)
        workgroup = _resolve(next(iter(resources["aws_athena_workgroup"].values())), stack, account)
        queries = [
            _resolve(query, stack, account)
            for query in resources["aws_athena_named_query"].values()
        ]
        buckets = {
            key: _resolve(bucket["bucket"], stack, account)
            for key, bucket in resources["aws_s3_bucket"].items()
        }
        table_input = {
            "Name": table["name"],
            "Description": table.get("description", ""),
            "TableType": table["table_type"],
            "Parameters": dict(table["parameters"]),
            "PartitionKeys": _camel(table["partition_keys"]),
            "StorageDescriptor": _camel(table["storage_descriptor"]),
        }
        for column in table_input["StorageDescriptor"]["Columns"]:
            column.pop("Comment", None)
        configuration = workgroup["configuration"]
        result = configuration["result_configuration"]
        return cls(
            database=database["name"],
            table=table["name"],
            table_input=table_input,
            workgroup=workgroup["name"],
            workgroup_configuration={
                "EnforceWorkGroupConfiguration": configuration["enforce_workgroup_configuration"],
                "PublishCloudWatchMetricsEnabled": configuration[
                    "publish_cloudwatch_metrics_enabled"
                ],
                "ResultConfiguration": {
                    "OutputLocation": result["output_location"],
                    "EncryptionConfiguration": {
                        "EncryptionOption": result["encryption_configuration"]["encryption_option"]
                    },
                },
            },
            saved_queries=tuple(
                SavedQuery(q["name"], q["description"], q["database"], q["workgroup"], q["query"])
                for q in queries
            ),
            data_bucket=next(v for k, v in buckets.items() if k.startswith("data-bucket")),
            results_bucket=next(v for k, v in buckets.items() if k.startswith("athena-results")),
        )

    def create(self, client: Any) -> None:
        """Buckets, Glue database and table, workgroup and saved queries, through the APIs."""
        s3 = client("s3")
        for bucket in (self.data_bucket, self.results_bucket):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        glue = client("glue")
        glue.create_database(DatabaseInput={"Name": self.database})
        glue.create_table(DatabaseName=self.database, TableInput=self.table_input)
        athena = client("athena")
        athena.create_work_group(Name=self.workgroup, Configuration=self.workgroup_configuration)
        for query in self.saved_queries:
            athena.create_named_query(
                Name=query.name,
                Description=query.description,
                Database=query.database,
                QueryString=query.query,
                WorkGroup=query.workgroup,
            )


def firehose_key(moment: dt.datetime, suffix: str = "") -> str:
    """An object key as Firehose names it under the platform's hourly prefix."""
    return (
        f"telemetry/year={moment:%Y}/month={moment:%m}/day={moment:%d}/hour={moment:%H}/"
        f"{STREAM}-1-{moment:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}{suffix}"
    )


def gzip_lines(events: Iterable[Mapping[str, Any]]) -> bytes:
    return gzip.compress(
        "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events).encode()
    )


def visible(partition: Mapping[str, str], now: dt.datetime, first_year: int) -> bool:
    """Whether the platform's projection reads a partition (written out for the tests)."""
    try:
        year = int(partition["year"])
    except ValueError:
        return False
    return (
        re.fullmatch(r"\d{4}", partition["year"]) is not None
        and first_year <= year <= now.year
        and all(re.fullmatch(r"\d\d", partition[k]) for k in ("month", "day", "hour"))
        and 1 <= int(partition["month"]) <= 12
        and 1 <= int(partition["day"]) <= 31
        and 0 <= int(partition["hour"]) <= 23
    )


def read_events(
    s3: Any, bucket: str, now: dt.datetime, first_year: int
) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """Every event the table should show, with its partition values, read back from S3."""
    found = []
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="telemetry/")
    for page in pages:
        for item in page.get("Contents", []):
            match = KEY_PATTERN.match(item["Key"])
            if not match or match.group("name").startswith(("_", ".")):
                continue
            partition = {k: match.group(k) for k in ("year", "month", "day", "hour")}
            if not visible(partition, now, first_year):
                continue
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            for line in body.decode().splitlines():
                if line.strip():
                    found.append((partition, json.loads(line)))
    return found


@dataclass(frozen=True)
class Answer:
    execution: dict[str, Any]
    columns: list[dict[str, Any]]
    rows: list[list[str | None]]  # without the header

    @property
    def state(self) -> str:
        return str(self.execution["Status"]["State"])

    @property
    def reason(self) -> str:
        return str(self.execution["Status"].get("StateChangeReason", ""))

    @property
    def submitted(self) -> dt.datetime:
        moment = self.execution["Status"]["SubmissionDateTime"]
        assert isinstance(moment, dt.datetime)
        return moment.astimezone(dt.UTC)

    def labels(self) -> list[str]:
        return [column["Label"] for column in self.columns]


def wait(athena: Any, query_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        execution: dict[str, Any] = athena.get_query_execution(QueryExecutionId=query_id)[
            "QueryExecution"
        ]
        if execution["Status"]["State"] not in ("QUEUED", "RUNNING"):
            return execution
        assert time.monotonic() < deadline, f"query {query_id} did not finish: {execution}"
        time.sleep(0.05)


def run_sql(athena: Any, sql: str, database: str, workgroup: str, **extra: Any) -> Answer:
    """Start, wait, and read every page of the results."""
    query_id = athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": database},
        WorkGroup=workgroup,
        **extra,
    )["QueryExecutionId"]
    execution = wait(athena, query_id)
    if execution["Status"]["State"] != "SUCCEEDED":
        return Answer(execution, [], [])
    rows: list[list[str | None]] = []
    columns: list[dict[str, Any]] = []
    token = None
    while True:
        request: dict[str, Any] = {"QueryExecutionId": query_id}
        if token:
            request["NextToken"] = token
        page = athena.get_query_results(**request)
        columns = page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
        rows.extend([d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"])
        token = page.get("NextToken")
        if not token:
            break
    assert rows[0] == [c["Label"] for c in columns], "the first row is not the header"
    return Answer(execution, columns, rows[1:])
