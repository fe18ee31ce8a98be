"""Storefront orders sent straight to Clarus (orders_route: clarus): what Clarus should hold for each
Shopify order, from the Shopify simulator's own orders (`GET /_control/orders`).

Re-stated from docs/orders.md, not taken from the hub: the order's reference is the store's prefix
plus its order number; it goes to the warehouse once its financial status is one the store releases
and it is not cancelled; each line asks for its current quantity (what the customer now wants, a
removed line nothing); SKUs, ship method and address are judged as for an IMS order. Each Shopify
order is written as the IMS order it stands for, and judged by `check_orders`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from stockbridge.oracle.catalog import Catalog
from stockbridge.oracle.orders import OrderReport, check_orders
from stockbridge.oracle.settings import OracleSettings

_RELEASED, _WAITING, _CANCELLED = "B", "A", "C"


def as_order_view(order: Mapping[str, Any], prefix: str, release_financial: frozenset[str]) -> dict[str, Any]:
    """A Shopify order (REST shape) as the IMS control API lists an order, for `expected_order`."""
    if order.get("cancelled_at"):
        status = _CANCELLED
    else:
        paid = str(order.get("financial_status") or "").lower() in release_financial
        status = _RELEASED if paid else _WAITING
    shipping = order.get("shipping_lines") or []
    address = order.get("shipping_address")
    return {
        "tranId": prefix + str(order["name"]).lstrip("#"),
        "status": status,
        "shipMethod": shipping[0]["title"] if shipping else None,
        "shippingAddress": None
        if address is None
        else {
            "addressee": address.get("name")
            or " ".join(p for p in (address.get("first_name"), address.get("last_name")) if p),
            "addr1": address.get("address1"),
            "addr2": address.get("address2"),
            "city": address.get("city"),
            "state": address.get("province_code") or address.get("province"),
            "zip": address.get("zip"),
            "country": address.get("country_code") or address.get("country"),
        },
        "lines": [
            {
                "line": number,
                "itemId": str(item.get("sku") or ""),
                "quantity": int(item.get("current_quantity", item["quantity"])),
                "quantityFulfilled": 0,
                "isClosed": int(item.get("current_quantity", item["quantity"])) == 0,
            }
            for number, item in enumerate(order.get("line_items") or [], start=1)
        ],
    }


def check_storefront_orders(
    shop_orders: list[Mapping[str, Any]],
    clarus_orders: Mapping[str, Any],
    catalog: Catalog,
    settings: OracleSettings,
    *,
    prefix: str,
    release_financial: frozenset[str] = frozenset({"paid"}),
    frozen: Mapping[str, Any] | None = None,
) -> OrderReport:
    views = {
        view["tranId"]: view for view in (as_order_view(o, prefix, release_financial) for o in shop_orders)
    }
    released = replace(settings, release_statuses=frozenset({_RELEASED}))
    return check_orders(views, clarus_orders, catalog, released, frozen)
