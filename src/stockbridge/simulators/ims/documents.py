"""Writing the documents a sales order is transformed into: item fulfilments and invoices.

Both are `transaction` rows (type 'ItemShip' / 'CustInvc', `createdfrom` = the order) whose lines
name the order line they come from (`orderline`), plus a hidden `sim_document` row holding the
control API's sequence number. The callers (sales_orders.py) hold the transaction and re-derive
the order's status afterwards.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from .errors import invalid_request
from .store import DUPLICATE_EXTERNAL_ID, ImsStore
from .transform_input import DocumentHeader

Row = dict[str, Any]
FULFILMENT, INVOICE = "ItemShip", "CustInvc"
RECORD_TYPE = {FULFILMENT: "itemfulfillment", INVOICE: "invoice"}
TRAN_PREFIX = {FULFILMENT: "IF", INVOICE: "INV"}
INVOICE_OPEN = "A"  # an invoice's status: A Open, B Paid In Full (never reached here)


def check_external_id(conn: sqlite3.Connection, kind: str, external_id: str | None) -> None:
    """External ids are unique per record type; a second one is refused."""
    if (
        external_id is not None
        and conn.execute(
            'SELECT 1 FROM "transaction" WHERE type = ? AND externalid = ?', (kind, external_id)
        ).fetchone()
    ):
        raise invalid_request(DUPLICATE_EXTERNAL_ID)


def _insert_head(
    conn: sqlite3.Connection, store: ImsStore, kind: str, order_id: int, header: DocumentHeader, via: str
) -> int:
    order = conn.execute('SELECT entity, shipmethod FROM "transaction" WHERE id = ?', (order_id,)).fetchone()
    stamp = store.stamp()
    txn_id = store.next_transaction_id()
    fulfilment = kind == FULFILMENT
    ship_method = header.ship_method if header.ship_method_set else order["shipmethod"]
    conn.execute(
        'INSERT INTO "transaction" (id, tranid, type, recordtype, externalid, trandate, memo, status, '
        "entity, shipmethod, createdfrom, createddate, lastmodifieddate) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (txn_id, f"{TRAN_PREFIX[kind]}{txn_id}", kind, RECORD_TYPE[kind], header.external_id,
         header.tran_date or stamp[:10], header.memo, header.ship_status if fulfilment else INVOICE_OPEN,
         order["entity"], ship_method if fulfilment else None, order_id, stamp, stamp),
    )  # fmt: skip
    seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM sim_document WHERE type = ?", (kind,))
    conn.execute(
        "INSERT INTO sim_document (id, type, seq, via) VALUES (?, ?, ?, ?)",
        (txn_id, kind, seq.fetchone()[0], via),
    )
    return txn_id


def insert_fulfilment(
    conn: sqlite3.Connection,
    store: ImsStore,
    order_id: int,
    shipping: Sequence[tuple[Row, float, int | None]],
    header: DocumentHeader,
    via: str,
) -> int:
    """An item fulfilment of `shipping` (order line, quantity, location); raises the order lines'
    quantity fulfilled. Returns its id."""
    txn_id = _insert_head(conn, store, FULFILMENT, order_id, header, via)
    default_location = conn.execute(
        'SELECT location FROM "transaction" WHERE id = ?', (order_id,)
    ).fetchone()[0]
    for n, (line, amount, location) in enumerate(shipping, start=1):
        where = location or line["location"] or default_location
        conn.execute(
            'INSERT INTO transactionline ("transaction", id, linesequencenumber, item, itemtype, '
            "location, quantity, createdfrom, orderline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (txn_id, n, n, line["item"], line["itemtype"], where, amount, order_id, line["id"]),
        )
        conn.execute(
            "UPDATE transactionline SET quantityshiprecv = quantityshiprecv + ? WHERE uniquekey = ?",
            (amount, line["uniquekey"]),
        )
    conn.executemany(
        'INSERT INTO sim_package ("transaction", line, trackingnumber, weight, descr) VALUES (?, ?, ?, ?, ?)',
        [
            (txn_id, n, p.tracking_number, p.weight, p.description)
            for n, p in enumerate(header.packages, start=1)
        ],
    )
    return txn_id


def insert_invoice(
    conn: sqlite3.Connection,
    store: ImsStore,
    order_id: int,
    billing: Sequence[tuple[Row, float]],
    header: DocumentHeader,
    via: str,
) -> int:
    """An invoice of `billing` (order line, quantity); raises the order lines' quantity billed."""
    txn_id = _insert_head(conn, store, INVOICE, order_id, header, via)
    for n, (line, amount) in enumerate(billing, start=1):
        conn.execute(
            'INSERT INTO transactionline ("transaction", id, linesequencenumber, item, itemtype, '
            "location, quantity, rate, memo, createdfrom, orderline) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (txn_id, n, n, line["item"], line["itemtype"], line["location"], amount, line["rate"],
             line["memo"], order_id, line["id"]),
        )  # fmt: skip
        conn.execute(
            "UPDATE transactionline SET quantitybilled = COALESCE(quantitybilled, 0) + ? WHERE uniquekey = ?",
            (amount, line["uniquekey"]),
        )
    return txn_id
