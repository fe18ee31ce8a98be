"""Sales kept for the velocity window, and each SKU's velocity class (domain/velocity.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select

from stockbridge.domain.velocity import Sale
from stockbridge.store.schema import sales, velocity_classes
from stockbridge.store.sql import as_utc, chunks, insert_for


@dataclass(frozen=True, slots=True)
class StoredClass:
    sku: str
    velocity_class: str | None
    units_sold: int
    classified_at: datetime


def record_sales(connection: Connection, found: Sequence[tuple[Sale, datetime]]) -> None:
    """Keep each sale with when it happened; one folded twice (same event id) counts once."""
    rows = [
        {
            "event_id": s.event_id,
            "sku": s.sku,
            "warehouse_id": s.warehouse_id,
            "quantity": s.quantity,
            "occurred_at": at,
        }
        for s, at in found
    ]
    if rows:
        connection.execute(insert_for(connection, sales).on_conflict_do_nothing(), rows)


def units_sold_since(connection: Connection, since: datetime) -> Counter[str]:
    """Units sold per SKU (every warehouse) from `since` on."""
    query = (
        select(sales.c.sku, func.sum(sales.c.quantity))
        .where(sales.c.occurred_at >= since)
        .group_by(sales.c.sku)
    )
    return Counter({sku: int(units) for sku, units in connection.execute(query)})


def prune_sales(connection: Connection, before: datetime) -> int:
    return int(connection.execute(delete(sales).where(sales.c.occurred_at < before)).rowcount)


def stored_classes(connection: Connection) -> dict[str, StoredClass]:
    return {r.sku: _stored(r) for r in connection.execute(select(velocity_classes))}


def stored_class(connection: Connection, sku: str) -> StoredClass | None:
    row = connection.execute(select(velocity_classes).where(velocity_classes.c.sku == sku)).first()
    return None if row is None else _stored(row)


def classes_for(connection: Connection, skus: Iterable[str]) -> dict[str, str]:
    """SKU -> velocity class, for the SKUs asked that have one."""
    found: dict[str, str] = {}
    for chunk in chunks(sorted(set(skus))):
        query = select(velocity_classes.c.sku, velocity_classes.c.velocity_class).where(
            velocity_classes.c.sku.in_(list(chunk)), velocity_classes.c.velocity_class.is_not(None)
        )
        found.update({sku: name for sku, name in connection.execute(query)})
    return found


def save_classes(
    connection: Connection, classified: Mapping[str, tuple[str | None, int]], now: datetime
) -> None:
    """Write each SKU's (class, units sold in the window) as of `now`."""
    rows = [
        {"sku": sku, "velocity_class": name, "units_sold": units, "classified_at": now}
        for sku, (name, units) in sorted(classified.items())
    ]
    if not rows:
        return
    stmt = insert_for(connection, velocity_classes)
    connection.execute(
        stmt.on_conflict_do_update(
            index_elements=["sku"],
            set_={
                "velocity_class": stmt.excluded.velocity_class,
                "units_sold": stmt.excluded.units_sold,
                "classified_at": stmt.excluded.classified_at,
            },
        ),
        rows,
    )


def class_counts(connection: Connection) -> Counter[str | None]:
    query = select(velocity_classes.c.velocity_class, func.count()).group_by(
        velocity_classes.c.velocity_class
    )
    return Counter({name: int(n) for name, n in connection.execute(query)})


def _stored(r: Any) -> StoredClass:
    at = as_utc(r.classified_at)
    assert at is not None
    return StoredClass(r.sku, r.velocity_class, int(r.units_sold), at)
