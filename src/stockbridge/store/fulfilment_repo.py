"""Shipments and the fulfilment outbox (Item Fulfilments, notifications, invoices)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from stockbridge.domain.fulfilment import Shipment, ShippedLine
from stockbridge.domain.fulfilment_state import FulfilmentCommand, ShipmentState
from stockbridge.store import leased
from stockbridge.store.schema import fulfilment_commands, shipments
from stockbridge.store.sql import as_utc, insert_for, utc
from stockbridge.store.states import BatchState


def shipment_json(shipment: Shipment) -> dict[str, Any]:
    return asdict(shipment)


def shipment_from_json(data: dict[str, Any]) -> Shipment:
    return Shipment(
        shipment_id=data["shipment_id"],
        reference=data["reference"],
        carrier=data["carrier"],
        service=data["service"],
        tracking_numbers=tuple(data["tracking_numbers"]),
        lines=tuple(ShippedLine(**line) for line in data["lines"]),
        sequence=int(data.get("sequence", 0)),
    )


@dataclass(frozen=True)
class ShipmentRecord:
    shipment: Shipment
    state: ShipmentState
    fulfil_lines: dict[int, int] | None
    state_since: datetime


def _record(r: Any) -> ShipmentRecord:
    lines = None if r.fulfil_lines is None else {int(k): int(v) for k, v in r.fulfil_lines.items()}
    return ShipmentRecord(shipment_from_json(r.payload), ShipmentState(r.state), lines, utc(r.state_since))


def add_shipment(connection: Connection, shipment: Shipment, now: datetime) -> bool:
    """Store a shipment the first time it is seen; False when it was already known."""
    stmt = (
        insert_for(connection, shipments)
        .values(
            shipment_id=shipment.shipment_id,
            reference=shipment.reference,
            payload=shipment_json(shipment),
            sequence=shipment.sequence,
            state=ShipmentState.PARKED.value,
            state_since=now,
            created_at=now,
        )
        .on_conflict_do_nothing()
        .returning(shipments.c.shipment_id)
    )
    return connection.execute(stmt).first() is not None


def get_shipment(connection: Connection, shipment_id: str) -> ShipmentRecord | None:
    row = connection.execute(select(shipments).where(shipments.c.shipment_id == shipment_id)).first()
    return None if row is None else _record(row)


def shipments_of(connection: Connection, reference: str) -> list[ShipmentRecord]:
    query = select(shipments).where(shipments.c.reference == reference).order_by(shipments.c.sequence)
    return [_record(r) for r in connection.execute(query)]


def shipments_in(connection: Connection, states: Sequence[ShipmentState]) -> list[ShipmentRecord]:
    query = (
        select(shipments)
        .where(shipments.c.state.in_([s.value for s in states]))
        .order_by(shipments.c.sequence)
    )
    return [_record(r) for r in connection.execute(query)]


def awaiting_command(
    connection: Connection, kind: FulfilmentCommand, written_before: datetime
) -> list[ShipmentRecord]:
    """Shipments with a `kind` command still pending (not dead) that was written before `written_before`."""
    c = fulfilment_commands.c
    query = (
        select(shipments)
        .join(fulfilment_commands, c.shipment_id == shipments.c.shipment_id)
        .where(
            c.kind == kind.value,
            c.state == BatchState.PENDING.value,
            c.created_at < written_before,
        )
        .order_by(shipments.c.shipment_id)
    )
    return [_record(r) for r in connection.execute(query)]


def fulfilled_since(connection: Connection, since: datetime) -> list[ShipmentRecord]:
    query = select(shipments).where(
        shipments.c.state == ShipmentState.FULFILLED.value, shipments.c.state_since >= since
    )
    return [_record(r) for r in connection.execute(query.order_by(shipments.c.state_since))]


def set_state(
    connection: Connection,
    shipment_id: str,
    state: ShipmentState,
    now: datetime,
    fulfil_lines: dict[int, int] | None = None,
) -> None:
    values: dict[str, Any] = {"state": state.value, "state_since": now}
    if fulfil_lines is not None:
        values["fulfil_lines"] = {str(k): v for k, v in fulfil_lines.items()}
    connection.execute(update(shipments).where(shipments.c.shipment_id == shipment_id).values(**values))


def counts_by_state(connection: Connection) -> dict[str, int]:
    query = select(shipments.c.state, func.count()).group_by(shipments.c.state)
    return {row[0]: int(row[1]) for row in connection.execute(query)}


# --- outbox ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FulfilmentTask:
    id: int
    shipment_id: str
    kind: FulfilmentCommand
    attempts: int
    failing_since: datetime | None = None  # first failure of the current run of attempts


def add_commands(
    connection: Connection, shipment_id: str, kinds: Sequence[FulfilmentCommand], now: datetime
) -> None:
    for kind in kinds:
        stmt = insert_for(connection, fulfilment_commands).values(
            shipment_id=shipment_id,
            kind=kind.value,
            state=BatchState.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        connection.execute(stmt.on_conflict_do_nothing())


def claim(
    connection: Connection,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    kinds: Sequence[FulfilmentCommand] | None = None,
) -> list[FulfilmentTask]:
    """Lease up to `limit` due commands, of `kinds` only when given (each kind's own slots)."""
    where = [] if kinds is None else [fulfilment_commands.c.kind.in_([k.value for k in kinds])]
    return [
        FulfilmentTask(
            int(r.id), r.shipment_id, FulfilmentCommand(r.kind), int(r.attempts), as_utc(r.failing_since)
        )
        for r in leased.claim_due(connection, fulfilment_commands, owner, now, lease_until, limit, *where)
    ]


def done(connection: Connection, task: FulfilmentTask, owner: str, now: datetime) -> bool:
    return leased.finish(connection, fulfilment_commands, task.id, owner, now)


def failed(
    connection: Connection,
    task: FulfilmentTask,
    owner: str,
    error: str,
    retry_at: datetime | None,
    failing_since: datetime,
) -> None:
    leased.fail(connection, fulfilment_commands, task.id, owner, error, retry_at, failing_since)


def replay_dead(
    connection: Connection,
    now: datetime,
    ids: Sequence[int] | None = None,
    *,
    shipment_id: str | None = None,
    notices: bool | None = None,
    kinds: Sequence[FulfilmentCommand] | None = None,
) -> int:
    """Queue dead-lettered commands again: all, by id, or one shipment's notices (`notices=True`) or
    other commands (`notices=False`). Item Fulfilments and invoices keep their external ids and a
    notice its Message-ID, so the far end can tell a resend from a new one."""
    c = fulfilment_commands.c
    where: list[Any] = []
    if shipment_id is not None:
        where.append(c.shipment_id == shipment_id)
    if notices is not None:
        notify = FulfilmentCommand.NOTIFY.value
        where.append(c.kind == notify if notices else c.kind != notify)
    if kinds is not None:
        where.append(c.kind.in_([k.value for k in kinds]))
    return leased.replay_dead(connection, fulfilment_commands, now, ids, *where)


def done_at(connection: Connection, shipment_id: str) -> dict[str, datetime]:
    """When each command of a shipment was acknowledged (for sequencing checks)."""
    query = select(fulfilment_commands).where(
        fulfilment_commands.c.shipment_id == shipment_id, fulfilment_commands.c.done_at.is_not(None)
    )
    return {r.kind: utc(r.done_at) for r in connection.execute(query)}


def commands_by_state(connection: Connection) -> dict[str, int]:
    return leased.count_by_state(connection, fulfilment_commands)


def fulfilled_by_hub(connection: Connection, reference: str) -> dict[int, int]:
    """IMS order line → quantity the hub's own Item Fulfilments have fulfilled (or are fulfilling).

    The IMS's `quantityFulfilled` counts these too; only the rest was fulfilled by hand in the IMS
    and reduces what the warehouse is asked for.
    """
    total: dict[int, int] = {}
    query = select(shipments.c.fulfil_lines).where(
        shipments.c.reference == reference,
        shipments.c.state.in_([ShipmentState.IF_PENDING.value, ShipmentState.FULFILLED.value]),
    )
    for (lines,) in connection.execute(query):
        for line, qty in (lines or {}).items():
            total[int(line)] = total.get(int(line), 0) + int(qty)
    return total
