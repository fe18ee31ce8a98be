"""The order state machine: what the hub does when an IMS order or a warehouse status changes. Pure.

`decide` takes the order as the hub holds it and returns the next state and at most one command for
the warehouse. Commands are written with the transition (transactional outbox); while one is
pending, later IMS versions are only recorded and decided on once it is acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from stockbridge.domain.orders import CANCELLED, HoldReason, SalesOrder, WmsOrder


class OrderState(StrEnum):
    WAITING = "waiting"  # not (yet) at a release status in the IMS
    HELD = "held"  # cannot be sent right: reasons and owners recorded
    RELEASE_PENDING = "release_pending"  # create command in the outbox
    RELEASED = "released"  # the warehouse holds the order as we sent it
    AMEND_PENDING = "amend_pending"
    CANCEL_PENDING = "cancel_pending"
    LOCKED = "locked"  # picking started: the warehouse no longer takes edits
    CANCELLED = "cancelled"
    COMPLETE = "complete"  # nothing left for the warehouse (fulfilled or closed in the IMS)
    # Cancelled in the IMS, but the warehouse despatched it anyway: goods left the building on an
    # order nobody will pay for. Nothing more to send; a person recalls the parcel and refunds.
    DESPATCHED_CANCELLED = "despatched_cancelled"


PENDING = frozenset({OrderState.RELEASE_PENDING, OrderState.AMEND_PENDING, OrderState.CANCEL_PENDING})
NEVER_SENT = frozenset({OrderState.WAITING, OrderState.HELD})
FINAL = frozenset({OrderState.CANCELLED, OrderState.COMPLETE, OrderState.DESPATCHED_CANCELLED})
# Warehouse statuses from which it refuses edits and cancellations (docs/simulators/clarus.md).
LOCKED_WMS_STATUSES = frozenset({"picking", "packed", "partially_despatched", "despatched"})
# Warehouse statuses that mean goods have left the building.
DESPATCHED_WMS_STATUSES = frozenset({"partially_despatched", "despatched"})
CANCELLED_AFTER_DESPATCH = HoldReason(
    "cancelled_after_despatch",
    "cancelled in the IMS, but the warehouse has despatched it: recall or return the goods, refund the "
    "customer (docs/operating.md)",
)


class CommandKind(StrEnum):
    CREATE = "create"
    AMEND = "amend"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Decision:
    state: OrderState
    command: CommandKind | None = None
    holds: tuple[HoldReason, ...] = ()
    problem: HoldReason | None = None  # something a person must act on (raised as an exception)


def decide(
    state: OrderState,
    order: SalesOrder,
    prepared: WmsOrder | list[HoldReason],
    sent: WmsOrder | None,
    release_statuses: frozenset[str],
    wms_status: str | None = None,
) -> Decision:
    """Next state for an order, given its newest IMS version, what the warehouse holds (`sent`) and
    the last status the warehouse reported for it."""
    if state in PENDING:
        return Decision(state)
    if despatched_though_cancelled(state, order.status == CANCELLED, wms_status):
        # An order the warehouse reported despatched is COMPLETE; cancelled in the IMS it is not.
        return Decision(OrderState.DESPATCHED_CANCELLED, problem=CANCELLED_AFTER_DESPATCH)
    if state in FINAL:
        return Decision(state)
    nothing_open = not order.open_lines
    if order.status == CANCELLED or (nothing_open and state not in NEVER_SENT):
        return _withdraw(state, order)
    if state in NEVER_SENT:
        if nothing_open:
            return Decision(OrderState.COMPLETE)
        if order.status not in release_statuses:
            return Decision(OrderState.WAITING)
        if isinstance(prepared, list):
            return Decision(OrderState.HELD, holds=tuple(prepared))
        return Decision(OrderState.RELEASE_PENDING, CommandKind.CREATE)
    # Released or locked: the warehouse has the order.
    if isinstance(prepared, list):
        reasons = "; ".join(h.detail for h in prepared)
        return Decision(
            state, problem=HoldReason("edit_invalid", f"the edited order cannot be sent: {reasons}")
        )
    if prepared == sent:
        return Decision(state)
    if state == OrderState.LOCKED:
        return Decision(
            state, problem=HoldReason("edit_after_pick", "the order changed in the IMS after picking started")
        )
    return Decision(OrderState.AMEND_PENDING, CommandKind.AMEND)


def _withdraw(state: OrderState, order: SalesOrder) -> Decision:
    if state in NEVER_SENT:
        return Decision(OrderState.CANCELLED)
    if state == OrderState.LOCKED:
        return Decision(
            state,
            problem=HoldReason("edit_after_pick", "the order was cancelled in the IMS after picking started"),
        )
    return Decision(OrderState.CANCEL_PENDING, CommandKind.CANCEL)


def despatched_though_cancelled(state: OrderState, ims_cancelled: bool, wms_status: str | None) -> bool:
    """Goods left the warehouse for an order the hub sent and the IMS has since cancelled."""
    return (
        ims_cancelled
        and wms_status in DESPATCHED_WMS_STATUSES
        and state not in NEVER_SENT
        and state not in (OrderState.CANCELLED, OrderState.DESPATCHED_CANCELLED)
    )


def after_warehouse_status(state: OrderState, wms_status: str, ims_cancelled: bool = False) -> OrderState:
    """The state once the warehouse reports `wms_status` for an order it holds."""
    if wms_status == "cancelled" and state not in NEVER_SENT:
        return OrderState.CANCELLED
    if despatched_though_cancelled(state, ims_cancelled, wms_status) and state not in PENDING:
        return OrderState.DESPATCHED_CANCELLED
    if wms_status == "despatched" and state in {OrderState.RELEASED, OrderState.LOCKED}:
        return OrderState.COMPLETE  # every line shipped: fulfilments follow shipment by shipment
    if wms_status in LOCKED_WMS_STATUSES and state == OrderState.RELEASED:
        return OrderState.LOCKED
    return state


class Outcome(StrEnum):
    DONE = "done"  # the warehouse did it (or had already done it: a retried create answered 409)
    LOCKED = "locked"  # refused: picking has started
    REJECTED = "rejected"  # refused for its content (422), with the warehouse's reason


def after_command(kind: CommandKind, outcome: Outcome, reason: str = "") -> Decision:
    """The state once the warehouse has answered a command for good."""
    if outcome == Outcome.DONE:
        return Decision(OrderState.CANCELLED if kind == CommandKind.CANCEL else OrderState.RELEASED)
    if outcome == Outcome.LOCKED:
        what = "cancellation" if kind == CommandKind.CANCEL else "edit"
        return Decision(
            OrderState.LOCKED,
            problem=HoldReason("edit_after_pick", f"the warehouse refused the {what}: picking has started"),
        )
    if kind == CommandKind.CREATE:
        return Decision(OrderState.HELD, holds=(HoldReason("rejected_by_wms", reason),))
    return Decision(
        OrderState.RELEASED, problem=HoldReason("edit_invalid", f"the warehouse refused: {reason}")
    )
