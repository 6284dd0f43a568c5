"""Trino SQL through the local Athena: the values and types Trino gives, or a refusal.

Each expected value is what Athena (engine 3, Trino) returns for the expression, as
GetQueryResults prints it; the comments say which Trino rule a case pins down, because
those are the places where a plain sqlglot translation to DuckDB returns something else.
"""

from __future__ import annotations

import pytest

from tests.support.athena_fakes import Lakehouse, json_table

# (Trino expression, value as Athena prints it (None: NULL), Trino type)
VALUES = [
    # integer division truncates; decimal division keeps max(scale), rounds half up
    ("7 / 2", "3", "integer"),
    ("-7 / 2", "-3", "integer"),
    ("-7 % 3", "-1", "integer"),
    ("7.0 / 2", "3.5", "decimal(2,1)"),
    ("1 / 3.0", "0.3", "decimal(12,1)"),
    ("2 / 3.0", "0.7", "decimal(12,1)"),
    ("10 / 4.00", "2.50", "decimal(14,2)"),
    ("-2 / 3.0", "-0.7", "decimal(12,1)"),
    ("2.5e0 / 2", "1.25", "double"),
    ("1e0 / 0", "Infinity", "double"),
    ("0e0 / 0", "NaN", "double"),
    ("3000000000 + 1", "3000000001", "bigint"),
    ("100.0 * 3", "300.0", "decimal(14,1)"),
    ("1.5 * 2.25", "3.375", "decimal(5,3)"),
    ("0.1 + 0.2", "0.3", "decimal(2,1)"),
    ("0.1e0 + 0.2e0", "0.30000000000000004", "double"),
    # casts: Trino rounds half away from zero (DuckDB: half to even)
    ("CAST(2.5e0 AS integer)", "3", "integer"),
    ("CAST(-2.5e0 AS integer)", "-3", "integer"),
    ("CAST(2.5 AS integer)", "3", "integer"),
    ("CAST(1.25 AS decimal(3,1))", "1.3", "decimal(3,1)"),
    ("CAST('12' AS integer)", "12", "integer"),
    ("TRY_CAST('x' AS integer)", None, "integer"),
    ("CAST('true' AS boolean)", "true", "boolean"),
    ("CAST('2026-01-02 03:04:05' AS timestamp)", "2026-01-02 03:04:05.000", "timestamp(3)"),
    ("CAST(TIMESTAMP '2026-01-02 03:04:05.678' AS varchar)", "2026-01-02 03:04:05.678", "varchar"),
    ("CAST(1.50 AS varchar)", "1.50", "varchar"),
    ("CAST(12 AS double)", "12.0", "double"),
    # math keeps Trino's result types
    ("round(2.5e0)", "3.0", "double"),
    ("round(-2.5e0)", "-3.0", "double"),
    ("round(2.345, 2)", "2.350", "decimal(5,3)"),
    ("round(2.5)", "3", "decimal(2,0)"),
    ("round(1234, -2)", "1200", "integer"),
    ("floor(-2.5)", "-3", "decimal(2,0)"),
    ("ceil(-2.5e0)", "-2.0", "double"),
    ("abs(-1.50)", "1.50", "decimal(3,2)"),
    ("sign(-2.5e0)", "-1.0", "double"),
    ("power(2, 10)", "1024.0", "double"),
    ("log10(1000)", "3.0", "double"),
    ("truncate(2.7e0)", "2.0", "double"),
    ("log(2, 8)", "3.0", "double"),
    ("mod(7, 3)", "1", "integer"),
    ("is_nan(nan())", "true", "boolean"),
    ("infinity()", "Infinity", "double"),
    # NULL handling that DuckDB does differently
    ("greatest(1, NULL)", None, "integer"),
    ("least(1.5, 2)", "1.5", "decimal(11,1)"),
    ("concat('a', NULL)", None, "varchar"),
    ("coalesce(NULL, 1.5, 2)", "1.5", "decimal(11,1)"),
    ("CASE WHEN 1 = 1 THEN 1 ELSE 2.5 END", "1.0", "decimal(11,1)"),
    ("if(1 > 2, 'a')", None, "varchar"),
    ("true AND NULL", None, "boolean"),
    ("'a' = 'a '", "false", "boolean"),
    # strings
    ("length('héllo')", "5", "bigint"),
    ("substr('hello', 0)", "", "varchar"),
    ("substr('hello', -3, 2)", "ll", "varchar"),
    ("substr('hello', 2, -1)", "", "varchar"),
    ("trim(chr(9) || ' a ')", "a", "varchar"),
    ("replace('a.b.c', '.')", "abc", "varchar"),
    ("split_part('a.b.c', '.', 2)", "b", "varchar"),
    ("split_part('a.b.c', '.', 5)", None, "varchar"),
    ("strpos('hello', 'z')", "0", "bigint"),
    ("lpad('abcd', 2, '0')", "ab", "varchar"),
    ("regexp_like('1.2.3', '^1\\.')", "true", "boolean"),
    ("regexp_extract('abc', '[0-9]+')", None, "varchar"),
    ("regexp_extract('a1b22', '([a-z])([0-9]+)', 2)", "1", "varchar"),
    ("regexp_replace('a1b2', '([a-z])([0-9])', '$2$1')", "1a2b", "varchar"),
    ("typeof(1.5)", "decimal(2,1)", "varchar"),
    # arrays
    ("cardinality(split('a.b.c', '.'))", "3", "bigint"),
    ("element_at(split('a.b.c', '.'), -1)", "c", "varchar"),
    ("element_at(split('a.b.c', '.'), 5)", None, "varchar"),
    ("split('a.b.c', '.')[2]", "b", "varchar"),
    ("contains(ARRAY['a', NULL], 'z')", None, "boolean"),
    ("array_join(split('a.b.c', '.'), '-')", "a-b-c", "varchar"),
    ("ARRAY['a', NULL]", "[a, null]", "array(varchar)"),
    # dates and times: the query started at 2026-12-01 01:30:15.123 UTC
    ("current_date", "2026-12-01", "date"),
    ("now()", "2026-12-01 01:30:15.123 UTC", "timestamp(3) with time zone"),
    ("current_date - interval '7' day", "2026-11-24", "date"),
    ("DATE '2026-01-31' + interval '1' month", "2026-02-28", "date"),
    (
        "TIMESTAMP '2026-01-01 10:00:00' - interval '90' minute",
        "2026-01-01 08:30:00",
        "timestamp(0)",
    ),
    (
        "TIMESTAMP '2026-01-02 00:00:00' - TIMESTAMP '2026-01-01 01:00:00'",
        "0 23:00:00.000",
        "interval day to second",
    ),
    ("date_parse('20260105', '%Y%m%d')", "2026-01-05 00:00:00.000", "timestamp(3)"),
    (
        "date_format(TIMESTAMP '2026-01-05 07:08:09', '%Y-%m-%d %H:%i:%s')",
        "2026-01-05 07:08:09",
        "varchar",
    ),
    (
        "date_format(TIMESTAMP '2026-01-05 07:08:09', '%b %e %W %j %p')",
        "Jan 5 Monday 005 AM",
        "varchar",
    ),
    ("format_datetime(current_date - interval '7' day, 'yyyyMMdd')", "20261124", "varchar"),
    (
        "format_datetime(TIMESTAMP '2026-01-05 07:08:09.123', 'yyyy-MM-dd''T''HH:mm:ss.SSS')",
        "2026-01-05T07:08:09.123",
        "varchar",
    ),
    (
        "parse_datetime('2026-01-05 07', 'yyyy-MM-dd HH')",
        "2026-01-05 07:00:00.000 UTC",
        "timestamp(3) with time zone",
    ),
    (
        "from_iso8601_timestamp('2026-12-01T01:52:10.123Z')",
        "2026-12-01 01:52:10.123 UTC",
        "timestamp(3) with time zone",
    ),
    (
        "to_iso8601(from_iso8601_timestamp('2026-12-01T01:52:10.123Z'))",
        "2026-12-01T01:52:10.123Z",
        "varchar",
    ),
    ("date_trunc('week', DATE '2026-12-03')", "2026-11-30", "date"),
    ("date_add('month', 1, DATE '2026-01-31')", "2026-02-28", "date"),
    (
        "date_diff('hour', TIMESTAMP '2026-01-01 00:59:00', TIMESTAMP '2026-01-01 01:00:00')",
        "0",
        "bigint",
    ),
    ("date_diff('day', DATE '2026-01-10', DATE '2026-01-01')", "-9", "bigint"),
    (
        "date_format(TIMESTAMP '2026-01-05 17:08:09', '%c %k %h %l %T %r %w %M %W %f')",
        "1 17 05 5 17:08:09 05:08:09 PM 1 January Monday 000000",
        "varchar",
    ),
    (
        "date_diff('millisecond', TIMESTAMP '2026-01-01 00:00:00.000', "
        "TIMESTAMP '2026-01-01 00:00:01.500')",
        "1500",
        "bigint",
    ),
    ("date_diff('week', DATE '2026-01-01', DATE '2026-01-20')", "2", "bigint"),
    ("day_of_week(DATE '2026-11-29')", "7", "bigint"),
    ("extract(dow FROM DATE '2026-11-29')", "7", "bigint"),
    ("week(DATE '2026-01-01')", "1", "bigint"),
    ("from_unixtime(1700000000)", "2023-11-14 22:13:20.000 UTC", "timestamp(3) with time zone"),
    ("to_unixtime(from_iso8601_timestamp('2026-01-01T00:00:00.5Z'))", "1.7672256005E9", "double"),
    ("TIMESTAMP '2026-01-01 00:00:00.5'", "2026-01-01 00:00:00.5", "timestamp(1)"),
    ("DATE '2026-01-01' < TIMESTAMP '2026-01-01 00:00:01'", "true", "boolean"),
]

# (Trino expression, Athena's error name, words of the message)
FAILURES = [
    ("1 / 0", "DIVISION_BY_ZERO", "Division by zero"),
    ("1.0 / 0", "DIVISION_BY_ZERO", "Division by zero"),
    ("2147483647 + 1", "NUMERIC_VALUE_OUT_OF_RANGE", "Overflow"),
    ("'2026' = 2026", "TYPE_MISMATCH", "varchar = integer"),
    ("DATE '2026-01-01' = '2026-01-01'", "TYPE_MISMATCH", "date = varchar"),
    ("'a' || 1", "TYPE_MISMATCH", "concat"),
    ("CAST(' 12' AS integer)", "INVALID_CAST_ARGUMENT", "Cannot cast ' 12' to integer"),
    ("CAST('1.0' AS integer)", "INVALID_CAST_ARGUMENT", "Cannot cast '1.0'"),
    ("CAST('yes' AS boolean)", "INVALID_CAST_ARGUMENT", "yes"),
    ("split_part('a.b', '.', 0)", "INVALID_FUNCTION_ARGUMENT", "greater than zero"),
    ("element_at(split('a.b', '.'), 0)", "INVALID_FUNCTION_ARGUMENT", "start at 1"),
    ("split('a.b', '.')[3]", "INVALID_FUNCTION_ARGUMENT", "out of bounds"),
    ("DATE '2026-01-01' + interval '1' hour", "INVALID_FUNCTION_ARGUMENT", "hour"),
    ("hour(DATE '2026-03-04')", "TYPE_MISMATCH", "hour"),
    ("date_parse('2026-13-05', '%Y-%m-%d')", "INVALID_FUNCTION_ARGUMENT", "2026-13-05"),
    ("from_iso8601_timestamp('2026-12-01T01:52:10+02:00')", "INVALID_FUNCTION_ARGUMENT", "UTC"),
    # refused rather than guessed: Athena prints doubles as Java does
    ("CAST(1e7 AS varchar)", "NOT_SUPPORTED", "double"),
    ("date_diff('month', DATE '2026-01-31', DATE '2026-02-28')", "NOT_SUPPORTED", "date_diff"),
    ("format_datetime(now(), 'MMM')", "NOT_SUPPORTED", "MMM"),
    ("date_format(now(), '%v')", "NOT_SUPPORTED", "%v"),
    ("approx_set('a')", "NOT_SUPPORTED", "approx_set"),
    ("url_extract_host('http://x')", "NOT_SUPPORTED", "url_extract_host"),
    ("json_extract_scalar('{}', '$.a')", "NOT_SUPPORTED", ""),
]


@pytest.fixture(scope="module")
def lake() -> Lakehouse:
    lakehouse = Lakehouse()
    lakehouse.catalog.add(
        json_table(
            "t",
            [
                ("k", "string"),
                ("n", "int"),
                ("b", "bigint"),
                ("d", "double"),
                ("m", "decimal(10,2)"),
                ("ok", "boolean"),
            ],
            location="s3://bucket/t/",
        )
    )
    lakehouse.catalog.add(
        json_table("u", [("k", "string"), ("label", "string")], location="s3://bucket/u/")
    )
    lakehouse.store.put_lines(
        "s3://bucket/t/part-0.gz",
        [
            '{"k":"a","n":1,"b":10,"d":1.5,"m":1.25,"ok":true}',
            '{"k":"a","n":2,"b":20,"d":2.5,"m":2.50,"ok":false}',
            '{"k":"b","n":3,"b":30,"d":null,"m":3.333,"ok":true}',
            '{"k":"b","n":null,"b":40,"d":4.0,"m":null,"ok":null}',
            '{"k":null,"n":5,"b":50,"d":5.0,"m":0.01,"ok":true}',
        ],
    )
    lakehouse.store.put_lines(
        "s3://bucket/u/part-0",
        ['{"k":"a","label":"Alpha"}', '{"k":"c","label":"Gamma"}'],
        compress=False,
    )
    return lakehouse


@pytest.mark.parametrize(("expression", "value", "type_name"), VALUES, ids=[v[0] for v in VALUES])
def test_expression_gives_trinos_value_and_type(
    lake: Lakehouse, expression: str, value: str | None, type_name: str
) -> None:
    result = lake.run(f"SELECT {expression}", database="default")
    assert result.rows == ((value,),)
    assert result.columns[0].type.display() == type_name


@pytest.mark.parametrize(("expression", "error", "words"), FAILURES, ids=[f[0] for f in FAILURES])
def test_expression_fails_as_athena_does_or_is_refused(
    lake: Lakehouse, expression: str, error: str, words: str
) -> None:
    failure = lake.failure(f"SELECT {expression}", database="default")
    assert failure.error_name == error
    assert words in failure.message


# (query over t and u, rows as Athena returns them)
QUERIES = [
    (
        "SELECT count(*), count(n), count(DISTINCT k), sum(n), sum(b), sum(d), sum(m), "
        "avg(n), avg(d), avg(m), min(k), max(d) FROM t",
        # m is decimal(10,2): 3.333 is read as 3.33; avg(decimal) stays decimal(10,2)
        [("5", "4", "2", "11", "150", "13.0", "7.09", "2.75", "3.25", "1.77", "a", "5.0")],
    ),
    # NULLs sort last in both directions unless asked otherwise
    (
        "SELECT k, count(*) AS c FROM t GROUP BY k ORDER BY k DESC",
        [("b", "2"), ("a", "2"), (None, "1")],
    ),
    ("SELECT k FROM t GROUP BY k ORDER BY k NULLS FIRST", [(None,), ("a",), ("b",)]),
    (
        "SELECT count_if(ok), bool_and(ok), bool_or(ok), every(ok) FROM t",
        [("3", "false", "true", "false")],
    ),
    ("SELECT approx_distinct(k), max_by(k, b), min_by(k, b) FROM t", [("2", "b", "a")]),
    ("SELECT sum(n) / count(*), sum(n) * 1.0 / count(*) FROM t", [("2", "2.2")]),
    ("SELECT sum(n) FILTER (WHERE k = 'a'), count(*) FILTER (WHERE ok) FROM t", [("3", "3")]),
    (
        "SELECT k, row_number() OVER (PARTITION BY k ORDER BY n), "
        "sum(n) OVER (PARTITION BY k), lag(n) OVER (ORDER BY b) FROM t ORDER BY b",
        [
            ("a", "1", "3", None),
            ("a", "2", "3", "1"),
            ("b", "1", "3", "2"),
            ("b", "2", "3", "3"),
            (None, "1", "5", None),
        ],
    ),
    (
        "SELECT t.k, u.label FROM t JOIN u ON t.k = u.k ORDER BY t.n",
        [("a", "Alpha"), ("a", "Alpha")],
    ),
    (
        "SELECT t.k, u.label FROM t LEFT JOIN u ON t.k = u.k ORDER BY t.b",
        [("a", "Alpha"), ("a", "Alpha"), ("b", None), ("b", None), (None, None)],
    ),
    ("SELECT k FROM t UNION SELECT k FROM u ORDER BY 1", [("a",), ("b",), ("c",), (None,)]),
    # UNION of integer and decimal(2,1): decimal(11,1)
    (
        "SELECT n FROM t WHERE k = 'a' UNION ALL SELECT 1.5 FROM u WHERE k = 'c' ORDER BY 1",
        [("1.0",), ("1.5",), ("2.0",)],
    ),
    (
        "WITH s AS (SELECT k, sum(b) AS total FROM t GROUP BY k) "
        "SELECT k, total / 3 FROM s WHERE k IS NOT NULL ORDER BY total DESC LIMIT 1",
        [("b", "23")],
    ),
    ("SELECT k FROM t WHERE n > (SELECT avg(n) FROM t) ORDER BY n", [("b",), (None,)]),
    ("SELECT k FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.k = t.k) ORDER BY n", [("a",), ("a",)]),
    (
        "SELECT k, sum(n) FROM t GROUP BY ROLLUP (k) ORDER BY k, 2",
        [("a", "3"), ("b", "3"), (None, "5"), (None, "11")],
    ),
    (
        "SELECT x, y FROM (VALUES (1, 'a'), (2, 'b')) AS v(x, y) ORDER BY x DESC",
        [("2", "b"), ("1", "a")],
    ),
    ("SELECT k FROM t ORDER BY n LIMIT 2 OFFSET 1", [("a",), ("b",)]),
    (
        "SELECT k, sum(n) FROM t GROUP BY CUBE (k) ORDER BY 1, 2",
        [("a", "3"), ("b", "3"), (None, "5"), (None, "11")],
    ),
    (
        "SELECT k, ok, count(*) FROM t GROUP BY GROUPING SETS ((k), (ok)) ORDER BY 1, 2, 3",
        [
            ("a", None, "2"),
            ("b", None, "2"),
            (None, "false", "1"),
            (None, "true", "3"),
            (None, None, "1"),
            (None, None, "1"),
        ],
    ),
    (
        "SELECT n, percent_rank() OVER (ORDER BY n), cume_dist() OVER (ORDER BY n), "
        "ntile(2) OVER (ORDER BY n), lead(n) OVER (ORDER BY n), "
        "first_value(n) OVER (ORDER BY n), last_value(n) OVER (ORDER BY n ROWS BETWEEN "
        "UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING), nth_value(n, 2) OVER (ORDER BY n), "
        "dense_rank() OVER (ORDER BY k) FROM t WHERE n IS NOT NULL ORDER BY n",
        [
            ("1", "0.0", "0.25", "1", "2", "1", "5", None, "1"),
            ("2", "0.3333333333333333", "0.5", "1", "3", "1", "5", "2", "1"),
            ("3", "0.6666666666666666", "0.75", "2", "5", "1", "5", "2", "2"),
            ("5", "1.0", "1.0", "2", None, "1", "5", "2", "3"),
        ],
    ),
    ("SELECT array_agg(n) FROM t WHERE k = 'a'", [("[1, 2]",)]),
    ("SELECT n + m, n * m, d + m FROM t ORDER BY b LIMIT 1", [("2.25", "1.25", "2.75")]),
]


@pytest.mark.parametrize(("sql", "rows"), QUERIES, ids=[q[0][:60] for q in QUERIES])
def test_query_gives_trinos_rows(
    lake: Lakehouse, sql: str, rows: list[tuple[str | None, ...]]
) -> None:
    assert lake.rows(sql) == rows


def test_output_columns_are_labelled_as_athena_labels_them(lake: Lakehouse) -> None:
    result = lake.run('SELECT k AS "Key", n AS Num, K, b + 1, * FROM t LIMIT 1')
    labels = [column.label for column in result.columns]
    # aliases and column references keep the query's spelling; unnamed ones are _col<n>
    assert labels[:4] == ["Key", "Num", "K", "_col3"]
    assert labels[4:] == ["k", "n", "b", "d", "m", "ok"]


@pytest.mark.parametrize(
    ("sql", "error", "words"),
    [
        ("SELECT nope FROM t", "COLUMN_NOT_FOUND", "Column 'nope' cannot be resolved"),
        ("SELECT * FROM nope", "TABLE_NOT_FOUND", "awsdatacatalog.lake.nope"),
        ("SELECT * FROM other.t", "SCHEMA_NOT_FOUND", "other"),
        ("SELECT k AS x FROM t WHERE x = 'a'", "COLUMN_NOT_FOUND", "'x'"),
        ("SELECT k AS x, count(*) FROM t GROUP BY x", "COLUMN_NOT_FOUND", "'x'"),
        ("SELECT sum(k) FROM t", "TYPE_MISMATCH", "sum"),
        ("SELECT n FROM t WHERE n = '1'", "TYPE_MISMATCH", "integer = varchar"),
        ("SELECT 1; SELECT 2", "SYNTAX_ERROR", "Only one sql statement"),
        ("SELEC 1", "SYNTAX_ERROR", ""),
        ("CREATE TABLE x (a int)", "NOT_SUPPORTED", "CREATE statements are not emulated"),
        ("INSERT INTO t SELECT * FROM t", "NOT_SUPPORTED", "INSERT statements are not emulated"),
        ("DROP TABLE t", "NOT_SUPPORTED", "DROP"),
        ("SHOW TABLES", "NOT_SUPPORTED", "SHOW"),
        ("DESCRIBE t", "NOT_SUPPORTED", "DESCRIBE"),
        ("SELECT k FROM t TABLESAMPLE BERNOULLI (50)", "NOT_SUPPORTED", "TABLESAMPLE"),
        ("SELECT k FROM t CROSS JOIN UNNEST(ARRAY[1, 2]) AS x(v)", "NOT_SUPPORTED", "nnest"),
        ("SELECT avg(m) OVER (PARTITION BY k) FROM t", "NOT_SUPPORTED", "avg"),
        ("SELECT m % 2 FROM t", "NOT_SUPPORTED", "decimals"),
    ],
)
def test_query_fails_with_athenas_error(lake: Lakehouse, sql: str, error: str, words: str) -> None:
    failure = lake.failure(sql)
    assert failure.error_name == error, failure.reason
    assert words in failure.message


def test_the_translation_is_duckdb_sql_with_trinos_semantics_spelt_out(lake: Lakehouse) -> None:
    from emulator.dataplane.athena_catalog import table_spec
    from emulator.dataplane.athena_sql import translate
    from tests.support.athena_fakes import NOW

    translation = translate(
        "SELECT k, sum(n) / count(*) AS r FROM t WHERE k <> 'x' GROUP BY k",
        catalog="awsdatacatalog",
        database="lake",
        resolve=lambda db, name: table_spec(lake.catalog.get_table(db, name)),
        now=NOW,
    )
    assert "//" in translation.sql  # integer division, not DuckDB's float '/'
    assert [(c.label, c.type.display()) for c in translation.columns] == [
        ("k", "varchar"),
        ("r", "bigint"),
    ]
    (reference,) = translation.references
    assert reference.table.name == "t"
    assert reference.partition_filter is None  # t has no partitions to prune
