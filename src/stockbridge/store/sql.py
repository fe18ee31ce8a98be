"""Small helpers that hide the two dialects' differences from the repositories."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

T = TypeVar("T")

# SQLite's default limit on bound variables is 32,766; PostgreSQL's is 65,535. Stay well under both.
CHUNK = 500


def insert_for(connection: Connection, table: Table) -> Any:
    """An INSERT that understands ON CONFLICT on the connection's backend."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


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
