"""Athena through boto3 on moto in-process: the platform's data lake, queried for real.

The Glue table, workgroup and saved queries come from the synthesized data-lake stack;
events from the generator Lambda are written as Firehose writes them. Every answer is
checked against the same aggregation computed here, in Python, from the objects in S3.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from tests.support.athena_lake import (
    REGION,
    Answer,
    Lake,
    events_at,
    firehose_key,
    gzip_lines,
    read_events,
    run_sql,
    wait,
)

pytestmark = pytest.mark.synth

FIRST_YEAR = 2025  # the dev environment's projection_start_year


@dataclass(frozen=True)
class Platform:
    lake: Lake
    client: Callable[[str], Any]
    written: dict[str, int]  # object key -> size

    @property
    def athena(self) -> Any:
        return self.client("athena")

    def run(self, sql: str, **extra: Any) -> Answer:
        return run_sql(self.athena, sql, self.lake.database, self.lake.workgroup, **extra)

    def events(self, now: dt.datetime) -> list[tuple[dict[str, str], dict[str, Any]]]:
        return read_events(self.client("s3"), self.lake.data_bucket, now, FIRST_YEAR)


def _hours(now: dt.datetime) -> list[dt.datetime]:
    hour = now.replace(minute=0, second=0, microsecond=0)
    return [
        hour,
        hour - dt.timedelta(hours=1),
        hour - dt.timedelta(days=1),
        hour - dt.timedelta(days=3, hours=5),
        hour - dt.timedelta(days=6),
        hour - dt.timedelta(days=10),
        dt.datetime(2026, 1, 5, 3, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 20, 23, tzinfo=dt.UTC),
        dt.datetime(2025, 6, 15, 12, tzinfo=dt.UTC),
    ]


@pytest.fixture(scope="module")
def platform(synth: Any) -> Iterator[Platform]:
    import boto3
    from moto import mock_aws

    from emulator import athena as named_queries
    from emulator.dataplane import athena

    named_queries.install()
    athena.install()
    lake = Lake.from_stack(synth.stack("data-lake"))
    rng = random.Random(20261201)
    with mock_aws():
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )

        def client(service: str) -> Any:
            return session.client(service)

        lake.create(client)
        s3 = client("s3")
        written: dict[str, int] = {}

        def put(key: str, body: bytes) -> None:
            s3.put_object(Bucket=lake.data_bucket, Key=key, Body=body)
            written[key] = len(body)

        now = dt.datetime.now(dt.UTC)
        for moment in _hours(now):
            for _ in range(2):  # Firehose writes several objects an hour
                put(firehose_key(moment, ".gz"), gzip_lines(events_at(moment, 80, rng)))
        # Not read: before the projection's first year, unpadded, an empty object.
        old = dt.datetime(2024, 12, 31, 23, tzinfo=dt.UTC)
        put(firehose_key(old, ".gz"), gzip_lines(events_at(old, 20, rng)))
        put(
            "telemetry/year=2026/month=1/day=05/hour=03/unpadded.gz",
            gzip_lines(events_at(old, 20, rng)),
        )
        put(firehose_key(now, ".gz"), gzip_lines([]))
        put(firehose_key(now), b"")
        yield Platform(lake, client, written)
    athena.shutdown()


def _decimal(value: Decimal, scale: int) -> str:
    return str(value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP))


def _saved(platform: Platform, name: str) -> dict[str, Any]:
    athena = platform.athena
    ids = athena.list_named_queries(WorkGroup=platform.lake.workgroup)["NamedQueryIds"]
    queries = athena.batch_get_named_query(NamedQueryIds=ids)["NamedQueries"]
    (query,) = [q for q in queries if q["Name"] == name]
    return dict(query)


def _run_saved(platform: Platform, name: str) -> Answer:
    query = _saved(platform, name)
    return run_sql(platform.athena, query["QueryString"], query["Database"], query["WorkGroup"])


def test_the_saved_queries_are_the_stacks(platform: Platform) -> None:
    names = {query.name for query in platform.lake.saved_queries}
    assert names == {
        "events-by-type",
        "top-titles-by-watch-time",
        "device-distribution",
        "buffering-ratio-by-isp-and-state",
        "error-rate-by-app-version-and-device",
        "completion-rate-by-title-type",
    }
    # Relative to the day they run, through the projection: never a literal year or month.
    for query in platform.lake.saved_queries:
        assert "current_date - interval '7' day" in query.query, query.name
        assert not re.search(r"\b(year|month)\s*=\s*'", query.query), query.name
    assert _saved(platform, "events-by-type")["WorkGroup"] == "acme-data-dev-analytics"


def test_saved_query_events_by_type(platform: Platform) -> None:
    answer = _run_saved(platform, "events-by-type")
    assert answer.state == "SUCCEEDED", answer.reason
    expected = Counter(event["event_type"] for event in _recent(platform, answer))
    assert sum(expected.values()) > 0
    assert answer.labels() == ["event_type", "count"]
    assert [c["Type"] for c in answer.columns] == ["varchar", "bigint"]
    assert {row[0]: int(str(row[1])) for row in answer.rows} == dict(expected)


def test_saved_query_top_titles_by_watch_time(platform: Platform) -> None:
    answer = _run_saved(platform, "top-titles-by-watch-time")
    assert answer.state == "SUCCEEDED", answer.reason
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for event in _recent(platform, answer):
        totals[(event["title_id"], event["title_type"])] += event["watch_duration_seconds"]
    assert [c["Type"] for c in answer.columns] == ["varchar", "varchar", "bigint"]
    got = [(str(row[0]), str(row[1]), int(str(row[2]))) for row in answer.rows]
    assert len(got) == 10
    # Ties at the tenth place may pick either title, as on Athena: compare the totals.
    assert [total for _, _, total in got] == sorted(totals.values(), reverse=True)[:10]
    assert all(totals[(title, kind)] == total for title, kind, total in got)


def test_saved_query_device_distribution(platform: Platform) -> None:
    answer = _run_saved(platform, "device-distribution")
    assert answer.state == "SUCCEEDED", answer.reason
    expected = Counter(
        event["device_type"]
        for event in _recent(platform, answer)
        if event["event_type"] == "start"
    )
    assert {row[0]: int(str(row[1])) for row in answer.rows} == dict(expected)
    # Only the last week's partitions were read: the filter prunes the projection.
    scanned = answer.execution["Statistics"]["DataScannedInBytes"]
    assert 0 < scanned < sum(platform.written.values())


def test_saved_query_buffering_ratio_by_isp_and_state(platform: Platform) -> None:
    answer = _run_saved(platform, "buffering-ratio-by-isp-and-state")
    assert answer.state == "SUCCEEDED", answer.reason
    # Per session: its stalls summed, its watch time the largest it reported.
    sessions: dict[str, list[Any]] = {}
    for event in _recent(platform, answer):
        entry = sessions.setdefault(event["session_id"], [event["isp"], event["state"], 0.0, 0])
        entry[2] += event["buffering_duration_seconds"]
        entry[3] = max(entry[3], event["watch_duration_seconds"])
    groups: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for isp, state, buffering, watched in sessions.values():
        group = groups[(isp, state)]
        group[0] += 1
        group[1] += buffering
        group[2] += watched
    assert len(groups) > 10
    assert answer.labels() == ["isp", "state", "sessions", "buffering_ratio"]
    assert [c["Type"] for c in answer.columns] == ["varchar", "varchar", "bigint", "double"]
    got = {(str(r[0]), str(r[1])): (int(str(r[2])), r[3]) for r in answer.rows}
    assert set(got) == set(groups)
    for key, (count, buffering, watched) in groups.items():
        assert got[key][0] == count
        total = buffering + watched
        if total:
            assert float(str(got[key][1])) == pytest.approx(buffering / total, rel=1e-9)
        else:
            assert got[key][1] is None
    ratios = [float(str(r[3])) for r in answer.rows if r[3] is not None]
    assert ratios == sorted(ratios, reverse=True)
    assert 0 < max(ratios) < 1


def test_saved_query_error_rate_by_app_version_and_device(platform: Platform) -> None:
    answer = _run_saved(platform, "error-rate-by-app-version-and-device")
    assert answer.state == "SUCCEEDED", answer.reason
    groups: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for event in _recent(platform, answer):
        entry = groups[(event["app_version"], event["device_type"])]
        entry[0] += 1
        entry[1] += event["error_count"]
    assert answer.labels() == [
        "app_version",
        "device_type",
        "events",
        "errors",
        "errors_per_event",
    ]
    assert [c["Type"] for c in answer.columns] == [
        "varchar",
        "varchar",
        "bigint",
        "bigint",
        "double",
    ]
    got = {(str(r[0]), str(r[1])): r[2:] for r in answer.rows}
    assert set(got) == set(groups) and len(answer.rows) == len(groups)
    for key, (events, errors) in groups.items():
        count, summed, rate = got[key]
        assert (int(str(count)), int(str(summed))) == (events, errors)
        assert float(str(rate)) == pytest.approx(errors / events, rel=1e-12)
    # Highest rate first; ties by app version, then device.
    order = sorted(groups, key=lambda k: (-groups[k][1] / groups[k][0], k))
    assert [(str(r[0]), str(r[1])) for r in answer.rows] == order


def test_saved_query_completion_rate_by_title_type(platform: Platform) -> None:
    answer = _run_saved(platform, "completion-rate-by-title-type")
    assert answer.state == "SUCCEEDED", answer.reason
    started: Counter[str] = Counter()
    completed: Counter[str] = Counter()
    for event in _recent(platform, answer):
        if event["event_type"] == "start":
            started[event["title_type"]] += 1
        elif event["event_type"] == "complete":
            completed[event["title_type"]] += 1
    assert answer.labels() == ["title_type", "sessions", "completed", "completion_rate"]
    assert [c["Type"] for c in answer.columns] == ["varchar", "bigint", "bigint", "double"]
    assert [str(r[0]) for r in answer.rows] == sorted(started)
    for title_type, sessions, done, rate in answer.rows:
        key = str(title_type)
        assert (int(str(sessions)), int(str(done))) == (started[key], completed[key])
        assert float(str(rate)) == pytest.approx(completed[key] / started[key], rel=1e-12)


LAST_WEEK_BY_DATE = (
    "date_parse(concat(year, month, day), '%Y%m%d') >= current_date - interval '7' day"
)
LAST_WEEK_BY_TEXT = (
    "year >= format_datetime(current_date - interval '7' day, 'yyyy') "
    "AND concat(year, month, day) >= format_datetime(current_date - interval '7' day, 'yyyyMMdd')"
)


def _recent(platform: Platform, answer: Answer, days: int = 7) -> list[dict[str, Any]]:
    since = answer.submitted.date() - dt.timedelta(days=days)
    return [
        event
        for partition, event in platform.events(answer.submitted)
        if dt.date(int(partition["year"]), int(partition["month"]), int(partition["day"])) >= since
    ]


@pytest.mark.parametrize("window", [LAST_WEEK_BY_DATE, LAST_WEEK_BY_TEXT])
def test_recent_partitions_relative_to_the_current_date(platform: Platform, window: str) -> None:
    answer = platform.run(
        f"SELECT count(*) AS events, min(concat(year, month, day)) AS first_day "
        f"FROM streaming_events WHERE {window}"
    )
    assert answer.state == "SUCCEEDED", answer.reason
    recent = _recent(platform, answer)
    assert int(str(answer.rows[0][0])) == len(recent) == 800
    everything = platform.run("SELECT count(*) FROM streaming_events")
    scanned = answer.execution["Statistics"]["DataScannedInBytes"]
    assert scanned < everything.execution["Statistics"]["DataScannedInBytes"]


def test_buffering_ratio_by_isp_and_state(platform: Platform) -> None:
    answer = platform.run(
        "SELECT isp, state, "
        "sum(buffering_duration_seconds) / sum(watch_duration_seconds) AS ratio, "
        "count(*) AS events FROM streaming_events "
        f"WHERE {LAST_WEEK_BY_DATE} GROUP BY isp, state ORDER BY ratio DESC, isp, state"
    )
    assert answer.state == "SUCCEEDED", answer.reason
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for event in _recent(platform, answer):
        entry = sums[(event["isp"], event["state"])]
        entry[0] += event["buffering_duration_seconds"]
        entry[1] += event["watch_duration_seconds"]
        entry[2] += 1
    assert [c["Type"] for c in answer.columns] == ["varchar", "varchar", "double", "bigint"]
    got = {(row[0], row[1]): (float(str(row[2])), int(str(row[3]))) for row in answer.rows}
    assert set(got) == set(sums)
    for key, (buffering, watching, count) in sums.items():
        assert got[key][0] == pytest.approx(buffering / watching, rel=1e-12)
        assert got[key][1] == count
    ratios = [float(str(row[2])) for row in answer.rows]
    assert ratios == sorted(ratios, reverse=True)


def test_error_rate_by_app_version_and_device(platform: Platform) -> None:
    answer = platform.run(
        "SELECT app_version, device_type, count(*) AS events, "
        "CAST(sum(error_count) AS double) / count(*) AS error_rate, "
        "sum(error_count) * 100.0 / count(*) AS error_pct, "
        "sum(error_count) / count(*) AS truncated "
        "FROM streaming_events GROUP BY 1, 2"
    )
    assert answer.state == "SUCCEEDED", answer.reason
    groups: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for _, event in platform.events(answer.submitted):
        entry = groups[(event["app_version"], event["device_type"])]
        entry[0] += 1
        entry[1] += event["error_count"]
    assert [c["Type"] for c in answer.columns][2:] == ["bigint", "double", "decimal", "bigint"]
    assert answer.columns[4]["Scale"] == 1
    assert len(answer.rows) == len(groups)
    for app_version, device, count, rate, pct, truncated in answer.rows:
        events, errors = groups[(str(app_version), str(device))]
        assert int(str(count)) == events
        assert float(str(rate)) == pytest.approx(errors / events, rel=1e-15)
        # decimal arithmetic: exact, rounded half up to one place
        assert pct == _decimal(Decimal(errors * 100) / events, 1)
        assert truncated == str(errors // events)


def test_completion_rate_by_title_type(platform: Platform) -> None:
    answer = platform.run(
        "SELECT title_type, "
        "avg(CASE WHEN event_type = 'complete' THEN 1.0 ELSE 0.0 END) AS completion_rate, "
        "count_if(event_type = 'complete') * 100.0 / count(*) AS completion_pct, "
        "avg(completion_percentage) AS avg_completion "
        "FROM streaming_events GROUP BY title_type ORDER BY title_type"
    )
    assert answer.state == "SUCCEEDED", answer.reason
    groups: dict[str, list[Any]] = defaultdict(lambda: [0, 0, 0.0])
    for _, event in platform.events(answer.submitted):
        entry = groups[event["title_type"]]
        entry[0] += 1
        entry[1] += event["event_type"] == "complete"
        entry[2] += event["completion_percentage"]
    assert [row[0] for row in answer.rows] == sorted(groups)
    for title_type, rate, pct, average in answer.rows:
        events, completed, completion = groups[str(title_type)]
        # avg of decimal(2,1) stays decimal(2,1) in Trino
        assert rate == _decimal(Decimal(completed) / events, 1)
        assert pct == _decimal(Decimal(completed * 100) / events, 1)
        assert float(str(average)) == pytest.approx(completion / events, rel=1e-12)


def test_partition_values_come_from_the_object_keys(platform: Platform) -> None:
    answer = platform.run(
        "SELECT year, month, day, hour, count(*) FROM streaming_events "
        "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
    )
    assert answer.state == "SUCCEEDED", answer.reason
    expected = Counter(
        (p["year"], p["month"], p["day"], p["hour"]) for p, _ in platform.events(answer.submitted)
    )
    assert [tuple(row[:4]) for row in answer.rows] == sorted(expected)
    assert [int(str(row[4])) for row in answer.rows] == [expected[k] for k in sorted(expected)]
    assert ("2024", "12", "31", "23") not in expected


def test_results_land_in_the_workgroups_location_as_athenas_csv(platform: Platform) -> None:
    answer = platform.run(
        "SELECT 'a\"b' AS quoted, NULL AS nothing, 1.5e0 AS d, true AS flag, "
        "DATE '2026-01-02' AS day, 7 AS n, '' AS empty, 1e7 AS big"
    )
    assert answer.state == "SUCCEEDED", answer.reason
    location = answer.execution["ResultConfiguration"]["OutputLocation"]
    query_id = answer.execution["QueryExecutionId"]
    assert location == f"s3://{platform.lake.results_bucket}/results/{query_id}.csv"
    assert answer.execution["ResultConfiguration"]["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_S3"
    }
    s3 = platform.client("s3")
    stored = s3.get_object(Bucket=platform.lake.results_bucket, Key=f"results/{query_id}.csv")
    assert stored["Body"].read() == (
        b'"quoted","nothing","d","flag","day","n","empty","big"\n'
        b'"a""b",,"1.5","true","2026-01-02","7","","1.0E7"\n'
    )
    assert stored["ServerSideEncryption"] == "AES256"
    assert answer.rows == [['a"b', None, "1.5", "true", "2026-01-02", "7", "", "1.0E7"]]


def test_results_are_paged_with_the_header_first(platform: Platform) -> None:
    athena = platform.athena
    query_id = athena.start_query_execution(
        QueryString="SELECT event_id FROM streaming_events ORDER BY event_id",
        QueryExecutionContext={"Database": platform.lake.database},
        WorkGroup=platform.lake.workgroup,
    )["QueryExecutionId"]
    assert wait(athena, query_id)["Status"]["State"] == "SUCCEEDED"
    first = athena.get_query_results(QueryExecutionId=query_id)
    rows = first["ResultSet"]["Rows"]
    assert len(rows) == 1000 and rows[0] == {"Data": [{"VarCharValue": "event_id"}]}
    second = athena.get_query_results(QueryExecutionId=query_id, NextToken=first["NextToken"])
    assert "NextToken" not in second
    ids = [r["Data"][0]["VarCharValue"] for r in rows[1:] + second["ResultSet"]["Rows"]]
    assert len(ids) == 1440 and ids == sorted(ids)
    small: list[str] = []
    token = None
    while True:
        page = athena.get_query_results(
            QueryExecutionId=query_id, MaxResults=333, **({"NextToken": token} if token else {})
        )
        assert len(page["ResultSet"]["Rows"]) <= 333
        small.extend(r["Data"][0]["VarCharValue"] for r in page["ResultSet"]["Rows"])
        token = page.get("NextToken")
        if not token:
            break
    assert small == ["event_id", *ids]
    with pytest.raises(athena.exceptions.InvalidRequestException, match="1000"):
        athena.get_query_results(QueryExecutionId=query_id, MaxResults=1001)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        (
            "SELECT approx_set(event_id) FROM streaming_events",
            "NOT_SUPPORTED: line 1:8: function approx_set()",
        ),
        ("SELECT count(*) FROM streaming_events WHERE year = 2026", "TYPE_MISMATCH"),
        ("SELECT nope FROM streaming_events", "COLUMN_NOT_FOUND: line 1:8: Column 'nope'"),
        ("SELECT * FROM missing_table", "TABLE_NOT_FOUND"),
        ("CREATE TABLE x (a int)", "NOT_SUPPORTED: the local Athena emulator runs queries only"),
        ("MSCK REPAIR TABLE streaming_events", "NOT_SUPPORTED"),
    ],
)
def test_a_query_that_cannot_run_fails_with_the_reason(
    platform: Platform, sql: str, reason: str
) -> None:
    answer = platform.run(sql)
    assert answer.state == "FAILED"
    assert answer.reason.startswith(reason), answer.reason
    error = answer.execution["Status"]["AthenaError"]
    assert error["ErrorMessage"] == answer.reason and error["Retryable"] is False
    athena = platform.athena
    with pytest.raises(
        athena.exceptions.InvalidRequestException, match="Final query state: FAILED"
    ):
        athena.get_query_results(QueryExecutionId=answer.execution["QueryExecutionId"])
    results = platform.client("s3").list_objects_v2(
        Bucket=platform.lake.results_bucket,
        Prefix=f"results/{answer.execution['QueryExecutionId']}",
    )
    assert results.get("KeyCount") == 0  # no partial result is written


def _tables_over(platform: Platform, prefix: str, **serde: str) -> str:
    """A copy of the platform's table reading another prefix, with SerDe properties."""
    table_input = dict(platform.lake.table_input)
    name = f"events_{prefix.replace('-', '_')}_{len(serde)}"
    parameters = dict(table_input["Parameters"])
    parameters["storage.location.template"] = parameters["storage.location.template"].replace(
        "/telemetry/", f"/{prefix}/"
    )
    descriptor = dict(table_input["StorageDescriptor"])
    descriptor["SerdeInfo"] = {
        **descriptor["SerdeInfo"],
        "Parameters": {**descriptor["SerdeInfo"]["Parameters"], **serde},
    }
    platform.client("glue").create_table(
        DatabaseName=platform.lake.database,
        TableInput={
            **table_input,
            "Name": name,
            "Parameters": parameters,
            "StorageDescriptor": descriptor,
        },
    )
    return name


def test_malformed_lines_fail_the_query_unless_the_table_ignores_them(platform: Platform) -> None:
    moment = dt.datetime(2025, 3, 1, 8, tzinfo=dt.UTC)
    key = firehose_key(moment, ".gz").replace("telemetry/", "telemetry-bad/")
    import gzip

    body = gzip.compress(b'{"event_id":"good","event_type":"start"}\n{"event_id": "broken"\n')
    platform.client("s3").put_object(Bucket=platform.lake.data_bucket, Key=key, Body=body)
    strict = _tables_over(platform, "telemetry-bad")
    tolerant = _tables_over(platform, "telemetry-bad", **{"ignore.malformed.json": "true"})
    failed = platform.run(f"SELECT count(*) FROM {strict}")
    assert failed.state == "FAILED"
    assert failed.reason == (
        f"HIVE_CURSOR_ERROR: Row is not a valid JSON Object "
        f"(s3://{platform.lake.data_bucket}/{key} line 2)"
    )
    answer = platform.run(
        f"SELECT count(*), count(event_id), count_if(event_type = 'start') FROM {tolerant}"
    )
    assert answer.rows == [["2", "1", "1"]]


def test_a_running_query_can_be_stopped(platform: Platform) -> None:
    athena = platform.athena
    query_id = athena.start_query_execution(
        QueryString=(
            "SELECT count(*) FROM streaming_events a, streaming_events b, streaming_events c, "
            "streaming_events d WHERE a.bandwidth_mbps + b.bandwidth_mbps + c.bandwidth_mbps "
            "> d.bandwidth_mbps + 100"
        ),
        QueryExecutionContext={"Database": platform.lake.database},
        WorkGroup=platform.lake.workgroup,
    )["QueryExecutionId"]
    deadline = time.monotonic() + 20
    while (
        athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"]
        == "QUEUED"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)  # well into DuckDB's cross join
    assert (
        athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"]
        == "RUNNING"
    )
    athena.stop_query_execution(QueryExecutionId=query_id)
    execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    assert execution["Status"]["State"] == "CANCELLED"
    assert execution["Status"]["StateChangeReason"] == "Query cancelled by user"
    # The worker is free again: the next query runs at once, not after the cross join.
    started = time.monotonic()
    assert platform.run("SELECT 1").state == "SUCCEEDED"
    assert platform.run("SELECT 2").state == "SUCCEEDED"
    assert time.monotonic() - started < 15
    athena.stop_query_execution(QueryExecutionId=query_id)  # a stopped query stays stopped
    assert wait(athena, query_id)["Status"]["State"] == "CANCELLED"


def test_the_result_location_follows_athenas_workgroup_rules(platform: Platform) -> None:
    athena = platform.athena
    results = platform.lake.results_bucket
    athena.create_work_group(
        Name="adhoc",
        Configuration={
            "EnforceWorkGroupConfiguration": False,
            "ResultConfiguration": {"OutputLocation": f"s3://{results}/adhoc"},
        },
    )
    mine = f"s3://{results}/mine/"
    chosen = run_sql(
        athena, "SELECT 1", "default", "adhoc", ResultConfiguration={"OutputLocation": mine}
    )
    assert chosen.execution["ResultConfiguration"]["OutputLocation"].startswith(mine)
    default = run_sql(athena, "SELECT 1", "default", "adhoc")
    assert default.execution["ResultConfiguration"]["OutputLocation"].startswith(
        f"s3://{results}/adhoc/"
    )
    enforced = platform.run("SELECT 1", ResultConfiguration={"OutputLocation": mine})
    assert enforced.execution["ResultConfiguration"]["OutputLocation"].startswith(
        f"s3://{results}/results/"
    )
    with pytest.raises(athena.exceptions.InvalidRequestException, match="No output location"):
        athena.start_query_execution(QueryString="SELECT 1")  # primary has none
    with pytest.raises(athena.exceptions.InvalidRequestException, match="is not found"):
        athena.start_query_execution(QueryString="SELECT 1", WorkGroup="nope")
    missing = run_sql(
        athena,
        "SELECT 1",
        "default",
        "adhoc",
        ResultConfiguration={"OutputLocation": "s3://no-such-bucket/x/"},
    )
    assert missing.state == "FAILED"
    assert "Unable to verify/create output bucket no-such-bucket" in missing.reason


def test_executions_are_listed_and_read_in_batches(platform: Platform) -> None:
    athena = platform.athena
    answer = platform.run("SELECT 42")
    query_id = answer.execution["QueryExecutionId"]
    listed = athena.list_query_executions(WorkGroup=platform.lake.workgroup)["QueryExecutionIds"]
    assert listed[0] == query_id  # newest first
    batch = athena.batch_get_query_execution(QueryExecutionIds=[query_id, "unknown"])
    assert [q["QueryExecutionId"] for q in batch["QueryExecutions"]] == [query_id]
    assert batch["UnprocessedQueryExecutionIds"][0]["QueryExecutionId"] == "unknown"
    statistics = answer.execution["Statistics"]
    assert statistics["DataScannedInBytes"] == 0
    assert statistics["TotalExecutionTimeInMillis"] >= statistics["EngineExecutionTimeInMillis"] > 0
    with pytest.raises(athena.exceptions.InvalidRequestException, match="was not found"):
        athena.get_query_execution(QueryExecutionId="unknown")
