"""Small helpers that hide the two dialects' differences from the repositories."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Boolean, Column, ColumnElement, Connection, String, Table, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

T = TypeVar("T")

# SQLite's default limit on bound variables is 32,766; PostgreSQL's is 65,535. Stay well under both.
CHUNK = 500


def insert_for(connection: Connection, table: Table) -> Any:
    """An INSERT that understands ON CONFLICT on the connection's backend."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


@dataclass(frozen=True, slots=True)
class RowsStatement:
    """One statement run for many rows without SQLAlchemy's per-row parameter processing, which costs
    more than the database's own work when a fold writes thousands of rows (decision 0041).

    `sqlite` is run by sqlite3's own executemany, one plain tuple a row (`?1`, `?2`... in the row's
    order; times bound by `time_binder`). `postgresql` is run once, each column of the rows bound as
    one array (`:c1`, `:c2`..., to `unnest`): one round trip and one plan, whatever the rows."""

    sqlite: str
    postgresql: str

    def run(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> int:
        """Run for `rows`; returns the rows the database reports changed."""
        if not rows:
            return 0
        if connection.dialect.name == "postgresql":
            columns = {f"c{i}": list(values) for i, values in enumerate(zip(*rows, strict=True), 1)}
            return int(connection.execute(text(self.postgresql), columns).rowcount)
        return int(connection.exec_driver_sql(self.sqlite, [tuple(row) for row in rows]).rowcount)


def time_binder(connection: Connection, column: Column[Any]) -> Callable[[datetime | None], Any]:
    """How a time is bound to `column` outside SQLAlchemy's statements (`RowsStatement`): as the
    column's own type would store it (SQLite keeps text), so both write the same thing."""
    dialect = connection.dialect
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return lambda value: value
    return lambda value: None if value is None else process(value)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything the hub stores is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def utc(value: datetime) -> datetime:
    result = as_utc(value)
    assert result is not None
    return result


def distinct(items: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(items))


class _InKeys(ColumnElement[bool]):
    """`(columns) IN (keys)` with the keys bound as one JSON array and unpacked by the database."""

    __visit_name__ = "in_keys"
    inherit_cache = True
    _traverse_internals = [
        ("columns", InternalTraversal.dp_clauseelement_tuple),
        ("keys", InternalTraversal.dp_clauseelement),
    ]
    type = Boolean()
    _is_implicitly_boolean = True  # a predicate as it is: no "= 1" where booleans are integers

    def __init__(self, columns: Sequence[ColumnElement[Any]], keys: Iterable[Sequence[str]]) -> None:
        self.columns = tuple(columns)
        self.keys = bindparam(None, json.dumps([list(k) for k in keys]), type_=String, unique=True)


def in_keys(columns: Sequence[ColumnElement[Any]], keys: Iterable[Sequence[str]]) -> ColumnElement[bool]:
    """Rows whose `columns` (text) equal one of `keys`, found through the table's index.

    The plain `tuple_(...).in_(list)` is a list of row values that neither SQLite nor PostgreSQL
    looks up by index: each statement scans the whole table (a million targets read for every 500
    keys a fold locks). Here the keys are one JSON array, expanded by the database into a set it
    joins by index, so a statement costs its keys whatever the table's size, binds one parameter
    however many keys there are (no per-key binding in Python), and compiles once."""
    return _InKeys(columns, keys)


def _key_columns(element: _InKeys, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    columns = ", ".join(compiler.process(c, **kw) for c in element.columns)
    return columns, compiler.process(element.keys, **kw)


@compiles(_InKeys)
def _in_keys_sqlite(element: _InKeys, compiler: SQLCompiler, **kw: Any) -> str:
    columns, keys = _key_columns(element, compiler, **kw)
    items = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(element.columns)))
    return f"({columns}) IN (SELECT {items} FROM json_each({keys}))"


@compiles(_InKeys, "postgresql")
def _in_keys_postgresql(element: _InKeys, compiler: SQLCompiler, **kw: Any) -> str:
    columns, keys = _key_columns(element, compiler, **kw)
    items = ", ".join(f"value ->> {i}" for i in range(len(element.columns)))
    return f"({columns}) IN (SELECT {items} FROM jsonb_array_elements(CAST({keys} AS JSONB)))"
