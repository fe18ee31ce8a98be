"""The oracle's storefront figures on hand-built simulator states: the rule, its inputs, its verdict."""

from __future__ import annotations

from typing import Any

from stockbridge.oracle import OracleSettings, expected_figures, storefront_drift, storefront_figures

LOC1, LOC2 = "gid://shopify/Location/1", "gid://shopify/Location/2"
CONFIG: dict[str, Any] = {
    "locations": [{"warehouse": "WH1", "ims_location": "6"}, {"warehouse": "WH2", "ims_location": "7"}],
    "inventory_statuses": {
        "available": {"counts_for": ["ims", "shopify"]},
        "allocated": {"counts_for": ["ims"]},
        "picked": {"counts_for": ["ims"]},
    },
    "storefronts": {
        "shopify": {
            "shop_domain": "s.myshopify.com",
            "base_url": "http://127.0.0.1:9/",
            "locations": {"WH1": LOC1, "WH2": LOC2},
        },
        "outlet": {"shop_domain": "outlet.myshopify.com", "locations": {"WH1": LOC1}},
    },
    "targets": {
        "ims": {},
        "shopify": {
            "buffer": 2,
            "sku_buffers": {"MUG-0": 0},
            "classes": {"mugs": {"buffer": 4, "skus": ["MUG-*"]}},
        },
        "outlet": {},
    },
}
SETTINGS = OracleSettings.from_config_data(CONFIG)


def _clarus(stock: dict[str, dict[str, dict[str, int]]]) -> dict[str, Any]:
    return {"warehouses": {wh: {"sequence": 1, "stock": s} for wh, s in stock.items()}}


def _levels(*levels: tuple[str | None, str, int]) -> dict[str, Any]:
    return {
        "levels": [
            {
                "sku": sku,
                "inventory_item_id": f"gid://shopify/InventoryItem/{n}",
                "location_id": loc,
                "available": available,
                "on_hand": available,
                "committed": 0,
            }
            for n, (sku, loc, available) in enumerate(levels)
        ]
    }


def test_settings_read_each_storefronts_url_and_locations() -> None:
    shop, outlet = SETTINGS.storefronts["shopify"], SETTINGS.storefronts["outlet"]
    assert (shop.base_url, dict(shop.locations)) == ("http://127.0.0.1:9", {"WH1": LOC1, "WH2": LOC2})
    assert outlet.base_url == "https://outlet.myshopify.com"  # the documented default
    assert SETTINGS.channel_locations("outlet") == {"WH1": LOC1}
    assert SETTINGS.channel_locations("ims") == {"WH1": "6", "WH2": "7"}


def test_a_storefront_counts_only_its_statuses_minus_its_buffers_at_its_locations() -> None:
    clarus = _clarus(
        {
            "WH1": {
                "TEA-1": {"available": 10, "allocated": 3, "picked": 2},
                "MUG-1": {"available": 6},
                "MUG-0": {"available": 1},
            },
            "WH2": {"TEA-1": {"available": 1, "allocated": 9}},
        }
    )
    assert expected_figures(clarus, SETTINGS, "shopify") == {
        ("TEA-1", LOC1): 8,  # available 10 - buffer 2: allocated and picked are the IMS's, not the store's
        ("MUG-1", LOC1): 2,  # class buffer 4
        ("MUG-0", LOC1): 1,  # the SKU's own buffer (0) before its class
        ("TEA-1", LOC2): 0,  # 1 - 2, never below zero
    }
    assert expected_figures(clarus, SETTINGS, "ims")[("TEA-1", "6")] == 15


def test_storefront_drift_compares_available_per_sku_and_location_gid() -> None:
    clarus = _clarus({"WH1": {"TEA-1": {"available": 10}, "NOVAR-1": {"available": 5}}, "WH2": {}})
    inventory = _levels(
        ("TEA-1", LOC1, 8),  # right
        ("TEA-1", LOC2, 3),  # the warehouse holds none at WH2: should show 0
        ("OLD-1", LOC1, 0),  # never held: 0 is right
        ("TEA-1", "gid://shopify/Location/99", 50),  # a location the hub does not feed
        (None, LOC1, 7),  # a variant without a SKU
    )
    assert storefront_figures(inventory, {LOC1, LOC2}) == {
        ("TEA-1", LOC1): 8,
        ("TEA-1", LOC2): 3,
        ("OLD-1", LOC1): 0,
    }
    found = storefront_drift(clarus, inventory, SETTINGS, "shopify")
    # NOVAR-1 has no variant in the store: the hub's unknown_sku, not drift.
    assert (found.keys, found.units, found.examples) == (1, 3, [("TEA-1", LOC2, 0, 3)])
    edited = _levels(("TEA-1", LOC1, 11), ("TEA-1", LOC2, 0))
    assert storefront_drift(clarus, edited, SETTINGS, "shopify").examples == [("TEA-1", LOC1, 8, 11)]
