"""Open demand (domain/demand.py): what orders claim before the warehouse allocates them."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from stockbridge.config import EXAMPLE_CONFIG, ConfigError, parse_config
from stockbridge.domain.ats import AtsRule, available_to_sell
from stockbridge.domain.bundles import KitMember
from stockbridge.domain.demand import (
    CLAIMING_STATES,
    UNALLOCATED_WMS_STATUSES,
    OrderAtHub,
    claim_of,
    open_demand,
)
from stockbridge.domain.order_state import OrderState
from stockbridge.domain.orders import (
    ItemInfo,
    OrderContext,
    OrderLine,
    SalesOrder,
    WmsLine,
    WmsOrder,
    prepare,
)
from stockbridge.domain.shipping import Address
from stockbridge.domain.skus import SkuRules

ADDRESS = Address("Ann", "1 High St", "", "Leeds", "", "LS1 1AA", "GB")
WMS_STATUSES = [
    "received",
    "released",
    "allocated",
    "on_hold",
    "picking",
    "packed",
    "partially_despatched",
    "despatched",
    "cancelled",
]
SKUS = ["A", "B", "C"]


def _wms(*lines: tuple[str, int], warehouse: str = "WH1") -> WmsOrder:
    return WmsOrder(
        "SO1",
        warehouse,
        "STD",
        ADDRESS,
        tuple(WmsLine(str(i), sku, qty, i) for i, (sku, qty) in enumerate(lines, start=1)),
    )


def test_a_released_order_at_received_claims_what_the_warehouse_holds() -> None:
    order = OrderAtHub(OrderState.RELEASED, "received", _wms(("A", 3), ("B", 1), ("A", 2)))
    assert open_demand([order]) == {("A", "WH1"): 5, ("B", "WH1"): 1}


def test_an_order_about_to_be_sent_claims_its_pending_lines() -> None:
    created = OrderAtHub(OrderState.RELEASE_PENDING, None, None, _wms(("A", 3)))
    assert open_demand([created]) == {("A", "WH1"): 3}
    # An amendment on its way: the new lines count, not the ones the warehouse still holds.
    amended = OrderAtHub(OrderState.AMEND_PENDING, "released", _wms(("A", 3)), _wms(("B", 2)))
    assert open_demand([amended]) == {("B", "WH1"): 2}


def test_allocated_or_later_cancelled_held_and_waiting_orders_claim_nothing() -> None:
    sent = _wms(("A", 3))
    for status in ["allocated", "picking", "packed", "partially_despatched", "despatched", "cancelled"]:
        assert open_demand([OrderAtHub(OrderState.RELEASED, status, sent)]) == {}
    for state in OrderState:
        if state not in CLAIMING_STATES:
            assert open_demand([OrderAtHub(state, "received", sent, sent)]) == {}


def test_demand_is_per_warehouse() -> None:
    one = OrderAtHub(OrderState.RELEASED, "received", _wms(("A", 3)))
    two = OrderAtHub(OrderState.RELEASED, None, _wms(("A", 4), warehouse="WH2"))
    assert open_demand([one, two]) == {("A", "WH1"): 3, ("A", "WH2"): 4}


def test_a_kit_claims_its_components_as_prepared_for_the_warehouse() -> None:
    ctx = OrderContext(
        warehouse_id="WH1",
        ims_items={"MUG": ItemInfo(True), "TEA": ItemInfo(True), "BOX": ItemInfo(True, is_kit=True)},
        wms_items={"MUG": True, "TEA": True},
        kits={"BOX": [KitMember("MUG", 2), KitMember("TEA", 1)]},
        sku_rules=SkuRules(),
        ship_methods={"Standard": "STD"},
    )
    order = SalesOrder(
        "1", "SO1", "B", "Standard", ADDRESS, (OrderLine(1, "BOX", 3), OrderLine(2, "MUG", 1)), "t"
    )
    prepared = prepare(order, ctx)
    assert isinstance(prepared, WmsOrder)
    pending = OrderAtHub(OrderState.RELEASE_PENDING, None, None, prepared)
    assert open_demand([pending]) == {("MUG", "WH1"): 7, ("TEA", "WH1"): 3}


@st.composite
def orders_at_hub(draw: st.DrawFn) -> OrderAtHub:
    def wms() -> WmsOrder | None:
        lines = draw(st.lists(st.tuples(st.sampled_from(SKUS), st.integers(-3, 20)), max_size=4))
        return draw(st.sampled_from([None, _wms(*lines)]))

    state = draw(st.sampled_from(list(OrderState)))
    status = draw(st.sampled_from([None, *WMS_STATUSES]))
    return OrderAtHub(state, status, wms(), wms())


@given(st.lists(orders_at_hub(), max_size=8))
def test_demand_is_never_negative_and_is_the_sum_of_the_claims(orders: list[OrderAtHub]) -> None:
    demand = open_demand(orders)
    assert all(units > 0 for units in demand.values())
    for key, units in demand.items():
        assert units == sum(claim_of(o)[key] for o in orders)


@given(st.lists(orders_at_hub(), max_size=8))
def test_only_unallocated_orders_on_their_way_claim(orders: list[OrderAtHub]) -> None:
    for order in orders:
        if claim_of(order):
            assert order.state in CLAIMING_STATES
            assert order.wms_status is None or order.wms_status in UNALLOCATED_WMS_STATUSES


@given(st.lists(orders_at_hub(), max_size=6), st.sampled_from(["allocated", "cancelled", "despatched"]))
def test_an_order_allocated_or_cancelled_at_the_warehouse_releases_its_units(
    orders: list[OrderAtHub], status: str
) -> None:
    before = open_demand(orders)
    moved = [OrderAtHub(o.state, status, o.sent, o.pending) for o in orders[:1]] + orders[1:]
    after = open_demand(moved)
    assert all(after.get(key, 0) <= units for key, units in before.items())
    assert open_demand(orders[1:]) == after


@given(st.dictionaries(st.sampled_from(["available", "allocated"]), st.integers(-5, 50)), st.integers(0, 60))
def test_open_demand_comes_off_a_storefront_only(stock: dict[str, int], demand: int) -> None:
    store = AtsRule(frozenset({"available"}), default_buffer=1, subtracts_open_demand=True)
    ims = AtsRule(frozenset({"available", "allocated"}))
    figure = available_to_sell(stock, store, "A", demand)
    assert figure == max(0, max(0, stock.get("available", 0)) - 1 - demand)
    assert available_to_sell(stock, ims, "A", demand) == available_to_sell(stock, ims, "A")


# --- the per-target setting (config/stock.py) ------------------------------------------------------------


def _store_config(targets: dict[str, object]) -> dict[str, object]:
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["storefronts"] = {
        "shopify": {
            "shop_domain": "example.myshopify.com",
            "orders_route": "clarus",
            "locations": {"WH1": "gid://shopify/Location/1"},
        }
    }
    data["targets"] = targets
    return dict(data)


def test_storefronts_subtract_open_demand_by_default_and_the_ims_never() -> None:
    config = parse_config(_store_config({}))
    assert config.ats_rule("shopify").subtracts_open_demand
    assert not config.ats_rule("ims").subtracts_open_demand
    off = parse_config(_store_config({"shopify": {"subtract_open_demand": False}}))
    assert not off.ats_rule("shopify").subtracts_open_demand


def test_the_ims_subtracting_open_demand_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_store_config({"ims": {"subtract_open_demand": True}}))
    assert info.value.key == "targets"
    assert "targets.ims.subtract_open_demand" in info.value.message
    assert (
        not parse_config(_store_config({"ims": {"subtract_open_demand": False}}))
        .ats_rule("ims")
        .subtracts_open_demand
    )
