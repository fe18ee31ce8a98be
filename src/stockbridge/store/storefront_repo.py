"""Storefront orders: the hub's JSON of a storefront order (the inbox payload of an order read from
the store), the re-reads asked for by tied versions, and the IMS route's orders and their command
outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from stockbridge.domain.orders import HoldReason
from stockbridge.domain.shipping import Address
from stockbridge.domain.storefront_orders import StorefrontLine, StorefrontOrder
from stockbridge.domain.storefront_routing import RoutedState
from stockbridge.store import leased
from stockbridge.store.schema import cursors, storefront_order_commands, storefront_orders
from stockbridge.store.sql import as_utc, insert_for
from stockbridge.store.states import BatchState


def storefront_order_json(order: StorefrontOrder) -> dict[str, Any]:
    data = asdict(order)
    data["updated_at"] = order.updated_at.isoformat()
    data["cancelled_at"] = None if order.cancelled_at is None else order.cancelled_at.isoformat()
    return data


def storefront_order_from_json(data: dict[str, Any]) -> StorefrontOrder:
    cancelled = data.get("cancelled_at")
    return StorefrontOrder(
        channel=data["channel"],
        order_id=data["order_id"],
        name=data["name"],
        email=data["email"],
        financial_status=data["financial_status"],
        ship_method=data["ship_method"],
        address=None if data["address"] is None else Address(**data["address"]),
        lines=tuple(StorefrontLine(**line) for line in data["lines"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        cancelled_at=None if cancelled is None else datetime.fromisoformat(cancelled),
    )


def read_order_json(order: StorefrontOrder, read_at: datetime) -> dict[str, Any]:
    """An order read from the store, for the inbox (kind `STOREFRONT_ORDER_VERSION`)."""
    return {**storefront_order_json(order), "read_at": read_at.isoformat()}


def read_at_from_json(data: dict[str, Any]) -> datetime | None:
    """When an inbox payload's order was read from the store; None in payloads stored before reads
    were marked."""
    read_at = data.get("read_at")
    return None if read_at is None else datetime.fromisoformat(read_at)


# --- re-reads asked for by tied versions (docs/decisions/0024) -------------------------------------
# One row per order in `cursors`, `storefront.<channel>.reread.<order id>` → when it is due (UTC ISO,
# which sorts as time): written in the fold's transaction with the tie, removed in the transaction
# that stores the read, so a crash between the two reads again and nothing is forgotten.


@dataclass(frozen=True, slots=True)
class Reread:
    channel: str
    order_id: str
    due: str  # as stored: the request is done only if no later tie moved it on meanwhile


def _reread_prefix(channel: str) -> str:
    return f"storefront.{channel}.reread."


def request_reread(connection: Connection, channel: str, order_id: str, due: datetime) -> None:
    """Ask for one read of the order from the store at `due`. An order already asked for keeps one
    request, due at the later of the two (a read taken before a tie's second was over settles
    nothing)."""
    name, value = _reread_prefix(channel) + order_id, due.astimezone(UTC).isoformat()
    connection.execute(
        insert_for(connection, cursors).values(name=name, value=value).on_conflict_do_nothing()
    )
    connection.execute(
        update(cursors).where(cursors.c.name == name, cursors.c.value < value).values(value=value)
    )


def due_rereads(connection: Connection, channel: str, now: datetime, limit: int) -> list[Reread]:
    """The store's re-reads due by `now`, longest waiting first, at most `limit`."""
    prefix = _reread_prefix(channel)
    query = (
        select(cursors.c.name, cursors.c.value)
        .where(
            cursors.c.name.startswith(prefix, autoescape=True),
            cursors.c.value <= now.astimezone(UTC).isoformat(),
        )
        .order_by(cursors.c.value, cursors.c.name)
        .limit(limit)
    )
    return [Reread(channel, r.name.removeprefix(prefix), r.value) for r in connection.execute(query)]


def next_reread_due(connection: Connection) -> datetime | None:
    """When the earliest re-read of any store is due; None when none is asked for."""
    return rereads_waiting(connection)[1]


def reread_done(connection: Connection, reread: Reread) -> bool:
    """The read is stored: remove the request unless a later tie moved it on meanwhile."""
    name = _reread_prefix(reread.channel) + reread.order_id
    done = connection.execute(delete(cursors).where(cursors.c.name == name, cursors.c.value == reread.due))
    return bool(done.rowcount)


def rereads_pending(connection: Connection) -> int:
    return rereads_waiting(connection)[0]


def rereads_waiting(connection: Connection) -> tuple[int, datetime | None]:
    """How many re-reads are asked for (every store), and when the earliest is due."""
    query = select(func.count(), func.min(cursors.c.value)).where(
        cursors.c.name.like("storefront.%.reread.%")
    )
    size, earliest = connection.execute(query).one()
    return int(size), None if earliest is None else datetime.fromisoformat(earliest)


# --- route ims: the orders --------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutedOrder:
    order: StorefrontOrder
    reference: str
    version: str
    state: RoutedState
    holds: tuple[HoldReason, ...]
    ims_id: str | None
    ims_lines: dict[str, int]
    synced_version: str | None


def get_routed(connection: Connection, channel: str, order_id: str, lock: bool = False) -> RoutedOrder | None:
    c = storefront_orders.c
    query = select(storefront_orders).where(c.channel == channel, c.order_id == order_id)
    if lock:
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        return None
    return RoutedOrder(
        order=storefront_order_from_json(row.storefront_order),
        reference=row.reference,
        version=row.version,
        state=RoutedState(row.state),
        holds=tuple(HoldReason(**h) for h in row.holds),
        ims_id=row.ims_id,
        ims_lines={str(k): int(v) for k, v in row.ims_lines.items()},
        synced_version=row.synced_version,
    )


def routed_by_reference(connection: Connection, reference: str) -> RoutedOrder | None:
    """The storefront order the IMS order with this tranId was made from (route ims), if any."""
    c = storefront_orders.c
    row = connection.execute(select(c.channel, c.order_id).where(c.reference == reference)).first()
    return None if row is None else get_routed(connection, row.channel, row.order_id)


def save_routed(connection: Connection, routed: RoutedOrder, now: datetime) -> None:
    values = {
        "reference": routed.reference,
        "version": routed.version,
        "storefront_order": storefront_order_json(routed.order),
        "state": routed.state.value,
        "holds": [asdict(h) for h in routed.holds],
        "ims_id": routed.ims_id,
        "ims_lines": dict(routed.ims_lines),
        "synced_version": routed.synced_version,
        "updated_at": now,
    }
    stmt = insert_for(connection, storefront_orders).values(
        channel=routed.order.channel, order_id=routed.order.order_id, **values
    )
    connection.execute(stmt.on_conflict_do_update(index_elements=["channel", "order_id"], set_=values))


def routed_in(connection: Connection, states: Sequence[RoutedState]) -> list[RoutedOrder]:
    query = select(storefront_orders.c.channel, storefront_orders.c.order_id).where(
        storefront_orders.c.state.in_([s.value for s in states])
    )
    found = [get_routed(connection, r.channel, r.order_id) for r in connection.execute(query)]
    return [r for r in found if r is not None]


def counts_by_state(connection: Connection) -> dict[str, int]:
    query = select(storefront_orders.c.state, func.count()).group_by(storefront_orders.c.state)
    return {row[0]: int(row[1]) for row in connection.execute(query)}


# --- route ims: the command outbox ---------------------------------------------------------------


@dataclass(frozen=True)
class SyncCommand:
    id: int
    channel: str
    order_id: str
    reference: str
    attempts: int
    failing_since: datetime | None = None


def add_command(connection: Connection, channel: str, order_id: str, reference: str, now: datetime) -> bool:
    """Queue "make the IMS order match" unless one is already pending for the order (it will read the
    newest version when it runs); returns whether one was added."""
    c = storefront_order_commands.c
    pending = connection.execute(
        select(c.id).where(c.channel == channel, c.order_id == order_id, c.state == BatchState.PENDING.value)
    ).first()
    if pending is not None:
        return False
    connection.execute(
        storefront_order_commands.insert().values(
            channel=channel,
            order_id=order_id,
            reference=reference,
            state=BatchState.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return True


def claim_commands(
    connection: Connection, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[SyncCommand]:
    return [
        SyncCommand(int(r.id), r.channel, r.order_id, r.reference, int(r.attempts), as_utc(r.failing_since))
        for r in leased.claim_due(connection, storefront_order_commands, owner, now, lease_until, limit)
    ]


def command_done(connection: Connection, command: SyncCommand, owner: str, now: datetime) -> bool:
    return leased.finish(connection, storefront_order_commands, command.id, owner, now)


def command_failed(
    connection: Connection,
    command: SyncCommand,
    owner: str,
    error: str,
    retry_at: datetime | None,
    failing_since: datetime,
) -> None:
    leased.fail(connection, storefront_order_commands, command.id, owner, error, retry_at, failing_since)


def commands_by_state(connection: Connection) -> dict[str, int]:
    return leased.count_by_state(connection, storefront_order_commands)


def replay_dead(
    connection: Connection, now: datetime, ids: Sequence[int] | None = None, reference: str | None = None
) -> int:
    """Queue dead-lettered commands again (all, by id, or one order's); the IMS order is found by its
    external id, so one sent twice is still one order."""
    where = [] if reference is None else [storefront_order_commands.c.reference == reference]
    return leased.replay_dead(connection, storefront_order_commands, now, ids, *where)
