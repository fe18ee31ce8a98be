"""The oracle's own reading of `allocation:` (docs/allocation.md): the worked example, and agreement
with the hub's rule on random pools (two implementations written apart, so a mistake in either shows)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from stockbridge.domain.allocation import AllocationRule, ChannelStock, allocate
from stockbridge.oracle import OracleSettings, expected_figures

STORES = {"shopify": "gid://shopify/Location/1", "outlet": "gid://shopify/Location/2"}
BUFFERS = {"ims": 0, "shopify": 1, "outlet": 2}


def _settings(split: dict[str, Any]) -> OracleSettings:
    return OracleSettings.from_config_data(
        {
            "locations": [{"warehouse": "WH1", "ims_location": "6"}],
            "inventory_statuses": {
                "available": {"counts_for": ["ims", *STORES]},
                "allocated": {"counts_for": ["ims"]},
            },
            "storefronts": {
                name: {"shop_domain": f"{name}.myshopify.com", "locations": {"WH1": gid}}
                for name, gid in STORES.items()
            },
            "targets": {name: {"buffer": buffer} for name, buffer in BUFFERS.items()},
            "allocation": {"WH1": split},
        }
    )


def _figures(settings: OracleSettings, available: int, allocated: int = 0) -> dict[str, int]:
    state = {
        "warehouses": {
            "WH1": {"sequence": 1, "stock": {"A": {"available": available, "allocated": allocated}}}
        }
    }
    figures = {"ims": expected_figures(state, settings, "ims")[("A", "6")]}
    figures.update(
        {name: expected_figures(state, settings, name)[("A", gid)] for name, gid in STORES.items()}
    )
    return figures


def test_the_worked_example_of_docs_allocation() -> None:
    shares = _settings({"rule": "shares", "shares": {"shopify": 0.6, "outlet": 0.4}})
    priority = _settings({"rule": "priority", "priority": ["outlet", "shopify"], "caps": {"outlet": 4}})
    assert _figures(_settings({"rule": "pool"}), 11, 2) == {"ims": 13, "shopify": 10, "outlet": 9}
    assert _figures(shares, 11, 2) == {"ims": 13, "shopify": 6, "outlet": 2}
    assert _figures(priority, 11, 2) == {"ims": 13, "shopify": 6, "outlet": 2}


@given(
    st.integers(0, 10_000),
    st.integers(1, 99),
    st.integers(0, 50),
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 10_000)),
)
def test_the_oracle_and_the_hub_agree(
    available: int, percent: int, spare: int, outlet_first: bool, cap: int | None
) -> None:
    shopify_share = Fraction(percent, 100 + spare)
    outlet_share = Fraction(100 - percent, 100 + spare)
    written = {"shopify": float(shopify_share), "outlet": float(outlet_share)}
    order = ["outlet", "shopify"] if outlet_first else ["shopify", "outlet"]
    caps = {} if cap is None else {order[0]: cap}
    stock = {name: ChannelStock(available, BUFFERS[name]) for name in STORES}
    for split, rule in (
        (
            {"rule": "shares", "shares": written},
            AllocationRule("shares", {n: Fraction(str(v)) for n, v in written.items()}),
        ),
        (
            {"rule": "priority", "priority": order, "caps": caps},
            AllocationRule("priority", priority=tuple(order), caps=caps),
        ),
    ):
        oracle = _figures(_settings(split), available)
        assert {n: oracle[n] for n in STORES} == allocate(rule, stock)
