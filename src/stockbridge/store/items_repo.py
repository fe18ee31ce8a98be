"""The IMS item list as last read: SKU -> internal id and active flag."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from stockbridge.store.schema import ims_items
from stockbridge.store.sql import chunks, insert_for


@dataclass(frozen=True, slots=True)
class ImsItem:
    sku: str
    item_id: str
    is_inactive: bool
    last_modified: str | None = None


def upsert_items(connection: Connection, items: Sequence[ImsItem]) -> None:
    if not items:
        return
    stmt = insert_for(connection, ims_items)
    connection.execute(
        stmt.on_conflict_do_update(
            index_elements=["sku"],
            set_={
                "item_id": stmt.excluded.item_id,
                "is_inactive": stmt.excluded.is_inactive,
                "last_modified": stmt.excluded.last_modified,
            },
        ),
        [
            {
                "sku": i.sku,
                "item_id": i.item_id,
                "is_inactive": i.is_inactive,
                "last_modified": i.last_modified,
            }
            for i in items
        ],
    )


def items_for(connection: Connection, skus: Sequence[str]) -> dict[str, ImsItem]:
    found: dict[str, ImsItem] = {}
    for chunk in chunks(list(skus)):
        for r in connection.execute(select(ims_items).where(ims_items.c.sku.in_(chunk))):
            found[r.sku] = ImsItem(r.sku, r.item_id, bool(r.is_inactive), r.last_modified)
    return found
