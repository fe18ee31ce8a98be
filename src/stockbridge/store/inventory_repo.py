"""Observed stock, targets and the push outbox: the named queries of the inventory flow.

Every state change is a conditional UPDATE whose WHERE names the state it leaves from, so two workers
racing for the same row cannot both win.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, case, delete, func, or_, select, tuple_, update

from stockbridge.domain.stock import StockBalance
from stockbridge.store.schema import ims_items, observed_stock, push_batches, targets
from stockbridge.store.sql import as_utc, chunks, insert_for, utc
from stockbridge.store.states import BatchState, TargetState

TargetKey = tuple[str, str, str]  # (channel, sku, location)


# --- observed stock -------------------------------------------------------------------------------


def fold_observed(connection: Connection, balances: Sequence[StockBalance]) -> None:
    """Upsert balances; a row only moves forward (strictly newer version wins)."""
    newest: dict[tuple[str, str, str], StockBalance] = {}
    for b in balances:
        key = (b.sku, b.warehouse_id, b.status)
        current = newest.get(key)
        if current is None or b.version > current.version:
            newest[key] = b
    rows = [
        {
            "sku": b.sku,
            "warehouse_id": b.warehouse_id,
            "status": b.status,
            "quantity": b.quantity,
            "version": b.version,
            "occurred_at": b.occurred_at,
        }
        for b in newest.values()
    ]
    if not rows:
        return
    # executemany of one statement: compiled once, where a multi-row VALUES is compiled every time.
    stmt = insert_for(connection, observed_stock)
    connection.execute(
        stmt.on_conflict_do_update(
            index_elements=["sku", "warehouse_id", "status"],
            set_={
                "quantity": stmt.excluded.quantity,
                "version": stmt.excluded.version,
                "occurred_at": stmt.excluded.occurred_at,
            },
            where=observed_stock.c.version < stmt.excluded.version,
        ),
        rows,
    )


def observed_for(
    connection: Connection, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[StockBalance]]:
    """All status balances for each (sku, warehouse) pair."""
    result: dict[tuple[str, str], list[StockBalance]] = defaultdict(list)
    wanted = list(pairs)
    for chunk in chunks(wanted):
        query = select(observed_stock).where(
            tuple_(observed_stock.c.sku, observed_stock.c.warehouse_id).in_(list(chunk))
        )
        for r in connection.execute(query):
            result[(r.sku, r.warehouse_id)].append(
                StockBalance(
                    r.sku, r.warehouse_id, r.status, int(r.quantity), int(r.version), as_utc(r.occurred_at)
                )
            )
    return result


def observed_stock_by_warehouse(connection: Connection, warehouse_id: str) -> dict[str, dict[str, int]]:
    stock: dict[str, dict[str, int]] = defaultdict(dict)
    query = select(observed_stock).where(observed_stock.c.warehouse_id == warehouse_id)
    for r in connection.execute(query):
        stock[r.sku][r.status] = int(r.quantity)
    return stock


# --- targets --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DesiredFigure:
    key: TargetKey
    warehouse_id: str
    desired: int
    version: int
    occurred_at: datetime | None
    movements: int


@dataclass(frozen=True, slots=True)
class TargetRow:
    channel: str
    sku: str
    location: str
    desired: int
    desired_version: int
    pushed: int | None
    source_occurred_at: datetime | None
    movements_since_push: int


def _key_filter(keys: Sequence[TargetKey]) -> Any:
    return tuple_(targets.c.channel, targets.c.sku, targets.c.location).in_(list(keys))


def lock_targets(
    connection: Connection, keys: Sequence[TargetKey], warehouse_of: Mapping[TargetKey, str], now: datetime
) -> dict[TargetKey, TargetRow]:
    """Create missing target rows, then lock all of them in key order (no deadlocks between folders).

    Folding two movements of one SKU in two workers at once would otherwise let each compute the
    desired figure from a view that lacks the other's balance.
    """
    ordered = sorted(set(keys))
    if ordered:
        rows = [
            {
                "channel": c,
                "sku": s,
                "location": loc,
                "warehouse_id": warehouse_of[(c, s, loc)],
                "desired": 0,
                "desired_version": -1,
                "dirty": False,
                "state": TargetState.OK.value,
                "priority": 0,
                "movements_since_push": 0,
                "updated_at": now,
            }
            for c, s, loc in ordered
        ]
        connection.execute(insert_for(connection, targets).on_conflict_do_nothing(), rows)
    found: dict[TargetKey, TargetRow] = {}
    for chunk in chunks(ordered):
        query = (
            select(targets)
            .where(_key_filter(chunk))
            .order_by(targets.c.channel, targets.c.sku, targets.c.location)
            .with_for_update()
        )
        for r in connection.execute(query):
            found[(r.channel, r.sku, r.location)] = _target_row(r)
    return found


def _target_row(r: Any) -> TargetRow:
    return TargetRow(
        r.channel,
        r.sku,
        r.location,
        int(r.desired),
        int(r.desired_version),
        None if r.pushed is None else int(r.pushed),
        as_utc(r.source_occurred_at),
        int(r.movements_since_push),
    )


def set_desired(connection: Connection, updates: Sequence[Mapping[str, Any]]) -> None:
    """Write new desired figures. Each mapping: channel, sku, location, desired, version, occurred_at,
    movements, dirty, priority, now."""
    if not updates:
        return
    stmt = (
        update(targets)
        .where(
            targets.c.channel == bindparam("k_channel"),
            targets.c.sku == bindparam("k_sku"),
            targets.c.location == bindparam("k_location"),
        )
        .values(
            desired=bindparam("desired"),
            desired_version=bindparam("version"),
            source_occurred_at=bindparam("occurred_at"),
            movements_since_push=bindparam("movements"),
            dirty=bindparam("dirty"),
            dirty_since=case(
                (bindparam("dirty"), func.coalesce(targets.c.dirty_since, bindparam("now"))), else_=None
            ),
            priority=bindparam("priority"),
            updated_at=bindparam("now"),
        )
    )
    connection.execute(
        stmt,
        [
            {("k_" + k if k in ("channel", "sku", "location") else k): v for k, v in u.items()}
            for u in updates
        ],
    )


def ready_to_push(
    connection: Connection, channel: str, now: datetime, full_batch: int, max_wait: timedelta
) -> bool:
    """Push when a full batch is waiting or the oldest dirty target has waited `max_wait`.

    Coalescing window: a trickle of changes goes out at most `max_wait` late in one call, instead of
    one half-empty call (and one read) per change.
    """
    eligible = (
        targets.c.channel == channel,
        targets.c.dirty.is_(True),
        targets.c.state == TargetState.OK.value,
        targets.c.batch_id.is_(None),
    )
    oldest = as_utc(connection.execute(select(func.min(targets.c.dirty_since)).where(*eligible)).scalar_one())
    if oldest is None:
        return False
    if oldest <= now - max_wait:
        return True
    waiting = select(targets.c.sku).where(*eligible).limit(full_batch).subquery()
    return int(connection.execute(select(func.count()).select_from(waiting)).scalar_one()) >= full_batch


def claim_dirty(
    connection: Connection, channel: str, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[TargetRow]:
    """Lease up to `limit` dirty targets, most urgent first, that no batch or live lease holds."""
    query = (
        select(targets.c.channel, targets.c.sku, targets.c.location)
        .where(
            targets.c.channel == channel,
            targets.c.dirty.is_(True),
            targets.c.state == TargetState.OK.value,
            targets.c.batch_id.is_(None),
            or_(targets.c.lease_until.is_(None), targets.c.lease_until < now),
        )
        .order_by(targets.c.priority, targets.c.updated_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    keys = [(r.channel, r.sku, r.location) for r in connection.execute(query)]
    claimed: list[TargetRow] = []
    for chunk in chunks(keys):
        connection.execute(
            update(targets).where(_key_filter(chunk)).values(lease_owner=owner, lease_until=lease_until)
        )
        claimed.extend(_target_row(r) for r in connection.execute(select(targets).where(_key_filter(chunk))))
    return claimed


def release_leases(connection: Connection, keys: Sequence[TargetKey], owner: str) -> None:
    for chunk in chunks(keys):
        connection.execute(
            update(targets)
            .where(_key_filter(chunk), targets.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


def block_targets(connection: Connection, keys: Sequence[TargetKey], owner: str | None = None) -> None:
    for chunk in chunks(keys):
        stmt = update(targets).where(_key_filter(chunk))
        if owner is not None:
            stmt = stmt.where(targets.c.lease_owner == owner)
        connection.execute(stmt.values(state=TargetState.BLOCKED.value, lease_owner=None, lease_until=None))


def unblock_skus(connection: Connection, channel: str, skus: Sequence[str]) -> int:
    count = 0
    for chunk in chunks(skus):
        result = connection.execute(
            update(targets)
            .where(
                targets.c.channel == channel,
                targets.c.sku.in_(chunk),
                targets.c.state == TargetState.BLOCKED.value,
            )
            .values(state=TargetState.OK.value)
        )
        count += int(result.rowcount)
    return count


def blocked_skus(connection: Connection, channel: str) -> list[str]:
    query = select(targets.c.sku).where(
        targets.c.channel == channel, targets.c.state == TargetState.BLOCKED.value
    )
    return sorted(set(connection.execute(query).scalars()))


def mark_in_sync(connection: Connection, rows: Sequence[TargetRow], owner: str, now: datetime) -> None:
    """The far end already shows these figures: record them as pushed without a call."""
    _acknowledge(
        connection,
        [(r.channel, r.sku, r.location, r.desired, r.desired_version) for r in rows],
        now,
        owner=owner,
    )


def _acknowledge(
    connection: Connection,
    lines: Sequence[tuple[str, str, str, int, int]],
    now: datetime,
    *,
    owner: str | None = None,
    batch_id: str | None = None,
) -> None:
    if not lines:
        return
    guard = targets.c.batch_id == batch_id if batch_id is not None else targets.c.lease_owner == owner
    stmt = (
        update(targets)
        .where(
            targets.c.channel == bindparam("k_channel"),
            targets.c.sku == bindparam("k_sku"),
            targets.c.location == bindparam("k_location"),
            guard,
        )
        .values(
            pushed=bindparam("p_value"),
            pushed_version=bindparam("p_version"),
            pushed_at=now,
            dirty=targets.c.desired != bindparam("p_value"),
            dirty_since=case((targets.c.desired != bindparam("p_value"), now), else_=None),
            movements_since_push=0,
            batch_id=None,
            lease_owner=None,
            lease_until=None,
        )
    )
    connection.execute(
        stmt,
        [
            {"k_channel": c, "k_sku": s, "k_location": loc, "p_value": value, "p_version": version}
            for c, s, loc, value, version in lines
        ],
    )


def dirty_count(connection: Connection, channel: str | None = None) -> int:
    query = select(func.count()).select_from(targets).where(targets.c.dirty.is_(True))
    if channel is not None:
        query = query.where(targets.c.channel == channel)
    return int(connection.execute(query).scalar_one())


def pushed_figures(
    connection: Connection, channel: str
) -> dict[tuple[str, str], tuple[int, int | None, bool, str]]:
    """(sku, location) -> (desired, pushed, dirty, state) for a channel."""
    query = select(targets).where(targets.c.channel == channel)
    return {
        (r.sku, r.location): (
            int(r.desired),
            None if r.pushed is None else int(r.pushed),
            bool(r.dirty),
            r.state,
        )
        for r in connection.execute(query)
    }


# --- push outbox ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PushLine:
    sku: str
    item_id: str
    delta: int
    desired: int
    version: int
    occurred_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "item_id": self.item_id,
            "delta": self.delta,
            "desired": self.desired,
            "version": self.version,
            "occurred_at": None if self.occurred_at is None else self.occurred_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PushLine:
        occurred = data.get("occurred_at")
        return cls(
            data["sku"],
            data["item_id"],
            int(data["delta"]),
            int(data["desired"]),
            int(data["version"]),
            None if occurred is None else datetime.fromisoformat(occurred),
        )


@dataclass(frozen=True, slots=True)
class PushBatch:
    id: str
    channel: str
    location: str
    lines: tuple[PushLine, ...]
    attempts: int


def create_batches(connection: Connection, batches: Sequence[PushBatch], owner: str, now: datetime) -> None:
    """Write batches to the outbox and hand their targets over from the lease to the batch."""
    for batch in batches:
        connection.execute(
            push_batches.insert().values(
                id=batch.id,
                channel=batch.channel,
                location=batch.location,
                lines=[line.as_json() for line in batch.lines],
                state=BatchState.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        keys = [(batch.channel, line.sku, batch.location) for line in batch.lines]
        for chunk in chunks(keys):
            connection.execute(
                update(targets)
                .where(_key_filter(chunk), targets.c.lease_owner == owner)
                .values(batch_id=batch.id, lease_owner=None, lease_until=None)
            )


def claim_batches(
    connection: Connection, channel: str, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[PushBatch]:
    """Lease due pending batches (new ones, retries, and those a dead worker held)."""
    query = (
        select(push_batches)
        .where(
            push_batches.c.channel == channel,
            push_batches.c.state == BatchState.PENDING.value,
            push_batches.c.next_attempt_at <= now,
            or_(push_batches.c.lease_until.is_(None), push_batches.c.lease_until < now),
        )
        .order_by(push_batches.c.next_attempt_at, push_batches.c.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(connection.execute(query))
    claimed: list[PushBatch] = []
    for r in rows:
        won = connection.execute(
            update(push_batches)
            .where(
                push_batches.c.id == r.id,
                push_batches.c.state == BatchState.PENDING.value,
                or_(push_batches.c.lease_until.is_(None), push_batches.c.lease_until < now),
            )
            .values(lease_owner=owner, lease_until=lease_until)
        ).rowcount
        if won:
            lines = tuple(PushLine.from_json(line) for line in r.lines)
            claimed.append(PushBatch(r.id, r.channel, r.location, lines, int(r.attempts)))
    return claimed


def batch_sent(connection: Connection, batch: PushBatch, owner: str, now: datetime) -> bool:
    """The far end acknowledged the batch: record its figures as pushed on its targets."""
    won = connection.execute(
        update(push_batches)
        .where(
            push_batches.c.id == batch.id,
            push_batches.c.state == BatchState.PENDING.value,
            push_batches.c.lease_owner == owner,
        )
        .values(
            state=BatchState.SENT.value,
            sent_at=now,
            sent_by=owner,
            lease_owner=None,
            lease_until=None,
            last_error=None,
        )
    ).rowcount
    if not won:
        return False
    _acknowledge(
        connection,
        [(batch.channel, line.sku, batch.location, line.desired, line.version) for line in batch.lines],
        now,
        batch_id=batch.id,
    )
    return True


def batch_failed(
    connection: Connection, batch: PushBatch, owner: str, error: str, retry_at: datetime | None
) -> None:
    """A failed attempt: retry at `retry_at`, or dead-letter the batch when it is None."""
    values: dict[str, Any] = {
        "attempts": push_batches.c.attempts + 1,
        "last_error": error,
        "lease_owner": None,
        "lease_until": None,
    }
    if retry_at is None:
        values["state"] = BatchState.DEAD.value
    else:
        values["next_attempt_at"] = retry_at
    connection.execute(
        update(push_batches)
        .where(
            push_batches.c.id == batch.id,
            push_batches.c.state == BatchState.PENDING.value,
            push_batches.c.lease_owner == owner,
        )
        .values(**values)
    )


def discard_batch(connection: Connection, batch: PushBatch, owner: str) -> None:
    """Drop a batch the far end refused as a whole (so it never applied) and free its targets."""
    connection.execute(
        delete(push_batches).where(push_batches.c.id == batch.id, push_batches.c.lease_owner == owner)
    )
    connection.execute(update(targets).where(targets.c.batch_id == batch.id).values(batch_id=None))


def replay_dead(connection: Connection, now: datetime, batch_ids: Sequence[str] | None = None) -> int:
    stmt = update(push_batches).where(push_batches.c.state == BatchState.DEAD.value)
    if batch_ids:
        stmt = stmt.where(push_batches.c.id.in_(batch_ids))
    result = connection.execute(
        stmt.values(state=BatchState.PENDING.value, attempts=0, next_attempt_at=now, last_error=None)
    )
    return int(result.rowcount)


def batches_by_state(connection: Connection) -> dict[str, int]:
    query = select(push_batches.c.state, func.count()).group_by(push_batches.c.state)
    return {row[0]: int(row[1]) for row in connection.execute(query)}


def senders(connection: Connection) -> dict[str, int]:
    """Batches sent per worker (lease owner at the time of sending)."""
    query = (
        select(push_batches.c.sent_by, func.count())
        .where(push_batches.c.state == BatchState.SENT.value)
        .group_by(push_batches.c.sent_by)
    )
    return {row[0]: int(row[1]) for row in connection.execute(query)}


def dead_batches(connection: Connection) -> list[tuple[str, int, str | None, datetime]]:
    query = select(push_batches).where(push_batches.c.state == BatchState.DEAD.value)
    return [(r.id, int(r.attempts), r.last_error, utc(r.created_at)) for r in connection.execute(query)]


# --- IMS item list --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImsItem:
    sku: str
    item_id: str
    is_inactive: bool
    last_modified: str | None = None


def upsert_items(connection: Connection, items: Sequence[ImsItem]) -> None:
    if not items:
        return
    stmt = insert_for(connection, ims_items)
    connection.execute(
        stmt.on_conflict_do_update(
            index_elements=["sku"],
            set_={
                "item_id": stmt.excluded.item_id,
                "is_inactive": stmt.excluded.is_inactive,
                "last_modified": stmt.excluded.last_modified,
            },
        ),
        [
            {
                "sku": i.sku,
                "item_id": i.item_id,
                "is_inactive": i.is_inactive,
                "last_modified": i.last_modified,
            }
            for i in items
        ],
    )


def items_for(connection: Connection, skus: Sequence[str]) -> dict[str, ImsItem]:
    found: dict[str, ImsItem] = {}
    for chunk in chunks(list(skus)):
        for r in connection.execute(select(ims_items).where(ims_items.c.sku.in_(chunk))):
            found[r.sku] = ImsItem(r.sku, r.item_id, bool(r.is_inactive), r.last_modified)
    return found


def latest_item_change(connection: Connection) -> str | None:
    return connection.execute(select(func.max(ims_items.c.last_modified))).scalar_one_or_none()
