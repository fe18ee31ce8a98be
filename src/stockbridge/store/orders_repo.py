"""Sales orders as the hub holds them, and the outbox of commands for the warehouse."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from stockbridge.domain.order_state import CommandKind, OrderState
from stockbridge.domain.orders import HoldReason, OrderLine, SalesOrder, WmsLine, WmsOrder
from stockbridge.domain.shipping import Address
from stockbridge.store import leased
from stockbridge.store.schema import order_commands, sales_orders
from stockbridge.store.sql import as_utc, insert_for, utc
from stockbridge.store.states import BatchState

# --- serialisation --------------------------------------------------------------------------------


def sales_order_json(order: SalesOrder) -> dict[str, Any]:
    return asdict(order)


def sales_order_from_json(data: dict[str, Any]) -> SalesOrder:
    return SalesOrder(
        ims_id=data["ims_id"],
        reference=data["reference"],
        status=data["status"],
        ship_method=data["ship_method"],
        address=None if data["address"] is None else Address(**data["address"]),
        lines=tuple(OrderLine(**line) for line in data["lines"]),
        last_modified=data["last_modified"],
        email=data.get("email", ""),
    )


def wms_order_json(order: WmsOrder) -> dict[str, Any]:
    return asdict(order)


def wms_order_from_json(data: dict[str, Any]) -> WmsOrder:
    return WmsOrder(
        reference=data["reference"],
        warehouse_id=data["warehouse_id"],
        ship_method=data["ship_method"],
        ship_to=Address(**data["ship_to"]),
        lines=tuple(WmsLine(**line) for line in data["lines"]),
    )


def order_version(order: SalesOrder) -> str:
    """The IMS stamp plus a content hash: NetSuite stamps to the second, so two edits within one
    second differ only by content."""
    digest = hashlib.sha256(json.dumps(sales_order_json(order), sort_keys=True).encode()).hexdigest()[:16]
    return f"{order.last_modified}#{digest}"


# --- orders ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRecord:
    order: SalesOrder
    ims_version: str
    state: OrderState
    holds: tuple[HoldReason, ...]
    sent: WmsOrder | None
    wms_status: str | None
    wms_sequence: int | None
    state_since: datetime
    channel: str = "ims"  # where the order came from: the IMS, or a storefront sending straight to Clarus


def _record(r: Any) -> OrderRecord:
    return OrderRecord(
        order=sales_order_from_json(r.ims_order),
        ims_version=r.ims_version,
        state=OrderState(r.state),
        holds=tuple(HoldReason(**h) for h in r.holds),
        sent=None if r.sent is None else wms_order_from_json(r.sent),
        wms_status=r.wms_status,
        wms_sequence=None if r.wms_sequence is None else int(r.wms_sequence),
        state_since=utc(r.state_since),
        channel=r.channel,
    )


def get_order(
    connection: Connection, *, ims_id: str | None = None, reference: str | None = None, lock: bool = False
) -> OrderRecord | None:
    query = select(sales_orders)
    query = (
        query.where(sales_orders.c.ims_id == ims_id)
        if ims_id
        else query.where(sales_orders.c.reference == reference)
    )
    if lock:
        query = query.with_for_update()
    row = connection.execute(query).first()
    return None if row is None else _record(row)


def save_order(connection: Connection, record: OrderRecord, now: datetime) -> None:
    values = {
        "reference": record.order.reference,
        "ims_version": record.ims_version,
        "ims_order": sales_order_json(record.order),
        "state": record.state.value,
        "holds": [asdict(h) for h in record.holds],
        "sent": None if record.sent is None else wms_order_json(record.sent),
        "wms_status": record.wms_status,
        "wms_sequence": record.wms_sequence,
        "state_since": record.state_since,
        "updated_at": now,
        "channel": record.channel,
    }
    stmt = insert_for(connection, sales_orders).values(ims_id=record.order.ims_id, **values)
    connection.execute(stmt.on_conflict_do_update(index_elements=["ims_id"], set_=values))


def orders_in(connection: Connection, states: Sequence[OrderState]) -> list[OrderRecord]:
    query = select(sales_orders).where(sales_orders.c.state.in_([s.value for s in states]))
    return [_record(r) for r in connection.execute(query.order_by(sales_orders.c.state_since))]


def all_orders(connection: Connection) -> list[OrderRecord]:
    return [_record(r) for r in connection.execute(select(sales_orders).order_by(sales_orders.c.reference))]


def counts_by_state(connection: Connection) -> dict[str, int]:
    query = select(sales_orders.c.state, func.count()).group_by(sales_orders.c.state)
    return {row[0]: int(row[1]) for row in connection.execute(query)}


# --- command outbox -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderCommand:
    id: int
    ims_id: str
    reference: str
    kind: CommandKind
    order: WmsOrder | None
    attempts: int
    failing_since: datetime | None = None  # first failure of the current run of attempts


def add_command(
    connection: Connection,
    ims_id: str,
    kind: CommandKind,
    order: WmsOrder | None,
    reference: str,
    now: datetime,
) -> None:
    connection.execute(
        order_commands.insert().values(
            ims_id=ims_id,
            reference=reference,
            kind=kind.value,
            payload={} if order is None else wms_order_json(order),
            state=BatchState.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def queued_order(connection: Connection, ims_id: str) -> WmsOrder | None:
    """The order as the newest create or amend still on its way to the warehouse (pending, or dead
    and waiting for a replay) carries it; None when there is none."""
    row = connection.execute(
        select(order_commands.c.payload)
        .where(
            order_commands.c.ims_id == ims_id,
            order_commands.c.kind.in_([CommandKind.CREATE.value, CommandKind.AMEND.value]),
            order_commands.c.state.in_([BatchState.PENDING.value, BatchState.DEAD.value]),
        )
        .order_by(order_commands.c.id.desc())
        .limit(1)
    ).first()
    return wms_order_from_json(row.payload) if row is not None and row.payload else None


def claim_commands(
    connection: Connection, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[OrderCommand]:
    return [
        OrderCommand(
            int(r.id),
            r.ims_id,
            r.reference,
            CommandKind(r.kind),
            wms_order_from_json(r.payload) if r.payload else None,
            int(r.attempts),
            as_utc(r.failing_since),
        )
        for r in leased.claim_due(connection, order_commands, owner, now, lease_until, limit)
    ]


def command_done(connection: Connection, command: OrderCommand, owner: str, now: datetime) -> bool:
    return leased.finish(connection, order_commands, command.id, owner, now)


def command_failed(
    connection: Connection,
    command: OrderCommand,
    owner: str,
    error: str,
    retry_at: datetime | None,
    failing_since: datetime,
) -> None:
    leased.fail(connection, order_commands, command.id, owner, error, retry_at, failing_since)


def replay_dead_commands(
    connection: Connection, now: datetime, ids: Sequence[int] | None = None, reference: str | None = None
) -> int:
    """Queue dead-lettered commands again (all, by id, or one order's). Clarus keys orders by
    reference, so a create or amend sent twice holds one order there."""
    where = [] if reference is None else [order_commands.c.reference == reference]
    return leased.replay_dead(connection, order_commands, now, ids, *where)


def commands_by_state(connection: Connection) -> dict[str, int]:
    return leased.count_by_state(connection, order_commands)
