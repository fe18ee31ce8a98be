"""A shipment's life in the hub: parked until its order is known, one Item Fulfilment, then — and
only then — the customer's notification and the invoice. Pure.

A storefront's order (decision 0023) is told to its store as one storefront fulfilment per shipment,
which tells the customer, so the hub sends no notice of its own: on the direct route (no IMS order)
the storefront fulfilment is the shipment's only command; through the IMS it is a follow-on of the
Item Fulfilment like the invoice, so the store never shows a parcel the IMS does not.
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
    STORE_PENDING = "store_pending"  # storefront order sent straight to Clarus: its store's fulfilment queued
    STORE_FULFILLED = "store_fulfilled"  # ... and the store has it


class FulfilmentCommand(StrEnum):
    ITEM_FULFILMENT = "item_fulfilment"
    NOTIFY = "notify"
    INVOICE = "invoice"
    STORE_FULFILMENT = "store_fulfilment"  # the store's fulfilment with tracking (it tells the customer)


@dataclass(frozen=True)
class ShipmentDecision:
    state: ShipmentState
    commands: tuple[FulfilmentCommand, ...] = ()


def on_shipment(
    order_known: bool, lines_to_fulfil: int, order_cancelled: bool = False, storefront_direct: bool = False
) -> ShipmentDecision:
    """A shipment arrives (or its parked order has just become known). `storefront_direct`: the
    order is a storefront's sent straight to Clarus, with no IMS order: its store is told directly."""
    if not order_known:
        return ShipmentDecision(ShipmentState.PARKED)
    if order_cancelled:
        return ShipmentDecision(ShipmentState.ORDER_CANCELLED)
    if lines_to_fulfil == 0:
        return ShipmentDecision(ShipmentState.PART_BUNDLE)
    if storefront_direct:
        return ShipmentDecision(ShipmentState.STORE_PENDING, (FulfilmentCommand.STORE_FULFILMENT,))
    return ShipmentDecision(ShipmentState.IF_PENDING, (FulfilmentCommand.ITEM_FULFILMENT,))


def on_item_fulfilment(
    state: ShipmentState,
    created: bool,
    bill_on_fulfilment: bool,
    order_cancelled: bool = False,
    storefront: bool = False,
) -> ShipmentDecision:
    """The IMS answered the Item Fulfilment for good. Follow-ons are emitted here and nowhere else,
    so nobody hears of a shipment before its Item Fulfilment exists. `storefront`: the IMS order
    was made from a storefront's order; its store's fulfilment tells the customer, not the hub."""
    if state != ShipmentState.IF_PENDING:
        return ShipmentDecision(state)
    if not created:
        return ShipmentDecision(ShipmentState.ORDER_CANCELLED if order_cancelled else ShipmentState.REJECTED)
    tell = FulfilmentCommand.STORE_FULFILMENT if storefront else FulfilmentCommand.NOTIFY
    follow_ons = (tell, FulfilmentCommand.INVOICE) if bill_on_fulfilment else (tell,)
    return ShipmentDecision(ShipmentState.FULFILLED, follow_ons)


def on_store_fulfilment(state: ShipmentState) -> ShipmentDecision:
    """The store has the fulfilment. A direct-route shipment is then done; one through the IMS was
    already FULFILLED (its Item Fulfilment) and stays so."""
    if state == ShipmentState.STORE_PENDING:
        return ShipmentDecision(ShipmentState.STORE_FULFILLED)
    return ShipmentDecision(state)
