"""Both systems' item lists as last read: IMS items (with kits and their members) and Clarus items."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select

from stockbridge.domain.bundles import KitMember
from stockbridge.store.schema import ims_items, kit_members, wms_items
from stockbridge.store.sql import chunks, insert_for


@dataclass(frozen=True, slots=True)
class ImsItem:
    sku: str
    item_id: str
    is_inactive: bool
    last_modified: str | None = None
    item_type: str = "InvtPart"  # InvtPart | Kit


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
                "item_type": stmt.excluded.item_type,
            },
        ),
        [
            {
                "sku": i.sku,
                "item_id": i.item_id,
                "is_inactive": i.is_inactive,
                "last_modified": i.last_modified,
                "item_type": i.item_type,
            }
            for i in items
        ],
    )


def items_for(connection: Connection, skus: Sequence[str]) -> dict[str, ImsItem]:
    """IMS items by warehouse SKU: the same SKU, or the IMS SKU the product sync created it from
    (a warehouse SKU normalised from `odd.sku-7` is `ODDSKU-7`)."""
    found: dict[str, ImsItem] = {}
    for chunk in chunks(list(skus)):
        for r in connection.execute(select(ims_items).where(ims_items.c.sku.in_(chunk))):
            found[r.sku] = _item(r)
    missing = [sku for sku in skus if sku not in found]
    for chunk in chunks(missing):
        query = (
            select(wms_items.c.sku.label("wms_sku"), ims_items)
            .join(ims_items, ims_items.c.sku == wms_items.c.source_sku)
            .where(wms_items.c.sku.in_(chunk))
        )
        for r in connection.execute(query):
            found[r.wms_sku] = _item(r)
    return found


def _item(r: Any) -> ImsItem:
    return ImsItem(r.sku, r.item_id, bool(r.is_inactive), r.last_modified, r.item_type)


def all_items(connection: Connection) -> list[ImsItem]:
    return [_item(r) for r in connection.execute(select(ims_items).order_by(ims_items.c.sku))]


def replace_kits(connection: Connection, kits: Mapping[str, Sequence[KitMember]]) -> None:
    connection.execute(delete(kit_members))
    rows = [
        {"kit_sku": kit, "position": position, "member_sku": m.sku, "quantity": m.quantity}
        for kit, members in kits.items()
        for position, m in enumerate(members)
    ]
    if rows:
        connection.execute(kit_members.insert(), rows)


def load_kits(connection: Connection) -> dict[str, list[KitMember]]:
    kits: dict[str, list[KitMember]] = defaultdict(list)
    query = select(kit_members).order_by(kit_members.c.kit_sku, kit_members.c.position)
    for r in connection.execute(query):
        kits[r.kit_sku].append(KitMember(r.member_sku, int(r.quantity)))
    return dict(kits)


def wms_catalog(connection: Connection) -> dict[str, bool]:
    """Clarus items: SKU → active."""
    return {r.sku: bool(r.active) for r in connection.execute(select(wms_items))}


def record_wms_items(
    connection: Connection, items: Mapping[str, tuple[bool, str | None]], now: datetime
) -> None:
    """Record Clarus items as read or written: SKU → (active, IMS SKU it came from)."""
    if not items:
        return
    stmt = insert_for(connection, wms_items)
    connection.execute(
        stmt.on_conflict_do_update(
            index_elements=["sku"],
            set_={
                "active": stmt.excluded.active,
                "source_sku": func.coalesce(stmt.excluded.source_sku, wms_items.c.source_sku),
                "updated_at": stmt.excluded.updated_at,
            },
        ),
        [
            {"sku": sku, "active": active, "source_sku": source, "updated_at": now}
            for sku, (active, source) in items.items()
        ],
    )
