"""Reading sales orders and item fulfilments back out of the store (for the record and control APIs)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from .store import ImsStore, Row, number


@dataclass
class OrderView:
    head: Row  # the transaction row plus entityname, shipname, locationname, version, shippingaddress
    address: dict[str, Any] | None
    version: int
    lines: list[Row]  # transactionline rows plus itemname, locationname


def load_order(conn: sqlite3.Connection, order_id: int) -> OrderView | None:
    head = conn.execute(
        "SELECT t.*, c.entityid AS entityname, s.itemid AS shipname, l.name AS locationname, "
        'x.version, x.shippingaddress FROM "transaction" t JOIN sim_salesorder x ON x.id = t.id '
        "LEFT JOIN customer c ON c.id = t.entity LEFT JOIN shipitem s ON s.id = t.shipmethod "
        "LEFT JOIN location l ON l.id = t.location WHERE t.id = ? AND t.type = 'SalesOrd'",
        (order_id,),
    ).fetchone()
    if head is None:
        return None
    lines = conn.execute(
        "SELECT tl.*, i.itemid AS itemname, l.name AS locationname FROM transactionline tl "
        "JOIN item i ON i.id = tl.item LEFT JOIN location l ON l.id = tl.location "
        'WHERE tl."transaction" = ? ORDER BY tl.linesequencenumber',
        (order_id,),
    ).fetchall()
    address = json.loads(head["shippingaddress"]) if head["shippingaddress"] else None
    return OrderView(dict(head), address, int(head["version"]), [dict(r) for r in lines])


def order(store: ImsStore, order_id: int) -> OrderView | None:
    with store.tx() as conn:
        return load_order(conn, order_id)


def fulfilment(store: ImsStore, txn_id: int) -> tuple[Row, list[Row]] | None:
    head = store.one(
        'SELECT t.*, so.tranid AS ordertranid FROM "transaction" t LEFT JOIN "transaction" so '
        "ON so.id = t.createdfrom WHERE t.id = ? AND t.type = 'ItemShip'",
        (txn_id,),
    )
    if head is None:
        return None
    lines = store.rows(
        "SELECT tl.*, i.itemid AS itemname, l.name AS locationname FROM transactionline tl "
        "JOIN item i ON i.id = tl.item LEFT JOIN location l ON l.id = tl.location "
        'WHERE tl."transaction" = ? ORDER BY tl.id',
        (txn_id,),
    )
    return head, lines


def control_view(view: OrderView) -> dict[str, Any]:
    head = view.head
    return {
        "id": str(head["id"]),
        "tranId": head["tranid"],
        "status": head["status"],
        "shipMethod": head["shipname"],
        "lines": [
            {
                "line": ln["id"],
                "itemId": ln["itemname"],
                "quantity": number(ln["quantity"]),
                "quantityFulfilled": number(ln["quantityshiprecv"]),
                "isClosed": ln["isclosed"] == "T",
            }
            for ln in view.lines
        ],
        "lastModifiedDate": head["lastmodifieddate"].replace(" ", "T") + "Z",
        "version": view.version,
    }


def control_state(store: ImsStore) -> dict[str, Any]:
    """`{"orders": {tranId: control view}}`, in id order."""
    with store.tx() as conn:
        ids = [
            r[0] for r in conn.execute("SELECT id FROM \"transaction\" WHERE type = 'SalesOrd' ORDER BY id")
        ]
        views = [load_order(conn, int(i)) for i in ids]
    return {"orders": {v.head["tranid"]: control_view(v) for v in views if v is not None}}
