"""Notification and invoice never before the Item Fulfilment, over random interleavings."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from stockbridge.domain.fulfilment_state import (
    FulfilmentCommand,
    ShipmentDecision,
    ShipmentState,
    on_item_fulfilment,
    on_shipment,
)

EVENTS = st.lists(
    st.sampled_from(["order_arrives", "shipment_again", "if_created", "if_refused", "if_answer_lost"]),
    max_size=12,
)


@given(EVENTS, st.booleans(), st.integers(0, 3))
def test_follow_ons_only_after_the_item_fulfilment_exists(events: list[str], bill: bool, lines: int) -> None:
    state: ShipmentState | None = None
    order_known = False
    if_exists = False
    emitted: list[FulfilmentCommand] = []
    decision = on_shipment(order_known, lines)
    state = decision.state
    for event in events:
        if event == "order_arrives":
            order_known = True
            if state == ShipmentState.PARKED:
                decision = on_shipment(order_known, lines)
                state = decision.state
                emitted += decision.commands
        elif event == "shipment_again" and state == ShipmentState.PARKED:
            state = on_shipment(order_known, lines).state
        elif event in ("if_created", "if_refused") and state == ShipmentState.IF_PENDING:
            if_exists = event == "if_created"
            decision = on_item_fulfilment(state, if_exists, bill)
            state = decision.state
            if decision.commands:
                assert if_exists, "a follow-on was emitted before the Item Fulfilment existed"
            emitted += decision.commands
        # "if_answer_lost": the IMS may have created it, the hub does not know: nothing is emitted.
    assert emitted.count(FulfilmentCommand.ITEM_FULFILMENT) <= 1
    assert emitted.count(FulfilmentCommand.NOTIFY) <= 1
    if FulfilmentCommand.NOTIFY in emitted:
        assert if_exists
    assert (FulfilmentCommand.INVOICE in emitted) <= bill


def test_parked_until_the_order_is_known() -> None:
    assert on_shipment(False, 2).state == ShipmentState.PARKED
    assert on_shipment(True, 2).commands == (FulfilmentCommand.ITEM_FULFILMENT,)
    assert on_shipment(True, 0).state == ShipmentState.PART_BUNDLE


def test_refused_fulfilment_tells_nobody() -> None:
    decision = on_item_fulfilment(ShipmentState.IF_PENDING, False, True)
    assert (decision.state, decision.commands) == (ShipmentState.REJECTED, ())


def test_shipment_of_a_cancelled_order_makes_no_item_fulfilment() -> None:
    assert on_shipment(True, 2, order_cancelled=True) == ShipmentDecision(ShipmentState.ORDER_CANCELLED)
    decision = on_item_fulfilment(ShipmentState.IF_PENDING, False, True, order_cancelled=True)
    assert (decision.state, decision.commands) == (ShipmentState.ORDER_CANCELLED, ())
