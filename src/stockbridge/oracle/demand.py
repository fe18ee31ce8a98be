"""Open demand as the warehouse itself shows it, and the storefront figure with it taken off.

docs/decisions/0022: a storefront must not offer units an order has claimed that the warehouse has
not allocated yet. The oracle learns which units those are from the Clarus simulator's own orders:
an order in `received`, `released` or `on_hold` holds its lines without the stock having moved from
`available` (docs/simulators/clarus.md: stock moves only by movements). Nothing here is the hub's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Clarus order statuses whose lines are claimed but not allocated.
CLAIMED_STATUSES = frozenset({"received", "released", "on_hold"})


def claimed_units(clarus_orders: Mapping[str, Any]) -> dict[tuple[str, str], int]:
    """(SKU, warehouse) → units of the Clarus orders not yet allocated, from `GET /_control/orders`."""
    claimed: dict[tuple[str, str], int] = {}
    for order in clarus_orders.values():
        if str(order["status"]) not in CLAIMED_STATUSES:
            continue
        for line in order["lines"]:
            key = (str(line["sku"]), str(order["warehouse_id"]))
            claimed[key] = claimed.get(key, 0) + max(0, int(line["quantity"]))
    return claimed


def subtracts_open_demand(config_data: Mapping[str, Any], channel: str) -> bool:
    """`targets.<channel>.subtract_open_demand` as docs/configuration.md says: default yes for a
    storefront, never for the IMS."""
    if channel == "ims":
        return False
    settings = ((config_data.get("targets") or {}).get(channel)) or {}
    value = settings.get("subtract_open_demand")
    return True if value is None else bool(value)


def take_off_open_demand(
    expected: Mapping[tuple[str, str], int],
    clarus_orders: Mapping[str, Any],
    locations: Mapping[str, str],
) -> dict[tuple[str, str], int]:
    """A storefront's expected figures (SKU, its location) → the same with the units claimed at the
    warehouse(s) feeding that location taken off, never below zero.

    `expected`: the figures from the counted statuses minus the buffer (`stock.expected_figures`);
    taking the demand off afterwards gives max(0, counted − buffer − claimed), as docs/decisions/0022
    says. `locations`: Clarus warehouse → the storefront's location (`storefronts.<name>.locations`)."""
    claimed = claimed_units(clarus_orders)
    by_location: dict[tuple[str, str], int] = {}
    for (sku, warehouse), units in claimed.items():
        location = locations.get(warehouse)
        if location is not None:
            by_location[(sku, location)] = by_location.get((sku, location), 0) + units
    return {key: max(0, figure - by_location.get(key, 0)) for key, figure in expected.items()}
