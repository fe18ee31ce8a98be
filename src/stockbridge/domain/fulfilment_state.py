"""A shipment's life in the hub: parked until its order is known, one Item Fulfilment, then — and
only then — the customer's notification and the invoice. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ShipmentState(StrEnum):
    PARKED = "parked"  # the hub does not know the order yet
    IF_PENDING = "if_pending"  # Item Fulfilment command in the outbox
    FULFILLED = "fulfilled"  # the IMS has the Item Fulfilment; follow-ons in the outbox
    PART_BUNDLE = "part_bundle"  # only part of a bundle: nothing whole to fulfil until more ships
    REJECTED = "rejected"  # the IMS refused the fulfilment (e.g. more than ordered): an owner looks
    # The order was cancelled in the IMS: no Item Fulfilment (the IMS refuses one), nobody notified
    # or billed; a person recalls the parcel and refunds (exception cancelled_after_despatch).
    ORDER_CANCELLED = "order_cancelled"


class FulfilmentCommand(StrEnum):
    ITEM_FULFILMENT = "item_fulfilment"
    NOTIFY = "notify"
    INVOICE = "invoice"


@dataclass(frozen=True)
class ShipmentDecision:
    state: ShipmentState
    commands: tuple[FulfilmentCommand, ...] = ()


def on_shipment(order_known: bool, lines_to_fulfil: int, order_cancelled: bool = False) -> ShipmentDecision:
    """A shipment arrives (or its parked order has just become known)."""
    if not order_known:
        return ShipmentDecision(ShipmentState.PARKED)
    if order_cancelled:
        return ShipmentDecision(ShipmentState.ORDER_CANCELLED)
    if lines_to_fulfil == 0:
        return ShipmentDecision(ShipmentState.PART_BUNDLE)
    return ShipmentDecision(ShipmentState.IF_PENDING, (FulfilmentCommand.ITEM_FULFILMENT,))


def on_item_fulfilment(
    state: ShipmentState, created: bool, bill_on_fulfilment: bool, order_cancelled: bool = False
) -> ShipmentDecision:
    """The IMS answered the Item Fulfilment for good. Follow-ons are emitted here and nowhere else,
    so nobody hears of a shipment before its Item Fulfilment exists."""
    if state != ShipmentState.IF_PENDING:
        return ShipmentDecision(state)
    if not created:
        return ShipmentDecision(ShipmentState.ORDER_CANCELLED if order_cancelled else ShipmentState.REJECTED)
    follow_ons = (
        (FulfilmentCommand.NOTIFY, FulfilmentCommand.INVOICE)
        if bill_on_fulfilment
        else (FulfilmentCommand.NOTIFY,)
    )
    return ShipmentDecision(ShipmentState.FULFILLED, follow_ons)
