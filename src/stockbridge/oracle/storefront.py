"""Storefronts in the oracle: what each Shopify order should be at Clarus, and what each store
should show.

Orders. Storefront orders sent straight to Clarus (orders_route: clarus): what Clarus should hold for each
Shopify order, from the Shopify simulator's own orders (`GET /_control/orders`).

Re-stated from docs/orders.md, not taken from the hub: the order's reference is the store's prefix
plus its order number; it goes to the warehouse once its financial status is one the store releases
and it is not cancelled; each line asks for its current quantity (what the customer now wants, a
removed line nothing); SKUs, ship method and address are judged as for an IMS order. Each Shopify
order is written as the IMS order it stands for, and judged by `check_orders`.

Stock. What a storefront should show per SKU and Shopify location, and what its store shows.

The same rule as the IMS's (`stock.expected_figures`, DESIGN.md §3): the sum of the warehouse's
quantities in the statuses that count for the storefront's channel (`inventory_statuses.<s>.counts_for`),
minus its buffer (`sku_buffers`, else the first matching class, else `buffer`), never below zero, at
the Shopify location the storefront's `locations` map gives the warehouse. What the store shows is
each level's `available` in the Shopify simulator's `GET /_control/inventory` (docs/simulators/shopify.md).

A SKU the store has no variant for cannot show a figure at all: the hub raises `unknown_sku` for it
(docs/operating.md) and it is not counted as drift here. A level of a SKU the warehouse has never
held should show 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx

from stockbridge.oracle.catalog import Catalog
from stockbridge.oracle.magento import magento_drift, read_source_items
from stockbridge.oracle.orders import OrderReport, check_orders
from stockbridge.oracle.settings import OracleSettings
from stockbridge.oracle.stock import Drift, Key, drift, expected_figures, ims_figures

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


def storefront_figures(inventory: Mapping[str, Any], locations: set[str]) -> dict[Key, int]:
    """(SKU, location gid) → `available`, from `GET /_control/inventory`, at the locations fed."""
    shown: dict[Key, int] = {}
    for level in inventory["levels"]:
        sku, location = level.get("sku"), str(level["location_id"])
        if sku and location in locations:
            shown[(str(sku), location)] = int(level["available"])
    return shown


def storefront_drift(
    clarus_state: Mapping[str, Any], inventory: Mapping[str, Any], settings: OracleSettings, channel: str
) -> Drift:
    """The storefront channel's drift from the warehouse, both read from the simulators."""
    shown = storefront_figures(inventory, set(settings.channel_locations(channel).values()))
    expected = {k: v for k, v in expected_figures(clarus_state, settings, channel).items() if k in shown}
    return drift(expected, shown)


def read_storefront(http: httpx.Client, store_url: str) -> dict[str, Any]:
    """The Shopify simulator's inventory levels (`GET /_control/inventory`)."""
    response = http.get(f"{store_url.rstrip('/')}/_control/inventory")
    response.raise_for_status()
    levels: dict[str, Any] = response.json()
    return levels


def channel_drift(
    http: httpx.Client, clarus_url: str, ims_url: str, settings: OracleSettings, channel: str
) -> Drift:
    """Drift for one channel by name: "ims" read from the IMS simulator, a storefront from the
    Shopify or Magento simulator (by its `kind`) at its configured `base_url`."""
    clarus = http.get(f"{clarus_url}/_control/state")
    clarus.raise_for_status()
    if channel == "ims":
        ims = http.get(f"{ims_url}/_control/state")
        ims.raise_for_status()
        expected = expected_figures(clarus.json(), settings, "ims")
        return drift(expected, ims_figures(ims.json(), set(settings.locations.values())))
    store = settings.storefronts[channel]
    if store.kind == "magento":
        return magento_drift(clarus.json(), read_source_items(http, store.base_url), settings, channel)
    inventory = read_storefront(http, store.base_url)
    return storefront_drift(clarus.json(), inventory, settings, channel)
