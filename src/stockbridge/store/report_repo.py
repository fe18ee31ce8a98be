"""What the reports read from the hub's tables (`reports/`): one place for their queries.

Each function returns plain rows; the reports' model (`reports/daily.py`, `reports/weekly.py`) does
the arithmetic. Every figure a report shows is counted here from the database, never kept elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from stockbridge.domain import inbound
from stockbridge.domain.fulfilment_state import ShipmentState
from stockbridge.store.schema import (
    inbox,
    latency_samples,
    observed_stock,
    sales_orders,
    shipments,
    storefront_orders,
    targets,
)
from stockbridge.store.sql import as_utc, utc
from stockbridge.store.states import InboxState, TargetState


@dataclass(frozen=True, slots=True)
class LatencyRow:
    channel: str
    acked_at: datetime
    latency_ms: int


def latency_between(connection: Connection, start: datetime, end: datetime) -> list[LatencyRow]:
    query = select(latency_samples.c.channel, latency_samples.c.acked_at, latency_samples.c.latency_ms).where(
        latency_samples.c.acked_at >= start, latency_samples.c.acked_at < end
    )
    return [LatencyRow(r.channel, utc(r.acked_at), int(r.latency_ms)) for r in connection.execute(query)]


@dataclass(frozen=True, slots=True)
class TargetStatus:
    """One channel's figure for one SKU at one location, as the hub holds it."""

    channel: str
    sku: str
    location: str
    warehouse_id: str
    desired: int
    pushed: int | None
    dirty: bool
    dirty_since: datetime | None
    state: TargetState
    in_flight: bool  # a batch carrying it is written and not yet acknowledged
    updated_at: datetime


def target_statuses(
    connection: Connection, channel: str | None = None, *, unsettled_only: bool = False
) -> list[TargetStatus]:
    query = select(targets).order_by(targets.c.channel, targets.c.sku, targets.c.location)
    if channel is not None:
        query = query.where(targets.c.channel == channel)
    if unsettled_only:
        query = query.where(
            (targets.c.dirty.is_(True))
            | (targets.c.state != TargetState.OK.value)
            | targets.c.batch_id.is_not(None)
        )
    return [
        TargetStatus(
            r.channel,
            r.sku,
            r.location,
            r.warehouse_id,
            int(r.desired),
            None if r.pushed is None else int(r.pushed),
            bool(r.dirty),
            as_utc(r.dirty_since),
            TargetState(r.state),
            r.batch_id is not None,
            utc(r.updated_at),
        )
        for r in connection.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class OrderRow:
    reference: str
    channel: str
    state: str
    since: datetime
    holds: tuple[str, ...]  # each hold's reason code


def orders_in_states(connection: Connection, states: Sequence[str]) -> list[OrderRow]:
    """IMS orders (and storefront orders sent straight to Clarus) in `states`, and storefront orders
    routed through the IMS in the same states, oldest first."""
    query = (
        select(
            sales_orders.c.reference,
            sales_orders.c.channel,
            sales_orders.c.state,
            sales_orders.c.state_since,
            sales_orders.c.holds,
        )
        .where(sales_orders.c.state.in_(list(states)))
        .order_by(sales_orders.c.state_since)
    )
    found = [
        OrderRow(r.reference, r.channel, r.state, utc(r.state_since), tuple(h["code"] for h in r.holds))
        for r in connection.execute(query)
    ]
    # Storefront orders on their way to the IMS (orders_route ims) are held in their own table.
    routed = select(
        storefront_orders.c.reference,
        storefront_orders.c.channel,
        storefront_orders.c.state,
        storefront_orders.c.updated_at,
        storefront_orders.c.holds,
    ).where(storefront_orders.c.state.in_(list(states)))
    found += [
        OrderRow(r.reference, r.channel, r.state, utc(r.updated_at), tuple(h["code"] for h in r.holds))
        for r in connection.execute(routed)
    ]
    return sorted(found, key=lambda o: o.since)


@dataclass(frozen=True, slots=True)
class ShipmentRow:
    shipment_id: str
    reference: str
    state: ShipmentState
    since: datetime
    units: dict[str, int]  # warehouse SKU -> units in the parcel


# A shipment in one of these has left the warehouse without its Item Fulfilment (or its storefront's
# fulfilment) existing yet.
WITHOUT_FULFILMENT = (
    ShipmentState.PARKED,
    ShipmentState.IF_PENDING,
    ShipmentState.PART_BUNDLE,
    ShipmentState.REJECTED,
    ShipmentState.STORE_PENDING,
)


def shipments_without_fulfilment(connection: Connection) -> list[ShipmentRow]:
    query = (
        select(
            shipments.c.shipment_id,
            shipments.c.reference,
            shipments.c.state,
            shipments.c.state_since,
            shipments.c.payload,
        )
        .where(shipments.c.state.in_([s.value for s in WITHOUT_FULFILMENT]))
        .order_by(shipments.c.state_since)
    )
    found = []
    for r in connection.execute(query):
        units: dict[str, int] = {}
        for line in r.payload.get("lines", []):
            units[str(line["sku"])] = units.get(str(line["sku"]), 0) + int(line["quantity"])
        found.append(
            ShipmentRow(r.shipment_id, r.reference, ShipmentState(r.state), utc(r.state_since), units)
        )
    return found


def observed_by_status(connection: Connection) -> dict[tuple[str, str], dict[str, int]]:
    """(SKU, warehouse) -> status -> quantity, as the hub has folded the warehouse's stock."""
    found: dict[tuple[str, str], dict[str, int]] = {}
    for r in connection.execute(
        select(
            observed_stock.c.sku,
            observed_stock.c.warehouse_id,
            observed_stock.c.status,
            observed_stock.c.quantity,
        )
    ):
        found.setdefault((r.sku, r.warehouse_id), {})[r.status] = int(r.quantity)
    return found


@dataclass(frozen=True, slots=True)
class StoredStockEntry:
    """An inbox row carrying warehouse stock (a movement or a snapshot page), raw as it was stored."""

    kind: str
    payload: str
    received_at: datetime


def stock_entries(connection: Connection, before: datetime) -> list[StoredStockEntry]:
    """Every folded movement and snapshot page received before `before`, in arrival order."""
    query = (
        select(inbox.c.kind, inbox.c.payload, inbox.c.received_at)
        .where(
            inbox.c.kind.in_(sorted(inbound.STOCK_KINDS)),
            inbox.c.state == InboxState.DONE.value,
            inbox.c.received_at < before,
        )
        .order_by(inbox.c.id)
    )
    return [StoredStockEntry(r.kind, r.payload, utc(r.received_at)) for r in connection.execute(query)]
