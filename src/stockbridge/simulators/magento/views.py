"""Records as Magento's REST API shows them (`Magento\\Sales\\Api\\Data\\OrderInterface` and friends).

Times are UTC without an offset (`2026-11-30 09:15:00`), as Magento stores and answers them.
Quantities are numbers (PHP floats: a whole quantity is written without a fraction).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .search import TIME_FORMAT
from .state import Item, Order, Shipment, SourceItem


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def item(order: Order, row: Item, *, with_parent: bool = True) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "item_id": row.item_id,
        "order_id": row.order_id,
        "quote_item_id": row.item_id,
        "sku": row.sku,
        "name": row.name,
        "product_id": 1000 + row.item_id,
        "product_type": row.product_type,
        "qty_ordered": number(row.qty_ordered),
        "qty_shipped": number(row.qty_shipped),
        "qty_canceled": number(row.qty_canceled),
        "qty_invoiced": number(row.qty_invoiced),
        "qty_refunded": 0,
        "price": row.price,
        "base_price": row.price,
        "row_total": round(row.price * row.qty_ordered, 2),
        "is_virtual": 0,
        "store_id": 1,
        "created_at": stamp(order.created_at),
        "updated_at": stamp(order.updated_at),
    }
    parent = order.parent(row)
    if parent is not None:
        shown["parent_item_id"] = parent.item_id
        if with_parent:
            shown["parent_item"] = item(order, parent, with_parent=False)
    return shown


def address(order: Order, kind: str) -> dict[str, Any]:
    raw = order.address
    street = raw.get("street") or ["1 Test Street"]
    return {
        "address_type": kind,
        "entity_id": order.entity_id * 2 - (kind == "billing"),
        "parent_id": order.entity_id,
        "firstname": order.firstname,
        "lastname": order.lastname,
        "street": list(street) if isinstance(street, list) else [str(street)],
        "city": raw.get("city", "London"),
        "region": raw.get("region", ""),
        "region_code": raw.get("region_code", ""),
        "postcode": raw.get("postcode", "N1 9GU"),
        "country_id": raw.get("country_id", "GB"),
        "telephone": raw.get("telephone", "0123456789"),
        "email": order.email,
    }


def order(row: Order) -> dict[str, Any]:
    items = [item(row, i) for i in row.items]
    subtotal = round(sum(i.price * i.qty_ordered for i in row.items), 2)
    shown: dict[str, Any] = {
        "entity_id": row.entity_id,
        "increment_id": row.increment_id,
        "state": row.state,
        "status": row.status,
        "created_at": stamp(row.created_at),
        "updated_at": stamp(row.updated_at),
        "store_id": 1,
        "store_name": "Main Website\nMain Website Store\nDefault Store View",
        "customer_email": row.email,
        "customer_firstname": row.firstname,
        "customer_lastname": row.lastname,
        "customer_is_guest": 1,
        "base_currency_code": "GBP",
        "order_currency_code": "GBP",
        "subtotal": subtotal,
        "shipping_amount": 5.0,
        "grand_total": subtotal + 5.0,
        "total_item_count": len(row.items),
        "total_qty_ordered": number(sum(i.qty_ordered for i in row.items if i.parent_item_id is None)),
        "shipping_description": row.shipping_description,
        "items": items,
        "billing_address": address(row, "billing"),
        "payment": {
            "method": row.payment_method,
            "amount_ordered": subtotal + 5.0,
            "additional_information": [],
            "parent_id": row.entity_id,
        },
        "status_histories": [],
        "extension_attributes": {
            "shipping_assignments": [
                {
                    "shipping": {
                        "address": address(row, "shipping"),
                        "method": row.shipping_method,
                        "total": {"shipping_amount": 5.0, "base_shipping_amount": 5.0},
                    },
                    "items": items,
                }
            ]
        },
    }
    if row.hold_before is not None:
        shown["hold_before_state"], shown["hold_before_status"] = row.hold_before
    return shown


def shipment(order_row: Order, row: Shipment) -> dict[str, Any]:
    skus = {i.item_id: i for i in order_row.items}
    return {
        "entity_id": row.entity_id,
        "increment_id": row.increment_id,
        "order_id": row.order_id,
        "store_id": 1,
        "created_at": stamp(row.created_at),
        "updated_at": stamp(row.created_at),
        "total_qty": number(sum(q for i, q in row.items if order_row.ships_itself(skus[i]))),
        "email_sent": 1 if row.notify else None,
        "items": [
            {
                "entity_id": row.entity_id * 1000 + n,
                "parent_id": row.entity_id,
                "order_item_id": item_id,
                "sku": skus[item_id].sku,
                "name": skus[item_id].name,
                "qty": number(qty),
                "price": skus[item_id].price,
            }
            for n, (item_id, qty) in enumerate(row.items, start=1)
        ],
        "tracks": [
            {
                "entity_id": t.entity_id,
                "parent_id": row.entity_id,
                "order_id": row.order_id,
                "track_number": t.track_number,
                "title": t.title,
                "carrier_code": t.carrier_code,
                "created_at": stamp(row.created_at),
            }
            for t in row.tracks
        ],
        "comments": [],
        "packages": [],
    }


def source_item(row: SourceItem) -> dict[str, Any]:
    return {
        "sku": row.sku,
        "source_code": row.source_code,
        "quantity": number(row.quantity),
        "status": row.status,
    }
