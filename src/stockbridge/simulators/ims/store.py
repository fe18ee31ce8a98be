"""State of the simulated IMS: an in-memory SQLite database whose tables are SuiteQL's.

Tables (SuiteQL names): item, location, inventoryitemlocations, transaction, transactionline.
Booleans are stored as 'T'/'F', timestamps as 'YYYY-MM-DD HH:MM:SS' (UTC), dates as 'YYYY-MM-DD'.
On-hand quantities change only through inventory adjustments (transactions).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from . import suiteql
from .errors import (
    Adjustment,
    as_id,
    invalid_content,
    invalid_field_value,
    invalid_request,
    missing_value,
    parse_adjustment,
)

DEFAULT_LOCATIONS: tuple[tuple[str, str], ...] = (("6", "Main Warehouse"),)
FIRST_ITEM_ID = 101
FIRST_TRANSACTION_ID = 1001
DUPLICATE_EXTERNAL_ID = "A record with this external id already exists."

_SCHEMA = """
CREATE TABLE item (
  id INTEGER PRIMARY KEY, itemid TEXT NOT NULL, displayname TEXT, externalid TEXT UNIQUE,
  isinactive TEXT NOT NULL DEFAULT 'F', itemtype TEXT NOT NULL DEFAULT 'InvtPart', upccode TEXT,
  createddate TEXT NOT NULL, lastmodifieddate TEXT NOT NULL);
CREATE UNIQUE INDEX item_itemid ON item (itemid COLLATE NOCASE);
CREATE TABLE location (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, isinactive TEXT NOT NULL DEFAULT 'F', externalid TEXT UNIQUE);
CREATE TABLE inventoryitemlocations (
  item INTEGER NOT NULL, location INTEGER NOT NULL, quantityonhand REAL NOT NULL DEFAULT 0,
  quantityavailable REAL NOT NULL DEFAULT 0, quantitycommitted REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (item, location));
CREATE TABLE "transaction" (
  id INTEGER PRIMARY KEY, tranid TEXT NOT NULL, type TEXT NOT NULL, recordtype TEXT NOT NULL,
  externalid TEXT UNIQUE, trandate TEXT NOT NULL, memo TEXT, account INTEGER, adjlocation INTEGER,
  createddate TEXT NOT NULL, lastmodifieddate TEXT NOT NULL);
CREATE TABLE transactionline (
  uniquekey INTEGER PRIMARY KEY, "transaction" INTEGER NOT NULL, id INTEGER NOT NULL,
  linesequencenumber INTEGER NOT NULL, mainline TEXT NOT NULL DEFAULT 'F', item INTEGER NOT NULL,
  location INTEGER NOT NULL, quantity REAL NOT NULL, memo TEXT);
CREATE INDEX transactionline_transaction ON transactionline ("transaction");
"""

# REST property -> column, for the item fields a client may write.
ITEM_FIELDS = {
    "itemId": "itemid",
    "displayName": "displayname",
    "externalId": "externalid",
    "isInactive": "isinactive",
    "upcCode": "upccode",
}

Row = dict[str, Any]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


class ImsStore:
    """All state, guarded by one lock; every public method is atomic."""

    def __init__(
        self,
        locations: Sequence[tuple[str, str]] = DEFAULT_LOCATIONS,
        clock: Callable[[], datetime] = _utc_now,
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
        self._next_item = FIRST_ITEM_ID
        self._next_txn = FIRST_TRANSACTION_ID
        self.reset()

    # --- plumbing ------------------------------------------------------------------------------
    def _stamp(self) -> str:
        return self._clock().strftime("%Y-%m-%d %H:%M:%S")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        with self._lock:
            row = self._conn.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def _all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        with self._lock:
            return [dict(r) for r in self._conn.execute(sql, params).fetchall()]

    def reset(self) -> None:
        with self._lock:
            for table in ("item", "location", "inventoryitemlocations", '"transaction"', "transactionline"):
                self._conn.execute(f"DROP TABLE IF EXISTS {table}")
            self._conn.executescript(_SCHEMA)
            self.replaced = 0
            self._next_item = FIRST_ITEM_ID
            self._next_txn = FIRST_TRANSACTION_ID
            self.upsert_locations([{"id": lid, "name": name} for lid, name in self._initial_locations])

    # --- locations -----------------------------------------------------------------------------
    def upsert_locations(self, specs: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        ids: dict[str, str] = {}
        with self._tx() as conn:
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
                    "INSERT OR IGNORE INTO inventoryitemlocations (item, location) SELECT id, ? FROM item",
                    (lid,),
                )
                ids[name] = str(lid)
        return ids

    def location(self, lid: int) -> Row | None:
        return self._one("SELECT * FROM location WHERE id = ?", (lid,))

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

    def _write_item(self, conn: sqlite3.Connection, item_id: int | None, values: dict[str, object]) -> int:
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
        stamp = self._stamp()
        if item_id is None:
            item_id = self._next_item
            self._next_item += 1
            columns = ["id", "createddate", "lastmodifieddate", *values]
            marks = ", ".join("?" for _ in columns)
            conn.execute(
                f"INSERT INTO item ({', '.join(columns)}) VALUES ({marks})",
                (item_id, stamp, stamp, *values.values()),
            )
            conn.execute(
                "INSERT OR IGNORE INTO inventoryitemlocations (item, location) SELECT ?, id FROM location",
                (item_id,),
            )
        else:
            sets = ", ".join(f"{column} = ?" for column in [*values, "lastmodifieddate"])
            conn.execute(f"UPDATE item SET {sets} WHERE id = ?", (*values.values(), stamp, item_id))
        return item_id

    def create_item(self, fields: Mapping[str, Any]) -> int:
        values = self._item_values(fields, creating=True)
        with self._tx() as conn:
            return self._write_item(conn, None, values)

    def update_item(self, item_id: int, fields: Mapping[str, Any]) -> None:
        values = self._item_values(fields, creating=False)
        with self._tx() as conn:
            self._write_item(conn, item_id, values)

    def upsert_item_by_external_id(self, external_id: str, fields: Mapping[str, Any]) -> tuple[int, bool]:
        """Create or update the item with this external id: (id, created)."""
        with self._lock:
            existing = self.find_id("item", f"eid:{external_id}")
            values = self._item_values({**fields, "externalId": external_id}, creating=existing is None)
            with self._tx() as conn:
                return self._write_item(conn, existing, values), existing is None

    def control_items(self, specs: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """Bulk create-or-update by itemId (the control API's seeding call)."""
        ids: dict[str, str] = {}
        with self._tx() as conn:
            for spec in specs:
                itemid = spec.get("itemId")
                if not isinstance(itemid, str) or not itemid:
                    raise invalid_content("Each item needs an itemId.", "items")
                row = conn.execute(
                    "SELECT id FROM item WHERE itemid = ? COLLATE NOCASE", (itemid,)
                ).fetchone()
                values = self._item_values(spec, creating=row is None)
                ids[itemid] = str(self._write_item(conn, row["id"] if row else None, values))
        return ids

    def set_committed(self, item_id: int, committed: Mapping[str, Any]) -> None:
        with self._tx() as conn:
            for location, quantity in committed.items():
                lid = as_id(location)
                if lid is None or self.location(lid) is None or isinstance(quantity, bool):
                    raise invalid_content(
                        f"Unknown location {location!r} or bad quantity.", "quantityCommitted"
                    )
                conn.execute(
                    "INSERT INTO inventoryitemlocations (item, location, quantitycommitted, "
                    "quantityavailable) VALUES (?, ?, ?, -?) ON CONFLICT (item, location) DO UPDATE SET "
                    "quantitycommitted = excluded.quantitycommitted, "
                    "quantityavailable = quantityonhand - excluded.quantitycommitted",
                    (item_id, lid, float(quantity), float(quantity)),
                )

    def item(self, item_id: int) -> Row | None:
        return self._one("SELECT * FROM item WHERE id = ?", (item_id,))

    def item_id_by_itemid(self, itemid: str) -> int | None:
        row = self._one("SELECT id FROM item WHERE itemid = ? COLLATE NOCASE", (itemid,))
        return int(row["id"]) if row else None

    def item_locations(self, item_id: int) -> list[Row]:
        return self._all(
            "SELECT l.id AS location, l.name AS name, il.quantityonhand, il.quantityavailable, "
            "il.quantitycommitted FROM inventoryitemlocations il JOIN location l ON l.id = il.location "
            "WHERE il.item = ? ORDER BY l.id",
            (item_id,),
        )

    # --- generic lookups -----------------------------------------------------------------------
    def find_id(self, table: str, key: str) -> int | None:
        """Resolve a record key: "123" (internal id) or "eid:ABC" (external id)."""
        quoted = '"transaction"' if table == "transaction" else table
        if key.startswith("eid:"):
            row = self._one(f"SELECT id FROM {quoted} WHERE externalid = ?", (key[4:],))
        else:
            iid = as_id(key)
            row = self._one(f"SELECT id FROM {quoted} WHERE id = ?", (iid,)) if iid is not None else None
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
        with self._tx() as conn:
            existing = None
            if external_id is not None:
                row = conn.execute(
                    'SELECT id FROM "transaction" WHERE externalid = ?', (external_id,)
                ).fetchone()
                existing = int(row["id"]) if row else None
            if existing is not None and not upsert:
                raise invalid_request(DUPLICATE_EXTERNAL_ID)
            stamp = self._stamp()
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
                txn_id = self._next_txn
                self._next_txn += 1
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
        return txn_id, existing is not None

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
        head = self._one('SELECT * FROM "transaction" WHERE id = ?', (txn_id,))
        if head is None:
            return None
        lines = self._all(
            "SELECT tl.*, i.itemid AS itemname, l.name AS locationname FROM transactionline tl "
            "JOIN item i ON i.id = tl.item JOIN location l ON l.id = tl.location "
            'WHERE tl."transaction" = ? ORDER BY tl.id',
            (txn_id,),
        )
        return head, lines

    # --- control -------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        with self._lock:
            items: dict[str, Any] = {}
            for row in self._conn.execute("SELECT id, itemid, isinactive FROM item ORDER BY id"):
                items[row["itemid"]] = {
                    "id": str(row["id"]),
                    "isInactive": row["isinactive"] == "T",
                    "onHand": {},
                }
            by_id = {entry["id"]: entry for entry in items.values()}
            for row in self._conn.execute(
                "SELECT item, location, quantityonhand FROM inventoryitemlocations ORDER BY item, location"
            ):
                by_id[str(row["item"])]["onHand"][str(row["location"])] = number(row["quantityonhand"])
            adjustments = self._conn.execute('SELECT COUNT(*) FROM "transaction"').fetchone()[0]
            lines = self._conn.execute("SELECT COUNT(*) FROM transactionline").fetchone()[0]
        return {
            "items": items,
            "adjustments": adjustments,
            "adjustment_lines": lines,
            "replaced": self.replaced,
        }
