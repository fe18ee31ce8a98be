"""Storefront fulfilments: which line items a shipment fulfils, and never before the Item Fulfilment."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockbridge.domain.fulfilment import RollupError, Shipment
from stockbridge.domain.fulfilment_state import (
    FulfilmentCommand,
    ShipmentState,
    on_item_fulfilment,
    on_shipment,
    on_store_fulfilment,
)
from stockbridge.domain.storefront_fulfilment import (
    ParcelTracking,
    direct_line_items,
    ims_line_items,
    storefront_lines,
    tracking_of,
)


def test_direct_route_numbers_the_stores_line_items_in_its_order() -> None:
    line_items = direct_line_items(["gid://L/7", "gid://L/8", "gid://L/9"])
    assert storefront_lines({1: 2, 3: 1}, line_items) == {"gid://L/7": 2, "gid://L/9": 1}


def test_ims_route_maps_ims_lines_back_to_the_line_items_they_were_made_from() -> None:
    line_items = ims_line_items({"gid://L/7": 10, "gid://L/8": 11})
    assert storefront_lines({11: 3, 10: 0}, line_items) == {"gid://L/8": 3}


def test_a_line_the_store_does_not_have_is_refused() -> None:
    with pytest.raises(RollupError, match=r"\[4\]"):
        storefront_lines({4: 1}, direct_line_items(["gid://L/7"]))


def test_tracking_is_the_carrier_and_first_number() -> None:
    shipment = Shipment("S1", "SHOP-1", "UPS", "STD", ("1Z1", "1Z2"), ())
    assert tracking_of(shipment) == ParcelTracking("UPS", "1Z1")
    assert tracking_of(Shipment("S2", "SHOP-1", "", "STD", (), ())) == ParcelTracking(None, None)


def test_direct_route_tells_the_store_only() -> None:
    decision = on_shipment(True, 2, storefront_direct=True)
    assert decision == on_shipment(True, 2, storefront_direct=True)
    assert decision.state == ShipmentState.STORE_PENDING
    assert decision.commands == (FulfilmentCommand.STORE_FULFILMENT,)
    assert on_shipment(True, 0, storefront_direct=True).state == ShipmentState.PART_BUNDLE
    assert on_store_fulfilment(ShipmentState.STORE_PENDING).state == ShipmentState.STORE_FULFILLED
    assert on_store_fulfilment(ShipmentState.FULFILLED).state == ShipmentState.FULFILLED


EVENTS = st.lists(st.sampled_from(["if_created", "if_refused", "if_answer_lost", "again"]), max_size=10)


@given(EVENTS, st.booleans())
def test_through_the_ims_the_store_hears_only_after_the_item_fulfilment(
    events: list[str], bill: bool
) -> None:
    decision = on_shipment(True, 1)
    state, emitted, exists = decision.state, list(decision.commands), False
    for event in events:
        if event in ("if_created", "if_refused") and state == ShipmentState.IF_PENDING:
            exists = event == "if_created"
            decision = on_item_fulfilment(state, exists, bill, storefront=True)
            if decision.commands:
                assert exists, "the store heard of a shipment the IMS does not show"
            state = decision.state
            emitted += decision.commands
        elif event == "again":  # a late duplicate answer changes nothing
            assert on_item_fulfilment(state, True, bill, storefront=True).commands == () or (
                state == ShipmentState.IF_PENDING
            )
    assert FulfilmentCommand.NOTIFY not in emitted  # the store tells the customer, not the hub
    assert emitted.count(FulfilmentCommand.STORE_FULFILMENT) <= 1
    assert (FulfilmentCommand.STORE_FULFILMENT in emitted) == exists
