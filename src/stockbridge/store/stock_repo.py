"""Observed warehouse stock per (SKU, warehouse, status), folded by version."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, select, tuple_

from stockbridge.domain.stock import StockBalance
from stockbridge.store.schema import observed_stock
from stockbridge.store.sql import as_utc, chunks, insert_for


def fold_observed(connection: Connection, balances: Sequence[StockBalance]) -> None:
    """Upsert balances; a row only moves forward (strictly newer version wins)."""
    newest: dict[tuple[str, str, str], StockBalance] = {}
    for b in balances:
        key = (b.sku, b.warehouse_id, b.status)
        current = newest.get(key)
        if current is None or b.version > current.version:
            newest[key] = b
    rows = [
        {
            "sku": b.sku,
            "warehouse_id": b.warehouse_id,
            "status": b.status,
            "quantity": b.quantity,
            "version": b.version,
            "occurred_at": b.occurred_at,
        }
        for b in newest.values()
    ]
    if not rows:
        return
    # executemany of one statement: compiled once, where a multi-row VALUES is compiled every time.
    stmt = insert_for(connection, observed_stock)
    connection.execute(
        stmt.on_conflict_do_update(
            index_elements=["sku", "warehouse_id", "status"],
            set_={
                "quantity": stmt.excluded.quantity,
                "version": stmt.excluded.version,
                "occurred_at": stmt.excluded.occurred_at,
            },
            where=observed_stock.c.version < stmt.excluded.version,
        ),
        rows,
    )


def observed_for(
    connection: Connection, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[StockBalance]]:
    """All status balances for each (sku, warehouse) pair."""
    result: dict[tuple[str, str], list[StockBalance]] = defaultdict(list)
    wanted = list(pairs)
    for chunk in chunks(wanted):
        query = select(observed_stock).where(
            tuple_(observed_stock.c.sku, observed_stock.c.warehouse_id).in_(list(chunk))
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
