"""Reading sales orders, item fulfilments and invoices back out of the store (record and control APIs)."""

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


def document(store: ImsStore, txn_id: int, kind: str) -> tuple[Row, list[Row]] | None:
    """An item fulfilment ('ItemShip') or invoice ('CustInvc'): head (plus ordertranid, entityname,
    shipname) and lines (plus itemname, locationname)."""
    head = store.one(
        "SELECT t.*, so.tranid AS ordertranid, c.entityid AS entityname, s.itemid AS shipname "
        'FROM "transaction" t LEFT JOIN "transaction" so ON so.id = t.createdfrom '
        "LEFT JOIN customer c ON c.id = t.entity LEFT JOIN shipitem s ON s.id = t.shipmethod "
        "WHERE t.id = ? AND t.type = ?",
        (txn_id, kind),
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


def fulfilment(store: ImsStore, txn_id: int) -> tuple[Row, list[Row]] | None:
    return document(store, txn_id, "ItemShip")


def packages(store: ImsStore, txn_id: int) -> list[Row]:
    return store.rows('SELECT * FROM sim_package WHERE "transaction" = ? ORDER BY line', (txn_id,))


def package_view(row: Row) -> dict[str, Any]:
    fields = {
        "packageTrackingNumber": row["trackingnumber"],
        "packageWeight": None if row["weight"] is None else float(row["weight"]),
        "packageDescr": row["descr"],
    }
    return {k: v for k, v in fields.items() if v is not None}


def control_documents(store: ImsStore, kind: str, after: int = 0) -> list[dict[str, Any]]:
    """The control API's list of item fulfilments or invoices, in `seq` order (those after `after`)."""
    with store.tx() as conn:
        heads = conn.execute(
            "SELECT t.*, d.seq, d.via, so.tranid AS ordertranid, s.itemid AS shipname "
            'FROM "transaction" t JOIN sim_document d ON d.id = t.id '
            'LEFT JOIN "transaction" so ON so.id = t.createdfrom LEFT JOIN shipitem s ON s.id = t.shipmethod '
            "WHERE t.type = ? AND d.seq > ? ORDER BY d.seq",
            (kind, after),
        ).fetchall()
        ids = [int(h["id"]) for h in heads]
        lines: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        boxes: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        marks = ", ".join("?" for _ in ids)
        for ln in conn.execute(
            "SELECT tl.*, i.itemid AS itemname FROM transactionline tl JOIN item i ON i.id = tl.item "
            f'WHERE tl."transaction" IN ({marks}) ORDER BY tl."transaction", tl.id',
            ids,
        ):
            lines[ln["transaction"]].append(
                {"orderLine": ln["orderline"], "itemId": ln["itemname"], "quantity": number(ln["quantity"])}
            )
        for box in conn.execute(
            f'SELECT * FROM sim_package WHERE "transaction" IN ({marks}) ORDER BY "transaction", line', ids
        ):
            boxes[box["transaction"]].append(package_view(dict(box)))
    views = []
    for h in heads:
        view: dict[str, Any] = {
            "id": str(h["id"]),
            "tranId": h["tranid"],
            "externalId": h["externalid"],
            "createdFrom": h["ordertranid"],
            "orderId": str(h["createdfrom"]),
            "tranDate": h["trandate"],
            "memo": h["memo"],
            "lines": lines[h["id"]],
        }
        if kind == "ItemShip":
            view.update(shipStatus=h["status"], shipMethod=h["shipname"], packages=boxes[h["id"]])
        view.update(via=h["via"], createdAt=h["createddate"].replace(" ", "T") + "Z", seq=h["seq"])
        views.append(view)
    return views


def control_view(view: OrderView) -> dict[str, Any]:
    head = view.head
    return {
        "id": str(head["id"]),
        "tranId": head["tranid"],
        "status": head["status"],
        "shipMethod": head["shipname"],
        "email": head["email"],
        "shippingAddress": view.address,
        "lines": [
            {
                "line": ln["id"],
                "itemId": ln["itemname"],
                "quantity": number(ln["quantity"]),
                "quantityFulfilled": number(ln["quantityshiprecv"]),
                "quantityBilled": number(ln["quantitybilled"] or 0),
                "isClosed": ln["isclosed"] == "T",
            }
            for ln in view.lines
        ],
        "createdDate": head["createddate"].replace(" ", "T") + "Z",
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
