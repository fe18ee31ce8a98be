"""Work waiting in each of the hub's queues, counted with the time its oldest item has waited since.

One grouped query per table; `monitor/backlog.py` names the flows and turns times into ages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Table, func, select

from stockbridge.domain.fulfilment_state import ShipmentState
from stockbridge.domain.order_state import OrderState
from stockbridge.domain.storefront_routing import RoutedState
from stockbridge.store.schema import (
    alerts,
    finance_batches,
    fulfilment_commands,
    inbox,
    order_commands,
    push_batches,
    sales_orders,
    shipments,
    storefront_order_commands,
    storefront_orders,
    targets,
)
from stockbridge.store.sql import as_utc
from stockbridge.store.states import BatchState, InboxState, TargetState


@dataclass(frozen=True, slots=True)
class Waiting:
    """`size` items of one group; the oldest has waited since `since` (None: empty, or not known)."""

    size: int
    since: datetime | None


def _grouped(
    connection: Connection,
    table: Table,
    since: Column[Any],
    where: Sequence[ColumnElement[bool]],
    by: Column[Any] | None = None,
) -> dict[str, Waiting]:
    columns: list[Any] = [func.count(), func.min(since)]
    query = select(*columns, *([by] if by is not None else [])).select_from(table).where(*where)
    if by is not None:
        query = query.group_by(by)
    found: dict[str, Waiting] = {}
    for row in connection.execute(query):
        key = "" if by is None else str(row[2])
        if row[0]:
            found[key] = Waiting(int(row[0]), as_utc(row[1]))
    return found


def inbox_pending(connection: Connection) -> dict[str, Waiting]:
    """Inbox entries not yet folded, by kind, since they were received."""
    return _grouped(
        connection, inbox, inbox.c.received_at, [inbox.c.state == InboxState.PENDING.value], inbox.c.kind
    )


def dirty_targets(connection: Connection) -> dict[str, Waiting]:
    """Dirty targets by channel, since they became dirty. Blocked ones wait for a person under their
    own exceptions (unknown or inactive SKU) and are not counted."""
    where = [targets.c.dirty.is_(True), targets.c.state == TargetState.OK.value]
    return _grouped(connection, targets, targets.c.dirty_since, where, targets.c.channel)


def pending_stock_batches(connection: Connection) -> dict[str, Waiting]:
    where = [push_batches.c.state == BatchState.PENDING.value]
    return _grouped(connection, push_batches, push_batches.c.created_at, where, push_batches.c.channel)


def pending_finance_batches(connection: Connection) -> Waiting | None:
    """Daily finance adjustments written and not yet posted (a batch is due at once when made)."""
    where = [finance_batches.c.state == BatchState.PENDING.value]
    return _grouped(connection, finance_batches, finance_batches.c.created_at, where).get("")


def pending_order_commands(connection: Connection) -> Waiting | None:
    where = [order_commands.c.state == BatchState.PENDING.value]
    return _grouped(connection, order_commands, order_commands.c.created_at, where).get("")


def pending_storefront_order_commands(connection: Connection) -> Waiting | None:
    table = storefront_order_commands
    where = [table.c.state == BatchState.PENDING.value]
    return _grouped(connection, table, table.c.created_at, where).get("")


def pending_alerts(connection: Connection) -> Waiting | None:
    """Alert messages not yet taken by their channel (one row per channel), since they were queued."""
    where = [alerts.c.state == BatchState.PENDING.value]
    return _grouped(connection, alerts, alerts.c.created_at, where).get("")


def pending_fulfilment_commands(connection: Connection) -> dict[str, Waiting]:
    """By kind (item_fulfilment, invoice, notify, store_fulfilment), since they were written."""
    table = fulfilment_commands
    where = [table.c.state == BatchState.PENDING.value]
    return _grouped(connection, table, table.c.created_at, where, table.c.kind)


def held_orders(connection: Connection) -> dict[str, Waiting]:
    """Held orders by the channel they came from: IMS sales orders and storefront orders sent straight
    to Clarus since they were held; storefront orders held on their way into the IMS since their
    last change (that table keeps no state time)."""
    held = _grouped(
        connection,
        sales_orders,
        sales_orders.c.state_since,
        [sales_orders.c.state == OrderState.HELD.value],
        sales_orders.c.channel,
    )
    routed = _grouped(
        connection,
        storefront_orders,
        storefront_orders.c.updated_at,
        [storefront_orders.c.state == RoutedState.HELD.value],
        storefront_orders.c.channel,
    )
    for channel, waiting in routed.items():
        other = held.get(channel)
        if other is None:
            held[channel] = waiting
        else:
            times = [t for t in (other.since, waiting.since) if t is not None]
            held[channel] = Waiting(other.size + waiting.size, min(times) if times else None)
    return held


def parked_shipments(connection: Connection) -> Waiting | None:
    """Shipments waiting for an order the hub does not know yet, since they arrived."""
    where = [shipments.c.state == ShipmentState.PARKED.value]
    return _grouped(connection, shipments, shipments.c.state_since, where).get("")
