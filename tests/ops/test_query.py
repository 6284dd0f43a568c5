"""python -m ops.query: a saved query run by name against a moto server, its rows printed."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ops.query import Column, format_table, main
from tests.support.athena_lake import gzip_lines

REGION = "us-west-2"
TABLE = {
    "Name": "events",
    "TableType": "EXTERNAL_TABLE",
    "Parameters": {"classification": "json"},
    "StorageDescriptor": {
        "Location": "s3://lake/events/",
        "Columns": [
            {"Name": "event_type", "Type": "string"},
            {"Name": "watch", "Type": "int"},
        ],
        "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
    },
}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """moto's server in this process, with the emulator's Athena installed."""

    from emulator import athena as named_queries
    from emulator.control import threaded_moto_server
    from emulator.dataplane import athena

    named_queries.install()
    athena.install()
    try:
        with threaded_moto_server() as endpoint:
            yield endpoint
    finally:
        athena.shutdown()


@pytest.fixture(scope="module")
def aws(endpoint: str) -> Callable[[str], Any]:
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint)

    s3 = client("s3")
    for bucket in ("lake", "results"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    events = [{"event_type": "start", "watch": 10}] * 3 + [{"event_type": "stop", "watch": None}]
    s3.put_object(Bucket="lake", Key="events/part-0.gz", Body=gzip_lines(events))
    client("glue").create_database(DatabaseInput={"Name": "lake_db"})
    client("glue").create_table(DatabaseName="lake_db", TableInput=TABLE)
    athena = client("athena")
    for group in ("analytics", "other"):
        athena.create_work_group(
            Name=group,
            Configuration={
                "EnforceWorkGroupConfiguration": True,
                "ResultConfiguration": {"OutputLocation": f"s3://results/{group}/"},
            },
        )
    saved = {
        "by-type": "SELECT event_type, count(*) AS events, sum(watch) AS watch "
        "FROM events GROUP BY event_type ORDER BY event_type;",
        "broken": "SELECT no_such_column FROM events",
        "twice": "SELECT 'analytics' AS source",
    }
    for name, sql in saved.items():
        athena.create_named_query(
            Name=name, Database="lake_db", QueryString=sql, WorkGroup="analytics"
        )
    athena.create_named_query(
        Name="twice", Database="lake_db", QueryString="SELECT 'other' AS source", WorkGroup="other"
    )
    return client


def run(endpoint: str, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["--endpoint", endpoint, "--region", REGION, *args], out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_a_saved_query_runs_in_its_workgroup_and_its_rows_are_printed(
    endpoint: str, aws: Callable[[str], Any]
) -> None:
    status, out, err = run(endpoint, "--name", "by-type")
    assert (status, err) == (0, "")
    table, summary = out.split("\n\n")
    assert table.splitlines() == [
        "event_type | events | watch",
        "-----------+--------+------",
        "start      |      3 |    30",
        "stop       |      1 |  NULL",
    ]
    assert summary.startswith("2 rows; ")
    location = summary.rsplit("results at ", 1)[1].strip()
    assert location.startswith("s3://results/analytics/") and location.endswith(".csv")
    key = location.removeprefix("s3://results/")
    body = aws("s3").get_object(Bucket="results", Key=key)["Body"].read()
    assert body == b'"event_type","events","watch"\n"start","3","30"\n"stop","1",\n'


def test_a_failed_query_exits_1_with_athenas_reason(endpoint: str, aws: Any) -> None:
    status, out, err = run(endpoint, "--name", "broken")
    assert status == 1 and out == ""
    assert "broken FAILED: COLUMN_NOT_FOUND" in err
    assert "Column 'no_such_column' cannot be resolved" in err


def test_an_unknown_name_exits_2_and_lists_the_saved_queries(endpoint: str, aws: Any) -> None:
    status, _, err = run(endpoint, "--name", "nope")
    assert status == 2
    assert "no saved query 'nope' in any workgroup" in err
    assert "(saved queries: broken, by-type, twice)" in err


def test_a_name_saved_in_two_workgroups_needs_the_workgroup(endpoint: str, aws: Any) -> None:
    status, _, err = run(endpoint, "--name", "twice")
    assert status == 2 and "several workgroups (analytics, other)" in err
    status, out, _ = run(endpoint, "--name", "twice", "--workgroup", "other")
    assert status == 0
    assert out.splitlines()[2] == "other"


def test_an_emulator_whose_athena_does_not_run_queries_is_reported(
    endpoint: str, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.athena.responses import AthenaResponse

    def plain_moto(self: AthenaResponse) -> str:  # moto 5.2.5's answer: no rows, no columns
        return json.dumps({"ResultSet": {"Rows": [], "ResultSetMetadata": {"ColumnInfo": []}}})

    monkeypatch.setattr(AthenaResponse, "get_query_results", plain_moto)
    status, out, err = run(endpoint, "--name", "by-type")
    assert status == 1 and out == ""
    assert "does not run queries" in err


def test_an_endpoint_that_does_not_answer_exits_2() -> None:
    from emulator.control import free_port

    status, _, err = run(f"http://127.0.0.1:{free_port()}", "--name", "x")
    assert status == 2 and err.startswith("error: ")


def test_tables_align_text_left_numbers_right_and_spell_null() -> None:
    table = format_table(
        [Column("name", "varchar"), Column("n", "bigint"), Column("ratio", "double")],
        [("a", "1", "0.5"), ("longer", None, "1.0E7"), (None, "1234", "NaN")],
    )
    assert table == "\n".join(
        [
            "name   | n    | ratio",
            "-------+------+------",
            "a      |    1 |   0.5",
            "longer | NULL | 1.0E7",
            "NULL   | 1234 |   NaN",
        ]
    )


def test_no_rows_print_only_the_header() -> None:
    assert format_table([Column("a", "varchar")], []) == "a\n-"
