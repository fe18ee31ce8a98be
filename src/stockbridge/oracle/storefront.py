"""What a storefront should show per SKU and Shopify location, and what its store shows.

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
from typing import Any

import httpx

from stockbridge.oracle.settings import OracleSettings
from stockbridge.oracle.stock import Drift, Key, drift, expected_figures, ims_figures


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
    Shopify simulator at its configured `base_url`."""
    clarus = http.get(f"{clarus_url}/_control/state")
    clarus.raise_for_status()
    if channel == "ims":
        ims = http.get(f"{ims_url}/_control/state")
        ims.raise_for_status()
        expected = expected_figures(clarus.json(), settings, "ims")
        return drift(expected, ims_figures(ims.json(), set(settings.locations.values())))
    inventory = read_storefront(http, settings.storefronts[channel].base_url)
    return storefront_drift(clarus.json(), inventory, settings, channel)
