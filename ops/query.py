r"""Run a saved (named) Athena query by name and print its rows.

    python -m ops.query --endpoint http://127.0.0.1:4599 --name events-by-type
    python -m ops.query --endpoint http://127.0.0.1:4599 --list
    python -m ops.query --endpoint URL --name device-distribution \
        --workgroup acme-data-dev-analytics

The query runs in the database and workgroup it was saved with (``--workgroup`` picks among
workgroups holding a query of that name; without it, the name must be unique). Athena
writes the result CSV to the workgroup's output location; its address is printed after the
rows. Exit status: 0 when the query SUCCEEDED, 1 when it FAILED or was CANCELLED (the
reason goes to stderr), 2 when the query cannot be found or the endpoint does not answer.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

DEFAULT_REGION: Final = "us-west-2"
BATCH: Final = 50  # BatchGetNamedQuery's limit
NUMERIC_TYPES: Final = frozenset(
    {"tinyint", "smallint", "integer", "bigint", "float", "real", "double", "decimal"}
)


class QueryError(Exception):
    """The saved query cannot be found or started (exit status 2)."""


@dataclass(frozen=True)
class NamedQuery:
    name: str
    database: str
    workgroup: str
    query: str
    description: str = ""


@dataclass(frozen=True)
class Column:
    label: str
    type: str


@dataclass(frozen=True)
class Outcome:
    query_id: str
    state: str
    reason: str
    output_location: str
    scanned_bytes: int
    columns: tuple[Column, ...]
    rows: tuple[tuple[str | None, ...], ...]


def _workgroups(athena: Any) -> list[str]:
    names: list[str] = []
    token = None
    while True:
        page = athena.list_work_groups(**({"NextToken": token} if token else {}))
        names.extend(group["Name"] for group in page.get("WorkGroups", []))
        token = page.get("NextToken")
        if not token:
            return names


def _named_queries(athena: Any, workgroup: str) -> list[NamedQuery]:
    ids: list[str] = []
    token = None
    while True:
        request: dict[str, Any] = {"WorkGroup": workgroup}
        if token:
            request["NextToken"] = token
        page = athena.list_named_queries(**request)
        ids.extend(page.get("NamedQueryIds", []))
        token = page.get("NextToken")
        if not token:
            break
    found = []
    for start in range(0, len(ids), BATCH):
        answer = athena.batch_get_named_query(NamedQueryIds=ids[start : start + BATCH])
        for item in answer.get("NamedQueries", []):
            found.append(
                NamedQuery(
                    name=item["Name"],
                    database=item.get("Database", ""),
                    workgroup=item.get("WorkGroup") or workgroup,
                    query=item["QueryString"],
                    description=item.get("Description", ""),
                )
            )
    return found


def all_named_queries(athena: Any, workgroup: str | None = None) -> list[NamedQuery]:
    """Every saved query (of ``workgroup``, or of every workgroup)."""
    groups = [workgroup] if workgroup else _workgroups(athena)
    return [query for group in groups for query in _named_queries(athena, group)]


def find_named_query(athena: Any, name: str, workgroup: str | None = None) -> NamedQuery:
    """The saved query called ``name`` (in ``workgroup``, or the only one of that name)."""
    known = all_named_queries(athena, workgroup)
    matches = [query for query in known if query.name == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        holders = ", ".join(sorted(query.workgroup for query in matches))
        raise QueryError(
            f"saved query {name!r} exists in several workgroups ({holders}): "
            "choose one with --workgroup"
        )
    names = ", ".join(sorted({query.name for query in known})) or "none"
    where = f"workgroup {workgroup}" if workgroup else "any workgroup"
    raise QueryError(f"no saved query {name!r} in {where} (saved queries: {names})")


def run_query(
    athena: Any,
    query: NamedQuery,
    *,
    poll_seconds: float = 0.5,
    timeout_seconds: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Start the query in its database and workgroup, wait for it, read every result page."""
    query_id = athena.start_query_execution(
        QueryString=query.query,
        QueryExecutionContext={"Database": query.database},
        WorkGroup=query.workgroup,
    )["QueryExecutionId"]
    deadline = time.monotonic() + timeout_seconds
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        state = execution["Status"]["State"]
        if state not in ("QUEUED", "RUNNING"):
            break
        if time.monotonic() > deadline:
            athena.stop_query_execution(QueryExecutionId=query_id)
            raise QueryError(f"query {query_id} still {state} after {timeout_seconds:.0f} s")
        sleep(poll_seconds)
    location = execution.get("ResultConfiguration", {}).get("OutputLocation", "")
    scanned = int(execution.get("Statistics", {}).get("DataScannedInBytes", 0))
    reason = execution["Status"].get("StateChangeReason", "")
    if state != "SUCCEEDED":
        return Outcome(query_id, state, reason, location, scanned, (), ())
    columns: tuple[Column, ...] = ()
    rows: list[tuple[str | None, ...]] = []
    token = None
    while True:
        request: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": 1000}
        if token:
            request["NextToken"] = token
        page = athena.get_query_results(**request)
        result = page["ResultSet"]
        if not columns:
            columns = tuple(
                Column(info["Label"], info["Type"])
                for info in result["ResultSetMetadata"]["ColumnInfo"]
            )
        for row in result["Rows"]:
            rows.append(tuple(datum.get("VarCharValue") for datum in row["Data"]))
        token = page.get("NextToken")
        if not token:
            break
    # Athena's first row of a SELECT's results is the header.
    return Outcome(query_id, state, reason, location, scanned, columns, tuple(rows[1:]))


def format_table(columns: Sequence[Column], rows: Sequence[Sequence[str | None]]) -> str:
    """Rows as an aligned text table; numbers right-aligned, NULL spelled out."""
    cells = [["NULL" if value is None else value for value in row] for row in rows]
    widths = [
        max([len(column.label), *(len(row[index]) for row in cells)])
        for index, column in enumerate(columns)
    ]
    numeric = [column.type in NUMERIC_TYPES for column in columns]

    def line(values: Sequence[str], align: bool = True) -> str:
        parts = []
        for value, width, right in zip(values, widths, numeric, strict=True):
            parts.append(value.rjust(width) if right and align else value.ljust(width))
        return " | ".join(parts).rstrip()

    header = line([column.label for column in columns], align=False)
    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([header, rule, *(line(row) for row in cells)])


def _client(endpoint: str, region: str) -> Any:
    return boto3.client(
        "athena",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def main(
    argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.query", description="Run a saved Athena query and print its rows"
    )
    parser.add_argument("--endpoint", required=True, help="the emulator, http://127.0.0.1:PORT")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--name", help="the saved query's name")
    which.add_argument("--list", action="store_true", help="list the saved queries")
    parser.add_argument("--workgroup", help="workgroup holding the saved query")
    parser.add_argument("--region", default=DEFAULT_REGION, help=f"({DEFAULT_REGION})")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait (300)")
    args = parser.parse_args(argv)
    athena = _client(args.endpoint, args.region)
    try:
        if args.list:
            for saved in all_named_queries(athena, args.workgroup):
                print(f"{saved.name:32} {saved.workgroup:28} {saved.description}", file=out)
            return 0
        query = find_named_query(athena, args.name, args.workgroup)
        outcome = run_query(athena, query, timeout_seconds=args.timeout)
    except QueryError as error:
        print(f"error: {error}", file=err)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"error: {error}", file=err)
        return 2
    if outcome.state != "SUCCEEDED":
        print(f"query {query.name} {outcome.state}: {outcome.reason}", file=err)
        return 1
    if not outcome.columns:
        # A SELECT always has columns; plain moto answers every query with none.
        print(
            f"query {query.name} SUCCEEDED without result columns: the endpoint does not run "
            "queries (is the emulator's Athena data plane installed?)",
            file=err,
        )
        return 1
    print(format_table(outcome.columns, outcome.rows), file=out)
    count = len(outcome.rows)
    print(
        f"\n{count} row{'s' if count != 1 else ''}; {outcome.scanned_bytes} bytes scanned; "
        f"query {outcome.query_id} in {query.workgroup}, results at {outcome.output_location}",
        file=out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
