"""The oracle's own open-demand rule (oracle/demand.py), on hand-built simulator states."""

from __future__ import annotations

from typing import Any

from stockbridge.oracle import OracleSettings
from stockbridge.oracle.demand import claimed_units, storefront_figures, subtracts_open_demand

CONFIG: dict[str, Any] = {
    "locations": [{"warehouse": "WH1", "ims_location": "6"}, {"warehouse": "WH2", "ims_location": "7"}],
    "inventory_statuses": {
        "available": {"counts_for": ["ims", "shop"]},
        "allocated": {"counts_for": ["ims"]},
    },
    "targets": {"ims": {}, "shop": {"buffer": 1}},
}
SETTINGS = OracleSettings.from_config_data(CONFIG)
SHOP_LOCATIONS = {"WH1": "L1", "WH2": "L2"}
STATE = {
    "warehouses": {
        "WH1": {"sequence": 9, "stock": {"A": {"available": 10, "allocated": 3}, "B": {"available": 2}}},
        "WH2": {"sequence": 4, "stock": {"A": {"available": 5}}},
    }
}


def _order(status: str, *lines: tuple[str, int], warehouse: str = "WH1") -> dict[str, Any]:
    return {
        "status": status,
        "warehouse_id": warehouse,
        "lines": [{"line_ref": str(i), "sku": s, "quantity": q} for i, (s, q) in enumerate(lines, 1)],
    }


ORDERS = {
    "SO1": _order("received", ("A", 2), ("B", 5)),
    "SO2": _order("released", ("A", 1)),
    "SO3": _order("on_hold", ("A", 1), warehouse="WH2"),
    "SO4": _order("allocated", ("A", 3)),  # its units moved to allocated: not claimed twice
    "SO5": _order("picking", ("A", 4)),
    "SO6": _order("cancelled", ("A", 7)),
    "SO7": _order("despatched", ("B", 1)),
}


def test_orders_received_released_or_on_hold_claim_their_lines() -> None:
    assert claimed_units(ORDERS) == {("A", "WH1"): 3, ("B", "WH1"): 5, ("A", "WH2"): 1}


def test_the_storefront_figure_takes_the_claims_off_never_below_zero() -> None:
    figures = storefront_figures(STATE, ORDERS, SETTINGS, "shop", SHOP_LOCATIONS)
    assert figures == {("A", "L1"): 10 - 1 - 3, ("B", "L1"): 0, ("A", "L2"): 5 - 1 - 1}
    plain = storefront_figures(STATE, ORDERS, SETTINGS, "shop", SHOP_LOCATIONS, subtract=False)
    assert plain == {("A", "L1"): 9, ("B", "L1"): 1, ("A", "L2"): 4}
    only_wh1 = storefront_figures(STATE, {}, SETTINGS, "shop", {"WH1": "L1"})
    assert set(only_wh1) == {("A", "L1"), ("B", "L1")}


def test_the_setting_defaults_to_yes_for_a_storefront_and_is_never_on_for_the_ims() -> None:
    assert subtracts_open_demand(CONFIG, "shop")
    assert subtracts_open_demand({}, "shop")
    assert not subtracts_open_demand({"targets": {"shop": {"subtract_open_demand": False}}}, "shop")
    assert not subtracts_open_demand({"targets": {"ims": {"subtract_open_demand": True}}}, "ims")
