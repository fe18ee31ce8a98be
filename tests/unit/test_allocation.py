"""Allocation across channels (domain/allocation.py): the rules' invariants, and worked examples."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.factories import config

from stockbridge.config import ConfigError
from stockbridge.domain.allocation import AllocationRule, ChannelStock, allocate, largest_remainder

STORES = ["shopify", "magento", "outlet"]


@st.composite
def split_shares(draw: st.DrawFn) -> dict[str, Fraction]:
    """Shares for the stores, each > 0, adding up to at most 1 (as configuration allows)."""
    weights = draw(st.lists(st.integers(1, 100), min_size=len(STORES), max_size=len(STORES)))
    spare = draw(st.integers(0, 100))
    total = sum(weights) + spare
    return {store: Fraction(w, total) for store, w in zip(STORES, weights, strict=True)}


stocks = st.fixed_dictionaries(
    {
        "ims": st.builds(ChannelStock, st.integers(0, 5000), st.integers(0, 20)),
        **{s: st.builds(ChannelStock, st.integers(0, 5000), st.integers(0, 20)) for s in STORES},
    }
)
priorities = st.permutations(STORES).map(tuple)
caps = st.dictionaries(st.sampled_from(STORES), st.integers(0, 3000))


@given(stocks, split_shares())
def test_shares_never_offer_more_than_the_sellable_stock(
    stock: dict[str, ChannelStock], shares: dict[str, Fraction]
) -> None:
    figures = allocate(AllocationRule("shares", shares), stock)
    pool = min(stock[s].sellable for s in STORES)
    assert sum(figures[s] for s in STORES) <= pool
    assert all(f >= 0 for f in figures.values())


@given(stocks, priorities, caps)
def test_priority_never_offers_more_than_the_sellable_stock(
    stock: dict[str, ChannelStock], order: tuple[str, ...], limits: dict[str, int]
) -> None:
    figures = allocate(AllocationRule("priority", priority=order, caps=limits), stock)
    pool = min(stock[s].sellable for s in STORES)
    assert sum(figures[s] for s in STORES) <= pool
    assert all(f >= 0 for f in figures.values())
    for store in STORES:  # a cap is never exceeded
        assert figures[store] <= limits.get(store, pool)


@given(stocks)
def test_the_whole_pool_offers_no_channel_more_than_the_pool_less_its_buffer(
    stock: dict[str, ChannelStock],
) -> None:
    figures = allocate(AllocationRule(), stock)
    for channel, offered in figures.items():
        assert 0 <= offered <= max(0, stock[channel].sellable - stock[channel].buffer)
        assert offered == max(0, stock[channel].sellable - stock[channel].buffer)  # as before rules


@given(
    stocks,
    st.one_of(
        split_shares().map(lambda s: AllocationRule("shares", s)),
        priorities.map(lambda p: AllocationRule("priority", priority=p)),
    ),
)
def test_a_channel_outside_the_split_keeps_its_own_figure(
    stock: dict[str, ChannelStock], rule: AllocationRule
) -> None:
    ims = stock["ims"]
    assert allocate(rule, stock)["ims"] == max(0, ims.sellable - ims.buffer)


@given(st.integers(0, 100_000), split_shares())
def test_largest_remainder_creates_no_unit_and_stays_within_one_of_the_quota(
    pool: int, shares: dict[str, Fraction]
) -> None:
    parts = largest_remainder(pool, shares)
    assert sum(parts.values()) == int(pool * sum(shares.values()))  # floor of the exact total
    assert sum(parts.values()) <= pool
    for store, part in parts.items():
        assert abs(part - pool * shares[store]) < 1


def test_worked_example_shares() -> None:
    # 10 units at 0.6 / 0.4 of 7: quotas 4.2 and 2.8 → floors 4 and 2, the one unit left goes to the
    # larger remainder (0.8); a 1-unit buffer comes off shopify's part.
    stock = {"shopify": ChannelStock(7, 1), "magento": ChannelStock(7, 0), "ims": ChannelStock(12, 0)}
    rule = AllocationRule("shares", {"shopify": Fraction(3, 5), "magento": Fraction(2, 5)})
    assert allocate(rule, stock) == {"shopify": 3, "magento": 3, "ims": 12}


def test_worked_example_priority_with_a_cap() -> None:
    stock = {"shopify": ChannelStock(10, 2), "magento": ChannelStock(10, 1), "ims": ChannelStock(15, 0)}
    rule = AllocationRule("priority", priority=("shopify", "magento"), caps={"shopify": 6})
    # shopify takes 6 (its cap) and offers 4 after its buffer; magento takes the 4 left, offers 3.
    assert allocate(rule, stock) == {"shopify": 4, "magento": 3, "ims": 15}


def test_stores_counting_different_statuses_split_the_smaller_pool() -> None:
    stock = {"shopify": ChannelStock(10, 0), "magento": ChannelStock(6, 0)}
    rule = AllocationRule("shares", {"shopify": Fraction(1, 2), "magento": Fraction(1, 2)})
    assert allocate(rule, stock) == {"shopify": 3, "magento": 3}


def _stores(**extra: object) -> dict[str, object]:
    def store(prefix: str, warehouse: str = "WH1") -> dict[str, object]:
        return {
            "shop_domain": f"{prefix.lower()}.myshopify.com",
            "orders_route": "clarus",
            "reference_prefix": prefix,
            "locations": {warehouse: f"gid://shopify/Location/{prefix}"},
        }

    return {"storefronts": {"shopify": store("A-"), "magento": store("B-")}, **extra}


@pytest.mark.parametrize(
    ("allocation", "complaint"),
    [
        ({"WH9": {"rule": "pool"}}, "not under locations"),
        ({"WH1": {"rule": "shares", "shares": {"shopify": 0.6, "magento": 0.5}}}, "more than the whole pool"),
        ({"WH1": {"rule": "shares", "shares": {"shopify": 1.0}}}, "every storefront"),
        ({"WH1": {"rule": "priority", "priority": ["ims", "shopify", "magento"]}}, "book figure"),
        ({"WH1": {"rule": "priority", "priority": ["shopify", "magento"], "caps": {"x": 1}}}, "caps names"),
        ({"WH1": {"rule": "pool", "shares": {"shopify": 0.5}}}, "takes no shares"),
    ],
)
def test_a_bad_allocation_is_refused_naming_the_key(allocation: dict[str, object], complaint: str) -> None:
    with pytest.raises(ConfigError) as raised:
        config(**_stores(allocation=allocation))
    assert complaint in str(raised.value)
    assert "allocation" in str(raised.value)


def test_shares_in_tenths_add_up_exactly() -> None:
    cfg = config(
        **_stores(allocation={"WH1": {"rule": "shares", "shares": {"shopify": 0.7, "magento": 0.3}}})
    )
    assert cfg.allocation_rule("WH1").shares == {"shopify": Fraction(7, 10), "magento": Fraction(3, 10)}
    assert cfg.allocation_rule("WH2").kind == "pool"
