"""Kit members, ship items and customers: the parts of the item and entity catalogue that sales
orders refer to. Functions work on the store's connection inside its transaction."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import invalid_content

DEFAULT_SHIP_ITEMS = ("UPS Ground", "UPS Next Day Air", "FedEx International", "Royal Mail Tracked 24")
DEFAULT_CUSTOMER = (501, "Web Customer")
ITEM_TYPES = {"InvtPart": "InvtPart", "inventoryItem": "InvtPart", "Kit": "Kit", "kitItem": "Kit"}
RECORD_OF_TYPE = {"InvtPart": "inventoryItem", "Kit": "kitItem"}

Row = dict[str, Any]


def seed_defaults(conn: sqlite3.Connection) -> None:
    conn.executemany(
        "INSERT INTO shipitem (id, itemid) VALUES (?, ?)",
        [(n, name) for n, name in enumerate(DEFAULT_SHIP_ITEMS, start=1)],
    )
    conn.execute("INSERT INTO customer (id, entityid) VALUES (?, ?)", DEFAULT_CUSTOMER)


# --- kits ----------------------------------------------------------------------------------------
def item_type(requested: object, existing: str | None, itemid: str) -> str:
    """The stored itemtype for a control-API item spec; an item's type never changes."""
    if requested is None:
        return existing or "InvtPart"
    if not isinstance(requested, str) or requested not in ITEM_TYPES:
        raise invalid_content(f"Unknown itemType {requested!r} (use 'InvtPart' or 'Kit').", "itemType")
    kind = ITEM_TYPES[requested]
    if existing is not None and existing != kind:
        raise invalid_content(f"The item type of {itemid} cannot change ({existing} -> {kind}).", "itemType")
    return kind


def _member_ids(conn: sqlite3.Connection, kit_id: int) -> list[int]:
    rows = conn.execute("SELECT item FROM kititemmember WHERE parentitem = ?", (kit_id,)).fetchall()
    return [int(r["item"]) for r in rows]


def _contains(conn: sqlite3.Connection, start: int, target: int) -> bool:
    """Whether kit `start` contains `target`, directly or through nested kits."""
    seen: set[int] = set()
    todo = [start]
    while todo:
        current = todo.pop()
        if current == target:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(_member_ids(conn, current))
    return False


def replace_members(conn: sqlite3.Connection, kit_id: int, members: object, itemid: str) -> None:
    """Set a kit's members from `[{"itemId", "quantity"}]`; members may be kits, but not cyclic."""
    if not isinstance(members, list) or not members:
        raise invalid_content(f"Kit {itemid} needs members: [{{'itemId', 'quantity'}}, ...].", "members")
    rows: list[tuple[int, int, float, int]] = []
    for n, member in enumerate(members):
        path = f"members[{n}]"
        if not isinstance(member, dict):
            raise invalid_content("Each member must be an object.", path)
        name = member.get("itemId")
        found = conn.execute(
            "SELECT id, itemtype FROM item WHERE itemid = ? COLLATE NOCASE", (str(name),)
        ).fetchone()
        if found is None:
            raise invalid_content(f"Kit {itemid}: unknown member itemId {name!r}.", f"{path}.itemId")
        qty = member.get("quantity", 1)
        if isinstance(qty, bool) or not isinstance(qty, int | float) or not math.isfinite(qty) or qty <= 0:
            raise invalid_content(f"Kit {itemid}: member quantity must be > 0.", f"{path}.quantity")
        member_id = int(found["id"])
        if member_id == kit_id or (found["itemtype"] == "Kit" and _contains(conn, member_id, kit_id)):
            raise invalid_content(f"Kit {itemid} cannot contain itself (member {name}).", f"{path}.itemId")
        rows.append((kit_id, member_id, float(qty), n + 1))
    conn.execute("DELETE FROM kititemmember WHERE parentitem = ?", (kit_id,))
    conn.executemany(
        "INSERT INTO kititemmember (parentitem, item, quantity, linenumber) VALUES (?, ?, ?, ?)", rows
    )


def members(conn: sqlite3.Connection, kit_id: int) -> list[Row]:
    rows = conn.execute(
        "SELECT km.item, km.quantity, km.linenumber, i.itemid, i.itemtype FROM kititemmember km "
        "JOIN item i ON i.id = km.item WHERE km.parentitem = ? ORDER BY km.linenumber",
        (kit_id,),
    ).fetchall()
    return [dict(r) for r in rows]


# --- ship items ----------------------------------------------------------------------------------
def upsert_ship_items(conn: sqlite3.Connection, specs: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Create or update ship items by their display text (`itemId`)."""
    ids: dict[str, str] = {}
    for n, spec in enumerate(specs):
        name = spec.get("itemId") if isinstance(spec, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise invalid_content("Each ship item needs an itemId (its display text).", f"items[{n}].itemId")
        inactive = spec.get("isInactive", False)
        if not isinstance(inactive, bool):
            raise invalid_content("isInactive must be a boolean.", f"items[{n}].isInactive")
        flag = "T" if inactive else "F"
        row = conn.execute("SELECT id FROM shipitem WHERE itemid = ? COLLATE NOCASE", (name,)).fetchone()
        if row is None:
            top = conn.execute("SELECT MAX(id) FROM shipitem").fetchone()[0]
            sid = (top or 0) + 1
            conn.execute("INSERT INTO shipitem (id, itemid, isinactive) VALUES (?, ?, ?)", (sid, name, flag))
        else:
            sid = int(row["id"])
            conn.execute("UPDATE shipitem SET itemid = ?, isinactive = ? WHERE id = ?", (name, flag, sid))
        ids[name] = str(sid)
    return ids


def ship_item_by_name(conn: sqlite3.Connection, name: str) -> int | None:
    row = conn.execute("SELECT id FROM shipitem WHERE itemid = ? COLLATE NOCASE", (name,)).fetchone()
    return int(row["id"]) if row else None


# --- customers -----------------------------------------------------------------------------------
def customer_by_name(conn: sqlite3.Connection, name: str, *, create: bool) -> int:
    """The customer called `name`; created (next id) when missing and `create` is set."""
    row = conn.execute("SELECT id FROM customer WHERE entityid = ? COLLATE NOCASE", (name,)).fetchone()
    if row is not None:
        return int(row["id"])
    if not create:
        raise invalid_content(f"Unknown customer {name!r}.", "customer")
    cid = int(conn.execute("SELECT MAX(id) FROM customer").fetchone()[0] or DEFAULT_CUSTOMER[0] - 1) + 1
    conn.execute("INSERT INTO customer (id, entityid) VALUES (?, ?)", (cid, name))
    return cid
