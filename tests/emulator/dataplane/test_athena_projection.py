"""Which objects a query reads: partition projection, Glue partitions, pruning."""

from __future__ import annotations

import datetime as dt

import pytest

from emulator.dataplane.athena_catalog import (
    CatalogError,
    JavaDatePattern,
    list_table_objects,
    table_spec,
)
from tests.support.athena_fakes import NOW, Lakehouse, json_table

PLATFORM_PROJECTION = {
    # The data-lake stack's parameters (stacks/data_lake.py), with a start year of 2025.
    "projection.enabled": "true",
    "projection.year.type": "date",
    "projection.year.format": "yyyy",
    "projection.year.range": "2025,NOW",
    "projection.year.interval": "1",
    "projection.year.interval.unit": "YEARS",
    "projection.month.type": "integer",
    "projection.month.range": "1,12",
    "projection.month.digits": "2",
    "projection.day.type": "integer",
    "projection.day.range": "1,31",
    "projection.day.digits": "2",
    "projection.hour.type": "integer",
    "projection.hour.range": "0,23",
    "projection.hour.digits": "2",
    "storage.location.template": (
        "s3://data/telemetry/year=${year}/month=${month}/day=${day}/hour=${hour}/"
    ),
}


def hourly(url_suffix: str) -> str:
    return f"s3://data/telemetry/{url_suffix}"


@pytest.fixture
def lake() -> Lakehouse:
    lakehouse = Lakehouse()
    lakehouse.catalog.add(
        json_table(
            "events",
            [("event_id", "string")],
            location="s3://data/telemetry/",
            partition_keys=("year", "month", "day", "hour"),
            parameters=PLATFORM_PROJECTION,
        )
    )
    put = lakehouse.store.put_events
    put(hourly("year=2026/month=11/day=30/hour=23/a.gz"), [{"event_id": "nov-30"}])
    put(hourly("year=2026/month=12/day=01/hour=00/a.gz"), [{"event_id": "dec-01"}] * 2)
    put(hourly("year=2025/month=01/day=05/hour=03/a.gz"), [{"event_id": "2025"}])
    # Not projected: before the range, after NOW, unpadded, out of range, off-template.
    put(hourly("year=2024/month=12/day=31/hour=23/a.gz"), [{"event_id": "2024"}])
    put(hourly("year=2027/month=01/day=01/hour=00/a.gz"), [{"event_id": "2027"}])
    put(hourly("year=2026/month=1/day=05/hour=03/a.gz"), [{"event_id": "unpadded"}])
    put(hourly("year=2026/month=11/day=30/hour=24/a.gz"), [{"event_id": "hour-24"}])
    put(hourly("errors/year=2026/month=11/day=30/hour=23/a.gz"), [{"event_id": "error"}])
    put(hourly("year=2026/month=11/day=30/a.gz"), [{"event_id": "no-hour"}])
    lakehouse.store.put_object("data", "telemetry/year=2026/month=11/day=30/hour=23/_SUCCESS", b"x")
    return lakehouse


def test_only_objects_in_projected_partitions_are_read(lake: Lakehouse) -> None:
    rows = lake.rows("SELECT event_id, year, month, day, hour FROM events ORDER BY 2, 3, 4")
    assert rows == [
        ("2025", "2025", "01", "05", "03"),
        ("nov-30", "2026", "11", "30", "23"),
        ("dec-01", "2026", "12", "01", "00"),
        ("dec-01", "2026", "12", "01", "00"),
    ]


def test_partitions_the_where_clause_excludes_are_not_read(lake: Lakehouse) -> None:
    everything = lake.run("SELECT count(*) FROM events")
    november = lake.run("SELECT count(*) FROM events WHERE year = '2026' AND month = '11'")
    assert november.rows == (("1",),)
    sizes = {key: len(body) for (_, key), body in lake.store.objects.items()}
    november_key = "telemetry/year=2026/month=11/day=30/hour=23/a.gz"
    assert november.data_scanned_bytes == sizes[november_key]
    assert everything.data_scanned_bytes > november.data_scanned_bytes


def test_pruning_uses_any_predicate_over_partition_keys_relative_to_now(lake: Lakehouse) -> None:
    # Issue 14's form: the last 7 days by the projected keys (NOW is 2026-12-01 01:30).
    result = lake.run(
        "SELECT count(*) FROM events WHERE date_parse(concat(year, month, day), '%Y%m%d') "
        ">= current_date - interval '7' day"
    )
    assert result.rows == (("3",),)
    older = lake.store.objects[("data", "telemetry/year=2025/month=01/day=05/hour=03/a.gz")]
    assert result.data_scanned_bytes == lake.run(
        "SELECT count(*) FROM events"
    ).data_scanned_bytes - len(older)


def test_predicates_mixing_data_columns_do_not_prune(lake: Lakehouse) -> None:
    result = lake.run("SELECT count(*) FROM events WHERE year = '2025' OR event_id = 'dec-01'")
    assert result.rows == (("3",),)


def test_a_table_left_joined_is_not_pruned_by_the_where_clause(lake: Lakehouse) -> None:
    rows = lake.rows(
        "SELECT a.event_id, b.event_id FROM events a LEFT JOIN events b "
        "ON a.event_id = b.event_id AND b.year = '2025' "
        "WHERE b.year IS NULL OR b.year = '2025' ORDER BY 1"
    )
    assert rows == [("2025", "2025"), ("dec-01", None), ("dec-01", None), ("nov-30", None)]


def test_the_projection_range_ends_at_the_query_time() -> None:
    spec = table_spec(
        json_table(
            "events",
            [("event_id", "string")],
            location="s3://data/telemetry/",
            partition_keys=("year", "month", "day", "hour"),
            parameters=PLATFORM_PROJECTION,
        )
    )
    lakehouse = Lakehouse()
    lakehouse.store.put_events(hourly("year=2027/month=01/day=01/hour=00/a.gz"), [{}])
    found = list_table_objects(spec, lakehouse.store, lakehouse.catalog, NOW)
    assert found == []
    next_year = dt.datetime(2027, 1, 1, 0, 5, tzinfo=dt.UTC)
    (obj,) = list_table_objects(spec, lakehouse.store, lakehouse.catalog, next_year)
    assert obj.values == ("2027", "01", "01", "00")


def projected_lake(parameters: dict[str, str], keys: tuple[str, ...]) -> Lakehouse:
    lakehouse = Lakehouse()
    lakehouse.catalog.add(
        json_table(
            "t",
            [("v", "string")],
            location="s3://data/t/",
            partition_keys=keys,
            parameters={"projection.enabled": "true", **parameters},
        )
    )
    return lakehouse


def test_enum_and_date_projections_with_their_own_formats_and_intervals() -> None:
    lakehouse = projected_lake(
        {
            "projection.region.type": "enum",
            "projection.region.values": "eu-west-1,us-west-2",
            "projection.dt.type": "date",
            "projection.dt.format": "yyyy/MM/dd",
            "projection.dt.range": "NOW-4DAYS,NOW",
            "projection.dt.interval": "2",
            "projection.dt.interval.unit": "DAYS",
            "storage.location.template": "s3://data/t/${region}/${dt}/",
        },
        ("region", "dt"),
    )
    put = lakehouse.store.put_events
    put("s3://data/t/eu-west-1/2026/11/27/a.gz", [{"v": "4 days ago"}])
    put("s3://data/t/eu-west-1/2026/11/28/a.gz", [{"v": "3 days ago: off the interval"}])
    put("s3://data/t/us-west-2/2026/11/29/a.gz", [{"v": "2 days ago"}])
    put("s3://data/t/us-west-2/2026/11/25/a.gz", [{"v": "6 days ago: before the range"}])
    put("s3://data/t/ap-south-1/2026/12/01/a.gz", [{"v": "not an enum value"}])
    rows = lakehouse.rows("SELECT region, dt, v FROM t ORDER BY dt")
    assert rows == [
        ("eu-west-1", "2026/11/27", "4 days ago"),
        ("us-west-2", "2026/11/29", "2 days ago"),
    ]


def test_injected_columns_read_only_the_values_the_where_clause_names() -> None:
    lakehouse = projected_lake(
        {
            "projection.device.type": "injected",
            "storage.location.template": "s3://data/t/${device}/",
        },
        ("device",),
    )
    lakehouse.store.put_events("s3://data/t/tv/a.gz", [{"v": "tv"}])
    lakehouse.store.put_events("s3://data/t/web/a.gz", [{"v": "web"}])
    assert lakehouse.rows("SELECT v FROM t WHERE device = 'tv'") == [("tv",)]
    both = lakehouse.run("SELECT count(*) FROM t WHERE device IN ('tv', 'web')")
    assert both.rows == (("2",),)
    failure = lakehouse.failure("SELECT v FROM t")
    assert failure.error_name == "CONSTRAINT_VIOLATION"
    assert "injected projected partition column device" in failure.message


def test_hive_layout_when_there_is_no_location_template() -> None:
    lakehouse = projected_lake(
        {
            "projection.n.type": "integer",
            "projection.n.range": "0,100",
            "projection.n.interval": "10",
        },
        ("n",),
    )
    lakehouse.store.put_events("s3://data/t/n=10/a.gz", [{"v": "ten"}])
    lakehouse.store.put_events("s3://data/t/n=15/a.gz", [{"v": "off the interval"}])
    assert lakehouse.rows("SELECT v, n FROM t") == [("ten", "10")]


def test_a_partition_key_without_projection_settings_fails_the_query() -> None:
    lakehouse = projected_lake({}, ("n",))
    failure = lakehouse.failure("SELECT * FROM t")
    assert failure.error_name == "HIVE_METASTORE_ERROR"
    assert "projection.n.type" in failure.message


def test_without_projection_the_glue_partitions_say_where_the_objects_are() -> None:
    lakehouse = Lakehouse()
    lakehouse.catalog.add(
        json_table("t", [("v", "string")], location="s3://data/t/", partition_keys=("p",))
    )
    lakehouse.catalog.partitions[("lake", "t")] = [
        {"Values": ["one"], "StorageDescriptor": {"Location": "s3://data/elsewhere/1/"}}
    ]
    lakehouse.store.put_events("s3://data/elsewhere/1/a.gz", [{"v": "registered"}])
    lakehouse.store.put_events("s3://data/t/p=two/a.gz", [{"v": "not registered"}])
    assert lakehouse.rows("SELECT v, p FROM t") == [("registered", "one")]


def test_an_unpartitioned_table_reads_everything_under_its_location() -> None:
    lakehouse = Lakehouse()
    lakehouse.catalog.add(json_table("t", [("v", "string")], location="s3://data/t"))
    lakehouse.store.put_events("s3://data/t/a.gz", [{"v": "top"}])
    lakehouse.store.put_events("s3://data/t/deeper/b.gz", [{"v": "nested"}])
    lakehouse.store.put_events("s3://data/tt/c.gz", [{"v": "another prefix"}])
    assert lakehouse.rows("SELECT v FROM t ORDER BY v") == [("nested",), ("top",)]


def test_an_empty_table_answers_with_no_rows_or_zero_counts(lake: Lakehouse) -> None:
    assert lake.rows("SELECT event_id FROM events WHERE year = '2025' AND month = '02'") == []
    assert lake.rows("SELECT count(*) FROM events WHERE year = '2030'") == [("0",)]


@pytest.mark.parametrize(
    ("pattern", "moment", "text"),
    [
        ("yyyy", dt.datetime(2026, 1, 1), "2026"),
        ("yyyy/MM/dd", dt.datetime(2026, 1, 5), "2026/01/05"),
        ("yyyy-M-d-H", dt.datetime(2026, 1, 5, 7), "2026-1-5-7"),
        ("yyyyMMdd'T'HHmm", dt.datetime(2026, 1, 5, 7, 8), "20260105T0708"),
    ],
)
def test_java_date_patterns_format_and_parse_back(
    pattern: str, moment: dt.datetime, text: str
) -> None:
    date_pattern = JavaDatePattern(pattern)
    assert date_pattern.format(moment) == text
    assert date_pattern.parse(text) == moment


def test_unknown_date_pattern_letters_are_refused() -> None:
    with pytest.raises(ValueError, match="'MMM'"):
        JavaDatePattern("dd-MMM-yyyy")
    with pytest.raises(CatalogError, match="invalid partition projection"):
        table_spec(
            json_table(
                "t",
                [],
                location="s3://x/",
                partition_keys=("d",),
                parameters={
                    "projection.enabled": "true",
                    "projection.d.type": "date",
                    "projection.d.format": "EEE",
                    "projection.d.range": "NOW,NOW",
                },
            )
        )
