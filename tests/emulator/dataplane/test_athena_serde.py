"""The OpenX JSON SerDe as Athena (Trino's implementation) reads lines and values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from tests.support.athena_fakes import Lakehouse, json_table

COLUMNS = [
    ("s", "string"),
    ("i", "int"),
    ("b", "bigint"),
    ("d", "double"),
    ("f", "boolean"),
    ("dt", "date"),
    ("ts", "timestamp"),
    ("m", "decimal(5,2)"),
    ("a", "array<int>"),
]


def lake(
    lines: Sequence[str],
    serde: Mapping[str, str] | None = None,
    columns: Sequence[tuple[str, str]] = COLUMNS,
) -> Lakehouse:
    lakehouse = Lakehouse()
    lakehouse.catalog.add(
        json_table("j", columns, location="s3://bucket/j/", serde_parameters=serde)
    )
    lakehouse.store.put_lines("s3://bucket/j/part-0.gz", lines)
    return lakehouse


def test_values_convert_as_trinos_openx_decoders_convert_them() -> None:
    rows = lake(
        [
            '{"s":"x","i":1,"b":2,"d":1.5,"f":true,"dt":"2026-01-02",'
            '"ts":"2026-01-02T03:04:05.678Z","m":1.234,"a":[1,2]}',
            # numbers and booleans as text, hex, dates with trailing text, one-value arrays
            '{"s":"y","i":"7","b":"0x1F","d":"2.5","f":"TRUE","dt":"2026-01-02 junk",'
            '"ts":"2026-01-02 03:04:05","m":"1.005","a":5}',
            # fractions truncate, epoch days and seconds, unparsable text is NULL
            '{"s":12,"i":1.9,"b":-3.7,"d":"NaN","f":"yes","dt":19000,"ts":1700000000,'
            '"m":"abc","a":""}',
            # octal, exponents, epoch milliseconds, a decimal too wide, a quoted "array"
            '{"s":true,"i":"0123","b":"1e3","d":1e2,"f":1,"dt":"x","ts":"1700000000123",'
            '"m":999.999,"a":"[1]"}',
            # out of range is NULL
            '{"s":"z","i":3000000000,"b":"99999999999999999999"}',
        ]
    ).rows("SELECT * FROM j")
    assert rows == [
        ("x", "1", "2", "1.5", "true", "2026-01-02", "2026-01-02 03:04:05.678", "1.23", "[1, 2]"),
        ("y", "7", "31", "2.5", "true", "2026-01-02", "2026-01-02 03:04:05.000", "1.01", "[5]"),
        ("12", "1", "-3", "NaN", "false", "2022-01-08", "2023-11-14 22:13:20.000", None, None),
        ("true", "83", "1000", "100.0", "false", None, "2023-11-14 22:13:20.123", None, "[null]"),
        ("z", None, None, None, None, None, None, None, None),
    ]


def test_array_elements_convert_one_by_one() -> None:
    rows = lake(['{"a":[1, "2", null, 2.9]}', '{"a":[]}', '{"a":null}']).rows("SELECT a FROM j")
    assert rows == [("[1, 2, null, 2]",), ("[]",), (None,)]


def test_objects_in_string_columns_are_json_text() -> None:
    assert lake(['{"s":{"x":[1,"a"]}}']).rows("SELECT s FROM j") == [('{"x":[1,"a"]}',)]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('{"i":{"x":1}}', "can not be coerced to integer (column i"),
        ('{"a":[[1]]}', "can not be coerced to integer (column a"),
        # Athena prints 1.50 as written; DuckDB's parser keeps 1.5: refuse, do not differ
        ('{"s":1.50}', "a JSON number with a fraction or exponent in a string column"),
    ],
)
def test_values_athena_cannot_read_or_the_emulator_cannot_reproduce_fail(
    line: str, words: str
) -> None:
    failure = lake([line]).failure("SELECT * FROM j")
    assert failure.error_name == "HIVE_BAD_DATA"
    assert words in failure.message
    assert "s3://bucket/j/part-0.gz line 1" in failure.message


def test_keys_match_columns_ignoring_case_the_last_duplicate_winning() -> None:
    rows = lake(['{"S":"x","I":3}', '{"s":"first","S":"second"}']).rows("SELECT s, i FROM j")
    assert rows == [("x", "3"), ("second", None)]


def test_case_sensitive_tables_read_only_lower_case_keys() -> None:
    rows = lake(['{"S":"x"}', '{"s":"y"}'], {"case.insensitive": "false"}).rows("SELECT s FROM j")
    assert rows == [(None,), ("y",)]


def test_mapping_names_the_key_of_a_column() -> None:
    rows = lake(['{"userId":"u1","s":"x"}'], {"mapping.s": "userId"}).rows("SELECT s FROM j")
    assert rows == [("u1",)]


def test_a_json_array_line_maps_values_by_position() -> None:
    assert lake(['["x", 1, 2]']).rows("SELECT s, i, b, d FROM j") == [("x", "1", "2", None)]


def test_missing_keys_empty_lines_and_non_objects_are_rows_of_nulls() -> None:
    rows = lake(["{}", "", "   ", "7", '"text"', '{"s":"ok"}']).rows("SELECT s, i, a FROM j")
    assert rows == [(None, None, None)] * 5 + [("ok", None, None)]


@pytest.mark.parametrize("sql", ["SELECT s FROM j", "SELECT count(*) FROM j"])
def test_a_malformed_line_fails_the_query_with_where_it_is(sql: str) -> None:
    # Trino parses every line, even when no column is read.
    failure = lake(['{"s":"ok"}', '{"s": "broken"']).failure(sql)
    assert failure.error_name == "HIVE_CURSOR_ERROR"
    assert failure.message == "Row is not a valid JSON Object (s3://bucket/j/part-0.gz line 2)"


def test_ignore_malformed_json_turns_a_malformed_line_into_a_row_of_nulls() -> None:
    lakehouse = lake(
        ['{"s":"ok"}', '{"s": "broken"', '{"s":"after"}'], {"ignore.malformed.json": "TRUE"}
    )
    assert lakehouse.rows("SELECT count(*), count(s) FROM j") == [("3", "2")]


def test_line_endings_compression_and_empty_objects_read_as_hadoop_reads_them() -> None:
    lakehouse = lake([])
    store = lakehouse.store
    store.put_object("bucket", "j/crlf", b'{"s":"a"}\r\n{"s":"b"}\r\n')
    store.put_object("bucket", "j/no-final-newline.json", b'{"s":"c"}')
    store.put_object("bucket", "j/empty", b"")
    store.put_lines("s3://bucket/j/empty-gzip.gz", [])
    store.put_object("bucket", "j/only-newline", b"\n")  # one empty line: a row of NULLs
    store.put_object("bucket", "j/_SUCCESS", b"not data")
    store.put_object("bucket", "j/.hidden", b'{"s":"hidden"}\n')
    import bz2

    store.put_object("bucket", "j/z.bz2", bz2.compress(b'{"s":"d"}\n'))
    rows = lakehouse.rows("SELECT s FROM j ORDER BY s")
    assert rows == [("a",), ("b",), ("c",), ("d",), (None,)]


def test_serde_properties_the_emulator_does_not_know_fail_the_query() -> None:
    failure = lake(["{}"], {"dots.in.keys": "true"}).failure("SELECT * FROM j")
    assert failure.error_name == "NOT_SUPPORTED"
    assert "dots.in.keys" in failure.message


def test_other_serdes_and_column_types_fail_the_query() -> None:
    lakehouse = lake(["{}"])
    lakehouse.catalog.tables[("lake", "j")]["StorageDescriptor"]["SerdeInfo"][
        "SerializationLibrary"
    ] = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    assert "LazySimpleSerDe" in lakehouse.failure("SELECT * FROM j").message
    mapped = lake(["{}"], columns=[("m", "map<string,int>")])
    failure = mapped.failure("SELECT * FROM j")
    assert failure.error_name == "NOT_SUPPORTED"
    assert "map<string,int>" in failure.message
