"""Each order's claim on warehouse stock (domain/demand.py), and open demand as their sum."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from sqlalchemy import Connection, delete, func, select

from stockbridge.domain.demand import DemandKey
from stockbridge.store.schema import order_claims
from stockbridge.store.sql import chunks, in_keys


def stored_claim(connection: Connection, ims_id: str) -> Counter[DemandKey]:
    query = select(order_claims).where(order_claims.c.ims_id == ims_id)
    return Counter({(r.sku, r.warehouse_id): int(r.quantity) for r in connection.execute(query)})


def replace_claim(connection: Connection, ims_id: str, claim: Counter[DemandKey]) -> None:
    connection.execute(delete(order_claims).where(order_claims.c.ims_id == ims_id))
    rows = [
        {"ims_id": ims_id, "sku": sku, "warehouse_id": warehouse, "quantity": units}
        for (sku, warehouse), units in sorted(claim.items())
        if units > 0
    ]
    if rows:
        connection.execute(order_claims.insert(), rows)


def demand_for(connection: Connection, keys: Iterable[DemandKey]) -> dict[DemandKey, int]:
    """Open demand of the (warehouse SKU, warehouse) pairs asked for (absent: none)."""
    demand: dict[DemandKey, int] = {}
    for chunk in chunks(sorted(set(keys))):
        query = (
            select(order_claims.c.sku, order_claims.c.warehouse_id, func.sum(order_claims.c.quantity))
            .where(in_keys((order_claims.c.sku, order_claims.c.warehouse_id), chunk))
            .group_by(order_claims.c.sku, order_claims.c.warehouse_id)
        )
        for sku, warehouse, units in connection.execute(query):
            if units:
                demand[(sku, warehouse)] = int(units)
    return demand
