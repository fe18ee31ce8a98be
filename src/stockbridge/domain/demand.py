"""Open demand: units orders have claimed that the warehouse has not yet allocated. Pure.

Between an order reaching the hub and the warehouse allocating it, the warehouse's `available`
still holds the order's units; a storefront told `available` would offer them again. The hub knows
those orders, so it subtracts their lines from each storefront's figure (docs/decisions/0022).

An order claims the lines it has sent the warehouse, or is about to send (a create or amend waiting
in the outbox), while its warehouse status is not yet `allocated` or beyond. Lines are warehouse
lines: already de-kitted and normalised by `orders.prepare`. Held and waiting orders claim nothing:
they are not on their way to the warehouse, and may never be (an unknown item, an unpaid order).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from stockbridge.domain.order_state import OrderState
from stockbridge.domain.orders import WmsLine, WmsOrder

DemandKey = tuple[str, str]  # (warehouse SKU, warehouse)

# The order is, or is about to be, at the warehouse.
CLAIMING_STATES = frozenset({OrderState.RELEASE_PENDING, OrderState.RELEASED, OrderState.AMEND_PENDING})
# Warehouse statuses before allocation (docs/simulators/clarus.md). `on_hold` counts: a hold from
# `allocated` keeps the stock allocated, so this counts it twice there, which under-offers and never
# over-offers (the hub does not see which status the hold came from).
UNALLOCATED_WMS_STATUSES = frozenset({"received", "released", "on_hold"})


@dataclass(frozen=True, slots=True)
class OrderAtHub:
    """What open demand needs of one order the hub holds."""

    state: OrderState
    wms_status: str | None  # the last status the warehouse reported; None: none yet
    sent: WmsOrder | None  # what the warehouse holds, as last acknowledged
    pending: WmsOrder | None = None  # the create or amend waiting to be sent, if any


def claims(order: OrderAtHub) -> bool:
    """Whether the order claims units now: on its way to the warehouse or there, not allocated (nor
    beyond, nor cancelled) yet."""
    if order.state not in CLAIMING_STATES:
        return False
    return order.wms_status is None or order.wms_status in UNALLOCATED_WMS_STATUSES


def awaiting_command(order: OrderAtHub) -> bool:
    """A claiming order whose create or amend is still on its way to the warehouse."""
    return claims(order) and order.state != OrderState.RELEASED


def claimed_lines(order: OrderAtHub) -> tuple[str, tuple[WmsLine, ...]]:
    """(warehouse, lines) the order claims now; no lines when it claims nothing."""
    if not claims(order):
        return "", ()
    about_to_send = order.state != OrderState.RELEASED and order.pending is not None
    lines_of = order.pending if about_to_send else order.sent
    if lines_of is None:
        return "", ()
    return lines_of.warehouse_id, lines_of.lines


def claim_of(order: OrderAtHub) -> Counter[DemandKey]:
    """Units the order claims per (warehouse SKU, warehouse)."""
    warehouse, lines = claimed_lines(order)
    claim: Counter[DemandKey] = Counter()
    for line in lines:
        if line.quantity > 0:
            claim[(line.sku, warehouse)] += line.quantity
    return claim


def open_demand(orders: Iterable[OrderAtHub]) -> dict[DemandKey, int]:
    """Units claimed but not yet allocated, per (warehouse SKU, warehouse); never negative."""
    total: Counter[DemandKey] = Counter()
    for order in orders:
        total.update(claim_of(order))
    return {key: units for key, units in total.items() if units > 0}
