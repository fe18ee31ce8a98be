"""State of the simulated IMS: an in-memory SQLite database whose tables are SuiteQL's (schema.py).

Items, locations and inventory adjustments live here; kits, ship items and customers in catalog.py,
sales orders and item fulfilments in sales_orders.py (both work through this store's connection).
On-hand quantities change only through inventory adjustments (transactions).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import catalog, suiteql
from .errors import (
    Adjustment,
    as_id,
    invalid_content,
    invalid_field_value,
    invalid_request,
    missing_value,
    parse_adjustment,
)
from .schema import SCHEMA, TABLES

DEFAULT_LOCATIONS: tuple[tuple[str, str], ...] = (("6", "Main Warehouse"),)
FIRST_ITEM_ID = 101
FIRST_TRANSACTION_ID = 1001
DUPLICATE_EXTERNAL_ID = "A record with this external id already exists."

# REST property -> column, for the item fields a client may write.
ITEM_FIELDS = {
    "itemId": "itemid",
    "displayName": "displayname",
    "externalId": "externalid",
    "isInactive": "isinactive",
    "upcCode": "upccode",
}

Row = dict[str, Any]


@dataclass(frozen=True)
class AppliedLine:
    item_id: str  # the item's itemId (SKU)
    location: str
    adjust_by: float
    on_hand: float  # the item's on hand at the location once the adjustment applied


@dataclass(frozen=True)
class AppliedAdjustment:
    """One inventory adjustment as the IMS applied it, and when (`GET /_control/adjustments`)."""

    seq: int
    at: datetime  # the simulator's clock, to the microsecond
    transaction_id: int
    external_id: str | None
    replaced: bool
    lines: tuple[AppliedLine, ...]


def utc_now() -> datetime:
    return datetime.now(UTC)


def number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


class ImsStore:
    """All state, guarded by one lock; every public method is atomic."""

    def __init__(
        self,
        locations: Sequence[tuple[str, str]] = DEFAULT_LOCATIONS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._initial_locations = tuple(locations)
        self._conn = sqlite3.connect(
            ":memory:", check_same_thread=False, isolation_level=None, cached_statements=0
        )
        self._conn.row_factory = sqlite3.Row
        suiteql.register_functions(self._conn)
        self.replaced = 0
        self.applied: list[AppliedAdjustment] = []
        self._next_item = FIRST_ITEM_ID
        self._next_txn = FIRST_TRANSACTION_ID
        self.version = 0  # the hidden, monotonic version stamped on every sales order change
        self.reset()

    # --- plumbing ------------------------------------------------------------------------------
    def stamp(self) -> str:
        now = self._clock()
        return (now.astimezone(UTC) if now.tzinfo else now).strftime("%Y-%m-%d %H:%M:%S")

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        with self._lock:
            row = self._conn.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        with self._lock:
            return [dict(r) for r in self._conn.execute(sql, params).fetchall()]

    def reset(self) -> None:
        with self._lock:
            for table in TABLES:
                self._conn.execute(f"DROP TABLE IF EXISTS {table}")
            self._conn.executescript(SCHEMA)
            self.replaced = 0
            self.applied = []
            self.version = 0
            self._next_item = FIRST_ITEM_ID
            self._next_txn = FIRST_TRANSACTION_ID
            self.upsert_locations([{"id": lid, "name": name} for lid, name in self._initial_locations])
            with self.tx() as conn:
                catalog.seed_defaults(conn)

    def next_transaction_id(self) -> int:
        """Transactions of every type share one id sequence, as in NetSuite."""
        with self._lock:
            txn_id = self._next_txn
            self._next_txn += 1
            return txn_id

    def next_version(self) -> int:
        with self._lock:
            self.version += 1
            return self.version

    @property
    def default_location(self) -> int | None:
        return int(self._initial_locations[0][0]) if self._initial_locations else None

    # --- locations -----------------------------------------------------------------------------
    def upsert_locations(self, specs: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        ids: dict[str, str] = {}
        with self.tx() as conn:
            for spec in specs:
                name = spec.get("name")
                if not isinstance(name, str) or not name:
                    raise ValueError("each location needs a name")
                lid = as_id(spec.get("id")) if spec.get("id") is not None else None
                if lid is None:
                    top = conn.execute("SELECT MAX(id) FROM location").fetchone()[0]
                    lid = (top or 0) + 1
                inactive = "T" if spec.get("isInactive") else "F"
                conn.execute(
                    "INSERT INTO location (id, name, isinactive) VALUES (?, ?, ?) ON CONFLICT (id) "
                    "DO UPDATE SET name = excluded.name, isinactive = excluded.isinactive",
                    (lid, name, inactive),
                )
                conn.execute(
                    "INSERT OR IGNORE INTO inventoryitemlocations (item, location) "
                    "SELECT id, ? FROM item WHERE itemtype = 'InvtPart'",
                    (lid,),
                )
                ids[name] = str(lid)
        return ids

    def location(self, lid: int) -> Row | None:
        return self.one("SELECT * FROM location WHERE id = ?", (lid,))

    # --- items ---------------------------------------------------------------------------------
    def _item_values(self, fields: Mapping[str, Any], creating: bool) -> dict[str, object]:
        values: dict[str, object] = {}
        for prop, column in ITEM_FIELDS.items():
            if prop not in fields:
                continue
            value = fields[prop]
            if prop == "isInactive":
                if not isinstance(value, bool):
                    raise invalid_field_value(value, column, prop)
                values[column] = "T" if value else "F"
            elif value is None and prop != "itemId":
                values[column] = None
            elif not isinstance(value, str) or (prop == "itemId" and not value.strip()):
                raise invalid_field_value(value, column, prop)
            else:
                values[column] = value
        if creating and not values.get("itemid"):
            raise missing_value("Item Name/Number", "itemId")
        return values

    def _write_item(
        self,
        conn: sqlite3.Connection,
        item_id: int | None,
        values: dict[str, object],
        itemtype: str = "InvtPart",
    ) -> int:
        itemid = values.get("itemid")
        if itemid is not None:
            clash = conn.execute(
                "SELECT id FROM item WHERE itemid = ? COLLATE NOCASE AND id IS NOT ?", (itemid, item_id)
            ).fetchone()
            if clash is not None:
                raise invalid_content(
                    "The item name/number you have chosen is already used. Choose a different one.", "itemId"
                )
        eid = values.get("externalid")
        if eid is not None:
            clash = conn.execute(
                "SELECT id FROM item WHERE externalid = ? AND id IS NOT ?", (eid, item_id)
            ).fetchone()
            if clash is not None:
                raise invalid_request(DUPLICATE_EXTERNAL_ID)
        stamp = self.stamp()
        if item_id is None:
            item_id = self._next_item
            self._next_item += 1
            columns = ["id", "itemtype", "createddate", "lastmodifieddate", *values]
            marks = ", ".join("?" for _ in columns)
            conn.execute(
                f"INSERT INTO item ({', '.join(columns)}) VALUES ({marks})",
                (item_id, itemtype, stamp, stamp, *values.values()),
            )
            if itemtype == "InvtPart":  # kits hold no stock of their own
                conn.execute(
                    "INSERT OR IGNORE INTO inventoryitemlocations (item, location) "
                    "SELECT ?, id FROM location",
                    (item_id,),
                )
        else:
            sets = ", ".join(f"{column} = ?" for column in [*values, "lastmodifieddate"])
            conn.execute(f"UPDATE item SET {sets} WHERE id = ?", (*values.values(), stamp, item_id))
        return item_id

    def create_item(self, fields: Mapping[str, Any]) -> int:
        values = self._item_values(fields, creating=True)
        with self.tx() as conn:
            return self._write_item(conn, None, values)

    def update_item(self, item_id: int, fields: Mapping[str, Any]) -> None:
        values = self._item_values(fields, creating=False)
        with self.tx() as conn:
            self._write_item(conn, item_id, values)

    def upsert_item_by_external_id(self, external_id: str, fields: Mapping[str, Any]) -> tuple[int, bool]:
        """Create or update the item with this external id: (id, created)."""
        with self._lock:
            existing = self.find_id("item", f"eid:{external_id}")
            values = self._item_values({**fields, "externalId": external_id}, creating=existing is None)
            with self.tx() as conn:
                return self._write_item(conn, existing, values), existing is None

    def control_items(self, specs: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """Bulk create-or-update by itemId (the control API's seeding call); kits with their members.
        Items are written in order, so a kit may name members created earlier in the same call."""
        ids: dict[str, str] = {}
        with self.tx() as conn:
            for spec in specs:
                itemid = spec.get("itemId")
                if not isinstance(itemid, str) or not itemid:
                    raise invalid_content("Each item needs an itemId.", "items")
                row = conn.execute(
                    "SELECT id, itemtype FROM item WHERE itemid = ? COLLATE NOCASE", (itemid,)
                ).fetchone()
                itemtype = catalog.item_type(spec.get("itemType"), row["itemtype"] if row else None, itemid)
                values = self._item_values(spec, creating=row is None)
                item_id = self._write_item(conn, row["id"] if row else None, values, itemtype)
                if itemtype == "Kit" and (row is None or "members" in spec):
                    catalog.replace_members(conn, item_id, spec.get("members"), itemid)
                elif "members" in spec:
                    raise invalid_content(f"{itemid} is not a kit: only kits have members.", "members")
                ids[itemid] = str(item_id)
        return ids

    def replace_members(self, item_id: int, members: object) -> None:
        with self.tx() as conn:
            row = conn.execute("SELECT itemid, itemtype FROM item WHERE id = ?", (item_id,)).fetchone()
            if row is None or row["itemtype"] != "Kit":
                raise invalid_content("Only kits have members.", "members")
            catalog.replace_members(conn, item_id, members, row["itemid"])
            conn.execute("UPDATE item SET lastmodifieddate = ? WHERE id = ?", (self.stamp(), item_id))

    def item(self, item_id: int) -> Row | None:
        return self.one("SELECT * FROM item WHERE id = ?", (item_id,))

    def item_id_by_itemid(self, itemid: str) -> int | None:
        row = self.one("SELECT id FROM item WHERE itemid = ? COLLATE NOCASE", (itemid,))
        return int(row["id"]) if row else None

    def item_locations(self, item_id: int) -> list[Row]:
        return self.rows(
            "SELECT l.id AS location, l.name AS name, il.quantityonhand, il.quantityavailable, "
            "il.quantitycommitted FROM inventoryitemlocations il JOIN location l ON l.id = il.location "
            "WHERE il.item = ? ORDER BY l.id",
            (item_id,),
        )

    # --- generic lookups -----------------------------------------------------------------------
    def find_id(self, table: str, key: str, kind: str | None = None) -> int | None:
        """Resolve a record key: "123" (internal id) or "eid:ABC" (external id). `kind` narrows
        `item` to an itemtype ('InvtPart', 'Kit') and `transaction` to a type ('SalesOrd', ...)."""
        quoted = '"transaction"' if table == "transaction" else table
        narrow, extra = "", []
        if kind is not None:
            narrow = f" AND {'itemtype' if table == 'item' else 'type'} = ?"
            extra = [kind]
        if key.startswith("eid:"):
            row = self.one(f"SELECT id FROM {quoted} WHERE externalid = ?{narrow}", (key[4:], *extra))
        else:
            iid = as_id(key)
            found = iid is not None
            row = self.one(f"SELECT id FROM {quoted} WHERE id = ?{narrow}", (iid, *extra)) if found else None
        return int(row["id"]) if row else None

    def list_ids(
        self, table: str, where: str, params: Sequence[object], limit: int, offset: int
    ) -> tuple[list[int], int]:
        clause = f" WHERE {where}" if where else ""
        with self._lock:
            total = int(self._conn.execute(f"SELECT COUNT(*) FROM {table}{clause}", params).fetchone()[0])
            rows = self._conn.execute(
                f"SELECT id FROM {table}{clause} ORDER BY id LIMIT ? OFFSET ?", (*params, limit, offset)
            ).fetchall()
        return [int(r["id"]) for r in rows], total

    def suiteql(self, q: str, limit: int, offset: int) -> suiteql.Page:
        with self._lock:
            return suiteql.execute(self._conn, q, limit, offset)

    # --- inventory adjustments -----------------------------------------------------------------
    def post_adjustment(
        self, body: Mapping[str, Any], max_lines: int, external_id: str | None, *, upsert: bool
    ) -> tuple[int, bool]:
        """Validate `body` against the current state and save it, atomically. (id, replaced)"""
        with self._lock:
            return self.save_adjustment(parse_adjustment(self, body, max_lines), external_id, upsert=upsert)

    def save_adjustment(self, adj: Adjustment, external_id: str | None, *, upsert: bool) -> tuple[int, bool]:
        """Post `adj`; with `upsert`, an existing adjustment with this external id is replaced
        (its lines' effect reverted, the new lines applied). Returns (id, replaced)."""
        with self.tx() as conn:
            existing = None
            if external_id is not None:
                row = conn.execute(
                    "SELECT id FROM \"transaction\" WHERE externalid = ? AND type = 'InvAdjst'",
                    (external_id,),
                ).fetchone()
                existing = int(row["id"]) if row else None
            if existing is not None and not upsert:
                raise invalid_request(DUPLICATE_EXTERNAL_ID)
            stamp = self.stamp()
            tran_date = adj.tran_date or stamp[:10]
            if existing is not None:
                self._apply_lines(conn, existing, sign=-1.0)
                conn.execute('DELETE FROM transactionline WHERE "transaction" = ?', (existing,))
                conn.execute(
                    'UPDATE "transaction" SET trandate = ?, memo = ?, account = ?, adjlocation = ?, '
                    "lastmodifieddate = ? WHERE id = ?",
                    (tran_date, adj.memo, adj.account, adj.adj_location, stamp, existing),
                )
                txn_id = existing
                self.replaced += 1
            else:
                txn_id = self.next_transaction_id()
                conn.execute(
                    'INSERT INTO "transaction" (id, tranid, type, recordtype, externalid, trandate, memo, '
                    "account, adjlocation, createddate, lastmodifieddate) VALUES "
                    "(?, ?, 'InvAdjst', 'inventoryadjustment', ?, ?, ?, ?, ?, ?, ?)",
                    (
                        txn_id,
                        f"ADJ{txn_id}",
                        external_id,
                        tran_date,
                        adj.memo,
                        adj.account,
                        adj.adj_location,
                        stamp,
                        stamp,
                    ),
                )
            conn.executemany(
                'INSERT INTO transactionline ("transaction", id, linesequencenumber, item, location, '
                "quantity, memo) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (txn_id, n, n, ln.item, ln.location, ln.quantity, ln.memo)
                    for n, ln in enumerate(adj.lines, start=1)
                ],
            )
            self._apply_lines(conn, txn_id, sign=1.0)
            self._record_applied(conn, txn_id, external_id, replaced=existing is not None)
        return txn_id, existing is not None

    def _record_applied(
        self, conn: sqlite3.Connection, txn_id: int, external_id: str | None, *, replaced: bool
    ) -> None:
        """Keep when the adjustment applied and each line's resulting on hand (benchmarks measure
        movement-to-IMS latency from it; the SuiteQL dates are to the second)."""
        rows = conn.execute(
            "SELECT i.itemid, tl.location, tl.quantity, il.quantityonhand FROM transactionline tl "
            "JOIN item i ON i.id = tl.item JOIN inventoryitemlocations il "
            'ON il.item = tl.item AND il.location = tl.location WHERE tl."transaction" = ? ORDER BY tl.id',
            (txn_id,),
        ).fetchall()
        lines = tuple(AppliedLine(str(r[0]), str(r[1]), float(r[2]), float(r[3])) for r in rows)
        now = self._clock()
        at = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
        self.applied.append(
            AppliedAdjustment(len(self.applied) + 1, at, txn_id, external_id, replaced, lines)
        )

    @staticmethod
    def _apply_lines(conn: sqlite3.Connection, txn_id: int, sign: float) -> None:
        conn.execute(
            "INSERT INTO inventoryitemlocations (item, location, quantityonhand, quantityavailable) "
            "SELECT item, location, SUM(quantity) * ?, SUM(quantity) * ? FROM transactionline "
            'WHERE "transaction" = ? GROUP BY item, location ON CONFLICT (item, location) DO UPDATE SET '
            "quantityonhand = quantityonhand + excluded.quantityonhand, "
            "quantityavailable = quantityonhand + excluded.quantityonhand - quantitycommitted",
            (sign, sign, txn_id),
        )

    def adjustment(self, txn_id: int) -> tuple[Row, list[Row]] | None:
        head = self.one('SELECT * FROM "transaction" WHERE id = ?', (txn_id,))
        if head is None:
            return None
        lines = self.rows(
            "SELECT tl.*, i.itemid AS itemname, l.name AS locationname FROM transactionline tl "
            "JOIN item i ON i.id = tl.item JOIN location l ON l.id = tl.location "
            'WHERE tl."transaction" = ? ORDER BY tl.id',
            (txn_id,),
        )
        return head, lines
