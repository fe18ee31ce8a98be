"""Sales orders: storage, edits, fulfilment, billing and the order status life cycle.

A sales order is a `transaction` row (type 'SalesOrd', `status` the one-letter orderStatus) with
`transactionline` rows (`quantityshiprecv` = quantity fulfilled, `quantitybilled`), plus a hidden
`sim_salesorder` row (version, shipping address). Every change stamps `lastmodifieddate` and a new
version from the store's monotonic counter. Item fulfilments and invoices are written by
documents.py.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import documents
from .errors import ImsError, invalid_content, invalid_request
from .order_input import STATUS_NAMES, FulfilLine, LineChange, OrderChange, fulfil_plan
from .store import DUPLICATE_EXTERNAL_ID, ImsStore, Row
from .transform_input import BillLine, DocumentHeader, bill_plan

Parser = Callable[[sqlite3.Connection, Mapping[str, Any]], OrderChange]
FIRST_ORDER_NUMBER = 1001
OPEN_FOR_FULFILMENT = ("B", "D", "E")
OPEN_FOR_BILLING = ("D", "E", "F")  # something fulfilled (B, A, C and H have nothing fulfilled)
LOCKED = ("C", "G", "H")  # no line changes once cancelled, billed or closed


def derive_status(current: str, lines: Sequence[Row]) -> str:
    """The status implied by the lines, for an approved, open order (B, D, E, F); others unchanged.

    Nothing fulfilled: B, or H once every line is closed. Something fulfilled: D while an open line
    is short (billed or not: E is never used); once every open line is fully fulfilled (closing the
    rest of a partially fulfilled order bills what shipped), G when everything fulfilled is billed,
    else F.
    """
    if current not in ("B", "D", "E", "F"):
        return current
    shipped = any(ln["quantityshiprecv"] > 0 for ln in lines)
    open_lines = [ln for ln in lines if ln["isclosed"] != "T"]
    if not shipped:
        return "B" if open_lines else "H"
    if not all(ln["quantityshiprecv"] >= ln["quantity"] for ln in open_lines):
        return "D"
    billed = all((ln.get("quantitybilled") or 0) >= ln["quantityshiprecv"] for ln in lines)
    return "G" if billed else "F"


class SalesOrders:
    def __init__(self, store: ImsStore) -> None:
        self.store = store
        self.next_number = FIRST_ORDER_NUMBER

    def reset(self) -> None:
        self.next_number = FIRST_ORDER_NUMBER

    # --- reading -------------------------------------------------------------------------------
    def find(self, key: str) -> int | None:
        """An order by internal id, `eid:` external id or (control API) tranId."""
        found = self.store.find_id("transaction", key, "SalesOrd")
        if found is None and not key.isdigit() and not key.startswith("eid:"):
            row = self.store.one(
                "SELECT id FROM \"transaction\" WHERE type = 'SalesOrd' AND tranid = ?", (key,)
            )
            found = int(row["id"]) if row else None
        return found

    def create(self, bodies: Sequence[Mapping[str, Any]], parse: Parser) -> list[tuple[str, int]]:
        """Create orders atomically (all or none): [(tranId, id)]."""
        created: list[tuple[str, int]] = []
        with self.store.tx() as conn:
            for body in bodies:
                change = parse(conn, body)
                created.append(self._insert(conn, change))
        return created

    def _insert(self, conn: sqlite3.Connection, change: OrderChange) -> tuple[str, int]:
        head = dict(change.header)
        tranid = head.pop("tranid", None)
        if tranid is None:
            tranid = self._free_number(conn)
        elif self._tranid_taken(conn, str(tranid), None):
            raise invalid_content(f"The document number {tranid} is already in use.", "tranId")
        self._check_external_id(conn, head.get("externalid"), None)
        stamp = self.store.stamp()
        order_id = self.store.next_transaction_id()
        head.setdefault("status", "B")
        head.setdefault("trandate", stamp[:10])
        head.setdefault("location", self.store.default_location)
        columns = ["id", "tranid", "type", "recordtype", "createddate", "lastmodifieddate", *head]
        values = [order_id, tranid, "SalesOrd", "salesorder", stamp, stamp, *head.values()]
        marks = ", ".join("?" for _ in columns)
        conn.execute(f'INSERT INTO "transaction" ({", ".join(columns)}) VALUES ({marks})', values)
        address = change.address if change.address_set and not change.clear_address else None
        conn.execute(
            "INSERT INTO sim_salesorder (id, version, shippingaddress) VALUES (?, ?, ?)",
            (order_id, self.store.next_version(), json.dumps(address) if address else None),
        )
        for line in change.lines:
            self._add_line(conn, order_id, line, head.get("location"))
        if any(line.is_closed for line in change.lines):
            self._settle(conn, order_id)
        return str(tranid), order_id

    def edit(self, order_id: int, body: Mapping[str, Any], parse: Parser) -> None:
        with self.store.tx() as conn:
            change = parse(conn, body)
            status = self._status(conn, order_id)
            head = dict(change.header)
            if "status" in head:  # the record API may approve by setting orderStatus B
                wanted = head.pop("status")
                if wanted != status and not (status == "A" and wanted == "B"):
                    raise invalid_content(
                        f"Cannot change orderStatus from {status} to {wanted}.", "orderStatus"
                    )
                conn.execute('UPDATE "transaction" SET status = ? WHERE id = ?', (wanted, order_id))
            if "tranid" in head and self._tranid_taken(conn, str(head["tranid"]), order_id):
                raise invalid_content(f"The document number {head['tranid']} is already in use.", "tranId")
            self._check_external_id(conn, head.get("externalid"), order_id)
            if head:
                sets = ", ".join(f"{column} = ?" for column in head)
                conn.execute(f'UPDATE "transaction" SET {sets} WHERE id = ?', (*head.values(), order_id))
            if change.address_set:
                self._write_address(conn, order_id, change)
            if change.lines and status in LOCKED:
                raise invalid_request(f"The lines of a {STATUS_NAMES[status]} sales order cannot change.")
            location = conn.execute(
                'SELECT location FROM "transaction" WHERE id = ?', (order_id,)
            ).fetchone()[0]
            for line in change.lines:
                if line.line is None:
                    self._add_line(conn, order_id, line, location)
                else:
                    self._update_line(conn, order_id, line)
            self._settle(conn, order_id)

    def approve(self, order_id: int) -> None:
        self._transition(order_id, ("A",), "approved", "B")

    def cancel(self, order_id: int) -> None:
        self._transition(order_id, ("A", "B"), "cancelled", "C")

    def bill(self, order_id: int) -> int:
        """The control API's bill: an invoice for everything fulfilled and not billed, from F only."""
        return self.invoice(order_id, [], allowed=("F",))

    def close(self, order_id: int) -> None:
        with self.store.tx() as conn:
            status = self._status(conn, order_id)
            if status in LOCKED:
                raise invalid_request(f"A {STATUS_NAMES[status]} sales order cannot be closed.")
            conn.execute("UPDATE transactionline SET isclosed = 'T' WHERE \"transaction\" = ?", (order_id,))
            if status == "A":
                conn.execute("UPDATE \"transaction\" SET status = 'H' WHERE id = ?", (order_id,))
            self._settle(conn, order_id)

    def _transition(self, order_id: int, allowed: tuple[str, ...], verb: str, target: str) -> None:
        """Move the order to `target` from one of `allowed`. Cancelling is allowed only from A / B,
        which is "nothing fulfilled yet": the first fulfilment moves an order to D or F."""
        with self.store.tx() as conn:
            status = self._status(conn, order_id)
            if status not in allowed:
                raise invalid_request(f"A {STATUS_NAMES[status]} sales order cannot be {verb}.")
            conn.execute('UPDATE "transaction" SET status = ? WHERE id = ?', (target, order_id))
            if target == "C":
                conn.execute(
                    "UPDATE transactionline SET isclosed = 'T' WHERE \"transaction\" = ?", (order_id,)
                )
            self._settle(conn, order_id)

    def fulfil(
        self,
        order_id: int,
        lines: Sequence[FulfilLine],
        header: DocumentHeader | None = None,
        *,
        unlisted_in_full: bool = False,
        via: str = "control",
    ) -> int:
        """Create an item fulfilment for `lines` (with `unlisted_in_full`, as NetSuite's transform
        does, every other open line is fulfilled for its remaining quantity) and raise the order's
        quantity fulfilled. Returns the fulfilment's id."""
        header = header or DocumentHeader()
        with self.store.tx() as conn:
            status = self._status(conn, order_id)
            documents.check_external_id(conn, documents.FULFILMENT, header.external_id)
            if status not in OPEN_FOR_FULFILMENT:
                raise invalid_request(
                    f"A {STATUS_NAMES[status]} sales order cannot be fulfilled; it must be approved and open."
                )
            shipping = fulfil_plan(self._lines(conn, order_id), lines, unlisted_in_full)
            if not shipping:
                raise invalid_content(
                    "You must enter at least one line item for this transaction.", "item.items"
                )
            txn_id = documents.insert_fulfilment(conn, self.store, order_id, shipping, header, via)
            self._settle(conn, order_id)
            return txn_id

    def invoice(
        self,
        order_id: int,
        lines: Sequence[BillLine],
        header: DocumentHeader | None = None,
        *,
        via: str = "control",
        allowed: tuple[str, ...] = OPEN_FOR_BILLING,
    ) -> int:
        """Create an invoice billing `lines` (none: everything fulfilled and not yet billed) and raise
        the order's quantity billed. Returns the invoice's id."""
        header = header or DocumentHeader()
        with self.store.tx() as conn:
            status = self._status(conn, order_id)
            documents.check_external_id(conn, documents.INVOICE, header.external_id)
            if status not in allowed:
                raise invalid_request(f"A {STATUS_NAMES[status]} sales order cannot be billed.")
            billing = bill_plan(self._lines(conn, order_id), lines)
            if not billing:
                raise invalid_content(
                    "You must enter at least one line item for this transaction.", "item.items"
                )
            txn_id = documents.insert_invoice(conn, self.store, order_id, billing, header, via)
            self._settle(conn, order_id)
            return txn_id

    @staticmethod
    def _lines(conn: sqlite3.Connection, order_id: int) -> dict[int, Row]:
        return {
            int(r["id"]): dict(r)
            for r in conn.execute('SELECT * FROM transactionline WHERE "transaction" = ?', (order_id,))
        }

    def _status(self, conn: sqlite3.Connection, order_id: int) -> str:
        row = conn.execute(
            "SELECT status FROM \"transaction\" WHERE id = ? AND type = 'SalesOrd'", (order_id,)
        ).fetchone()
        if row is None:
            raise ImsError(404, "NONEXISTENT_ID", f"There is no sales order with id {order_id}.")
        return str(row["status"])

    def _free_number(self, conn: sqlite3.Connection) -> str:
        while self._tranid_taken(conn, f"SO{self.next_number}", None):
            self.next_number += 1
        self.next_number += 1
        return f"SO{self.next_number - 1}"

    @staticmethod
    def _tranid_taken(conn: sqlite3.Connection, tranid: str, order_id: int | None) -> bool:
        return (
            conn.execute(
                "SELECT 1 FROM \"transaction\" WHERE type = 'SalesOrd' AND tranid = ? AND id IS NOT ?",
                (tranid, order_id),
            ).fetchone()
            is not None
        )

    @staticmethod
    def _check_external_id(conn: sqlite3.Connection, external_id: object, order_id: int | None) -> None:
        if (
            external_id is not None
            and conn.execute(
                "SELECT 1 FROM \"transaction\" WHERE type = 'SalesOrd' AND externalid = ? AND id IS NOT ?",
                (external_id, order_id),
            ).fetchone()
        ):
            raise invalid_request(DUPLICATE_EXTERNAL_ID)

    @staticmethod
    def _write_address(conn: sqlite3.Connection, order_id: int, change: OrderChange) -> None:
        if change.clear_address:
            merged = None
        else:
            row = conn.execute(
                "SELECT shippingaddress FROM sim_salesorder WHERE id = ?", (order_id,)
            ).fetchone()
            merged = {**(json.loads(row[0]) if row and row[0] else {}), **(change.address or {})}
            merged = {k: v for k, v in merged.items() if v is not None} or None
        conn.execute(
            "UPDATE sim_salesorder SET shippingaddress = ? WHERE id = ?",
            (json.dumps(merged) if merged else None, order_id),
        )

    @staticmethod
    def _add_line(conn: sqlite3.Connection, order_id: int, line: LineChange, location: object) -> None:
        top = conn.execute(
            "SELECT COALESCE(MAX(id), 0), COALESCE(MAX(linesequencenumber), 0) FROM transactionline "
            'WHERE "transaction" = ?',
            (order_id,),
        ).fetchone()
        itemtype = conn.execute("SELECT itemtype FROM item WHERE id = ?", (line.item,)).fetchone()[0]
        conn.execute(
            'INSERT INTO transactionline ("transaction", id, linesequencenumber, item, itemtype, location, '
            "quantity, quantityshiprecv, quantitybilled, isclosed, rate, memo) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?)",
            (order_id, top[0] + 1, top[1] + 1, line.item, itemtype, line.location or location,
             line.quantity, "T" if line.is_closed else "F", line.rate, line.description),
        )  # fmt: skip

    @staticmethod
    def _update_line(conn: sqlite3.Connection, order_id: int, line: LineChange) -> None:
        row = conn.execute(
            'SELECT * FROM transactionline WHERE "transaction" = ? AND id = ?', (order_id, line.line)
        ).fetchone()
        if row is None:
            raise invalid_content(f"The sales order has no line {line.line}.", f"{line.path}.line")
        shipped = float(row["quantityshiprecv"])
        if line.quantity is not None and line.quantity < shipped:
            raise invalid_content(
                f"The quantity of line {line.line} ({line.quantity:g}) cannot be less than the quantity "
                f"already fulfilled ({shipped:g}).",
                f"{line.path}.quantity",
            )
        if line.item is not None and line.item != row["item"] and shipped > 0:
            raise invalid_content(
                f"Line {line.line} is partly fulfilled: its item cannot change.", f"{line.path}.item"
            )
        values: dict[str, object] = {}
        if line.item is not None:
            values["item"] = line.item
            values["itemtype"] = conn.execute(
                "SELECT itemtype FROM item WHERE id = ?", (line.item,)
            ).fetchone()[0]
        for column, value in (("quantity", line.quantity), ("rate", line.rate), ("memo", line.description),
                              ("location", line.location)):  # fmt: skip
            if value is not None:
                values[column] = value
        if line.is_closed is not None:
            values["isclosed"] = "T" if line.is_closed else "F"
        if values:
            sets = ", ".join(f"{column} = ?" for column in values)
            conn.execute(
                f"UPDATE transactionline SET {sets} WHERE uniquekey = ?", (*values.values(), row["uniquekey"])
            )

    def _settle(self, conn: sqlite3.Connection, order_id: int) -> None:
        """Derive the status from the lines, stamp lastModifiedDate and a new version."""
        status = self._status(conn, order_id)
        lines = [
            dict(r)
            for r in conn.execute(
                "SELECT quantity, quantityshiprecv, quantitybilled, isclosed FROM transactionline "
                'WHERE "transaction" = ?',
                (order_id,),
            )
        ]
        conn.execute(
            'UPDATE "transaction" SET status = ?, lastmodifieddate = ? WHERE id = ?',
            (derive_status(status, lines), self.store.stamp(), order_id),
        )
        conn.execute(
            "UPDATE sim_salesorder SET version = ? WHERE id = ?", (self.store.next_version(), order_id)
        )
