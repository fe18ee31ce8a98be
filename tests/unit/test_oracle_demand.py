"""The oracle's own open-demand rule (oracle/demand.py), on hand-built simulator states."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from stockbridge.oracle import OracleSettings, expected_figures
from stockbridge.oracle.demand import claimed_units, subtracts_open_demand, take_off_open_demand

CONFIG: dict[str, Any] = {
    "locations": [{"warehouse": "WH1", "ims_location": "6"}, {"warehouse": "WH2", "ims_location": "7"}],
    "inventory_statuses": {
        "available": {"counts_for": ["ims", "shop"]},
        "allocated": {"counts_for": ["ims"]},
    },
    "targets": {"ims": {}, "shop": {"buffer": 1}},
}
SETTINGS = OracleSettings.from_config_data(CONFIG)
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
    plain = expected_figures(STATE, SETTINGS, "shop")  # by the IMS locations here: 6 and 7
    assert plain == {("A", "6"): 9, ("B", "6"): 1, ("A", "7"): 4}
    figures = take_off_open_demand(plain, ORDERS, {"WH1": "6", "WH2": "7"})
    assert figures == {("A", "6"): 10 - 1 - 3, ("B", "6"): 0, ("A", "7"): 5 - 1 - 1}
    # A warehouse that feeds no location of the store takes nothing off it.
    assert take_off_open_demand(plain, ORDERS, {"WH1": "6"})[("A", "7")] == 4


@given(
    st.integers(-5, 30),
    st.integers(0, 5),
    st.lists(st.tuples(st.sampled_from(["received", "released", "on_hold", "allocated"]), st.integers(0, 9))),
)
def test_taking_demand_off_afterwards_is_taking_it_off_before_the_floor(
    available: int, buffer: int, orders: list[tuple[str, int]]
) -> None:
    config = dict(CONFIG, targets={"shop": {"buffer": buffer}})
    state = {"warehouses": {"WH1": {"sequence": 1, "stock": {"A": {"available": available}}}}}
    clarus_orders = {f"SO{i}": _order(status, ("A", qty)) for i, (status, qty) in enumerate(orders)}
    plain = expected_figures(state, OracleSettings.from_config_data(config), "shop")
    claimed = sum(q for status, q in orders if status != "allocated")
    figures = take_off_open_demand(plain, clarus_orders, {"WH1": "6"})
    assert figures == {("A", "6"): max(0, available - buffer - claimed)}


def test_the_setting_defaults_to_yes_for_a_storefront_and_is_never_on_for_the_ims() -> None:
    assert subtracts_open_demand(CONFIG, "shop")
    assert subtracts_open_demand({}, "shop")
    assert not subtracts_open_demand({"targets": {"shop": {"subtract_open_demand": False}}}, "shop")
    assert not subtracts_open_demand({"targets": {"ims": {"subtract_open_demand": True}}}, "ims")
