"""Observed warehouse stock per (SKU, warehouse, status), folded by version."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, select

from stockbridge.domain.stock import StockBalance
from stockbridge.store.schema import observed_stock
from stockbridge.store.sql import RowsStatement, as_utc, chunks, in_keys, time_binder

_ON_CONFLICT = f"""
    ON CONFLICT (sku, warehouse_id, status) DO UPDATE
    SET quantity = excluded.quantity, version = excluded.version, occurred_at = excluded.occurred_at
    WHERE {observed_stock.name}.version < excluded.version
"""
_FOLD = RowsStatement(
    sqlite=f"""
    INSERT INTO {observed_stock.name} (sku, warehouse_id, status, quantity, version, occurred_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6) {_ON_CONFLICT}
    """,
    postgresql=f"""
    INSERT INTO {observed_stock.name} (sku, warehouse_id, status, quantity, version, occurred_at)
    SELECT * FROM unnest(CAST(:c1 AS text[]), CAST(:c2 AS text[]), CAST(:c3 AS text[]),
        CAST(:c4 AS bigint[]), CAST(:c5 AS bigint[]), CAST(:c6 AS timestamptz[])) {_ON_CONFLICT}
    """,
)


def fold_observed(connection: Connection, balances: Sequence[StockBalance]) -> None:
    """Upsert balances; a row only moves forward (strictly newer version wins)."""
    newest: dict[tuple[str, str, str], StockBalance] = {}
    for b in balances:
        key = (b.sku, b.warehouse_id, b.status)
        current = newest.get(key)
        if current is None or b.version > current.version:
            newest[key] = b
    stamp = time_binder(connection, observed_stock.c.occurred_at)
    rows = [
        (b.sku, b.warehouse_id, b.status, b.quantity, b.version, stamp(b.occurred_at))
        for b in newest.values()
    ]
    _FOLD.run(connection, rows)


def observed_for(
    connection: Connection, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[StockBalance]]:
    """All status balances for each (sku, warehouse) pair."""
    result: dict[tuple[str, str], list[StockBalance]] = defaultdict(list)
    wanted = list(pairs)
    for chunk in chunks(wanted):
        query = select(observed_stock).where(
            in_keys((observed_stock.c.sku, observed_stock.c.warehouse_id), chunk)
        )
        for r in connection.execute(query):
            result[(r.sku, r.warehouse_id)].append(
                StockBalance(
                    r.sku, r.warehouse_id, r.status, int(r.quantity), int(r.version), as_utc(r.occurred_at)
                )
            )
    return result


def observed_stock_by_warehouse(connection: Connection, warehouse_id: str) -> dict[str, dict[str, int]]:
    stock: dict[str, dict[str, int]] = defaultdict(dict)
    query = select(observed_stock).where(observed_stock.c.warehouse_id == warehouse_id)
    for r in connection.execute(query):
        stock[r.sku][r.status] = int(r.quantity)
    return stock
