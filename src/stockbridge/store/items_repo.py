"""Both systems' item lists as last read: IMS items (with kits and their members) and Clarus items."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update

from stockbridge.domain.bundles import KitMember
from stockbridge.store.schema import ims_items, kit_members, product_sync_items, wms_items
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


# --- the product master sync's working list (docs/decisions/0044) ---------------------------------


@dataclass(frozen=True, slots=True)
class SyncItem:
    """A physical IMS item in one product sync run: the warehouse SKU it becomes, and why the
    warehouse would refuse that SKU (None: it would not)."""

    ims_sku: str
    wms_sku: str
    active: bool
    problem: str | None = None


def add_sync_items(connection: Connection, run: str, items: Sequence[SyncItem], now: datetime) -> None:
    """Add a page of the run's IMS items (a page read again, after a failed read, replaces itself)."""
    if not items:
        return
    stmt = insert_for(connection, product_sync_items)
    connection.execute(
        stmt.on_conflict_do_update(
            index_elements=["run", "ims_sku"],
            set_={
                "wms_sku": stmt.excluded.wms_sku,
                "active": stmt.excluded.active,
                "problem": stmt.excluded.problem,
            },
        ),
        [
            {
                "run": run,
                "ims_sku": i.ims_sku,
                "wms_sku": i.wms_sku,
                "active": i.active,
                "problem": i.problem,
                "collided": False,
                "created_at": now,
            }
            for i in items
        ],
    )


def mark_collisions(connection: Connection, run: str) -> int:
    """Mark the run's items whose warehouse SKU another of its IMS SKUs becomes too; returns how many."""
    p = product_sync_items.c
    shared = (
        select(p.wms_sku).where(p.run == run).group_by(p.wms_sku).having(func.count() > 1).scalar_subquery()
    )
    result = connection.execute(
        update(product_sync_items).where(p.run == run, p.wms_sku.in_(shared)).values(collided=True)
    )
    return int(result.rowcount)


def collisions_after(connection: Connection, run: str, after: str | None, limit: int) -> dict[str, list[str]]:
    """The next `limit` collided warehouse SKUs after `after` (in order), each with its IMS SKUs."""
    p = product_sync_items.c
    wanted = select(p.wms_sku).where(p.run == run, p.collided).distinct().order_by(p.wms_sku)
    if after is not None:
        wanted = wanted.where(p.wms_sku > after)
    keys = list(connection.execute(wanted.limit(limit)).scalars())
    found: dict[str, list[str]] = {key: [] for key in keys}
    if keys:
        query = (
            select(p.wms_sku, p.ims_sku)
            .where(p.run == run, p.wms_sku.in_(keys))
            .order_by(p.wms_sku, p.ims_sku)
        )
        for r in connection.execute(query):
            found[r.wms_sku].append(r.ims_sku)
    return found


def invalid_after(connection: Connection, run: str, after: str | None, limit: int) -> list[SyncItem]:
    """The next `limit` items (by IMS SKU after `after`) the warehouse would refuse, collisions aside."""
    p = product_sync_items.c
    query = select(product_sync_items).where(p.run == run, p.problem.is_not(None), ~p.collided)
    if after is not None:
        query = query.where(p.ims_sku > after)
    rows = connection.execute(query.order_by(p.ims_sku).limit(limit))
    return [SyncItem(r.ims_sku, r.wms_sku, bool(r.active), r.problem) for r in rows]


def puts_after(
    connection: Connection, run: str, seen_since: datetime, after: str | None, limit: int
) -> list[SyncItem]:
    """The next `limit` items (by warehouse SKU after `after`) the warehouse must be told of: an
    active item it does not hold, or one it holds active otherwise. It holds what the run read from
    it (`wms_items` stamped at or after `seen_since`) and what the run has written since."""
    p, w = product_sync_items.c, wms_items.c
    held = and_(w.sku == p.wms_sku, w.updated_at >= seen_since)
    query = (
        select(p.ims_sku, p.wms_sku, p.active)
        .select_from(product_sync_items.outerjoin(wms_items, held))
        .where(
            p.run == run,
            p.problem.is_(None),
            ~p.collided,
            or_(and_(w.sku.is_(None), p.active), and_(w.sku.is_not(None), w.active != p.active)),
        )
    )
    if after is not None:
        query = query.where(p.wms_sku > after)
    rows = connection.execute(query.order_by(p.wms_sku).limit(limit))
    return [SyncItem(r.ims_sku, r.wms_sku, bool(r.active)) for r in rows]


def sync_items_count(connection: Connection, run: str | None = None) -> int:
    query = select(func.count()).select_from(product_sync_items)
    if run is not None:
        query = query.where(product_sync_items.c.run == run)
    return int(connection.execute(query).scalar_one())


def clear_sync_items(connection: Connection, run: str | None = None, before: datetime | None = None) -> None:
    """Delete one run's working list, or every run's begun before `before` (a crashed run's)."""
    p = product_sync_items.c
    if run is not None:
        connection.execute(delete(product_sync_items).where(p.run == run))
    if before is not None:
        connection.execute(delete(product_sync_items).where(p.created_at < before))
