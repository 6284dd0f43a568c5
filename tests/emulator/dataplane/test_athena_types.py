"""Values printed as Athena prints them, result metadata and the result CSV."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from emulator.dataplane import athena_types as T
from emulator.dataplane.athena_engine import QueryResult, results_csv
from emulator.dataplane.athena_sql import OutputColumn


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # Java's Double.toString: plain between 10^-3 and 10^7, scientific outside
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.0, "1.0"),
        (0.1, "0.1"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (1234567.0, "1234567.0"),
        (9999999.0, "9999999.0"),
        (1e7, "1.0E7"),
        (12345678.9, "1.23456789E7"),
        (-1.5e-5, "-1.5E-5"),
        (1 / 3, "0.3333333333333333"),
        (0.30000000000000004, "0.30000000000000004"),
        (1.7976931348623157e308, "1.7976931348623157E308"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_doubles_print_as_java_prints_them(value: float, text: str) -> None:
    assert T.java_double(value) == text


def test_reals_print_with_float_precision() -> None:
    assert T.java_float(0.1) == "0.1"
    assert T.java_float(1e7) == "1.0E7"
    assert T.java_float(3.4028234663852886e38) == "3.4028235E38"


@pytest.mark.parametrize(
    ("value", "value_type", "text"),
    [
        (None, T.VARCHAR, None),
        ("", T.VARCHAR, ""),
        (True, T.BOOLEAN, "true"),
        (7, T.BIGINT, "7"),
        (Decimal("1.5"), T.decimal(10, 2), "1.50"),
        (Decimal("-0.05"), T.decimal(3, 2), "-0.05"),
        (dt.date(2026, 1, 2), T.DATE, "2026-01-02"),
        (dt.datetime(2026, 1, 2, 3, 4, 5, 678900), T.TIMESTAMP, "2026-01-02 03:04:05.679"),
        (dt.datetime(2026, 1, 2, 3, 4, 5), T.timestamp(0), "2026-01-02 03:04:05"),
        (
            dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
            T.TIMESTAMP_TZ,
            "2026-01-02 03:04:05.000 UTC",
        ),
        (dt.timedelta(days=-1, hours=1), T.INTERVAL_DAY, "-0 23:00:00.000"),
        (["a", None], T.array_of(T.VARCHAR), "[a, null]"),
        ([1.5], T.array_of(T.DOUBLE), "[1.5]"),
    ],
)
def test_values_print_as_get_query_results_returns_them(
    value: object, value_type: T.TrinoType, text: str | None
) -> None:
    assert T.athena_text(value, value_type) == text


def test_column_info_describes_columns_as_athena_does() -> None:
    assert T.column_info("n", T.BIGINT) == {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": "n",
        "Label": "n",
        "Type": "bigint",
        "Precision": 19,
        "Scale": 0,
        "Nullable": "UNKNOWN",
        "CaseSensitive": False,
    }
    text = T.column_info("s", T.VARCHAR)
    assert (text["Type"], text["Precision"], text["CaseSensitive"]) == ("varchar", 2147483647, True)
    money = T.column_info("m", T.decimal(23, 1))
    assert (money["Type"], money["Precision"], money["Scale"]) == ("decimal", 23, 1)
    # As Athena reports them to clients (PyAthena's tests against Athena engine 3).
    expected = {
        "boolean": ("boolean", 0),
        "tinyint": ("tinyint", 3),
        "smallint": ("smallint", 5),
        "integer": ("integer", 10),
        "real": ("float", 17),
        "double": ("double", 17),
        "timestamp(3)": ("timestamp", 3),
        "timestamp(3) with time zone": ("timestamp with time zone", 3),
        "date": ("date", 0),
        "array(integer)": ("array", 0),
    }
    for trino_type in (
        T.BOOLEAN,
        T.TINYINT,
        T.SMALLINT,
        T.INTEGER,
        T.REAL,
        T.DOUBLE,
        T.TIMESTAMP,
        T.TIMESTAMP_TZ,
        T.DATE,
        T.array_of(T.INTEGER),
    ):
        info = T.column_info("c", trino_type)
        assert (info["Type"], info["Precision"]) == expected[trino_type.display()]


@pytest.mark.parametrize(
    ("glue", "trino"),
    [
        ("string", "varchar"),
        ("varchar(20)", "varchar"),
        ("int", "integer"),
        ("float", "real"),
        ("decimal", "decimal(10,0)"),
        ("decimal(12, 3)", "decimal(12,3)"),
        ("timestamp", "timestamp(3)"),
        ("array<string>", "array(varchar)"),
    ],
)
def test_glue_types_map_to_trino_types(glue: str, trino: str) -> None:
    assert T.from_glue(glue).display() == trino


@pytest.mark.parametrize("glue", ["map<string,int>", "struct<a:int>", "binary", "char(3)"])
def test_glue_types_the_emulator_cannot_read_are_refused(glue: str) -> None:
    with pytest.raises(T.UnsupportedType, match="not emulated"):
        T.from_glue(glue)


def test_the_result_csv_quotes_every_value_and_leaves_null_empty() -> None:
    result = QueryResult(
        columns=(
            OutputColumn("q", T.VARCHAR),
            OutputColumn("n", T.UNKNOWN),
            OutputColumn("e", T.VARCHAR),
            OutputColumn("d", T.DOUBLE),
        ),
        rows=(('a"b,c', None, "", "1.5"), ("line\nbreak", None, "x", "NaN")),
        data_scanned_bytes=0,
        planning_millis=0,
        engine_millis=0,
    )
    assert results_csv(result) == (
        b'"q","n","e","d"\n"a""b,c",,"","1.5"\n"line\nbreak",,"x","NaN"\n'
    )
