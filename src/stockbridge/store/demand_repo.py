"""Open demand read from the orders the hub holds (domain/demand.py says which units they claim)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from sqlalchemy import Connection, or_, select

from stockbridge.domain.demand import (
    CLAIMING_STATES,
    UNALLOCATED_WMS_STATUSES,
    DemandKey,
    OrderAtHub,
    open_demand,
)
from stockbridge.domain.order_state import CommandKind, OrderState
from stockbridge.domain.orders import WmsOrder
from stockbridge.store.orders_repo import wms_order_from_json
from stockbridge.store.schema import order_commands, sales_orders
from stockbridge.store.sql import chunks
from stockbridge.store.states import BatchState

_SENDING = (CommandKind.CREATE.value, CommandKind.AMEND.value)
# A command still to be sent: due, in flight, or dead-lettered (a person may replay it).
_NOT_SENT = (BatchState.PENDING.value, BatchState.DEAD.value)


def claiming_orders(connection: Connection, ims_ids: Sequence[str] | None = None) -> dict[str, OrderAtHub]:
    """ims_id → the order, for every order (or the ones named) that may claim units now."""
    query = select(
        sales_orders.c.ims_id, sales_orders.c.state, sales_orders.c.wms_status, sales_orders.c.sent
    ).where(
        sales_orders.c.state.in_([s.value for s in CLAIMING_STATES]),
        or_(
            sales_orders.c.wms_status.is_(None),
            sales_orders.c.wms_status.in_(sorted(UNALLOCATED_WMS_STATUSES)),
        ),
    )
    rows = []
    if ims_ids is None:
        rows = list(connection.execute(query))
    else:
        for chunk in chunks(ims_ids):
            rows += list(connection.execute(query.where(sales_orders.c.ims_id.in_(list(chunk)))))
    pending = _pending_payloads(
        connection, [r.ims_id for r in rows if OrderState(r.state) != OrderState.RELEASED]
    )
    return {
        r.ims_id: OrderAtHub(
            OrderState(r.state),
            r.wms_status,
            None if r.sent is None else wms_order_from_json(r.sent),
            pending.get(r.ims_id),
        )
        for r in rows
    }


def pending_payload(connection: Connection, ims_id: str) -> WmsOrder | None:
    """The order as its newest create or amend still to be sent will give it to the warehouse."""
    return _pending_payloads(connection, [ims_id]).get(ims_id)


def _pending_payloads(connection: Connection, ims_ids: Sequence[str]) -> dict[str, WmsOrder]:
    found: dict[str, WmsOrder] = {}
    for chunk in chunks(ims_ids):
        query = (
            select(order_commands.c.ims_id, order_commands.c.payload)
            .where(
                order_commands.c.state.in_(_NOT_SENT),
                order_commands.c.kind.in_(_SENDING),
                order_commands.c.ims_id.in_(list(chunk)),
            )
            .order_by(order_commands.c.id)
        )
        for r in connection.execute(query):
            if r.payload:
                found[r.ims_id] = wms_order_from_json(r.payload)  # the newest wins
    return found


def demand_for(connection: Connection, keys: Iterable[DemandKey]) -> dict[DemandKey, int]:
    """Open demand of the (warehouse SKU, warehouse) pairs asked for (absent: none)."""
    wanted: Collection[DemandKey] = set(keys)
    if not wanted:
        return {}
    demand = open_demand(claiming_orders(connection).values())
    return {key: units for key, units in demand.items() if key in wanted}
