"""Trino's types as Athena (engine version 3) reports and prints them.

The local Athena runs queries in DuckDB, but every value it hands back must look as Athena
would print it: GetQueryResults carries strings only, and the CSV in the result location holds
the same strings. This module knows

* the Trino type of every value the emulator can produce (:class:`TrinoType`), the Glue
  column types it reads (:func:`from_glue`) and the DuckDB type that stores each of them;
* how Athena prints a value of each type (:func:`athena_text`): doubles as Java's
  ``Double.toString`` (``1.0E7``), timestamps with their fractional digits, ``true``/``false``,
  decimals with their scale, arrays as ``[a, b]``;
* the ``ColumnInfo`` entry of a result column (:func:`column_info`).
"""

from __future__ import annotations

import ctypes
import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

__all__ = [
    "BIGINT",
    "BOOLEAN",
    "DATE",
    "DOUBLE",
    "INTEGER",
    "INTERVAL_DAY",
    "INTERVAL_MONTH",
    "REAL",
    "SMALLINT",
    "TIMESTAMP",
    "TIMESTAMP_TZ",
    "TINYINT",
    "UNKNOWN",
    "VARCHAR",
    "TrinoType",
    "UnsupportedType",
    "array_of",
    "athena_text",
    "column_info",
    "decimal",
    "from_glue",
    "java_double",
    "java_float",
    "timestamp",
    "timestamp_tz",
]

MAX_DECIMAL_PRECISION: Final = 38

_INTEGRAL: Final = ("tinyint", "smallint", "integer", "bigint")
_NAMES: Final = frozenset(
    (
        *_INTEGRAL,
        "double",
        "real",
        "decimal",
        "varchar",
        "boolean",
        "date",
        "timestamp",
        "timestamp with time zone",
        "interval day to second",
        "interval year to month",
        "array",
        "unknown",
    )
)


class UnsupportedType(ValueError):
    """A Glue column type the emulator cannot read (map, struct, char, binary, ...)."""


@dataclass(frozen=True)
class TrinoType:
    """A Trino type: ``name`` plus precision/scale (decimal, timestamp) or element (array)."""

    name: str
    precision: int = 0
    scale: int = 0
    element: TrinoType | None = None

    def __post_init__(self) -> None:
        if self.name not in _NAMES:
            raise ValueError(f"unknown Trino type {self.name!r}")
        if self.name == "decimal" and not (
            1 <= self.precision <= MAX_DECIMAL_PRECISION and 0 <= self.scale <= self.precision
        ):
            raise ValueError(f"invalid decimal({self.precision},{self.scale})")
        if self.name.startswith("timestamp") and not 0 <= self.precision <= 12:
            raise ValueError(f"invalid timestamp precision {self.precision}")
        if (self.name == "array") != (self.element is not None):
            raise ValueError("an array type needs an element type, and only an array has one")

    # -- classification -------------------------------------------------------------------

    @property
    def is_integral(self) -> bool:
        return self.name in _INTEGRAL

    @property
    def is_decimal(self) -> bool:
        return self.name == "decimal"

    @property
    def is_floating(self) -> bool:
        return self.name in ("double", "real")

    @property
    def is_numeric(self) -> bool:
        return self.is_integral or self.is_decimal or self.is_floating

    @property
    def is_string(self) -> bool:
        return self.name == "varchar"

    @property
    def is_timestamp(self) -> bool:
        return self.name in ("timestamp", "timestamp with time zone")

    @property
    def is_temporal(self) -> bool:
        return self.name == "date" or self.is_timestamp

    @property
    def is_interval(self) -> bool:
        return self.name.startswith("interval")

    @property
    def is_unknown(self) -> bool:
        """The type of a bare NULL: it coerces to anything."""
        return self.name == "unknown"

    # -- spellings ------------------------------------------------------------------------

    def display(self) -> str:
        """Trino's spelling, as ``typeof()`` and error messages print it."""
        if self.name == "decimal":
            return f"decimal({self.precision},{self.scale})"
        if self.name == "timestamp":
            return f"timestamp({self.precision})"
        if self.name == "timestamp with time zone":
            return f"timestamp({self.precision}) with time zone"
        if self.element is not None:
            return f"array({self.element.display()})"
        return self.name

    def duckdb(self) -> str:
        """The DuckDB type that holds values of this type."""
        simple = {
            "varchar": "VARCHAR",
            "tinyint": "TINYINT",
            "smallint": "SMALLINT",
            "integer": "INTEGER",
            "bigint": "BIGINT",
            "double": "DOUBLE",
            "real": "FLOAT",
            "boolean": "BOOLEAN",
            "date": "DATE",
            "timestamp": "TIMESTAMP",
            "timestamp with time zone": "TIMESTAMPTZ",
            "interval day to second": "INTERVAL",
            "interval year to month": "INTERVAL",
            "unknown": "VARCHAR",
        }
        if self.name == "decimal":
            return f"DECIMAL({self.precision},{self.scale})"
        if self.element is not None:
            return f"{self.element.duckdb()}[]"
        return simple[self.name]

    def as_decimal(self) -> TrinoType:
        """This numeric type as the decimal Trino converts it to in decimal arithmetic."""
        if self.is_decimal:
            return self
        digits = {"tinyint": 3, "smallint": 5, "integer": 10, "bigint": 19}
        if self.name in digits:
            return decimal(digits[self.name], 0)
        raise ValueError(f"{self.display()} has no decimal form")

    def __str__(self) -> str:
        return self.display()


def decimal(precision: int, scale: int) -> TrinoType:
    return TrinoType("decimal", precision=min(precision, MAX_DECIMAL_PRECISION), scale=scale)


def timestamp(precision: int = 3) -> TrinoType:
    return TrinoType("timestamp", precision=precision)


def timestamp_tz(precision: int = 3) -> TrinoType:
    return TrinoType("timestamp with time zone", precision=precision)


def array_of(element: TrinoType) -> TrinoType:
    return TrinoType("array", element=element)


VARCHAR: Final = TrinoType("varchar")
TINYINT: Final = TrinoType("tinyint")
SMALLINT: Final = TrinoType("smallint")
INTEGER: Final = TrinoType("integer")
BIGINT: Final = TrinoType("bigint")
DOUBLE: Final = TrinoType("double")
REAL: Final = TrinoType("real")
BOOLEAN: Final = TrinoType("boolean")
DATE: Final = TrinoType("date")
TIMESTAMP: Final = timestamp(3)
TIMESTAMP_TZ: Final = timestamp_tz(3)
INTERVAL_DAY: Final = TrinoType("interval day to second")
INTERVAL_MONTH: Final = TrinoType("interval year to month")
UNKNOWN: Final = TrinoType("unknown")


# -- Glue column types ------------------------------------------------------------------------

_GLUE_SIMPLE: Final = {
    "string": VARCHAR,
    "varchar": VARCHAR,
    "tinyint": TINYINT,
    "smallint": SMALLINT,
    "int": INTEGER,
    "integer": INTEGER,
    "bigint": BIGINT,
    "double": DOUBLE,
    "float": REAL,
    "boolean": BOOLEAN,
    "date": DATE,
    # Athena reads Hive timestamps as timestamp(3).
    "timestamp": TIMESTAMP,
}
_GLUE_VARCHAR: Final = re.compile(r"varchar\(\s*\d+\s*\)")
_GLUE_DECIMAL: Final = re.compile(r"decimal(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?")


def from_glue(glue_type: str) -> TrinoType:
    """The Trino type Athena gives a Glue (Hive) column type; UnsupportedType otherwise."""
    text = glue_type.strip().lower()
    if text in _GLUE_SIMPLE:
        return _GLUE_SIMPLE[text]
    if _GLUE_VARCHAR.fullmatch(text):
        # varchar(n) reads like varchar for every value the emulator produces.
        return VARCHAR
    if match := _GLUE_DECIMAL.fullmatch(text):
        # Hive's bare "decimal" is decimal(10,0).
        precision = int(match.group(1) or 10)
        scale = int(match.group(2) or 0)
        if not 1 <= precision <= MAX_DECIMAL_PRECISION or scale > precision:
            raise UnsupportedType(f"invalid Glue type {glue_type!r}")
        return decimal(precision, scale)
    if text.startswith("array<") and text.endswith(">"):
        return array_of(from_glue(text[len("array<") : -1]))
    raise UnsupportedType(
        f"Glue column type {glue_type!r} is not emulated (supported: string, varchar(n), "
        "tinyint, smallint, int, bigint, float, double, decimal(p,s), boolean, date, "
        "timestamp, array<...> of those)"
    )


# -- ColumnInfo -------------------------------------------------------------------------------

_COLUMN_TYPE_NAMES: Final = {"real": "float"}
_PRECISION: Final = {
    "varchar": 2147483647,
    "tinyint": 3,
    "smallint": 5,
    "integer": 10,
    "bigint": 19,
    "double": 17,
    "real": 17,
}


def column_info(label: str, column_type: TrinoType) -> dict[str, object]:
    """A ResultSetMetadata.ColumnInfo entry, as Athena describes a SELECT's output column."""
    name = column_type.name
    if column_type.is_decimal or column_type.is_timestamp:
        precision = column_type.precision
    else:
        precision = _PRECISION.get(name, 0)
    type_name = _COLUMN_TYPE_NAMES.get(name, name)
    return {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": label,
        "Label": label,
        "Type": type_name,
        "Precision": precision,
        "Scale": column_type.scale if column_type.is_decimal else 0,
        "Nullable": "UNKNOWN",
        "CaseSensitive": column_type.is_string,
    }


# -- printing values as Athena does -----------------------------------------------------------


def _java_digits(shortest: str) -> tuple[str, int]:
    """Significant digits and decimal exponent of a shortest round-trip repr: 0.d1d2.. x 10^e."""
    value = Decimal(shortest)
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits)).rstrip("0") or "0"
    # value = 0.<digits> * 10^(len(digits) + exponent)
    return text, len(digits) + exponent


def _java_format(shortest: str, negative: bool) -> str:
    """Java's Double/Float.toString layout for a finite non-zero value given its digits."""
    digits, point = _java_digits(shortest)
    sign = "-" if negative else ""
    # Plain notation for 10^-3 <= |x| < 10^7, scientific notation otherwise.
    if -2 <= point <= 7:
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        whole = digits[:point].ljust(point, "0")
        fraction = digits[point:] or "0"
        return f"{sign}{whole}.{fraction}"
    fraction = digits[1:] or "0"
    return f"{sign}{digits[0]}.{fraction}E{point - 1}"


def java_double(value: float) -> str:
    """``Double.toString`` (shortest round-trip digits, as JDK 19+ prints them)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    return _java_format(repr(abs(value)), value < 0)


def _float32(value: float) -> float:
    """Round to the nearest 32-bit float, as a C cast does (no overflow near the top)."""
    return ctypes.c_float(value).value


def _shortest_float32(value: float) -> str:
    """The fewest significant digits that read back as the same 32-bit float."""
    target = _float32(value)
    for digits in range(1, 10):
        candidate = f"{target:.{digits - 1}e}"
        if _float32(float(candidate)) == target:
            return candidate
    return repr(target)


def java_float(value: float) -> str:
    """``Float.toString`` for a REAL value."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    return _java_format(_shortest_float32(abs(value)), value < 0)


def _fraction(microseconds: int, precision: int) -> str:
    if precision == 0:
        return ""
    digits = f"{microseconds:06d}"
    return "." + (digits + "000000")[:precision]


def _rounded(moment: dt.datetime, precision: int) -> dt.datetime:
    """Trino keeps ``precision`` fractional digits; DuckDB has microseconds: round half up."""
    if precision >= 6:
        return moment
    unit = 10 ** (6 - precision)
    micros = moment.microsecond
    rounded = (micros + unit // 2) // unit * unit
    return moment.replace(microsecond=0) + dt.timedelta(microseconds=rounded)


def _timestamp_text(moment: dt.datetime, precision: int) -> str:
    moment = _rounded(moment, precision)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + _fraction(moment.microsecond, precision)


def _interval_text(value: dt.timedelta) -> str:
    """INTERVAL DAY TO SECOND as Trino prints it: ``D HH:MM:SS.mmm``."""
    total_ms = round(value.total_seconds() * 1000)
    sign = "-" if total_ms < 0 else ""
    total_ms = abs(total_ms)
    days, rest = divmod(total_ms, 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{sign}{days} {hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def athena_text(value: object, value_type: TrinoType) -> str | None:
    """The VarCharValue Athena returns for ``value`` of ``value_type`` (None for NULL)."""
    if value is None:
        return None
    name = value_type.name
    if name == "varchar":
        return str(value)
    if value_type.is_integral:
        assert isinstance(value, int) and not isinstance(value, bool), value
        return str(value)
    if name == "double":
        return java_double(float(value))  # type: ignore[arg-type]
    if name == "real":
        return java_float(float(value))  # type: ignore[arg-type]
    if name == "boolean":
        return "true" if value else "false"
    if name == "decimal":
        assert isinstance(value, Decimal | int), value
        quantum = Decimal(1).scaleb(-value_type.scale)
        return f"{Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP):f}"
    if name == "date":
        assert isinstance(value, dt.date), value
        return value.isoformat()
    if name == "timestamp":
        assert isinstance(value, dt.datetime), value
        return _timestamp_text(value, value_type.precision)
    if name == "timestamp with time zone":
        assert isinstance(value, dt.datetime), value
        utc = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
        return _timestamp_text(utc, value_type.precision) + " UTC"
    if name == "interval day to second":
        assert isinstance(value, dt.timedelta), value
        return _interval_text(value)
    if value_type.element is not None:
        assert isinstance(value, Sequence), value
        element = value_type.element
        parts = [athena_text(item, element) for item in value]
        return "[" + ", ".join("null" if part is None else part for part in parts) + "]"
    raise UnsupportedType(f"values of type {value_type.display()} cannot be returned")
