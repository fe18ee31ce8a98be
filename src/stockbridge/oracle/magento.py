"""Magento stores in the oracle: what each Magento order should be at Clarus, and what each MSI
source should show. Imports nothing of the hub's (see `oracle/__init__.py`).

Orders, re-stated from docs/connectors/magento.md and ../shared/reference/magento.md, not from the
connector: the order's reference is the store's prefix plus its `increment_id`; it goes to the
warehouse once its `status` is one the store releases and its `state` is not `canceled`. The
warehouse ships stock items, so a bundle's parent item is no line: each of its child items (those
whose `parent_item_id` is the bundle's `item_id`) is, for the child's `qty_ordered` (already the
bundles ordered times the component's quantity in one bundle). A configurable's parent item carries
the chosen simple's SKU: one line for it, its quantities the parent's. Virtual items ship nothing.
A line's quantity is what is still wanted (`qty_ordered` less `qty_canceled`); lines are numbered 1..n
in the order's item order. The shipping description is the ship method, mapped as any. Each Magento
order is written as the IMS order it stands for and judged by `check_orders`.

Stock: the same rule as every channel's (`stock.expected_figures`, DESIGN.md §3), at the MSI source
the store's `locations` map gives the warehouse; with `subtract_open_demand` (the storefront
default) the units the warehouse's own orders claim and have not allocated come off
(`demand.take_off_open_demand`). What the store shows is each source item's `quantity` in the Magento
simulator's `GET /_control/source-items` (docs/simulators/magento.md). A source item the store does
not have is not judged (the hub is told to set only figures it read).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx

from stockbridge.oracle.catalog import Catalog
from stockbridge.oracle.demand import take_off_open_demand
from stockbridge.oracle.orders import OrderReport, check_orders
from stockbridge.oracle.settings import OracleSettings
from stockbridge.oracle.stock import Drift, Key, drift, expected_figures

_RELEASED, _WAITING, _CANCELLED = "B", "A", "C"
_PARENT_TYPES = frozenset({"bundle", "configurable"})


def warehouse_lines(order: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(SKU, quantity still wanted) of each line the warehouse should ship, in the order's item
    order: bundles by their components, configurables by their simple, virtual items dropped."""
    items = list(order.get("items") or [])
    by_id = {int(item["item_id"]): item for item in items}
    lines: list[tuple[str, int]] = []
    for item in items:
        if str(item.get("product_type")) in _PARENT_TYPES or int(item.get("is_virtual") or 0):
            continue
        parent = by_id.get(int(item["parent_item_id"])) if item.get("parent_item_id") else None
        counted = parent if parent is not None and parent.get("product_type") == "configurable" else item
        wanted = round(float(counted["qty_ordered"])) - round(float(counted.get("qty_canceled") or 0))
        lines.append((str(item["sku"]), wanted))
    return lines


def as_order_view(order: Mapping[str, Any], prefix: str, release_statuses: frozenset[str]) -> dict[str, Any]:
    """A Magento order (REST shape) as the IMS control API lists an order, for `check_orders`."""
    if str(order.get("state")) == "canceled":
        status = _CANCELLED
    else:
        status = _RELEASED if str(order.get("status") or "").lower() in release_statuses else _WAITING
    assignments = (order.get("extension_attributes") or {}).get("shipping_assignments") or [{}]
    address = (assignments[0].get("shipping") or {}).get("address")
    street = list((address or {}).get("street") or [])
    return {
        "tranId": prefix + str(order["increment_id"]),
        "status": status,
        "shipMethod": order.get("shipping_description") or None,
        "shippingAddress": None
        if not address
        else {
            "addressee": " ".join(p for p in (address.get("firstname"), address.get("lastname")) if p),
            "addr1": street[0] if street else None,
            "addr2": ", ".join(str(s) for s in street[1:]) or None,
            "city": address.get("city"),
            "state": address.get("region_code") or address.get("region"),
            "zip": address.get("postcode"),
            "country": address.get("country_id"),
        },
        "lines": [
            {"line": n, "itemId": sku, "quantity": qty, "quantityFulfilled": 0, "isClosed": qty == 0}
            for n, (sku, qty) in enumerate(warehouse_lines(order), start=1)
        ],
    }


def check_magento_orders(
    magento_orders: list[Mapping[str, Any]],
    clarus_orders: Mapping[str, Any],
    catalog: Catalog,
    settings: OracleSettings,
    *,
    prefix: str,
    release_statuses: frozenset[str] = frozenset({"processing"}),
    frozen: Mapping[str, Any] | None = None,
) -> OrderReport:
    """Each Magento order (the simulator's `GET /_control/orders`) against Clarus."""
    views = {v["tranId"]: v for v in (as_order_view(o, prefix, release_statuses) for o in magento_orders)}
    released = replace(settings, release_statuses=frozenset({_RELEASED}))
    return check_orders(views, clarus_orders, catalog, released, frozen)


def read_source_items(http: httpx.Client, store_url: str) -> dict[str, Any]:
    """The Magento simulator's source items (`GET /_control/source-items`)."""
    response = http.get(f"{store_url.rstrip('/')}/_control/source-items")
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def source_figures(source_items: Mapping[str, Any], sources: set[str]) -> dict[Key, int]:
    """(SKU, source code) → `quantity`, at the sources the hub feeds."""
    return {
        (str(row["sku"]), str(row["source_code"])): round(float(row["quantity"]))
        for row in source_items["items"]
        if str(row["source_code"]) in sources
    }


def magento_drift(
    clarus_state: Mapping[str, Any],
    source_items: Mapping[str, Any],
    settings: OracleSettings,
    channel: str,
    *,
    clarus_orders: Mapping[str, Any] | None = None,
) -> Drift:
    """The Magento channel's drift from the warehouse, both read from the simulators. With
    `clarus_orders`, the units they claim and have not allocated come off the expected figures."""
    locations = settings.channel_locations(channel)
    shown = source_figures(source_items, set(locations.values()))
    expected = expected_figures(clarus_state, settings, channel)
    if clarus_orders is not None:
        expected = take_off_open_demand(expected, clarus_orders, locations)
    return drift({k: v for k, v in expected.items() if k in shown}, shown)
