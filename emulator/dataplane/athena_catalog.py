"""What Athena reads for a Glue table: columns, SerDe, partitions and the S3 objects.

:func:`table_spec` turns a Glue table (the dict GetTable returns) into a :class:`TableSpec`.
:func:`list_table_objects` finds the objects a query reads, as Athena does:

* with partition projection (``projection.enabled=true``), partition values come from the
  ``projection.<column>.*`` parameters (integer, date, enum, injected), never from the Glue
  partitions; each partition's location is ``storage.location.template`` (or the Hive layout
  ``<location>/<key>=<value>/...``) filled in. An object belongs to a partition when its key
  is under that location and every value is one the projection would produce: ``month=1``
  is not ``month=01`` when ``digits`` is 2, a year before the range or after NOW is not
  read, and an injected column reads only the values the WHERE clause names;
* without projection, the Glue partitions' own locations (or, unpartitioned, the table's);
* objects whose name starts with ``_`` or ``.`` (``_SUCCESS``, ``.crc``) and folder markers
  are skipped, as Hive does; everything under a location is read, however deep.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from .athena_types import TrinoType, UnsupportedType, from_glue

__all__ = [
    "OPENX_JSON_SERDE",
    "CatalogError",
    "Column",
    "DateProjection",
    "EnumProjection",
    "GlueCatalog",
    "InjectedProjection",
    "IntegerProjection",
    "JavaDatePattern",
    "ObjectStore",
    "PartitionedObject",
    "Projection",
    "StoredObject",
    "TableSpec",
    "list_table_objects",
    "parse_s3_url",
    "table_spec",
]

OPENX_JSON_SERDE: Final = "org.openx.data.jsonserde.JsonSerDe"
DEFAULT_CATALOG: Final = "awsdatacatalog"
# Enumerating more projected values than this would take the emulator longer than Athena.
MAX_PROJECTED_VALUES: Final = 1_000_000


class CatalogError(Exception):
    """The query cannot run: Athena's error name (e.g. TABLE_NOT_FOUND) and message."""

    def __init__(self, error_name: str, message: str) -> None:
        super().__init__(f"{error_name}: {message}")
        self.error_name = error_name
        self.message = message


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int


class ObjectStore(Protocol):
    """S3 as the query engine sees it (moto's S3 backend in the emulator)."""

    def list_objects(self, bucket: str, prefix: str) -> list[StoredObject]: ...

    def get_object(self, bucket: str, key: str) -> bytes: ...

    def put_object(self, bucket: str, key: str, body: bytes) -> None: ...


class GlueCatalog(Protocol):
    """The Glue Data Catalog as GetTable/GetPartitions answer (moto's Glue backend)."""

    def get_table(self, database: str, name: str) -> Mapping[str, Any]:
        """The table; CatalogError (SCHEMA_NOT_FOUND / TABLE_NOT_FOUND) when missing."""
        ...

    def get_partitions(self, database: str, name: str) -> Sequence[Mapping[str, Any]]: ...


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix)."""
    match = re.fullmatch(r"s3[an]?://([^/]+)/?(.*)", url.strip())
    if not match:
        raise CatalogError("HIVE_INVALID_METADATA", f"not an S3 location: {url!r}")
    return match.group(1), match.group(2)


# -- Java date patterns (projection formats, format_datetime, parse_datetime) ---------------

_PATTERN_TOKEN: Final = re.compile(r"'(?:[^']|'')*'|([A-Za-z])\1*|.", re.DOTALL)


_DATE_FIELDS: Final = {
    "yyyy": "%Y",
    "uuuu": "%Y",
    "yy": "%y",
    "MM": "%m",
    "M": "%-m",
    "dd": "%d",
    "d": "%-d",
    "HH": "%H",
    "H": "%-H",
    "mm": "%M",
    "m": "%-M",
    "ss": "%S",
    "s": "%-S",
    "SSS": "%g",
}


@dataclass(frozen=True)
class JavaDatePattern:
    """A java.time / Joda pattern made of the fields the emulator understands.

    Tokens: ``yyyy``/``uuuu`` (and ``yy``), ``M``/``MM``, ``d``/``dd``, ``H``/``HH``,
    ``m``/``mm``, ``s``/``ss``, ``SSS`` (milliseconds), quoted literals and any non-letter.
    Any other letter makes the pattern unsupported (ValueError), rather than guessed.
    """

    pattern: str
    tokens: tuple[tuple[str, str], ...] = field(init=False)

    def __post_init__(self) -> None:
        tokens: list[tuple[str, str]] = []
        for match in _PATTERN_TOKEN.finditer(self.pattern):
            text = match.group(0)
            if text.startswith("'"):
                literal = text[1:-1].replace("''", "'") if len(text) > 1 else "'"
                tokens.append(("literal", literal or "'"))
            elif text[0].isalpha():
                if text not in _DATE_FIELDS:
                    raise ValueError(
                        f"date pattern {self.pattern!r}: field {text!r} is not emulated "
                        f"(supported: {', '.join(_DATE_FIELDS)})"
                    )
                tokens.append(("field", text))
            else:
                tokens.append(("literal", text))
        object.__setattr__(self, "tokens", tuple(tokens))

    def strftime(self) -> str:
        """The DuckDB strftime/strptime format (``%-d`` style for unpadded fields)."""
        parts = []
        for kind, text in self.tokens:
            parts.append(_DATE_FIELDS[text] if kind == "field" else text.replace("%", "%%"))
        return "".join(parts)

    def format(self, moment: dt.datetime) -> str:
        parts = []
        for kind, text in self.tokens:
            if kind == "literal":
                parts.append(text)
                continue
            value = {
                "y": moment.year,
                "u": moment.year,
                "M": moment.month,
                "d": moment.day,
                "H": moment.hour,
                "m": moment.minute,
                "s": moment.second,
            }.get(text[0])
            if text == "SSS":
                parts.append(f"{moment.microsecond // 1000:03d}")
            elif text == "yy":
                parts.append(f"{moment.year % 100:02d}")
            else:
                assert value is not None
                parts.append(f"{value:0{len(text)}d}" if len(text) > 1 else str(value))
        return "".join(parts)

    def parse(self, text: str) -> dt.datetime:
        """Strict parse (the text must format back to itself); ValueError otherwise."""
        regex = []
        for kind, token in self.tokens:
            if kind == "literal":
                regex.append(re.escape(token))
            elif token in ("yyyy", "uuuu"):
                regex.append(r"(?P<y>\d{4})")
            elif token == "SSS":
                regex.append(r"(?P<S>\d{3})")
            elif len(token) == 1:
                regex.append(rf"(?P<{token}>\d{{1,2}})")
            else:
                regex.append(rf"(?P<{token[0]}>\d{{{len(token)}}})")
        match = re.fullmatch("".join(regex), text)
        if not match:
            raise ValueError(f"{text!r} does not match {self.pattern!r}")
        found = match.groupdict()
        year = int(found["y"]) if "y" in found else 1970
        if any(token == "yy" for _, token in self.tokens):
            year = 2000 + int(found["y"])
        moment = dt.datetime(
            year,
            int(found.get("M", 1)),
            int(found.get("d", 1)),
            int(found.get("H", 0)),
            int(found.get("m", 0)),
            int(found.get("s", 0)),
            int(found.get("S", 0)) * 1000,
        )
        if self.format(moment) != text:
            raise ValueError(f"{text!r} is not a canonical {self.pattern!r} value")
        return moment


# -- projection -------------------------------------------------------------------------------


class Projection(Protocol):
    @property
    def column(self) -> str: ...

    def values(self, now: dt.datetime, injected: Mapping[str, frozenset[str]]) -> Values: ...


@dataclass(frozen=True)
class Values:
    """The projected values of one column: a finite set, or a membership test."""

    finite: frozenset[str] | None
    test: Callable[[str], bool]

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and self.test(value)


def _finite(values: Iterable[str]) -> Values:
    found = frozenset(values)
    return Values(found, found.__contains__)


def _parameter(parameters: Mapping[str, str], column: str, name: str) -> str | None:
    value = parameters.get(f"projection.{column}.{name}")
    return None if value is None else value.strip()


@dataclass(frozen=True)
class IntegerProjection:
    column: str
    low: int
    high: int
    interval: int = 1
    digits: int = 0

    def __post_init__(self) -> None:
        if self.low > self.high or self.interval < 1 or self.digits < 0:
            raise ValueError(f"invalid integer projection for {self.column}")

    def text(self, value: int) -> str:
        return f"{value:0{self.digits}d}" if self.digits else str(value)

    def values(self, now: dt.datetime, injected: Mapping[str, frozenset[str]]) -> Values:
        def test(text: str) -> bool:
            if not re.fullmatch(r"-?\d+", text):
                return False
            value = int(text)
            return (
                self.low <= value <= self.high
                and (value - self.low) % self.interval == 0
                and self.text(value) == text
            )

        return Values(None, test)


_UNITS: Final = {
    "YEAR": "years",
    "MONTH": "months",
    "WEEK": "weeks",
    "DAY": "days",
    "HOUR": "hours",
    "MINUTE": "minutes",
    "SECOND": "seconds",
}
_RELATIVE: Final = re.compile(r"NOW(?:\s*([+-])\s*(\d+)\s*([A-Z]+?)S?)?", re.IGNORECASE)


def _shift(moment: dt.datetime, amount: int, unit: str) -> dt.datetime:
    if unit in ("years", "months"):
        months = moment.month - 1 + amount * (12 if unit == "years" else 1)
        year = moment.year + months // 12
        month = months % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day)
    return moment + dt.timedelta(**{unit: amount})


@dataclass(frozen=True)
class DateProjection:
    column: str
    pattern: JavaDatePattern
    start: str
    end: str
    interval: int = 1
    unit: str = "days"

    def __post_init__(self) -> None:
        if self.interval < 1 or self.unit not in _UNITS.values():
            raise ValueError(f"invalid date projection for {self.column}")

    def _endpoint(self, text: str, now: dt.datetime) -> dt.datetime:
        relative = _RELATIVE.fullmatch(text.strip())
        if relative:
            moment = now
            if relative.group(1):
                unit = _UNITS.get(relative.group(3).upper())
                if unit is None:
                    raise ValueError(f"projection.{self.column}.range: unknown unit in {text!r}")
                amount = int(relative.group(2)) * (-1 if relative.group(1) == "-" else 1)
                moment = _shift(moment, amount, unit)
            return moment
        return self.pattern.parse(text.strip())

    def values(self, now: dt.datetime, injected: Mapping[str, frozenset[str]]) -> Values:
        start = self._endpoint(self.start, now)
        end = self._endpoint(self.end, now)
        found: set[str] = set()
        moment = start
        steps = 0
        while moment <= end:
            found.add(self.pattern.format(moment))
            steps += 1
            if steps > MAX_PROJECTED_VALUES:
                raise CatalogError(
                    "NOT_SUPPORTED",
                    f"projection of {self.column} spans more than {MAX_PROJECTED_VALUES} "
                    "values; the emulator enumerates them",
                )
            # From the start each time: month steps from the 31st stay on month ends.
            moment = _shift(start, steps * self.interval, self.unit)
        return _finite(found)


@dataclass(frozen=True)
class EnumProjection:
    column: str
    choices: tuple[str, ...]

    def values(self, now: dt.datetime, injected: Mapping[str, frozenset[str]]) -> Values:
        return _finite(self.choices)


@dataclass(frozen=True)
class InjectedProjection:
    column: str

    def values(self, now: dt.datetime, injected: Mapping[str, frozenset[str]]) -> Values:
        if self.column not in injected:
            raise CatalogError(
                "CONSTRAINT_VIOLATION",
                f"For the injected projected partition column {self.column}, the WHERE "
                "clause must contain only static equality conditions, and at least one "
                "such condition must be present.",
            )
        return _finite(injected[self.column])


def _projection(parameters: Mapping[str, str], column: str) -> Projection:
    kind = (_parameter(parameters, column, "type") or "").lower()
    try:
        if kind == "integer":
            low, high = (int(part) for part in _require(parameters, column, "range").split(","))
            return IntegerProjection(
                column,
                low,
                high,
                interval=int(_parameter(parameters, column, "interval") or 1),
                digits=int(_parameter(parameters, column, "digits") or 0),
            )
        if kind == "date":
            start, end = _require(parameters, column, "range").split(",")
            unit = (_parameter(parameters, column, "interval.unit") or "DAYS").upper()
            return DateProjection(
                column,
                JavaDatePattern(_require(parameters, column, "format")),
                start,
                end,
                interval=int(_parameter(parameters, column, "interval") or 1),
                unit=_UNITS.get(unit.rstrip("S"), unit),
            )
        if kind == "enum":
            # Athena keeps white space inside enum values.
            raw = parameters.get(f"projection.{column}.values", "")
            return EnumProjection(column, tuple(raw.split(",")))
        if kind == "injected":
            return InjectedProjection(column)
    except ValueError as error:
        raise CatalogError(
            "HIVE_METASTORE_ERROR", f"invalid partition projection for {column}: {error}"
        ) from None
    raise CatalogError(
        "HIVE_METASTORE_ERROR",
        f"Column {column}: projection.{column}.type is missing or not one of integer, date, "
        "enum, injected",
    )


def _require(parameters: Mapping[str, str], column: str, name: str) -> str:
    value = _parameter(parameters, column, name)
    if not value:
        raise ValueError(f"projection.{column}.{name} is required")
    return value


# -- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    type: TrinoType
    glue_type: str


@dataclass(frozen=True)
class TableSpec:
    """A Glue table as the query engine reads it."""

    catalog: str
    database: str
    name: str
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]
    location: str
    serde: str
    serde_parameters: Mapping[str, str]
    parameters: Mapping[str, str]
    projections: tuple[Projection, ...] | None

    def __post_init__(self) -> None:
        names = [column.name for column in (*self.columns, *self.partition_keys)]
        if len(set(names)) != len(names):
            raise CatalogError(
                "HIVE_INVALID_METADATA", f"table {self.qualified}: duplicate column names"
            )

    @property
    def qualified(self) -> str:
        return f"{self.catalog}.{self.database}.{self.name}"

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return (*self.columns, *self.partition_keys)

    @property
    def template(self) -> str:
        """Where a partition's objects are: ``${key}`` placeholders in an S3 URL."""
        template = self.parameters.get("storage.location.template")
        if template:
            return template
        base = self.location if self.location.endswith("/") else self.location + "/"
        return base + "".join(f"{key.name}=${{{key.name}}}/" for key in self.partition_keys)


def _columns(raw: Sequence[Mapping[str, Any]], table: str) -> tuple[Column, ...]:
    columns = []
    for entry in raw:
        name = str(entry["Name"]).lower()
        glue_type = str(entry.get("Type", ""))
        try:
            columns.append(Column(name, from_glue(glue_type), glue_type))
        except UnsupportedType as error:
            raise CatalogError("NOT_SUPPORTED", f"table {table}, column {name}: {error}") from None
    return tuple(columns)


def table_spec(glue_table: Mapping[str, Any], catalog: str = DEFAULT_CATALOG) -> TableSpec:
    """The engine's view of a Glue table (GetTable's ``Table``)."""
    database = str(glue_table["DatabaseName"]).lower()
    name = str(glue_table["Name"]).lower()
    qualified = f"{catalog}.{database}.{name}"
    descriptor = glue_table.get("StorageDescriptor") or {}
    serde_info = descriptor.get("SerdeInfo") or {}
    parameters = {str(k): str(v) for k, v in (glue_table.get("Parameters") or {}).items()}
    partition_keys = _columns(glue_table.get("PartitionKeys") or [], qualified)
    projections: tuple[Projection, ...] | None = None
    if parameters.get("projection.enabled", "").strip().lower() == "true":
        projections = tuple(_projection(parameters, key.name) for key in partition_keys)
    location = str(descriptor.get("Location") or "")
    if not location and not parameters.get("storage.location.template"):
        raise CatalogError("HIVE_INVALID_METADATA", f"table {qualified} has no location")
    return TableSpec(
        catalog=catalog,
        database=database,
        name=name,
        columns=_columns(descriptor.get("Columns") or [], qualified),
        partition_keys=partition_keys,
        location=location,
        serde=str(serde_info.get("SerializationLibrary") or ""),
        serde_parameters={str(k): str(v) for k, v in (serde_info.get("Parameters") or {}).items()},
        parameters=parameters,
        projections=projections,
    )


# -- objects ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionedObject:
    """An object a query reads, with the partition values it belongs to."""

    bucket: str
    key: str
    size: int
    values: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def _hidden(relative_key: str) -> bool:
    """Hive skips names starting with _ or . (at any depth) and folder markers."""
    if not relative_key or relative_key.endswith("/") or relative_key.endswith("_$folder$"):
        return True
    return any(part.startswith(("_", ".")) for part in relative_key.split("/"))


def _under(store: ObjectStore, location: str) -> Iterable[tuple[str, StoredObject, str]]:
    bucket, prefix = parse_s3_url(location)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    for stored in store.list_objects(bucket, prefix):
        relative = stored.key[len(prefix) :]
        if not _hidden(relative):
            yield bucket, stored, relative


@dataclass(frozen=True)
class _Template:
    """``storage.location.template`` split into literal text and the keys between."""

    literals: tuple[str, ...]  # one more than keys
    keys: tuple[int, ...]  # positions in the table's partition keys

    @classmethod
    def parse(cls, template: str, keys: Sequence[str]) -> _Template:
        pieces = re.split(r"\$\{([^}]+)\}", template)
        names = [piece.strip().lower() for piece in pieces[1::2]]
        unknown = [name for name in names if name not in keys]
        missing = [key for key in keys if key not in names]
        if unknown or missing:
            raise CatalogError(
                "HIVE_METASTORE_ERROR",
                f"storage.location.template {template!r} must name every partition key "
                f"once: unknown {unknown}, missing {missing}",
            )
        literals = list(pieces[0::2])
        if not literals[-1].endswith("/"):
            literals[-1] += "/"
        return cls(tuple(literals), tuple(keys.index(name) for name in names))

    @property
    def static_prefix(self) -> str:
        return self.literals[0]

    def match(self, url: str, allowed: Sequence[Values]) -> tuple[str, ...] | None:
        """The partition values of an object under the template, if it is a projected one.

        A value may contain "/" (a date format like yyyy/MM/dd), so every split of the URL
        at the literal text is tried until one gives projected values throughout.
        """
        found: dict[int, str] = {}

        def walk(position: int, index: int) -> bool:
            if index == len(self.keys):
                return position < len(url)  # an object's name follows the last literal
            literal = self.literals[index + 1]
            key = self.keys[index]
            end = url.find(literal, position + 1)
            while end != -1:
                value = url[position:end]
                if value in allowed[key] and found.get(key, value) == value:
                    known = key in found
                    found[key] = value
                    if walk(end + len(literal), index + 1):
                        return True
                    if not known:
                        del found[key]
                end = url.find(literal, end + 1)
            return False

        if not url.startswith(self.literals[0]) or not walk(len(self.literals[0]), 0):
            return None
        return tuple(found[index] for index in range(len(allowed)))


def list_table_objects(
    table: TableSpec,
    store: ObjectStore,
    catalog: GlueCatalog,
    now: dt.datetime,
    injected: Mapping[str, frozenset[str]] | None = None,
) -> list[PartitionedObject]:
    """Every object the table's rows come from, with its partition values, sorted by URL."""
    injected = injected or {}
    if now.tzinfo is not None:  # projection dates are UTC wall times
        now = now.astimezone(dt.UTC).replace(tzinfo=None)
    found: list[PartitionedObject] = []
    keys = [key.name for key in table.partition_keys]
    if not keys:
        for bucket, stored, _ in _under(store, table.location):
            found.append(PartitionedObject(bucket, stored.key, stored.size, ()))
    elif table.projections is not None:
        projected = [projection.values(now, injected) for projection in table.projections]
        template = _Template.parse(table.template, keys)
        for bucket, stored, _ in _under(store, template.static_prefix.rsplit("/", 1)[0] + "/"):
            values = template.match(f"s3://{bucket}/{stored.key}", projected)
            if values is not None:
                found.append(PartitionedObject(bucket, stored.key, stored.size, values))
    else:
        for partition in catalog.get_partitions(table.database, table.name):
            values = tuple(str(value) for value in partition.get("Values") or [])
            location = (partition.get("StorageDescriptor") or {}).get("Location")
            if len(values) != len(keys) or not location:
                continue
            for bucket, stored, _ in _under(store, str(location)):
                found.append(PartitionedObject(bucket, stored.key, stored.size, values))
    return sorted(found, key=lambda item: item.url)
