"""Athena's SQL (Trino) as DuckDB SQL, or a refusal that says why.

sqlglot parses the query (dialect ``athena``), qualifies every column against the Glue
tables (``qualify``: Trino's name resolution, without expanding select-list aliases in
WHERE/GROUP BY, which Trino does not do) and writes DuckDB SQL. sqlglot alone would get
many things silently wrong for this pair of engines (``7 / 2`` is 3 in Trino and 3.5 in
DuckDB, ``avg`` of a decimal stays a decimal in Trino, ``split_part`` past the end is NULL
in Trino and '' in DuckDB, ``greatest(1, NULL)`` is NULL in Trino, ``format_datetime``
takes a Joda pattern, ``CAST(2.5E0 AS integer)`` rounds away from zero in Trino and to even
in DuckDB, ``'2026' = 2026`` is an error in Trino and true in DuckDB ...). So this module
types every expression as Trino does and rewrites it node by node:

* every node kind and function the emulator supports is listed in ``_HANDLERS`` /
  ``_FUNCTIONS`` with its Trino result type and its DuckDB form; anything else fails the
  query with ``NOT_SUPPORTED`` and the construct's name, never a guess;
* operand types are checked as Trino checks them (``TYPE_MISMATCH``), so a query Athena
  rejects is rejected here too;
* ``current_date``, ``current_timestamp``/``now()`` and ``localtimestamp`` become literals of
  the query's start time (UTC, Athena's session zone), the same instant partition projection
  uses for ``NOW``.

The result is a :class:`Translation`: DuckDB SQL, the output columns with their Trino types
and labels, and per Glue table the partition filters that may prune objects before any is
read (``WHERE`` conjuncts over partition keys only, on tables whose rows an outer join
does not preserve) and the values named for injected partition columns.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from . import athena_types as T
from .athena_catalog import CatalogError, InjectedProjection, JavaDatePattern, TableSpec
from .athena_types import TrinoType

__all__ = [
    "OutputColumn",
    "TableReference",
    "Translation",
    "TranslationError",
    "translate",
]

# A sentinel alias for unnamed projections: Athena labels them _col<position>.
_UNNAMED: Final = "__athena_unnamed_"


class TranslationError(Exception):
    """The query fails: Athena's error name and message (with ``line L:C`` when known)."""

    def __init__(self, error_name: str, message: str, node: exp.Expr | None = None) -> None:
        where = _position(node) if node is not None else ""
        self.error_name = error_name
        self.message = f"{where}{message}"
        super().__init__(f"{error_name}: {self.message}")


def _position(node: exp.Expr) -> str:
    for candidate in (node, *node.walk()):
        meta = getattr(candidate, "meta", None) or {}
        if "line" in meta and "col" in meta:
            start = int(meta["col"]) - len(str(candidate.name or "")) + 1
            return f"line {meta['line']}:{max(start, 1)}: "
    return ""


def _unsupported(what: str, node: exp.Expr | None = None) -> TranslationError:
    return TranslationError(
        "NOT_SUPPORTED", f"{what} is not supported by the local Athena emulator", node
    )


def _mismatch(message: str, node: exp.Expr | None = None) -> TranslationError:
    return TranslationError("TYPE_MISMATCH", message, node)


@dataclass(frozen=True)
class OutputColumn:
    label: str
    type: TrinoType


@dataclass(frozen=True)
class TableReference:
    """One use of a Glue table in the query."""

    table: TableSpec
    # DuckDB predicates over the partition keys (unqualified); None: every partition.
    partition_filter: str | None
    # Injected partition columns: the values the WHERE clause names.
    injected: Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class Translation:
    sql: str
    columns: tuple[OutputColumn, ...]
    references: tuple[TableReference, ...]
    statement_type: str = "DML"


# -- types ------------------------------------------------------------------------------------

_INTEGRAL_ORDER: Final = ("tinyint", "smallint", "integer", "bigint")


def _decimal_union(a: TrinoType, b: TrinoType) -> TrinoType:
    a, b = a.as_decimal(), b.as_decimal()
    scale = max(a.scale, b.scale)
    digits = max(a.precision - a.scale, b.precision - b.scale)
    return T.decimal(min(digits + scale, 38), scale)


def supertype(a: TrinoType, b: TrinoType) -> TrinoType | None:
    """Trino's common super type of ``a`` and ``b``; None when they do not mix."""
    if a == b:
        return a
    if a.is_unknown:
        return b
    if b.is_unknown:
        return a
    if a.is_numeric and b.is_numeric:
        if a.name == "double" or b.name == "double":
            return T.DOUBLE
        if a.name == "real" or b.name == "real":
            return T.REAL
        if a.is_decimal or b.is_decimal:
            return _decimal_union(a, b)
        return a if _INTEGRAL_ORDER.index(a.name) > _INTEGRAL_ORDER.index(b.name) else b
    if a.is_temporal and b.is_temporal:
        precision = max(a.precision, b.precision)
        if "timestamp with time zone" in (a.name, b.name):
            return T.timestamp_tz(precision)
        return T.timestamp(precision)
    if a.element is not None and b.element is not None:
        element = supertype(a.element, b.element)
        return None if element is None else T.array_of(element)
    if a.is_interval and b.is_interval and a.name == b.name:
        return a
    return None


def _common(types: Sequence[TrinoType], node: exp.Expr, what: str) -> TrinoType:
    result = T.UNKNOWN
    for item in types:
        merged = supertype(result, item)
        if merged is None:
            names = ", ".join(dict.fromkeys(t.display() for t in types))
            raise _mismatch(f"All {what} must be the same type or coercible: {names}", node)
        result = merged
    return result


def _trino_type_of(data_type: exp.DataType, node: exp.Expr) -> TrinoType:
    """The Trino type a CAST names."""
    kind = data_type.this
    params = [p.this for p in data_type.expressions if isinstance(p, exp.DataTypeParam)]
    D = exp.DType
    simple = {
        D.VARCHAR: T.VARCHAR,
        D.TEXT: T.VARCHAR,
        D.TINYINT: T.TINYINT,
        D.SMALLINT: T.SMALLINT,
        D.INT: T.INTEGER,
        D.BIGINT: T.BIGINT,
        D.DOUBLE: T.DOUBLE,
        D.FLOAT: T.REAL,
        D.BOOLEAN: T.BOOLEAN,
        D.DATE: T.DATE,
    }
    if kind in simple:
        return simple[kind]
    if kind == D.DECIMAL:
        values = [int(p.name) for p in params] if params else [38, 0]
        precision, scale = [*values, 0][:2]
        if not 1 <= precision <= 38 or not 0 <= scale <= precision:
            raise _mismatch(f"invalid type {data_type.sql('trino')}", node)
        return T.decimal(precision, scale)
    if kind in (D.TIMESTAMP, D.DATETIME, D.TIMESTAMPTZ):
        precision = int(params[0].name) if params else 3
        if kind == D.TIMESTAMPTZ:
            return T.timestamp_tz(precision)
        return T.timestamp(precision)
    if kind == D.ARRAY and data_type.expressions:
        inner = data_type.expressions[0]
        if isinstance(inner, exp.DataType):
            return T.array_of(_trino_type_of(inner, node))
    raise _unsupported(f"type {data_type.sql('trino')}", node)


def _cast(node: exp.Expr, target: TrinoType) -> exp.Expr:
    return exp.Cast(this=node, to=exp.DataType.build(target.duckdb(), dialect="duckdb"))


def _fn(name: str, *args: exp.Expr) -> exp.Expr:
    """A DuckDB function call, printed as written."""
    return exp.Anonymous(this=name, expressions=list(args))


def _lit(value: str | int) -> exp.Expr:
    if isinstance(value, int):
        return exp.Literal.number(value)
    return exp.Literal.string(value)


def _error(message: exp.Expr | str) -> exp.Expr:
    text = _lit(message) if isinstance(message, str) else message
    return _fn("error", text)


def _case(*branches: tuple[exp.Expr, exp.Expr], default: exp.Expr | None = None) -> exp.Expr:
    case = exp.Case()
    for condition, value in branches:
        case = case.when(condition, value)
    if default is not None:
        case = case.else_(default)
    return exp.Paren(this=case)


def _is_null(node: exp.Expr) -> exp.Expr:
    return exp.Is(this=node.copy(), expression=exp.Null())


def _any_null(*nodes: exp.Expr) -> exp.Expr:
    condition: exp.Expr = _is_null(nodes[0])
    for node in nodes[1:]:
        condition = exp.Or(this=condition, expression=_is_null(node))
    return condition


def _regex_gate(value: exp.Expr, pattern: str) -> exp.Expr:
    return _fn("regexp_full_match", value.copy(), _lit(pattern))


# -- the rewriter -----------------------------------------------------------------------------

Typed = tuple[exp.Expr, TrinoType]
Handler = Callable[["_Rewriter", exp.Expr, Scope], Typed]


@dataclass
class _Prunable:
    """A Glue table source in a SELECT whose WHERE may prune its partitions."""

    alias: str
    table: TableSpec
    conjuncts: list[str] = field(default_factory=list)
    injected: dict[str, frozenset[str]] = field(default_factory=dict)
    prunable: bool = True


_UNSUPPORTED_SELECT_PARTS: Final = (
    "qualify",
    "windows",
    "laterals",
    "match",
    "connect",
    "prewhere",
    "pivots",
    "sample",
    "distribute",
    "sort",
    "cluster",
    "locks",
    "into",
    "exclude",
    "for_",
)


class _Rewriter:
    def __init__(self, tables: Mapping[tuple[str, str], TableSpec], now: dt.datetime) -> None:
        self.tables = tables
        self.now = now
        self.outputs: dict[int, dict[str, TrinoType]] = {}
        self.ordered_outputs: dict[int, list[TrinoType]] = {}
        self.references: list[TableReference] = []

    # -- scopes -------------------------------------------------------------------------------

    def run(self, root: exp.Expr) -> list[TrinoType]:
        scopes = list(traverse_scope(root))
        for scope in scopes:
            self.scope(scope)
        return self.ordered_outputs[id(root)]

    def scope(self, scope: Scope) -> None:
        node = scope.expression
        if isinstance(node, exp.Select):
            self.select(node, scope)
        elif isinstance(node, exp.SetOperation):
            self.set_operation(node, scope)
        elif isinstance(node, exp.Values):
            self.values(node, scope)
        else:
            raise _unsupported(f"{type(node).__name__} as a query", node)

    def _record(self, node: exp.Expr, names: Sequence[str], types: Sequence[TrinoType]) -> None:
        self.outputs[id(node)] = dict(zip(names, types, strict=True))
        self.ordered_outputs[id(node)] = list(types)

    def values(self, node: exp.Values, scope: Scope) -> None:
        rows = node.expressions
        width = None
        columns: list[list[TrinoType]] = []
        for row in rows:
            items = row.expressions if isinstance(row, exp.Tuple) else [row]
            if width is None:
                width = len(items)
                columns = [[] for _ in items]
            if len(items) != width:
                raise _mismatch("VALUES rows have different numbers of columns", row)
            for index, item in enumerate(items):
                _, item_type = self.expr(item, scope)
                columns[index].append(item_type)
        types = [_common(column, node, "values of a VALUES column") for column in columns]
        alias = node.args.get("alias")
        names = [c.name for c in alias.columns] if alias is not None else []
        if len(names) != len(types):
            names = [f"_col{index}" for index in range(len(types))]
        # Rows of one column need the same DuckDB type as Trino's common type.
        for row in rows:
            items = row.expressions if isinstance(row, exp.Tuple) else [row]
            for item, column_type in zip(list(items), types, strict=True):
                if not column_type.is_unknown:
                    item.replace(_cast(item.copy(), column_type))
        self._record(node, names, types)

    def set_operation(self, node: exp.SetOperation, scope: Scope) -> None:
        left = self.ordered_outputs[id(self._query_root(node.left))]
        right = self.ordered_outputs[id(self._query_root(node.right))]
        if len(left) != len(right):
            raise _mismatch(
                f"{type(node).__name__.upper()} query has different number of fields: "
                f"{len(left)}, {len(right)}",
                node,
            )
        types = [
            _common([a, b], node, f"{type(node).__name__.upper()} columns")
            for a, b in zip(left, right, strict=True)
        ]
        for side in (node.left, node.right):
            self._cast_outputs(self._query_root(side), types)
        names = list(self.outputs[id(self._query_root(node.left))])
        self._record(node, names, types)
        for key in ("order", "limit", "offset"):
            part = node.args.get(key)
            if part is not None:
                self.clause(part, scope)

    def _query_root(self, node: exp.Expr) -> exp.Expr:
        while isinstance(node, exp.Subquery):
            node = node.this
        return node

    def _cast_outputs(self, node: exp.Expr, types: Sequence[TrinoType]) -> None:
        """Make a branch of a set operation produce Trino's common types."""
        if isinstance(node, exp.SetOperation):
            self._cast_outputs(self._query_root(node.left), types)
            self._cast_outputs(self._query_root(node.right), types)
            return
        if not isinstance(node, exp.Select):
            return
        current = self.ordered_outputs[id(node)]
        for projection, have, want in zip(node.expressions, current, types, strict=True):
            if have != want and not want.is_unknown:
                inner = projection.this if isinstance(projection, exp.Alias) else projection
                inner.replace(_cast(inner.copy(), want))
        self.ordered_outputs[id(node)] = list(types)

    def select(self, node: exp.Select, scope: Scope) -> None:
        for key in _UNSUPPORTED_SELECT_PARTS:
            if node.args.get(key):
                raise _unsupported(key.rstrip("_").upper(), node)
        prunables = self._sources(node, scope)
        for join in node.args.get("joins") or []:
            condition = join.args.get("on")
            if condition is not None:
                self.condition(condition, scope, "JOIN ON")
        where = node.args.get("where")
        if where is not None:
            self.condition(where.this, scope, "WHERE")
            for prunable in prunables:
                self._prune(prunable, where.this)
        group = node.args.get("group")
        if group is not None:
            self.clause(group, scope)
        having = node.args.get("having")
        if having is not None:
            self.condition(having.this, scope, "HAVING")
        names: list[str] = []
        types: list[TrinoType] = []
        self.outputs[id(node)] = {}
        for projection in list(node.expressions):
            new, projection_type = self.expr(projection, scope)
            names.append(new.alias_or_name)
            types.append(projection_type)
            self.outputs[id(node)][new.alias_or_name] = projection_type
        self._record(node, names, types)
        for key in ("order", "limit", "offset", "distinct"):
            part = node.args.get(key)
            if part is not None:
                self.clause(part, scope)
        for prunable in prunables:
            self.references.append(
                TableReference(
                    table=prunable.table,
                    partition_filter=(
                        " AND ".join(f"({c})" for c in prunable.conjuncts)
                        if prunable.prunable and prunable.conjuncts
                        else None
                    ),
                    injected=dict(prunable.injected),
                )
            )

    def _sources(self, node: exp.Select, scope: Scope) -> list[_Prunable]:
        """Check the FROM/JOIN sources; the Glue tables among them, with their prunability."""
        joins = node.args.get("joins") or []
        for join in joins:
            if join.args.get("method") or join.args.get("global_"):
                raise _unsupported(f"{join.args['method']} JOIN", join)
            kind = (join.args.get("kind") or "").upper()
            if kind in ("SEMI", "ANTI", "ASOF", "POSITIONAL"):
                raise _unsupported(f"{kind} JOIN", join)
        full = any((join.args.get("side") or "").upper() == "FULL" for join in joins)
        # Rows of a table on the NULL-extended side of an outer join must not be pruned by
        # WHERE: a predicate like "b.year IS NULL OR ..." would then change the result.
        nullable: set[str] = set()
        from_ = node.args.get("from_")
        sources: list[exp.Expr] = [from_.this] if from_ is not None else []
        for join in joins:
            side = (join.args.get("side") or "").upper()
            if side == "LEFT":
                nullable.add(join.this.alias_or_name)
            elif side == "RIGHT":
                nullable.update(s.alias_or_name for s in sources)
            sources.append(join.this)
        found = []
        for source in sources:
            if isinstance(source, exp.Table):
                if source.args.get("sample") or source.args.get("joins"):
                    raise _unsupported("TABLESAMPLE", source)
                spec = self._spec(source, scope)
                if spec is None:
                    continue
                prunable = not full and source.alias_or_name not in nullable
                found.append(_Prunable(source.alias_or_name, spec, prunable=prunable))
            elif isinstance(source, (exp.Unnest, exp.Lateral)):
                raise _unsupported(type(source).__name__.upper(), source)
            elif isinstance(source, exp.Subquery) and source.args.get("sample"):
                raise _unsupported("TABLESAMPLE", source)
        return found

    def _spec(self, table: exp.Table, scope: Scope) -> TableSpec | None:
        source = scope.sources.get(table.alias_or_name)
        if not isinstance(source, exp.Table):
            return None  # a CTE
        return self.tables.get((table.db.lower(), table.name.lower()))

    def _prune(self, prunable: _Prunable, where: exp.Expr) -> None:
        keys = {key.name for key in prunable.table.partition_keys}
        injected_columns = {
            p.column for p in prunable.table.projections or () if isinstance(p, InjectedProjection)
        }
        for conjunct in where.flatten() if isinstance(where, exp.And) else [where]:
            columns = list(conjunct.find_all(exp.Column))
            if not columns or any(c.table != prunable.alias or c.name not in keys for c in columns):
                continue
            if any(
                conjunct.find(kind) is not None
                for kind in (exp.Subquery, exp.Select, exp.Rand, exp.AggFunc, exp.Window)
            ):
                continue
            copy = conjunct.copy()
            for column in copy.find_all(exp.Column):
                column.set("table", None)
            prunable.conjuncts.append(copy.sql(dialect="duckdb"))
            values = _injected_values(conjunct)
            if values is not None and values[0] in injected_columns:
                name, found = values
                known = prunable.injected.get(name)
                prunable.injected[name] = found if known is None else known & found

    # -- clauses ------------------------------------------------------------------------------

    def clause(self, node: exp.Expr, scope: Scope) -> None:
        """Rewrite the expressions of ORDER BY, GROUP BY, LIMIT and the like in place."""
        if isinstance(node, (exp.Limit, exp.Offset)):
            value = node.args.get("expression")
            if value is not None and not (isinstance(value, exp.Literal) and value.is_int):
                raise _unsupported(f"a non-literal {type(node).__name__.upper()}", node)
            return
        if isinstance(node, exp.Distinct):
            if node.args.get("on"):
                raise _unsupported("DISTINCT ON", node)
            return
        for key, value in list(node.args.items()):
            items = value if isinstance(value, list) else [value]
            for item in items:
                if not isinstance(item, exp.Expr):
                    continue
                if isinstance(item, exp.Ordered):
                    self._ordered(item, scope)
                elif isinstance(item, (exp.Rollup, exp.Cube, exp.GroupingSets, exp.Tuple)):
                    self.clause(item, scope)
                elif key in ("expressions", "this"):
                    self.expr(item, scope)

    def _ordered(self, item: exp.Ordered, scope: Scope) -> None:
        target = item.this
        if isinstance(target, exp.Literal) and target.is_int:
            return
        self.expr(target, scope)
        # Trino puts NULLs last whatever the direction; say so explicitly.
        if item.args.get("nulls_first") is None:
            item.set("nulls_first", False)

    def condition(self, node: exp.Expr, scope: Scope, where: str) -> None:
        new, condition_type = self.expr(node, scope)
        if condition_type.name not in ("boolean", "unknown"):
            raise _mismatch(
                f"{where} clause must evaluate to a boolean: actual type "
                f"{condition_type.display()}",
                new,
            )

    # -- expressions --------------------------------------------------------------------------

    def expr(self, node: exp.Expr, scope: Scope) -> Typed:
        """Rewrite ``node`` for DuckDB; the result takes the node's place in the tree."""
        if isinstance(node, (exp.Select, exp.SetOperation)):
            return node, self._single_output(node)
        handler = _HANDLERS.get(type(node))
        if handler is None:
            raise _unsupported(_describe(node), node)
        # Handlers may wrap the node itself (a CAST around it), which re-parents it: note
        # where it was first.
        parent, key, index = node.parent, node.arg_key, node.index
        new, node_type = handler(self, node, scope)
        if new is not node and parent is not None and key is not None:
            parent.set(key, new, index=index)
        return new, node_type

    def _single_output(self, node: exp.Expr) -> TrinoType:
        types = self.ordered_outputs.get(id(self._query_root(node)))
        if types is None:
            raise _unsupported("this subquery", node)
        if len(types) != 1:
            raise TranslationError(
                "SYNTAX_ERROR",
                f"Multiple columns returned by subquery are not yet supported. Found {len(types)}",
                node,
            )
        return types[0]

    def args(self, node: exp.Expr, scope: Scope, *keys: str) -> list[TrinoType]:
        """Rewrite the named arguments of ``node`` in place; their Trino types."""
        types = []
        for key in keys:
            value = node.args.get(key)
            if value is None:
                continue
            for item in value if isinstance(value, list) else [value]:
                if not isinstance(item, exp.Expr):
                    continue
                _, item_type = self.expr(item, scope)
                types.append(item_type)
        return types

    def column_type(self, column: exp.Column, scope: Scope) -> TrinoType:
        name = column.name
        if not column.table:
            outputs = self.outputs.get(id(scope.expression), {})
            if name in outputs:
                return outputs[name]
            raise TranslationError(
                "COLUMN_NOT_FOUND", f"Column '{name}' cannot be resolved", column
            )
        current: Scope | None = scope
        while current is not None:
            source = current.sources.get(column.table)
            if source is not None:
                break
            current = current.parent
        else:
            raise TranslationError(
                "COLUMN_NOT_FOUND", f"Column '{column.sql()}' cannot be resolved", column
            )
        if isinstance(source, exp.Table):
            spec = self.tables.get((source.db.lower(), source.name.lower()))
            if spec is not None:
                for candidate in spec.all_columns:
                    if candidate.name == name:
                        return candidate.type
        elif isinstance(source, Scope):
            outputs = self.outputs.get(id(source.expression), {})
            if name in outputs:
                return outputs[name]
        raise TranslationError("COLUMN_NOT_FOUND", f"Column '{name}' cannot be resolved", column)

    def literal_now(self) -> tuple[dt.datetime, str]:
        now = self.now.astimezone(dt.UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        return now, now.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _function_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return type(node).__name__.lower()


def _describe(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return f"function {node.name.lower()}()"
    if isinstance(node, exp.Func):
        return f"function {node.sql_name().lower()}()"
    return type(node).__name__


def _injected_values(conjunct: exp.Expr) -> tuple[str, frozenset[str]] | None:
    """``col = 'v'`` or ``col IN ('a', 'b')``: the column and the values."""
    if isinstance(conjunct, exp.EQ):
        sides = (conjunct.this, conjunct.expression)
        for column, value in (sides, sides[::-1]):
            if (
                isinstance(column, exp.Column)
                and isinstance(value, exp.Literal)
                and value.is_string
            ):
                return column.name, frozenset({value.name})
    if isinstance(conjunct, exp.In) and isinstance(conjunct.this, exp.Column):
        items = conjunct.expressions
        if items and all(isinstance(i, exp.Literal) and i.is_string for i in items):
            return conjunct.this.name, frozenset(i.name for i in items)
    return None


# -- handlers ---------------------------------------------------------------------------------

_HANDLERS: dict[type[exp.Expr], Handler] = {}


def _handles(*kinds: type[exp.Expr]) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for kind in kinds:
            _HANDLERS[kind] = handler
        return handler

    return register


@_handles(exp.Column)
def _column(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    assert isinstance(node, exp.Column)
    return node, rw.column_type(node, scope)


@_handles(exp.Alias)
def _alias(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    (inner,) = rw.args(node, scope, "this")
    return node, inner


@_handles(exp.Paren)
def _paren(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    if isinstance(node.this, (exp.Select, exp.SetOperation)):
        return node, rw._single_output(node.this)
    (inner,) = rw.args(node, scope, "this")
    return node, inner


@_handles(exp.Subquery)
def _subquery(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    return node, rw._single_output(node.this)


@_handles(exp.Null)
def _null(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    return node, T.UNKNOWN


@_handles(exp.Boolean)
def _boolean(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    return node, T.BOOLEAN


@_handles(exp.Literal)
def _literal(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    assert isinstance(node, exp.Literal)
    if node.is_string:
        return node, T.VARCHAR
    text = node.name
    if re.fullmatch(r"\d+", text):
        value = int(text)
        if value <= 2**31 - 1:
            return node, T.INTEGER
        if value <= 2**63 - 1:
            return node, T.BIGINT
        raise TranslationError("NUMERIC_VALUE_OUT_OF_RANGE", f"Invalid numeric literal: {text}")
    if re.fullmatch(r"\d*\.\d*", text):
        whole, _, fraction = text.partition(".")
        digits = (whole + fraction).lstrip("0")
        precision = max(len(digits), len(fraction), 1)
        if precision > 38:
            raise TranslationError("INVALID_LITERAL", f"Decimal literal too long: {text}")
        return node, T.decimal(precision, len(fraction))
    return node, T.DOUBLE


@_handles(exp.Interval)
def _interval(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    unit = (node.text("unit") or "").upper()
    value = node.this
    if not (isinstance(value, exp.Literal) and re.fullmatch(r"-?\d+", value.name.strip())):
        raise _unsupported("an interval other than INTERVAL 'n' unit", node)
    if unit in ("YEAR", "MONTH"):
        interval_type = T.INTERVAL_MONTH
    elif unit in ("DAY", "HOUR", "MINUTE", "SECOND"):
        interval_type = T.INTERVAL_DAY
    else:
        raise _unsupported(f"INTERVAL ... {unit}", node)
    amount = int(value.name.strip())
    return exp.Interval(this=_lit(str(amount)), unit=exp.Var(this=unit)), interval_type


@_handles(exp.Star)
def _star(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    return node, T.UNKNOWN


# comparisons and logic


def _comparable(a: TrinoType, b: TrinoType, node: exp.Expr, operator: str) -> None:
    if supertype(a, b) is None or a.is_interval != b.is_interval:
        raise _mismatch(f"Cannot apply operator: {a.display()} {operator} {b.display()}", node)


_COMPARISONS: Final[dict[type[exp.Expr], str]] = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.NullSafeEQ: "IS NOT DISTINCT FROM",
    exp.NullSafeNEQ: "IS DISTINCT FROM",
}


@_handles(*_COMPARISONS)
def _comparison(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    left, right = rw.args(node, scope, "this", "expression")
    _comparable(left, right, node, _COMPARISONS[type(node)])
    ordering = type(node) not in (exp.EQ, exp.NEQ, exp.NullSafeEQ, exp.NullSafeNEQ)
    if ordering and (left.element is not None or right.element is not None):
        raise _unsupported("ordering comparison of arrays", node)
    return node, T.BOOLEAN


@_handles(exp.And, exp.Or)
def _logic(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    for operand in rw.args(node, scope, "this", "expression"):
        if operand.name not in ("boolean", "unknown"):
            raise _mismatch(
                f"Value of logical {type(node).__name__.upper()} must evaluate to a "
                f"BOOLEAN (actual: {operand.display()})",
                node,
            )
    return node, T.BOOLEAN


@_handles(exp.Not)
def _not(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    (operand,) = rw.args(node, scope, "this")
    if operand.name not in ("boolean", "unknown"):
        raise _mismatch(f"Value of NOT must evaluate to a BOOLEAN: {operand.display()}", node)
    return node, T.BOOLEAN


@_handles(exp.Is)
def _is(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    rw.args(node, scope, "this")
    if not isinstance(node.expression, exp.Null):
        raise _unsupported("IS TRUE / IS FALSE", node)
    return node, T.BOOLEAN


@_handles(exp.In)
def _in(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    if node.args.get("unnest") or node.args.get("field"):
        raise _unsupported("IN UNNEST", node)
    (value,) = rw.args(node, scope, "this")
    query = node.args.get("query")
    if query is not None:
        _comparable(value, rw._single_output(query.this), node, "IN")
    else:
        for item_type in rw.args(node, scope, "expressions"):
            _comparable(value, item_type, node, "IN")
    return node, T.BOOLEAN


@_handles(exp.Exists)
def _exists(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    return node, T.BOOLEAN


@_handles(exp.Between)
def _between(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    value, low, high = rw.args(node, scope, "this", "low", "high")
    _comparable(value, low, node, "BETWEEN")
    _comparable(value, high, node, "BETWEEN")
    return node, T.BOOLEAN


@_handles(exp.Like)
def _like(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    for operand in rw.args(node, scope, "this", "expression"):
        if not (operand.is_string or operand.is_unknown):
            raise _mismatch(f"LIKE needs varchar operands, not {operand.display()}", node)
    return node, T.BOOLEAN


@_handles(exp.Escape)
def _escape(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    rw.args(node, scope, "this", "expression")
    return node, T.BOOLEAN


# arithmetic


def _numeric_result(a: TrinoType, b: TrinoType, kind: type[exp.Expr]) -> TrinoType | None:
    if not (a.is_numeric or a.is_unknown) or not (b.is_numeric or b.is_unknown):
        return None
    if a.is_unknown or b.is_unknown:
        return b if a.is_unknown else a
    if a.is_floating or b.is_floating:
        return T.DOUBLE if "double" in (a.name, b.name) else T.REAL
    if a.is_decimal or b.is_decimal:
        x, y = a.as_decimal(), b.as_decimal()
        if kind in (exp.Add, exp.Sub):
            scale = max(x.scale, y.scale)
            digits = max(x.precision - x.scale, y.precision - y.scale)
            return T.decimal(digits + scale + 1, scale)
        if kind is exp.Mul:
            if x.scale + y.scale > 38:
                return None
            return T.decimal(x.precision + y.precision, x.scale + y.scale)
        if kind is exp.Div:
            return T.decimal(
                x.precision + y.scale + max(y.scale - x.scale, 0), max(x.scale, y.scale)
            )
        return None  # decimal modulus: not emulated
    return a if _INTEGRAL_ORDER.index(a.name) >= _INTEGRAL_ORDER.index(b.name) else b


_SYMBOLS: Final[dict[type[exp.Expr], str]] = {
    exp.Add: "+",
    exp.Sub: "-",
    exp.Mul: "*",
    exp.Div: "/",
    exp.Mod: "%",
}


def _temporal_arithmetic(
    node: exp.Expr, a: TrinoType, b: TrinoType, kind: type[exp.Expr]
) -> Typed | None:
    """date/timestamp +/- interval, interval + date/timestamp, timestamp - timestamp."""
    if kind not in (exp.Add, exp.Sub):
        return None
    if a.is_interval and b.is_temporal and kind is exp.Add:
        node = exp.Add(this=node.expression, expression=node.this)
        a, b = b, a
    if a.is_temporal and b.is_interval:
        interval = node.expression
        unit = interval.text("unit").upper() if isinstance(interval, exp.Interval) else ""
        if a.name == "date":
            if unit not in ("DAY", "MONTH", "YEAR"):
                raise TranslationError(
                    "INVALID_FUNCTION_ARGUMENT",
                    "Cannot add hour, minute or second interval to date",
                    node,
                )
            # DuckDB makes DATE +/- INTERVAL a TIMESTAMP; Trino keeps a date.
            return _cast(node, T.DATE), T.DATE
        return node, a
    if a.is_interval and b.is_interval and a.name == b.name:
        return node, a
    if kind is exp.Sub and a.is_timestamp and b.is_timestamp and a.name == b.name:
        return node, T.INTERVAL_DAY
    return None


@_handles(exp.Add, exp.Sub, exp.Mul, exp.Mod)
def _arithmetic(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    a, b = rw.args(node, scope, "this", "expression")
    kind = type(node)
    temporal = _temporal_arithmetic(node, a, b, kind)
    if temporal is not None:
        return temporal
    if kind is exp.Mod and (a.is_decimal or b.is_decimal):
        raise _unsupported("% and mod() of decimals", node)
    result = _numeric_result(a, b, kind)
    if result is None:
        raise _mismatch(
            f"Cannot apply operator: {a.display()} {_SYMBOLS[kind]} {b.display()}", node
        )
    if result.is_decimal:
        return _cast(node, result), result
    return node, result


def _scaled(unscaled: exp.Expr, scale: int) -> exp.Expr:
    """An unscaled integer as the exact decimal with ``scale`` fractional digits."""
    whole = exp.Cast(this=unscaled, to=exp.DataType.build("DECIMAL(38,0)"))
    if scale == 0:
        return whole
    unit = exp.Cast(
        this=_lit("0." + "0" * (scale - 1) + "1"),
        to=exp.DataType.build(f"DECIMAL({scale + 1},{scale})"),
    )
    return exp.Mul(this=whole, expression=unit)


def _decimal_divide(
    numerator: exp.Expr, a: TrinoType, denominator: exp.Expr, b: TrinoType, result: TrinoType
) -> exp.Expr:
    """Trino's decimal division: exact, rounded half up to the result scale.

    DuckDB divides decimals as doubles; here both sides become integers (unscaled values),
    the quotient is rounded with integer arithmetic, and the scale is put back exactly.
    """
    x, y = a.as_decimal(), b.as_decimal()

    def unscaled(node: exp.Expr, scale: int) -> exp.Expr:
        widened = _cast(node.copy(), T.decimal(38, scale))
        factor = exp.Cast(
            this=_lit(str(10**scale)), to=exp.DataType.build("DECIMAL(38,0)", dialect="duckdb")
        )
        return exp.Cast(
            this=exp.Mul(this=widened, expression=factor),
            to=exp.DataType.build("HUGEINT", dialect="duckdb"),
        )

    n = exp.Mul(
        this=unscaled(numerator, x.scale),
        expression=exp.Cast(
            this=_lit(str(10 ** (y.scale + result.scale))),
            to=exp.DataType.build("HUGEINT", dialect="duckdb"),
        ),
    )
    d = exp.Mul(
        this=unscaled(denominator, y.scale),
        expression=exp.Cast(
            this=_lit(str(10**x.scale)), to=exp.DataType.build("HUGEINT", dialect="duckdb")
        ),
    )
    return _cast(_scaled(_fn("__trino_round_div", n, d), result.scale), result)


@_handles(exp.Div)
def _divide(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    a, b = rw.args(node, scope, "this", "expression")
    result = _numeric_result(a, b, exp.Div)
    if result is None:
        raise _mismatch(f"Cannot apply operator: {a.display()} / {b.display()}", node)
    left, right = node.this, node.expression
    if result.is_integral:
        # Trino divides integers as integers, truncating; DuckDB's // does that too.
        return _cast(exp.IntDiv(this=left, expression=right), result), result
    if result.is_decimal:
        return _decimal_divide(left, a, right, b, result), result
    plain = exp.Div(this=_cast(left, T.DOUBLE), expression=right, typed=False, safe=False)
    return (_cast(plain, result) if result.name == "real" else plain), result


@_handles(exp.Neg)
def _negate(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    (operand,) = rw.args(node, scope, "this")
    if not (operand.is_numeric or operand.is_interval or operand.is_unknown):
        raise _mismatch(f"Cannot negate {operand.display()}", node)
    return node, operand


@_handles(exp.DPipe, exp.Concat)
def _concat(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    types = rw.args(node, scope, "this", "expression", "expressions")
    for item in types:
        if not (item.is_string or item.is_unknown):
            raise _mismatch(
                f"Unexpected parameters ({', '.join(t.display() for t in types)}) for "
                "function concat",
                node,
            )
    parts = [node.this, node.expression] if isinstance(node, exp.DPipe) else node.expressions
    # DuckDB's concat() skips NULLs; Trino's concat and || are NULL when any part is.
    joined: exp.Expr = parts[0]
    for part in parts[1:]:
        joined = exp.DPipe(this=joined, expression=part, safe=False)
    return exp.Paren(this=joined), T.VARCHAR


# conditionals


def _coerce_all(nodes: Sequence[exp.Expr], types: Sequence[TrinoType], target: TrinoType) -> None:
    if target.is_unknown:
        return
    for item, item_type in zip(nodes, types, strict=True):
        if item_type != target:
            item.replace(_cast(item.copy(), target))


@_handles(exp.Case)
def _case_expression(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    subject = rw.args(node, scope, "this")
    results: list[exp.Expr] = []
    result_types: list[TrinoType] = []
    for when in node.args.get("ifs") or []:
        (condition_type,) = rw.args(when, scope, "this")
        if subject:
            _comparable(subject[0], condition_type, when, "=")
        elif condition_type.name not in ("boolean", "unknown"):
            raise _mismatch("CASE WHEN clause must be boolean", when)
        (value_type,) = rw.args(when, scope, "true")
        results.append(when.args["true"])
        result_types.append(value_type)
    default = node.args.get("default")
    if default is not None:
        (default_type,) = rw.args(node, scope, "default")
        results.append(node.args["default"])
        result_types.append(default_type)
    target = _common(result_types, node, "CASE results")
    _coerce_all(results, result_types, target)
    return node, target


@_handles(exp.If)
def _if(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    (condition_type,) = rw.args(node, scope, "this")
    if condition_type.name not in ("boolean", "unknown"):
        raise _mismatch("IF condition must be boolean", node)
    results = []
    types = []
    for key in ("true", "false"):
        value = node.args.get(key)
        if value is not None:
            (value_type,) = rw.args(node, scope, key)
            results.append(node.args[key])
            types.append(value_type)
    target = _common(types, node, "IF results")
    _coerce_all(results, types, target)
    return node, target


@_handles(exp.Coalesce, exp.Greatest, exp.Least)
def _variadic(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    types = rw.args(node, scope, "this", "expressions")
    nodes = [node.this, *node.expressions]
    name = _function_name(node)
    target = _common(types, node, f"arguments of {name}")
    _coerce_all(nodes, types, target)
    if isinstance(node, exp.Coalesce):
        return node, target
    if not (target.is_numeric or target.is_temporal or target.is_string):
        raise _mismatch(f"{name} needs orderable arguments", node)
    # Trino's greatest/least are NULL when any argument is; DuckDB's skip NULLs.
    call = _fn(name, *[n.copy() for n in (node.this, *node.expressions)])
    return _case((_any_null(node.this, *node.expressions), exp.Null()), default=call), target


@_handles(exp.Nullif)
def _nullif(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    a, b = rw.args(node, scope, "this", "expression")
    _comparable(a, b, node, "=")
    return node, a


# casts


def _cast_from_varchar(value: exp.Expr, target: TrinoType, safe: bool) -> exp.Expr:
    """Trino's varchar casts accept less than DuckDB's: gate the text, then cast."""
    gates = {
        "tinyint": r"[+-]?[0-9]+",
        "smallint": r"[+-]?[0-9]+",
        "integer": r"[+-]?[0-9]+",
        "bigint": r"[+-]?[0-9]+",
        "double": r"\s*[+-]?(NaN|Infinity|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)\s*",
        "real": r"\s*[+-]?(NaN|Infinity|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)\s*",
        "decimal": r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)\s*",
        "boolean": r"(?i)\s*(true|false|t|f|1|0)\s*",
        "date": r"\s*[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}\s*",
        "timestamp": (
            r"\s*[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
            r"( [0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2}(\.[0-9]{1,12})?)?)?\s*"
        ),
    }
    gate = gates.get(target.name)
    if gate is None:
        raise _unsupported(f"CAST from varchar to {target.display()}")
    converted: exp.Expr = exp.TryCast(this=value.copy(), to=exp.DataType.build(target.duckdb()))
    failure: exp.Expr = exp.Null()
    if not safe:
        failure = _error(
            exp.DPipe(
                this=exp.DPipe(
                    this=_lit("INVALID_CAST_ARGUMENT: Cannot cast '"),
                    expression=value.copy(),
                    safe=False,
                ),
                expression=_lit(f"' to {target.display()}"),
                safe=False,
            )
        )
        converted = _cast(value.copy(), target)
    return _case(
        (_is_null(value), exp.Null()),
        (_regex_gate(value, gate), converted),
        default=failure,
    )


def _timestamp_text(value: exp.Expr, source: TrinoType) -> exp.Expr:
    fraction = {0: "", 3: ".%g", 6: ".%f"}.get(source.precision)
    if fraction is None:
        raise _unsupported(f"CAST of {source.display()} to varchar")
    text = _fn("strftime", value.copy(), _lit("%Y-%m-%d %H:%M:%S" + fraction))
    if source.name == "timestamp with time zone":
        return exp.DPipe(this=text, expression=_lit(" UTC"), safe=False)
    return text


@_handles(exp.Cast, exp.TryCast)
def _cast_expression(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    (source,) = rw.args(node, scope, "this")
    target = _trino_type_of(node.args["to"], node)
    safe = isinstance(node, exp.TryCast) or bool(node.args.get("safe"))
    value = node.this
    if source == target or source.is_unknown:
        return _cast(value, target), target
    if source.is_string:
        return _cast_from_varchar(value, target, safe), target
    if target.is_string:
        if source.is_floating:
            raise _unsupported(
                "CAST of double or real to varchar (Athena prints them as Java does)", node
            )
        if source.is_timestamp:
            return _timestamp_text(value, source), target
        if source.is_integral or source.is_decimal or source.name in ("boolean", "date"):
            return _cast(value, target), target
    if source.is_floating and target.is_integral:
        # Trino rounds half away from zero (DuckDB: half to even); round() does the former.
        rounded = _fn("round", value.copy())
        cast_kind = exp.TryCast if safe else exp.Cast
        return cast_kind(this=rounded, to=exp.DataType.build(target.duckdb())), target
    convertible = (
        (source.is_numeric and target.is_numeric)
        or (source.name == "boolean" and (target.is_integral or target.is_decimal))
        or (source.is_numeric and target.name == "boolean")
        or (source.is_temporal and target.is_temporal)
    )
    if not convertible:
        raise _mismatch(f"Cannot cast {source.display()} to {target.display()}", node)
    kind = exp.TryCast if safe else exp.Cast
    return kind(this=value, to=exp.DataType.build(target.duckdb())), target


# functions: a table of (argument check, result type, DuckDB form)


@dataclass(frozen=True)
class _Function:
    """A supported function: its arguments, its Trino result type and its DuckDB form."""

    arity: tuple[int, ...]
    result: Callable[[list[TrinoType], exp.Expr], TrinoType]
    build: Callable[[list[exp.Expr], list[TrinoType], exp.Expr], exp.Expr] | None = None
    accepts: Callable[[list[TrinoType]], bool] = lambda types: True


def _same(types: list[TrinoType], node: exp.Expr) -> TrinoType:
    return types[0]


def _const(value: TrinoType) -> Callable[[list[TrinoType], exp.Expr], TrinoType]:
    return lambda types, node: value


def _strings(types: list[TrinoType]) -> bool:
    return all(t.is_string or t.is_unknown for t in types)


def _numbers(types: list[TrinoType]) -> bool:
    return all(t.is_numeric or t.is_unknown for t in types)


def _call(name: str) -> Callable[[list[exp.Expr], list[TrinoType], exp.Expr], exp.Expr]:
    """The DuckDB function of that name (its result is cast to Trino's type after)."""
    return lambda args, types, node: _fn(name, *args)


def _sum_type(types: list[TrinoType], node: exp.Expr) -> TrinoType:
    (value,) = types
    if value.is_integral:
        return T.BIGINT
    if value.is_decimal:
        return T.decimal(38, value.scale)
    if value.is_floating or value.is_unknown:
        return T.DOUBLE if value.is_unknown else value
    raise _mismatch(f"Unexpected parameters ({value.display()}) for function sum", node)


def _avg_type(types: list[TrinoType], node: exp.Expr) -> TrinoType:
    (value,) = types
    if value.is_integral or value.is_unknown:
        return T.DOUBLE
    if value.is_decimal or value.is_floating:
        return value
    raise _mismatch(f"Unexpected parameters ({value.display()}) for function avg", node)


def _avg(args: list[exp.Expr], types: list[TrinoType], node: exp.Expr) -> exp.Expr:
    (value_type,) = types
    if not value_type.is_decimal:
        return _fn("avg", *args)
    # Trino keeps avg(decimal(p,s)) a decimal(p,s), rounded half up; DuckDB answers a double.
    scale = value_type.scale
    (value,) = args
    total = exp.Cast(
        this=exp.Mul(
            this=_fn("sum", _cast(value.copy(), T.decimal(38, scale))),
            expression=exp.Cast(this=_lit(str(10**scale)), to=exp.DataType.build("DECIMAL(38,0)")),
        ),
        to=exp.DataType.build("HUGEINT"),
    )
    count = _fn("count", value.copy())
    quotient = _scaled(_fn("__trino_round_div", total, count), scale)
    return _case(
        (exp.EQ(this=count.copy(), expression=_lit(0)), exp.Null()),
        default=_cast(quotient, value_type),
    )


def _round_type(types: list[TrinoType], node: exp.Expr) -> TrinoType:
    value = types[0]
    if not (value.is_numeric or value.is_unknown):
        raise _mismatch(f"Unexpected parameters ({value.display()}) for function round", node)
    if value.is_decimal:
        if len(types) == 1:
            return T.decimal(value.precision - value.scale + min(value.scale, 1), 0)
        return T.decimal(min(38, value.precision + 1), value.scale)
    return T.DOUBLE if value.is_unknown else value


def _floor_type(types: list[TrinoType], node: exp.Expr) -> TrinoType:
    value = types[0]
    if not (value.is_numeric or value.is_unknown):
        raise _mismatch(f"Unexpected parameters ({value.display()}) for floor/ceil", node)
    if value.is_decimal:
        return T.decimal(value.precision - value.scale + min(value.scale, 1), 0)
    return T.DOUBLE if value.is_unknown else value


def _substring(args: list[exp.Expr], types: list[TrinoType], node: exp.Expr) -> exp.Expr:
    value, start = args[0], args[1]
    length = args[2] if len(args) > 2 else None
    empty: list[exp.Expr] = [exp.EQ(this=start.copy(), expression=_lit(0))]
    if length is not None:
        empty.append(exp.LTE(this=length.copy(), expression=_lit(0)))
    empty.append(exp.LT(this=start.copy(), expression=exp.Neg(this=_fn("length", value.copy()))))
    condition: exp.Expr = empty[0]
    for item in empty[1:]:
        condition = exp.Or(this=condition, expression=item)
    call = _fn("substring", *[a.copy() for a in args])
    return _case((_any_null(*args), exp.Null()), (condition, _lit("")), default=call)


def _split_part(args: list[exp.Expr], types: list[TrinoType], node: exp.Expr) -> exp.Expr:
    value, delimiter, index = args
    fields = _fn("len", _fn("string_split", value.copy(), delimiter.copy()))
    return _case(
        (_any_null(*args), exp.Null()),
        (
            exp.LTE(this=index.copy(), expression=_lit(0)),
            _error("INVALID_FUNCTION_ARGUMENT: Index must be greater than zero"),
        ),
        (exp.GT(this=index.copy(), expression=fields), exp.Null()),
        default=_fn("split_part", value.copy(), delimiter.copy(), index.copy()),
    )


def _regexp_extract(args: list[exp.Expr], types: list[TrinoType], node: exp.Expr) -> exp.Expr:
    value, pattern = args[0], args[1]
    group = args[2] if len(args) > 2 else _lit(0)
    return _case(
        (
            _fn("regexp_matches", value.copy(), pattern.copy()),
            _fn("regexp_extract", value.copy(), pattern.copy(), group.copy()),
        ),
        default=exp.Null(),
    )


def _regexp_replace(args: list[exp.Expr], types: list[TrinoType], node: exp.Expr) -> exp.Expr:
    value, pattern = args[0], args[1]
    replacement = args[2] if len(args) > 2 else _lit("")
    if not isinstance(replacement, exp.Literal) or not replacement.is_string:
        raise _unsupported("regexp_replace with a non-literal replacement", node)
    text = replacement.name
    # Java's $1 group references become RE2's \1; a literal backslash doubles.
    converted = re.sub(
        r"\\(.)|\$(\d)|\$\{|\\",
        lambda m: (
            m.group(1).replace("\\", "\\\\")
            if m.group(1) is not None
            else "\\" + m.group(2)
            if m.group(2) is not None
            else "\x00"
        ),
        text,
    )
    if "\x00" in converted:
        raise _unsupported("regexp_replace with named group references", node)
    return _fn("regexp_replace", value.copy(), pattern.copy(), _lit(converted), _lit("g"))


def _trim(args: list[exp.Expr], types: list[TrinoType], node: exp.Expr) -> exp.Expr:
    # Trino trims whitespace (Character.isWhitespace); DuckDB's one-argument trim only spaces.
    position = (node.text("position") or "BOTH").upper()
    name = {"LEADING": "ltrim", "TRAILING": "rtrim"}.get(position, "trim")
    whitespace = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
    return _fn(name, args[0], _lit(whitespace))


def _element_at(args: list[exp.Expr], types: list[TrinoType], node: exp.Expr) -> exp.Expr:
    array, index = args
    return _case(
        (
            exp.EQ(this=index.copy(), expression=_lit(0)),
            _error("INVALID_FUNCTION_ARGUMENT: SQL array indices start at 1"),
        ),
        # list_extract is 1-based and NULL out of range, like element_at.
        default=_fn("list_extract", array.copy(), index.copy()),
    )


def _contains(args: list[exp.Expr], types: list[TrinoType], node: exp.Expr) -> exp.Expr:
    array, value = args
    # Trino: NULL, not false, when the value is absent and the array holds a NULL.
    return _case(
        (_is_null(value), exp.Null()),
        (_fn("list_contains", array.copy(), value.copy()), exp.true()),
        (
            exp.LT(this=_fn("list_count", array.copy()), expression=_fn("len", array.copy())),
            exp.Null(),
        ),
        default=exp.false(),
    )


def _typeof(args: list[exp.Expr], types: list[TrinoType], node: exp.Expr) -> exp.Expr:
    return _lit(types[0].display())


# strftime tokens of the MySQL specifiers whose mapping (sqlglot's) and meaning match.
_MYSQL_TOKENS: Final = frozenset(
    {"%Y", "%y", "%m", "%-m", "%d", "%-d", "%H", "%-H", "%I", "%-I", "%M", "%S", "%f"}
    | {"%p", "%j", "%a", "%A", "%b", "%B", "%w", "%%"}
)


def _strftime_format(node: exp.Expr, fmt: exp.Expr | None) -> str:
    """A date_format/date_parse format (sqlglot has mapped MySQL's tokens to strftime)."""
    if not isinstance(fmt, exp.Literal) or not fmt.is_string:
        raise _unsupported("a date format that is not a literal", node)
    tokens = re.findall(r"%-?.", fmt.name)
    unknown = [token for token in tokens if token not in _MYSQL_TOKENS]
    if unknown:
        raise _unsupported(f"date format specifiers {unknown}", node)
    return fmt.name


def _java_pattern(node: exp.Expr, fmt: exp.Expr) -> JavaDatePattern:
    if not isinstance(fmt, exp.Literal) or not fmt.is_string:
        raise _unsupported("a datetime pattern that is not a literal", node)
    try:
        return JavaDatePattern(fmt.name)
    except ValueError as error:
        raise TranslationError(
            "NOT_SUPPORTED", f"{error} by the local Athena emulator", node
        ) from None


def _date_part(name: str, dates: bool = True) -> _Function:
    def result(types: list[TrinoType], node: exp.Expr) -> TrinoType:
        value = types[0]
        if not (value.is_temporal or value.is_unknown) or (value.name == "date" and not dates):
            raise _mismatch(f"Unexpected parameters ({value.display()}) for function {name}", node)
        return T.BIGINT

    return _Function((1,), result, _call(name))


_UNITS: Final = (
    "millisecond",
    "second",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "quarter",
    "year",
)


def _unit(node: exp.Expr) -> str:
    unit = node.args.get("unit")
    text = (unit.name if isinstance(unit, exp.Expr) else str(unit or "")).lower()
    if text not in _UNITS:
        raise _unsupported(f"unit {text!r}", node)
    return text


# Functions keyed by sqlglot class (and lower-case name for calls sqlglot does not know).
_FUNCTIONS: dict[type[exp.Expr] | str, _Function] = {
    exp.Lower: _Function((1,), _const(T.VARCHAR), _call("lower"), _strings),
    exp.Upper: _Function((1,), _const(T.VARCHAR), _call("upper"), _strings),
    exp.Length: _Function((1,), _const(T.BIGINT), _call("length"), _strings),
    exp.Reverse: _Function((1,), _const(T.VARCHAR), _call("reverse"), _strings),
    exp.StartsWith: _Function((2,), _const(T.BOOLEAN), _call("starts_with"), _strings),
    exp.Replace: _Function(
        (2, 3),
        _const(T.VARCHAR),
        lambda args, types, node: _fn("replace", *args, *([] if len(args) == 3 else [_lit("")])),
        _strings,
    ),
    exp.Substring: _Function(
        (2, 3),
        _const(T.VARCHAR),
        _substring,
        lambda types: _strings(types[:1]) and all(t.is_integral for t in types[1:]),
    ),
    exp.SplitPart: _Function(
        (3,),
        _const(T.VARCHAR),
        _split_part,
        lambda types: _strings(types[:2]) and types[2].is_integral,
    ),
    exp.StrPosition: _Function((2,), _const(T.BIGINT), _call("strpos"), _strings),
    exp.RegexpLike: _Function((2,), _const(T.BOOLEAN), _call("regexp_matches"), _strings),
    exp.RegexpExtract: _Function(
        (2, 3), _const(T.VARCHAR), _regexp_extract, lambda types: _strings(types[:2])
    ),
    exp.RegexpReplace: _Function((2, 3), _const(T.VARCHAR), _regexp_replace, _strings),
    exp.Trim: _Function((1,), _const(T.VARCHAR), _trim, _strings),
    exp.Pad: _Function(
        (3,),
        _const(T.VARCHAR),
        lambda args, types, node: _fn("lpad" if node.args.get("is_left") else "rpad", *args),
        lambda types: _strings([types[0], types[2]]) and types[1].is_integral,
    ),
    exp.Trunc: _Function(
        (1,), _same, _call("trunc"), lambda types: all(t.is_floating for t in types)
    ),
    exp.Chr: _Function((1,), _const(T.VARCHAR), _call("chr"), lambda ts: ts[0].is_integral),
    exp.Typeof: _Function((1,), _const(T.VARCHAR), _typeof),
    exp.Abs: _Function((1,), _same, _call("abs"), _numbers),
    exp.Sign: _Function((1,), _same, _call("sign"), _numbers),
    exp.Ceil: _Function((1,), _floor_type, _call("ceil"), _numbers),
    exp.Floor: _Function((1,), _floor_type, _call("floor"), _numbers),
    exp.Round: _Function((1, 2), _round_type, _call("round"), _numbers),
    exp.Sqrt: _Function((1,), _const(T.DOUBLE), _call("sqrt"), _numbers),
    exp.Ln: _Function((1,), _const(T.DOUBLE), _call("ln"), _numbers),
    exp.Exp: _Function((1,), _const(T.DOUBLE), _call("exp"), _numbers),
    exp.Pow: _Function((2,), _const(T.DOUBLE), _call("power"), _numbers),
    exp.Log: _Function((2,), _const(T.DOUBLE), _call("log"), _numbers),
    exp.IsNan: _Function((1,), _const(T.BOOLEAN), _call("isnan"), lambda ts: ts[0].is_floating),
    exp.Rand: _Function((0,), _const(T.DOUBLE), _call("random")),
    exp.Split: _Function((2,), _const(T.array_of(T.VARCHAR)), _call("string_split"), _strings),
    exp.ArraySize: _Function(
        (1,), _const(T.BIGINT), _call("len"), lambda ts: ts[0].element is not None
    ),
    exp.ArrayContains: _Function(
        (2,), _const(T.BOOLEAN), _contains, lambda ts: ts[0].element is not None
    ),
    exp.ArrayToString: _Function(
        (2,),
        _const(T.VARCHAR),
        _call("array_to_string"),
        lambda ts: ts[0].element is not None and ts[1].is_string,
    ),
    "nan": _Function((0,), _const(T.DOUBLE), lambda a, t, n: _cast(_lit("NaN"), T.DOUBLE)),
    "infinity": _Function(
        (0,), _const(T.DOUBLE), lambda a, t, n: _cast(_lit("Infinity"), T.DOUBLE)
    ),
    "log2": _Function((1,), _const(T.DOUBLE), _call("log2"), _numbers),
    "log10": _Function((1,), _const(T.DOUBLE), _call("log10"), _numbers),
    "year": _date_part("year"),
    "month": _date_part("month"),
    "day": _date_part("day"),
    "day_of_month": _date_part("day"),
    "hour": _date_part("hour", dates=False),
    "minute": _date_part("minute", dates=False),
    "second": _date_part("second", dates=False),
    "quarter": _date_part("quarter"),
    "day_of_week": _date_part("isodow"),
    "day_of_year": _date_part("dayofyear"),
    "week": _date_part("weekofyear"),
    "year_of_week": _date_part("isoyear"),
}
# sqlglot's classes for the same calls.
for _kind, _name in (
    (exp.Year, "year"),
    (exp.Month, "month"),
    (exp.Day, "day"),
    (exp.DayOfMonth, "day"),
    (exp.Hour, "hour"),
    (exp.Minute, "minute"),
    (exp.Second, "second"),
    (exp.Quarter, "quarter"),
    (exp.DayOfWeekIso, "day_of_week"),
    (exp.DayOfYear, "day_of_year"),
    (exp.WeekOfYear, "week"),
    (exp.YearOfWeek, "year_of_week"),
):
    _FUNCTIONS[_kind] = _FUNCTIONS[_name]

_ANONYMOUS_ALIASES: Final = {
    "dow": "day_of_week",
    "doy": "day_of_year",
    "week_of_year": "week",
    "yow": "year_of_week",
    "ceiling": "ceil",
}


# sqlglot keeps dialect flags beside the arguments of some functions.
_FLAGS: Final = frozenset(
    {"safe", "zero_start", "clamp_position", "null_if_pos_overflow", "null_if_no_match"}
    | {"empty_if_group_missing", "truncate", "casts_non_integer_decimals", "big_int"}
    | {"nulls_excluded", "binary", "input_type_preserved", "date_part_boundary"}
    | {"is_left", "fractions_supported"}
)


def _function_arguments(node: exp.Expr) -> list[str]:
    """The argument keys of a sqlglot function node, in order."""
    if isinstance(node, exp.Anonymous):
        return ["expressions"]
    return [key for key in node.arg_types if key not in _FLAGS]


def _apply(rw: _Rewriter, node: exp.Expr, scope: Scope, function: _Function, name: str) -> Typed:
    keys = _function_arguments(node)
    arguments: list[exp.Expr] = []
    for key in keys:
        value = node.args.get(key)
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, exp.Expr):
                arguments.append(item)
    types = []
    rewritten = []
    for argument in arguments:
        new, argument_type = rw.expr(argument, scope)
        rewritten.append(new)
        types.append(argument_type)
    if len(arguments) not in function.arity:
        raise TranslationError(
            "FUNCTION_NOT_FOUND",
            f"Unexpected number of arguments ({len(arguments)}) for function {name}",
            node,
        )
    if not function.accepts(types):
        raise _mismatch(
            f"Unexpected parameters ({', '.join(t.display() for t in types)}) for function {name}",
            node,
        )
    result = function.result(types, node)
    assert function.build is not None
    built = function.build(rewritten, types, node)
    if isinstance(built, exp.Literal):
        return built, result
    return _cast(built, result), result


def _generic_function(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        name = _ANONYMOUS_ALIASES.get(name, name)
        special = _ANONYMOUS.get(name)
        if special is not None:
            return special(rw, node, scope)
        function = _FUNCTIONS.get(name)
        if function is None:
            raise _unsupported(f"function {name}()", node)
        return _apply(rw, node, scope, function, name)
    function = _FUNCTIONS[type(node)]
    return _apply(rw, node, scope, function, _function_name(node))


for _key in _FUNCTIONS:
    if not isinstance(_key, str):
        _HANDLERS[_key] = _generic_function
_HANDLERS[exp.Anonymous] = _generic_function


# aggregate functions


def _aggregate(
    name: str,
    result: Callable[[list[TrinoType], exp.Expr], TrinoType],
    build: Callable[[list[exp.Expr], list[TrinoType], exp.Expr], exp.Expr] | None = None,
    arity: tuple[int, ...] = (1,),
) -> Handler:
    def handler(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
        inner = node.this
        distinct = isinstance(inner, exp.Distinct)
        if distinct:
            arguments = list(inner.expressions)
        else:
            arguments = []
            for key in _function_arguments(node):
                value = node.args.get(key)
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, exp.Expr):
                        arguments.append(item)
        if len(arguments) not in arity:
            raise TranslationError(
                "FUNCTION_NOT_FOUND",
                f"Unexpected number of arguments ({len(arguments)}) for function {name}",
                node,
            )
        types = []
        rewritten = []
        for argument in arguments:
            new, argument_type = rw.expr(argument, scope)
            rewritten.append(new)
            types.append(argument_type)
        result_type = result(types, node)
        if distinct:
            call: exp.Expr = _fn(name, exp.Distinct(expressions=rewritten))
        elif build is not None:
            call = build(rewritten, types, node)
        else:
            call = _fn(name, *rewritten)
        return _cast(call, result_type), result_type

    return handler


def _count_handler(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    if isinstance(node.this, exp.Star) or node.this is None:
        return exp.Count(this=exp.Star()), T.BIGINT
    return _aggregate("count", _const(T.BIGINT))(rw, node, scope)


def _orderable(name: str) -> Callable[[list[TrinoType], exp.Expr], TrinoType]:
    def result(types: list[TrinoType], node: exp.Expr) -> TrinoType:
        if types[0].element is not None:
            raise _unsupported(f"{name} of arrays", node)
        return types[0]

    return result


def _boolean_aggregate(name: str) -> Callable[[list[TrinoType], exp.Expr], TrinoType]:
    def result(types: list[TrinoType], node: exp.Expr) -> TrinoType:
        if types[0].name not in ("boolean", "unknown"):
            raise _mismatch(f"Unexpected parameters ({types[0].display()}) for {name}", node)
        return T.BOOLEAN

    return result


def _numeric_aggregate(name: str) -> Callable[[list[TrinoType], exp.Expr], TrinoType]:
    def result(types: list[TrinoType], node: exp.Expr) -> TrinoType:
        if not _numbers(types):
            raise _mismatch(f"Unexpected parameters for function {name}", node)
        return T.DOUBLE

    return result


def _percentile(args: list[exp.Expr], types: list[TrinoType], node: exp.Expr) -> exp.Expr:
    value, fraction = args
    if not (isinstance(fraction, exp.Literal) and not fraction.is_string):
        raise _unsupported("approx_percentile with a non-literal percentage", node)
    # Athena's answer is an approximation; the exact nearest-rank value is within its bounds.
    return _fn("quantile_disc", value, fraction)


def _percentile_type(types: list[TrinoType], node: exp.Expr) -> TrinoType:
    if not (types[0].is_numeric or types[0].is_unknown):
        raise _mismatch("approx_percentile needs a numeric value", node)
    return types[0]


_HANDLERS[exp.Count] = _count_handler
_HANDLERS[exp.Sum] = _aggregate("sum", _sum_type)
_HANDLERS[exp.Avg] = _aggregate("avg", _avg_type, _avg)
_HANDLERS[exp.Min] = _aggregate("min", _orderable("min"))
_HANDLERS[exp.Max] = _aggregate("max", _orderable("max"))


def _count_if_type(types: list[TrinoType], node: exp.Expr) -> TrinoType:
    _boolean_aggregate("count_if")(types, node)
    return T.BIGINT


_HANDLERS[exp.CountIf] = _aggregate("count_if", _count_if_type)
_HANDLERS[exp.ApproxDistinct] = _aggregate(
    "count",
    _const(T.BIGINT),
    lambda args, types, node: _fn("count", exp.Distinct(expressions=args)),
)
_HANDLERS[exp.ApproxQuantile] = _aggregate(
    "quantile_disc", _percentile_type, _percentile, arity=(2,)
)
_HANDLERS[exp.Stddev] = _aggregate("stddev_samp", _numeric_aggregate("stddev"))
_HANDLERS[exp.StddevSamp] = _aggregate("stddev_samp", _numeric_aggregate("stddev_samp"))
_HANDLERS[exp.StddevPop] = _aggregate("stddev_pop", _numeric_aggregate("stddev_pop"))
_HANDLERS[exp.Variance] = _aggregate("var_samp", _numeric_aggregate("variance"))
_HANDLERS[exp.VariancePop] = _aggregate("var_pop", _numeric_aggregate("var_pop"))
_HANDLERS[exp.LogicalOr] = _aggregate("bool_or", _boolean_aggregate("bool_or"))
_HANDLERS[exp.LogicalAnd] = _aggregate("bool_and", _boolean_aggregate("bool_and"))
_HANDLERS[exp.AnyValue] = _aggregate("any_value", _same)
_HANDLERS[exp.ArgMax] = _aggregate("arg_max", _same, arity=(2,))
_HANDLERS[exp.ArgMin] = _aggregate("arg_min", _same, arity=(2,))
_HANDLERS[exp.ArrayAgg] = _aggregate(
    "list", lambda types, node: T.array_of(T.VARCHAR if types[0].is_unknown else types[0])
)


@_handles(exp.Filter)
def _filter(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    (aggregate_type,) = rw.args(node, scope, "this")
    condition = node.expression.this
    _, condition_type = rw.expr(condition, scope)
    if condition_type.name not in ("boolean", "unknown"):
        raise _mismatch("FILTER condition must be boolean", node)
    aggregate = node.this
    # The cast wrapping the aggregate goes outside the FILTER clause.
    if isinstance(aggregate, exp.Cast) and isinstance(aggregate.this, exp.Anonymous):
        filtered = exp.Filter(this=aggregate.this.copy(), expression=node.expression.copy())
        return _cast(filtered, aggregate_type), aggregate_type
    if isinstance(aggregate, exp.Count):
        return node, aggregate_type
    raise _unsupported("FILTER on this aggregate", node)


# window functions


_RANKING: Final = {
    exp.RowNumber: ("row_number", T.BIGINT),
    exp.Rank: ("rank", T.BIGINT),
    exp.DenseRank: ("dense_rank", T.BIGINT),
    exp.PercentRank: ("percent_rank", T.DOUBLE),
    exp.CumeDist: ("cume_dist", T.DOUBLE),
}


@_handles(exp.Window)
def _window(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    if node.args.get("alias") or node.args.get("first") is not None:
        raise _unsupported("named windows", node)
    function = node.this
    wrapper = None
    if isinstance(function, (exp.IgnoreNulls, exp.RespectNulls)):
        wrapper, function = function, function.this
    rw.args(node, scope, "partition_by")
    order = node.args.get("order")
    if order is not None:
        rw.clause(order, scope)
    spec = node.args.get("spec")
    if spec is not None:
        for key in ("start", "end"):
            bound = spec.args.get(key)
            if isinstance(bound, exp.Expr) and not isinstance(bound, exp.Literal):
                raise _unsupported("window frame bounds other than literals", node)
    result: TrinoType
    if type(function) in _RANKING:
        name, result = _RANKING[type(function)]
        new: exp.Expr = _fn(name)
    elif isinstance(function, exp.Ntile):
        rw.args(function, scope, "this")
        new, result = _fn("ntile", function.this), T.BIGINT
    elif isinstance(function, (exp.Lag, exp.Lead)):
        types = rw.args(function, scope, "this", "offset", "default")
        result = types[0]
        if len(types) == 3:
            result = _common([types[0], types[2]], function, "lag/lead value and default")
        name = "lag" if isinstance(function, exp.Lag) else "lead"
        arguments = [function.this]
        for key in ("offset", "default"):
            if function.args.get(key) is not None:
                arguments.append(function.args[key])
        new = _fn(name, *arguments)
    elif isinstance(function, (exp.FirstValue, exp.LastValue)):
        (result,) = rw.args(function, scope, "this")
        name = "first_value" if isinstance(function, exp.FirstValue) else "last_value"
        new = _fn(name, function.this)
    elif isinstance(function, exp.NthValue):
        result = rw.args(function, scope, "this", "offset")[0]
        new = _fn("nth_value", function.this, function.args["offset"])
    elif type(function) in _HANDLERS and isinstance(function, exp.AggFunc):
        new, result = rw.expr(function, scope)
        # The aggregate's result cast goes around the whole window call.
        if isinstance(new, exp.Cast):
            inner = new.this
            if not isinstance(inner, exp.Anonymous):
                raise _unsupported(f"{_describe(function)} as a window function", node)
            window = node.copy()
            window.set("this", inner)
            return _cast(window, result), result
    else:
        raise _unsupported(f"{_describe(function)} as a window function", node)
    if wrapper is not None:
        wrapper.set("this", new)
        new = wrapper
    node.set("this", new)
    return node, result


# date and time


@_handles(exp.CurrentDate)
def _current_date(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    now, _ = rw.literal_now()
    return _cast(_lit(now.date().isoformat()), T.DATE), T.DATE


@_handles(exp.CurrentTimestamp)
def _current_timestamp(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    _, text = rw.literal_now()
    return _cast(_lit(text + "+00"), T.TIMESTAMP_TZ), T.TIMESTAMP_TZ


@_handles(exp.Localtimestamp)
def _localtimestamp(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    _, text = rw.literal_now()
    return _cast(_lit(text), T.TIMESTAMP), T.TIMESTAMP


def _one_temporal(rw: _Rewriter, node: exp.Expr, scope: Scope, key: str = "this") -> TrinoType:
    (value,) = rw.args(node, scope, key)
    if not (value.is_temporal or value.is_unknown):
        raise _mismatch(f"Unexpected parameters ({value.display()}) for {_describe(node)}", node)
    return value


@_handles(exp.StrToTime)
def _date_parse(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    (value,) = rw.args(node, scope, "this")
    if not (value.is_string or value.is_unknown):
        raise _mismatch("date_parse needs a varchar", node)
    fmt = _strftime_format(node, node.args.get("format"))
    parsed = _fn("strptime", node.this, _lit(fmt))
    return _cast(parsed, T.TIMESTAMP), T.TIMESTAMP


@_handles(exp.TimeToStr)
def _date_format(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    _one_temporal(rw, node, scope)
    fmt = _strftime_format(node, node.args.get("format"))
    return _fn("strftime", node.this, _lit(fmt)), T.VARCHAR


@_handles(exp.ParseDatetime)
def _parse_datetime(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    (value,) = rw.args(node, scope, "this")
    if not (value.is_string or value.is_unknown):
        raise _mismatch("parse_datetime needs a varchar", node)
    pattern = _java_pattern(node, node.args.get("format") or node.expression)
    parsed = _fn("strptime", node.this, _lit(pattern.strftime()))
    return _cast(parsed, T.TIMESTAMP_TZ), T.TIMESTAMP_TZ


def _format_datetime(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    if len(node.expressions) != 2:
        raise TranslationError("FUNCTION_NOT_FOUND", "format_datetime takes 2 arguments", node)
    value_node, pattern_node = node.expressions
    new, value = rw.expr(value_node, scope)
    if not (value.is_temporal or value.is_unknown):
        raise _mismatch(f"Unexpected parameters ({value.display()}) for format_datetime", node)
    pattern = _java_pattern(node, pattern_node)
    return _fn("strftime", new, _lit(pattern.strftime())), T.VARCHAR


def _to_iso8601(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    (value_node,) = node.expressions
    new, value = rw.expr(value_node, scope)
    if value.name == "date":
        return _fn("strftime", new, _lit("%Y-%m-%d")), T.VARCHAR
    if value.name == "timestamp" and value.precision == 3:
        return _fn("strftime", new, _lit("%Y-%m-%dT%H:%M:%S.%g")), T.VARCHAR
    if value.name == "timestamp with time zone" and value.precision == 3:
        return _fn("strftime", new, _lit("%Y-%m-%dT%H:%M:%S.%gZ")), T.VARCHAR
    raise _unsupported(f"to_iso8601 of {value.display()}", node)


_ISO_TIMESTAMP: Final = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([Tt][0-9]{2}(:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?)?)?"
    r"([zZ]|[+-]00(:?00)?)?"
)


@_handles(exp.FromISO8601Timestamp)
def _from_iso8601_timestamp(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    (value,) = rw.args(node, scope, "this")
    if not (value.is_string or value.is_unknown):
        raise _mismatch("from_iso8601_timestamp needs a varchar", node)
    text = node.this
    # Only UTC offsets: Trino would keep another offset as the value's zone, and print it.
    converted = _cast(text.copy(), T.TIMESTAMP_TZ)
    return _case(
        (_is_null(text), exp.Null()),
        (_regex_gate(text, _ISO_TIMESTAMP), converted),
        default=_error(
            exp.DPipe(
                this=_lit(
                    "INVALID_FUNCTION_ARGUMENT: the emulator reads only UTC ISO 8601 "
                    "timestamps, not: "
                ),
                expression=text.copy(),
                safe=False,
            )
        ),
    ), T.TIMESTAMP_TZ


@_handles(exp.FromISO8601Date)
def _from_iso8601_date(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    (value,) = rw.args(node, scope, "this")
    if not (value.is_string or value.is_unknown):
        raise _mismatch("from_iso8601_date needs a varchar", node)
    text = node.this
    return _case(
        (_is_null(text), exp.Null()),
        (_regex_gate(text, r"[0-9]{4}-[0-9]{2}-[0-9]{2}"), _cast(text.copy(), T.DATE)),
        default=_error(
            exp.DPipe(
                this=_lit("INVALID_FUNCTION_ARGUMENT: Invalid format: "),
                expression=text.copy(),
                safe=False,
            )
        ),
    ), T.DATE


@_handles(exp.Date)
def _date(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    cast = exp.Cast(this=node.this, to=exp.DataType.build("DATE"))
    return _cast_expression(rw, cast, scope)


@_handles(exp.TimestampTrunc, exp.DateTrunc)
def _date_trunc(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    value = _one_temporal(rw, node, scope)
    unit = _unit(node)
    if value.name == "date" and unit in ("millisecond", "second", "minute", "hour"):
        raise _mismatch(f"date_trunc('{unit}') of a date", node)
    call = _fn("date_trunc", _lit(unit), node.this)
    return _cast(call, value), value


@_handles(exp.DateAdd, exp.TimestampAdd, exp.TsOrDsAdd)
def _date_add(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    value = _one_temporal(rw, node, scope)
    (amount,) = rw.args(node, scope, "expression")
    if not (amount.is_integral or amount.is_unknown):
        raise _mismatch("date_add needs an integer amount", node)
    unit = _unit(node)
    if value.name == "date" and unit in ("millisecond", "second", "minute", "hour"):
        raise TranslationError(
            "INVALID_FUNCTION_ARGUMENT", f"'{unit}' is not a valid DATE field", node
        )
    interval = exp.Mul(
        this=exp.Paren(this=node.expression),
        expression=exp.Interval(this=_lit("1"), unit=exp.Var(this=unit.upper())),
    )
    return _cast(exp.Add(this=node.this, expression=interval), value), value


@_handles(exp.DateDiff, exp.TimestampDiff)
def _date_diff(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    later, earlier = rw.args(node, scope, "this", "expression")
    for value in (later, earlier):
        if not (value.is_temporal or value.is_unknown):
            raise _mismatch(f"Unexpected parameters ({value.display()}) for date_diff", node)
    unit = _unit(node)
    if unit in ("month", "quarter", "year"):
        # Joda's month arithmetic at month ends is not what DuckDB's date_sub does.
        raise _unsupported(f"date_diff('{unit}', ...)", node)
    # sqlglot puts date_diff(unit, a, b) as this=b, expression=a; DuckDB's date_sub counts
    # whole units from a to b, as Trino does.
    return _fn("date_sub", _lit(unit), node.expression, node.this), T.BIGINT


@_handles(exp.Extract)
def _extract(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    value = _one_temporal(rw, node, scope, "expression")
    part = node.this.name.lower()
    names = {
        "year": "year",
        "quarter": "quarter",
        "month": "month",
        "week": "weekofyear",
        "day": "day",
        "day_of_month": "day",
        "day_of_week": "isodow",
        "dow": "isodow",
        "day_of_year": "dayofyear",
        "doy": "dayofyear",
        "year_of_week": "isoyear",
        "yow": "isoyear",
        "hour": "hour",
        "minute": "minute",
        "second": "second",
    }
    if part not in names:
        raise _unsupported(f"EXTRACT({part.upper()} ...)", node)
    if value.name == "date" and part in ("hour", "minute", "second"):
        raise _mismatch(f"Cannot extract {part.upper()} from date", node)
    return _cast(_fn(names[part], node.expression), T.BIGINT), T.BIGINT


@_handles(exp.UnixToTime)
def _from_unixtime(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    (value,) = rw.args(node, scope, "this")
    if any(node.args.get(k) is not None for k in ("zone", "hours", "minutes", "scale")):
        raise _unsupported("from_unixtime with a zone or scale", node)
    if not (value.is_numeric or value.is_unknown):
        raise _mismatch("from_unixtime needs a number", node)
    seconds = _cast(node.this, T.DOUBLE)
    return _cast(_fn("to_timestamp", seconds), T.TIMESTAMP_TZ), T.TIMESTAMP_TZ


@_handles(exp.TimeToUnix)
def _to_unixtime(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    _one_temporal(rw, node, scope)
    return _cast(_fn("epoch", node.this), T.DOUBLE), T.DOUBLE


@_handles(exp.LastDay)
def _last_day(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    _one_temporal(rw, node, scope)
    return _cast(_fn("last_day", node.this), T.DATE), T.DATE


# arrays


@_handles(exp.Array)
def _array(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    types = rw.args(node, scope, "expressions")
    element = _common(types, node, "ARRAY elements") if types else T.UNKNOWN
    _coerce_all(node.expressions, types, element)
    if element.is_unknown:
        element = T.VARCHAR
    return exp.Array(expressions=node.expressions), T.array_of(element)


@_handles(exp.Bracket)
def _bracket(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    (array,) = rw.args(node, scope, "this")
    if array.element is None:
        raise _unsupported("subscripts of non-arrays", node)
    (index_node,) = node.expressions
    new, index = rw.expr(index_node, scope)
    if not (index.is_integral or index.is_unknown):
        raise _mismatch("array index must be an integer", node)
    if node.args.get("safe"):
        return _element_at([node.this, new], [array, index], node), array.element
    # A subscript: sqlglot stores it 0-based; Trino fails out of bounds, DuckDB gives NULL.
    if not (isinstance(new, exp.Literal) and new.is_int):
        raise _unsupported("array subscripts that are not literal (use element_at)", node)
    position = int(new.name) + 1
    bounds = exp.Or(
        this=exp.LT(this=_lit(position), expression=_lit(1)),
        expression=exp.GT(this=_lit(position), expression=_fn("len", node.this.copy())),
    )
    return _case(
        (_is_null(node.this), exp.Null()),
        (
            bounds,
            _error(f"INVALID_FUNCTION_ARGUMENT: Array subscript {position} is out of bounds"),
        ),
        default=_fn("list_extract", node.this.copy(), _lit(position)),
    ), array.element


_ANONYMOUS: Final[dict[str, Handler]] = {
    "format_datetime": _format_datetime,
    "to_iso8601": _to_iso8601,
}


def _every(rw: _Rewriter, node: exp.Expr, scope: Scope) -> Typed:
    rename = exp.LogicalAnd(this=node.expressions[0] if node.expressions else None)
    return _HANDLERS[exp.LogicalAnd](rw, rename, scope)


_ANONYMOUS["every"] = _every


# -- entry point ------------------------------------------------------------------------------

_STATEMENTS: Final = (exp.Select, exp.SetOperation, exp.Subquery)


_LABEL: Final = "athena_label"


def _root_select(root: exp.Expr) -> exp.Select | None:
    select = root
    while isinstance(select, (exp.SetOperation, exp.Subquery)):
        select = select.left if isinstance(select, exp.SetOperation) else select.this
    return select if isinstance(select, exp.Select) else None


def _labels(root: exp.Expr) -> None:
    """Note each output column's heading before qualify renames the projections.

    Athena heads a column with its alias or column name as the query spells it, and an
    unnamed expression ``_col<position>``. The note rides in the nodes' meta, which qualify
    keeps; columns a ``*`` expands to carry none and are headed by their name.
    """
    select = _root_select(root)
    if select is None:
        return
    for index, projection in enumerate(list(select.expressions)):
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            continue
        if isinstance(projection, exp.Alias):
            label = projection.alias
        elif isinstance(projection, exp.Column):
            label = projection.name
        else:
            projection = projection.replace(
                exp.alias_(projection.copy(), f"{_UNNAMED}{index}", quoted=True)
            )
            label = _UNNAMED
        for node in (projection, projection.this):
            if isinstance(node, exp.Expr):
                node.meta[_LABEL] = label


def _output_labels(root: exp.Expr) -> list[str]:
    select = _root_select(root)
    assert select is not None
    labels = []
    for position, projection in enumerate(select.expressions):
        label = projection.meta.get(_LABEL)
        if label is None and isinstance(projection.this, exp.Expr):
            label = projection.this.meta.get(_LABEL)
        if label == _UNNAMED:
            labels.append(f"_col{position}")
        else:
            labels.append(str(label or projection.alias_or_name))
    return labels


def _table_names(tree: exp.Expr) -> list[exp.Table]:
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    tables = []
    for table in tree.find_all(exp.Table):
        if not table.db and table.name.lower() in ctes:
            continue
        if not table.name:
            raise _unsupported("table functions", table)
        tables.append(table)
    return tables


def translate(
    sql: str,
    *,
    catalog: str,
    database: str,
    resolve: Callable[[str, str], TableSpec],
    now: dt.datetime,
) -> Translation:
    """Trino SQL -> DuckDB SQL over views named ``"<database>"."<table>"``.

    ``resolve(database, table)`` returns the Glue table or raises CatalogError
    (SCHEMA_NOT_FOUND / TABLE_NOT_FOUND). Raises TranslationError or CatalogError with
    Athena's error name and a message when the query cannot run.
    """
    try:
        statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
    except (ParseError, TokenError) as error:
        raise TranslationError("SYNTAX_ERROR", str(error).splitlines()[0]) from None
    if len(statements) != 1:
        raise TranslationError(
            "SYNTAX_ERROR",
            "Only one sql statement is allowed. Got: " + sql.strip(),
        )
    (tree,) = statements
    if not isinstance(tree, _STATEMENTS):
        kind = tree.key.upper() if tree.key != "command" else str(tree.this).upper()
        raise TranslationError(
            "NOT_SUPPORTED",
            f"the local Athena emulator runs queries only (SELECT, WITH ... SELECT, UNION); "
            f"{kind} statements are not emulated",
        )
    if tree.find(exp.Placeholder) is not None:
        raise _unsupported("execution parameters (?)")

    context_catalog = catalog.lower()
    specs: dict[tuple[str, str], TableSpec] = {}
    for table in _table_names(tree):
        table_catalog = table.catalog.lower()
        if table_catalog and table_catalog not in (context_catalog, "awsdatacatalog"):
            raise TranslationError(
                "CATALOG_NOT_FOUND", f"Catalog '{table.catalog}' does not exist", table
            )
        db = (table.db or database).lower()
        name = table.name.lower()
        table.set("catalog", None)
        if (db, name) not in specs:
            try:
                specs[(db, name)] = resolve(db, name)
            except CatalogError as error:
                raise TranslationError(
                    error.error_name, f"{_position(table)}{error.message}"
                ) from None
    schema: dict[str, object] = {}
    for (db, name), spec in specs.items():
        tables = schema.setdefault(db, {})
        assert isinstance(tables, dict)
        tables[name] = {column.name: column.type.duckdb() for column in spec.all_columns}

    _labels(tree)
    try:
        qualified = qualify(
            tree,
            schema=schema,
            db=database.lower(),
            dialect="athena",
            expand_alias_refs=False,
            quote_identifiers=False,
            identify=False,
        )
    except OptimizeError as error:
        raise _from_optimize_error(error) from None

    rewriter = _Rewriter(specs, now)
    types = rewriter.run(qualified)
    labels = _output_labels(qualified)
    columns = tuple(OutputColumn(label, t) for label, t in zip(labels, types, strict=True))
    for column in columns:
        if column.type.name == "interval year to month":
            raise _unsupported("output of type interval year to month")
    return Translation(
        sql=qualified.sql(dialect="duckdb"),
        columns=columns,
        references=tuple(rewriter.references),
    )


def _from_optimize_error(error: OptimizeError) -> TranslationError:
    text = str(error)
    match = re.match(r"Column '(.+?)' could not be resolved(?:\. Line: (\d+), Col: (\d+))?", text)
    if match:
        where = ""
        if match.group(2):
            # sqlglot reports where the name ends; Athena where it starts.
            start = int(match.group(3)) - len(match.group(1).split(".")[-1]) + 1
            where = f"line {match.group(2)}:{max(start, 1)}: "
        return TranslationError(
            "COLUMN_NOT_FOUND", f"{where}Column '{match.group(1)}' cannot be resolved"
        )
    if "ambiguous" in text.lower():
        return TranslationError("AMBIGUOUS_NAME", text)
    return TranslationError("SYNTAX_ERROR", text)


# The DuckDB macros the rewritten SQL calls (created in every query's connection).
MACROS: Final = (
    # round(n / d) half away from zero, in integers (both HUGEINT); d = 0 fails as in Trino.
    """CREATE TEMP MACRO __trino_round_div(n, d) AS
        CASE WHEN d = 0 THEN error('DIVISION_BY_ZERO: Division by zero')
             WHEN (n < 0) <> (d < 0) THEN -((2 * abs(n) + abs(d)) // (2 * abs(d)))
             ELSE (2 * abs(n) + abs(d)) // (2 * abs(d)) END""",
)
