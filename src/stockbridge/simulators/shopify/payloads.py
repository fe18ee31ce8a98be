"""Webhook bodies in the REST Admin API's shapes (snake_case, numeric ids plus admin_graphql_api_id)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .ids import gid

if TYPE_CHECKING:
    from .orders import Fulfilment, Order


def rest_time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def _fulfillment_status(order: Order) -> str | None:
    return {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial"}.get(order.fulfillment_status())


def order(o: Order) -> dict[str, Any]:
    return {
        "id": o.id,
        "admin_graphql_api_id": gid("Order", o.id),
        "name": o.name,
        "order_number": o.number,
        "email": o.email,
        "financial_status": o.financial_status.lower(),
        "fulfillment_status": _fulfillment_status(o),
        "created_at": rest_time(o.created_at),
        "updated_at": rest_time(o.updated_at),
        "cancelled_at": rest_time(o.cancelled_at),
        "cancel_reason": o.cancel_reason,
        "line_items": [
            {
                "id": line.id,
                "admin_graphql_api_id": gid("LineItem", line.id),
                "sku": line.sku,
                "title": line.title,
                "name": line.title,
                "quantity": line.quantity,
                "current_quantity": line.current_quantity,
                "fulfillable_quantity": line.remaining,
                "variant_id": line.variant_id,
            }
            for line in o.line_items
        ],
        "shipping_lines": [
            {"title": s["title"], "code": s["code"], "price": s["price"]} for s in o.shipping_lines
        ],
        "shipping_address": o.shipping_address,
        "fulfillments": [fulfilment(f, o) for f in o.fulfilments],
    }


def fulfilment(f: Fulfilment, o: Order) -> dict[str, Any]:
    lines = {line.id: line for line in o.line_items}
    return {
        "id": f.id,
        "admin_graphql_api_id": gid("Fulfillment", f.id),
        "order_id": o.id,
        "name": f"{o.name}.{o.fulfilments.index(f) + 1}",
        "status": "success",
        "created_at": rest_time(f.created_at),
        "tracking_company": f.company,
        "tracking_number": f.numbers[0] if f.numbers else None,
        "tracking_numbers": f.numbers,
        "tracking_url": f.urls[0] if f.urls else None,
        "tracking_urls": f.urls,
        "line_items": [
            {"id": lid, "sku": lines[lid].sku, "quantity": q, "variant_id": lines[lid].variant_id}
            for lid, q in f.lines
        ],
    }


def order_edit(
    edit_id: int, o: Order, additions: list[dict[str, int]], removals: list[dict[str, int]]
) -> dict[str, Any]:
    """orders/edited carries the edit, not the order (Shopify's `order_edit` payload)."""
    stamp = rest_time(o.updated_at)
    return {
        "order_edit": {
            "id": edit_id,
            "app_id": None,
            "created_at": stamp,
            "committed_at": stamp,
            "notify_customer": False,
            "order_id": o.id,
            "staff_note": "",
            "user_id": None,
            "line_items": {"additions": additions, "removals": removals},
        }
    }
