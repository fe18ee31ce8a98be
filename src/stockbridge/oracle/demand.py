"""Open demand as the warehouse itself shows it, and the storefront figure with it taken off.

docs/decisions/0022: a storefront must not offer units an order has claimed that the warehouse has
not allocated yet. The oracle learns which units those are from the Clarus simulator's own orders:
an order in `received`, `released` or `on_hold` holds its lines without the stock having moved from
`available` (docs/simulators/clarus.md: stock moves only by movements). Nothing here is the hub's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stockbridge.oracle.settings import OracleSettings

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


def storefront_figures(
    clarus_state: Mapping[str, Any],
    clarus_orders: Mapping[str, Any],
    settings: OracleSettings,
    channel: str,
    locations: Mapping[str, str],
    *,
    subtract: bool = True,
) -> dict[tuple[str, str], int]:
    """(SKU, storefront location) → the figure the storefront should show: the statuses counted for
    it, minus its buffer, minus (when it subtracts) the units claimed at that warehouse, never below 0.

    `locations`: Clarus warehouse → the storefront's location id (`storefronts.<name>.locations`)."""
    target = settings.targets[channel]
    claimed = claimed_units(clarus_orders) if subtract else {}
    figures: dict[tuple[str, str], int] = {}
    for warehouse, state in clarus_state["warehouses"].items():
        location = locations.get(warehouse)
        if location is None:
            continue  # this store has no location fed by that warehouse
        for sku, by_status in state["stock"].items():
            counted = sum(int(q) for status, q in by_status.items() if status in target.counted_statuses)
            open_demand = claimed.get((sku, warehouse), 0)
            figures[(sku, location)] = max(0, counted - target.buffer_for(sku) - open_demand)
    return figures
