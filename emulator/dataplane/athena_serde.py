"""The OpenX JSON SerDe (``org.openx.data.jsonserde.JsonSerDe``) as DuckDB SQL.

Athena (engine 3, Trino) reads a JSON table line by line; this module writes the DuckDB view
that does the same over a table of object texts, following Trino's OpenX implementation
(``io.trino.hive.formats.line.openxjson``):

* a line is trimmed; one that does not start with ``{`` or ``[`` is a row of NULLs (an empty
  line too); one that does but is not valid JSON fails the query (``HIVE_CURSOR_ERROR``)
  unless ``ignore.malformed.json`` is true, when it is a row of NULLs;
* keys match columns case-insensitively (``case.insensitive``, default true), through
  ``mapping.<column>`` when set; a missing key is NULL; a JSON array maps by position;
* values convert as Trino's decoders do: strings take any JSON value (numbers and booleans
  as text, objects and arrays as JSON); integers parse decimal, hex and octal text and
  truncate fractions, NULL when unparsable or out of range; booleans are true only for
  ``true`` in any case; an object or array where a number, date or timestamp belongs fails
  the query (``HIVE_BAD_DATA``).

Where DuckDB cannot reproduce Athena's value, the query fails and says so rather than
return a different value: a JSON number with a fraction or exponent in a string column
(Athena prints the literal digits, which DuckDB's parser does not keep), an integer
column holding a number beyond 2^53 with an exponent or fraction. Partition columns are
plain strings from the object keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from .athena_catalog import OPENX_JSON_SERDE, CatalogError, Column, TableSpec
from .athena_types import TrinoType

__all__ = ["json_table_sql", "quote_identifier", "quote_literal"]

# Java's String.trim() removes every character up to U+0020.
_JAVA_TRIM: Final = "".join(chr(code) for code in range(1, 33))
_INTEGER_RANGES: Final = {
    "tinyint": (-(2**7), 2**7 - 1),
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
_SUPPORTED_SERDE_PARAMETERS: Final = frozenset(
    {"serialization.format", "ignore.malformed.json", "case.insensitive", "explicit.null"}
)


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _flag(parameters: Mapping[str, str], name: str, default: bool) -> bool:
    value = parameters.get(name)
    if value is None:
        return default
    return value.strip().lower() == "true"


def _where(column: Column) -> str:
    """SQL text naming the column, object and line, for error messages."""
    return f"' (column {column.name}, ' || __url || ' line ' || __line_number || ')'"


def _bad_data(column: Column, message: str) -> str:
    return f"error('HIVE_BAD_DATA: ' || {quote_literal(message)} || {_where(column)})"


_NUMBER: Final = r"[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)"
_EXPONENT: Final = r"[eE][+-]?[0-9]+"


def _structured(text: str, json_type: str, error: str) -> str:
    """A CASE branch: fail on a JSON object or array, NULL for a string that only looks like
    one (it is no number, date or timestamp either). The JSON type is looked up only here:
    it re-reads the line."""
    return (
        f"WHEN starts_with({text}, '{{') OR starts_with({text}, '[') THEN "
        f"(CASE WHEN {json_type} IN ('OBJECT', 'ARRAY') THEN {error} END)"
    )


def _integer(text: str, json_type: str, kind: str, column: Column) -> str:
    low, high = _INTEGER_RANGES[kind]

    def ranged(value: str) -> str:
        return (
            f"(CASE WHEN ({value}) BETWEEN {low} AND {high} "
            f"THEN CAST({value} AS {kind.upper()}) END)"
        )

    # Long.parseLong(rest, 8): the digits after the leading zero, base 8.
    octal = (
        f"list_reduce(list_transform(string_split(substr({text}, 2), ''), "
        "lambda c: CAST(c AS HUGEINT)), lambda a, b: a * 8 + b)"
    )
    integral_part = f"regexp_extract({text}, '^[+-]?[0-9]*')"
    truncated = (
        f"TRY_CAST(CASE WHEN {integral_part} IN ('', '+', '-') THEN '0' "
        f"ELSE {integral_part} END AS HUGEINT)"
    )
    as_double = f"TRY_CAST({text} AS DOUBLE)"
    shape = _structured(
        text, json_type, _bad_data(column, f"a JSON object or array can not be coerced to {kind}")
    )
    return f"""(CASE
        WHEN {text} IS NULL THEN NULL
        WHEN regexp_full_match({text}, '-?[1-9][0-9]{{0,17}}|0')
            THEN {ranged(f"CAST({text} AS BIGINT)")}
        {shape}
        WHEN regexp_full_match({text}, '0[xX][0-9a-fA-F]+')
            THEN {ranged(f"TRY_CAST({text} AS HUGEINT)")}
        WHEN regexp_full_match({text}, '0[0-7]+') AND length({text}) <= 40 THEN {ranged(octal)}
        WHEN regexp_full_match({text}, '[+-]?[0-9]+') THEN {ranged(f"TRY_CAST({text} AS HUGEINT)")}
        WHEN regexp_full_match({text}, '{_NUMBER}') THEN {ranged(truncated)}
        WHEN regexp_full_match({text}, '{_NUMBER}{_EXPONENT}') THEN (CASE
            WHEN abs({as_double}) >= 9.3e18 THEN NULL
            WHEN abs({as_double}) < 9007199254740992
                THEN {ranged(f"CAST(trunc({as_double}) AS HUGEINT)")}
            ELSE {_bad_data(column, "the emulator cannot truncate this number exactly")}
            END)
        ELSE NULL
    END)"""


def _java_trim(text: str) -> str:
    """Java's String.trim(); DuckDB's trim() is slow, so only when an end needs it."""
    return (
        f"(CASE WHEN ascii({text}) <= 32 OR ascii(right({text}, 1)) <= 32 "
        f"THEN trim({text}, {quote_literal(_JAVA_TRIM)}) ELSE {text} END)"
    )


def _floating(text: str, json_type: str, sql_type: str, column: Column) -> str:
    trimmed = _java_trim(text)
    number = rf"[+-]?(NaN|Infinity|{_NUMBER}({_EXPONENT})?[fFdD]?)"
    shape = _structured(
        text,
        json_type,
        _bad_data(column, f"a JSON object or array can not be coerced to {sql_type.lower()}"),
    )
    return f"""(CASE
        WHEN {text} IS NULL THEN NULL
        WHEN regexp_full_match({text}, '-?[0-9]+([.][0-9]+)?({_EXPONENT})?')
            THEN CAST({text} AS {sql_type})
        {shape}
        WHEN regexp_full_match({trimmed}, '{number}')
            THEN TRY_CAST(regexp_replace({trimmed}, '[fFdD]$', '') AS {sql_type})
        ELSE NULL
    END)"""


def _decimal(text: str, json_type: str, value_type: TrinoType, column: Column) -> str:
    wide = f"TRY_CAST({text} AS DECIMAL(38, {min(value_type.scale + 2, 38)}))"
    rounded = f"round({wide}, {value_type.scale})"
    limit = 10 ** (value_type.precision - value_type.scale)
    shape = _structured(
        text,
        json_type,
        _bad_data(column, f"a JSON object or array can not be coerced to {value_type}"),
    )
    return f"""(CASE
        WHEN {text} IS NULL THEN NULL
        {shape}
        WHEN NOT regexp_full_match({text}, '{_NUMBER}') THEN NULL
        WHEN length(regexp_extract({text}, '[.]([0-9]*)', 1)) > {value_type.scale + 2} THEN
            {_bad_data(column, "the emulator rounds decimals of at most scale+2 digits")}
        WHEN abs({rounded}) < {limit} THEN CAST({rounded} AS {value_type.duckdb()})
        ELSE NULL
    END)"""


def _date(text: str, json_type: str, column: Column) -> str:
    shape = _structured(
        text, json_type, _bad_data(column, "a JSON object or array can not be coerced to date")
    )
    return f"""(CASE
        WHEN {text} IS NULL THEN NULL
        {shape}
        WHEN regexp_full_match({text}, '[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}( .*)?')
            THEN TRY_CAST(split_part({text}, ' ', 1) AS DATE)
        WHEN regexp_full_match({text}, '-?[0-9]{{1,9}}')
            THEN DATE '1970-01-01' + CAST({text} AS INTEGER)
        ELSE NULL
    END)"""


def _timestamp(text: str, json_type: str, column: Column) -> str:
    local = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?"
    shape = _structured(
        text, json_type, _bad_data(column, "a JSON object or array can not be coerced to timestamp")
    )
    return f"""(CASE
        WHEN {text} IS NULL THEN NULL
        {shape}
        WHEN regexp_full_match({text}, '{local}([zZ]|[+-][0-9]{{2}}:?[0-9]{{2}})')
            THEN date_trunc('millisecond', CAST(TRY_CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP))
        WHEN regexp_full_match({text}, '{local}')
            THEN date_trunc('millisecond', TRY_CAST({text} AS TIMESTAMP))
        WHEN regexp_full_match({text}, '[+-]?[0-9]+[.][0-9]*')
            THEN CAST(to_timestamp(floor(CAST({text} AS DECIMAL(38, 3)) * 1000) / 1000)
                      AS TIMESTAMP)
        WHEN regexp_full_match({text}, '[+-]?[0-9]{{13,18}}')
            THEN CAST(epoch_ms(CAST({text} AS BIGINT)) AS TIMESTAMP)
        WHEN regexp_full_match({text}, '[+-]?[0-9]{{1,12}}')
            THEN CAST(to_timestamp(CAST({text} AS BIGINT)) AS TIMESTAMP)
        ELSE NULL
    END)"""


def _varchar(text: str, json_type: str, column: Column) -> str:
    return f"""(CASE
        WHEN {text} IS NULL THEN NULL
        WHEN (ascii({text}) BETWEEN 48 AND 57 OR ascii({text}) = 45)
             AND regexp_full_match({text}, '-?([0-9]+[.][0-9]*|[0-9.]+{_EXPONENT})') THEN (CASE
            WHEN {json_type} = 'DOUBLE' THEN {
        _bad_data(
            column,
            "a JSON number with a fraction or exponent in a string column: Athena keeps "
            "its literal digits, which the emulator cannot reproduce",
        )
    }
            ELSE {text} END)
        ELSE {text}
    END)"""


def _boolean(text: str) -> str:
    return f"(CASE WHEN {text} IS NULL THEN NULL ELSE lower({text}) = 'true' END)"


def _decoder(text: str, json_type: str, value_type: TrinoType, column: Column) -> str:
    """SQL decoding ``text`` (the value as JSON text, NULL when absent or null).

    ``json_type`` is SQL giving the value's JSON type; it re-reads the line, so decoders use
    it only to tell rare cases apart (a number where a string belongs, an object where a
    number belongs).
    """
    name = value_type.name
    if name == "varchar":
        return _varchar(text, json_type, column)
    if name == "boolean":
        return _boolean(text)
    if name in _INTEGER_RANGES:
        return _integer(text, json_type, name, column)
    if name == "double":
        return _floating(text, json_type, "DOUBLE", column)
    if name == "real":
        return _floating(text, json_type, "FLOAT", column)
    if name == "decimal":
        return _decimal(text, json_type, value_type, column)
    if name == "date":
        return _date(text, json_type, column)
    if name == "timestamp":
        return _timestamp(text, json_type, column)
    if value_type.element is not None:
        # Elements stay JSON values, so a quoted "[1]" is still told from an array [1].
        element = _decoder(
            "(__element ->> '$')", "json_type(__element)", value_type.element, column
        )
        items = f"CAST(json_extract(CAST({text} AS JSON), '$[*]') AS JSON[])"
        # Any other value is a one-element array (Trino's coercion).
        single = f"[{_decoder(text, json_type, value_type.element, column)}]"
        return f"""(CASE
            WHEN {text} IS NULL OR {text} = '' THEN NULL
            WHEN starts_with({text}, '[') THEN (CASE
                WHEN {json_type} = 'ARRAY'
                    THEN list_transform({items}, lambda __element: {element})
                ELSE {single} END)
            ELSE {single}
        END)"""
    raise CatalogError("NOT_SUPPORTED", f"column {column.name}: {value_type} is not emulated")


def _json_path_key(key_sql: str) -> str:
    return f"""('$."' || replace({key_sql}, '"', '\\"') || '"')"""


def json_table_sql(table: TableSpec, objects: str) -> str:
    """A SELECT producing the table's rows from ``objects``.

    ``objects`` names a relation with ``__url`` (VARCHAR), ``__content`` (the object's text
    with lines separated by ``\n`` and the final newline removed; empty objects are left
    out) and one VARCHAR column per partition key. Output columns: the table's columns, then
    its partition keys.
    """
    if table.serde != OPENX_JSON_SERDE:
        raise CatalogError(
            "NOT_SUPPORTED",
            f"table {table.qualified} uses SerDe {table.serde or '(none)'}; the emulator "
            f"reads only {OPENX_JSON_SERDE}",
        )
    parameters = {key.lower(): value for key, value in table.serde_parameters.items()}
    unsupported = sorted(
        key
        for key in parameters
        if key not in _SUPPORTED_SERDE_PARAMETERS and not key.startswith("mapping.")
    )
    if unsupported:
        raise CatalogError(
            "NOT_SUPPORTED",
            f"table {table.qualified}: SerDe properties {unsupported} are not emulated",
        )
    ignore_malformed = _flag(parameters, "ignore.malformed.json", False)
    case_insensitive = _flag(parameters, "case.insensitive", True)
    partitions = [quote_identifier(key.name) for key in table.partition_keys]
    carried = "".join(f", {name}" for name in partitions)
    malformed = (
        "0"
        if ignore_malformed
        else (
            "error('HIVE_CURSOR_ERROR: Row is not a valid JSON Object (' || __url || "
            "' line ' || __line_number || ')')"
        )
    )
    keys = [parameters.get(f"mapping.{column.name}", column.name) for column in table.columns]
    if case_insensitive:
        keys = [key.lower() for key in keys]
    structure = "{" + ", ".join(f'"{key}": "VARCHAR"' for key in dict.fromkeys(keys)) + "}"
    texts = []
    for position, key in enumerate(keys):
        texts.append(
            f"CASE __shape WHEN 1 THEN __object[{quote_literal(key)}] "
            f"WHEN 2 THEN __array[{position + 1}] END AS __text_{position}"
        )
    decoders = []
    for position, (column, key) in enumerate(zip(table.columns, keys, strict=True)):
        path = (
            f"(CASE __shape WHEN 2 THEN '$[{position}]' "
            f"ELSE {_json_path_key(quote_literal(key))} END)"
        )
        json_type = f"json_type(__keyed, {path})"
        decoder = _decoder(f"__text_{position}", json_type, column.type, column)
        decoders.append(f"{decoder} AS {quote_identifier(column.name)}")
    if case_insensitive:
        # Trino matches keys ignoring case. Rows keyed in lower case (nearly all) are read as
        # they are; a row with an upper-case key is rewritten with lower-case keys first, in
        # reverse order, so that of two keys equal but for case the last one wins, as in
        # Trino (json_transform takes the first of duplicate keys).
        lowered = (
            "'{' || array_to_string(list_transform(list_reverse(json_keys(__text)), lambda k: "
            "to_json(lower(k)) || ':' || CAST(json_extract(__text, "
            f"{_json_path_key('k')}) AS VARCHAR)), ',') || '}}'"
        )
        keyed = (
            f'CASE WHEN __shape = 1 AND regexp_matches(__text, \'"[^"]*[A-Z][^"]*"\\s*:\') '
            f"THEN {lowered} ELSE __text END"
        )
    else:
        keyed = "__text"
    return f"""
WITH __split AS (
    SELECT __url{carried}, string_split(__content, chr(10)) AS __all_lines FROM {objects}
), __lines AS (
    SELECT __url{carried}, unnest(__all_lines) AS __line,
           generate_subscripts(__all_lines, 1) AS __line_number
    FROM __split
), __trimmed AS (
    SELECT __url{carried}, __line_number,
           -- trim() is slow; most lines start with a brace and end with one, untouched by it
           CASE WHEN ascii(__line) <= 32 OR NOT (ends_with(__line, '}}') OR ends_with(__line, ']'))
                THEN trim(__line, {quote_literal(_JAVA_TRIM)}) ELSE __line END AS __text
    FROM __lines
), __shaped AS (
    SELECT *,
           CASE WHEN NOT (starts_with(__text, '{{') OR starts_with(__text, '[')) THEN 0
                WHEN json_valid(__text) THEN (CASE WHEN starts_with(__text, '[') THEN 2 ELSE 1 END)
                ELSE {malformed} END AS __shape
    FROM __trimmed
), __keyed AS (
    SELECT *, {keyed} AS __keyed FROM __shaped
), __parsed AS (
    SELECT *,
           CASE WHEN __shape = 1
                THEN json_transform(__keyed, {quote_literal(structure)}) END AS __object,
           CASE WHEN __shape = 2 THEN json_extract_string(__keyed, '$[*]') END AS __array
    FROM __keyed
), __values AS (
    SELECT __url, __line_number, __keyed, __shape{carried},
           {", ".join(texts) if texts else "NULL AS __no_columns"}
    FROM __parsed
)
SELECT {", ".join([*decoders, *partitions])}
FROM __values
-- Always true, but it makes every line's JSON checked even when no column is read
-- (count(*)): Trino parses each line, and a malformed one fails the query.
WHERE __shape >= 0
"""
