"""Targets: desired against pushed figure per (channel, SKU, location), and their leases.

Every state change is a conditional UPDATE whose WHERE names the state it leaves from, so two workers
racing for the same row cannot both win.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, or_, select, update

from stockbridge.store.schema import targets
from stockbridge.store.sql import RowsStatement, as_utc, chunks, in_keys, time_binder
from stockbridge.store.states import TargetState

TargetKey = tuple[str, str, str]  # (channel, sku, location)


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


def key_filter(keys: Sequence[TargetKey]) -> Any:
    return in_keys((targets.c.channel, targets.c.sku, targets.c.location), keys)


def key_order(connection: Connection) -> list[Any]:
    """The order every transaction locks several targets in: (channel, SKU, location), compared as
    bytes (collation "C" on PostgreSQL, whatever the database's), so that it is Python's `sorted`
    order too and chunks of a sorted key list lock in one global order."""
    columns = (targets.c.channel, targets.c.sku, targets.c.location)
    if connection.dialect.name == "postgresql":
        return [column.collate("C") for column in columns]
    return list(columns)


def lock_keys(connection: Connection, keys: Iterable[TargetKey]) -> None:
    """Lock these targets' rows in key order, as the fold does (`lock_targets`). A transaction that
    goes on to change several targets in an order of its own (recording a push: the batch's lines,
    the plan's parts) takes them all here first, so it never holds one a folder waits for while it
    waits for one the folder holds (PostgreSQL would break that deadlock by failing one of them).
    SQLite has one writer at a time: nothing to order."""
    if connection.dialect.name == "sqlite":
        return
    for chunk in chunks(sorted(set(keys))):
        query = select(targets.c.sku).where(key_filter(chunk)).order_by(*key_order(connection))
        connection.execute(query.with_for_update()).all()


def lock_targets(
    connection: Connection, keys: Sequence[TargetKey], warehouse_of: Mapping[TargetKey, str], now: datetime
) -> dict[TargetKey, TargetRow]:
    """Create missing target rows, then lock all of them in key order (no deadlocks between folders).

    Folding two movements of one SKU in two workers at once would otherwise let each compute the
    desired figure from a view that lacks the other's balance.
    """
    ordered = sorted(set(keys))
    _create_missing(connection, ordered, warehouse_of, now)
    found: dict[TargetKey, TargetRow] = {}
    for chunk in chunks(ordered):
        query = select(targets).where(key_filter(chunk)).order_by(*key_order(connection)).with_for_update()
        for r in connection.execute(query):
            found[(r.channel, r.sku, r.location)] = _target_row(r)
    return found


# A new target: nothing desired yet (version -1), nothing pushed, not dirty until its first figure.
_CREATE = RowsStatement(
    sqlite=f"""
    INSERT INTO {targets.name} (channel, sku, location, warehouse_id, desired, desired_version, dirty,
        state, priority, movements_since_push, updated_at)
    VALUES (?1, ?2, ?3, ?4, 0, -1, 0, '{TargetState.OK.value}', 0, 0, ?5)
    ON CONFLICT DO NOTHING
    """,
    postgresql=f"""
    INSERT INTO {targets.name} (channel, sku, location, warehouse_id, desired, desired_version, dirty,
        state, priority, movements_since_push, updated_at)
    SELECT u.channel, u.sku, u.location, u.warehouse_id, 0, -1, false, '{TargetState.OK.value}', 0, 0, u.now
    FROM unnest(CAST(:c1 AS text[]), CAST(:c2 AS text[]), CAST(:c3 AS text[]), CAST(:c4 AS text[]),
        CAST(:c5 AS timestamptz[])) AS u(channel, sku, location, warehouse_id, now)
    ON CONFLICT DO NOTHING
    """,
)


def _create_missing(
    connection: Connection, keys: Sequence[TargetKey], warehouse_of: Mapping[TargetKey, str], now: datetime
) -> None:
    stamp = time_binder(connection, targets.c.updated_at)(now)
    _CREATE.run(connection, [(c, s, loc, warehouse_of[(c, s, loc)], stamp) for c, s, loc in keys])


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


_SET_DESIRED = RowsStatement(
    sqlite=f"""
    UPDATE {targets.name} SET desired = ?4, desired_version = ?5, source_occurred_at = ?6,
        movements_since_push = ?7, dirty = ?8,
        dirty_since = CASE WHEN ?8 THEN coalesce(dirty_since, ?10) ELSE NULL END,
        priority = ?9, updated_at = ?10
    WHERE channel = ?1 AND sku = ?2 AND location = ?3
    """,
    postgresql=f"""
    UPDATE {targets.name} AS t SET desired = u.desired, desired_version = u.version,
        source_occurred_at = u.occurred_at, movements_since_push = u.movements, dirty = u.dirty,
        dirty_since = CASE WHEN u.dirty THEN coalesce(t.dirty_since, u.now) ELSE NULL END,
        priority = u.priority, updated_at = u.now
    FROM unnest(CAST(:c1 AS text[]), CAST(:c2 AS text[]), CAST(:c3 AS text[]), CAST(:c4 AS bigint[]),
        CAST(:c5 AS bigint[]), CAST(:c6 AS timestamptz[]), CAST(:c7 AS integer[]), CAST(:c8 AS boolean[]),
        CAST(:c9 AS integer[]), CAST(:c10 AS timestamptz[]))
        AS u(channel, sku, location, desired, version, occurred_at, movements, dirty, priority, now)
    WHERE t.channel = u.channel AND t.sku = u.sku AND t.location = u.location
    """,
)


def set_desired(connection: Connection, updates: Sequence[Mapping[str, Any]]) -> None:
    """Write new desired figures. Each mapping: channel, sku, location, desired, version, occurred_at,
    movements, dirty, priority, now."""
    stamp = time_binder(connection, targets.c.updated_at)
    _SET_DESIRED.run(
        connection,
        [
            (
                u["channel"],
                u["sku"],
                u["location"],
                u["desired"],
                u["version"],
                stamp(u["occurred_at"]),
                u["movements"],
                bool(u["dirty"]),
                u["priority"],
                stamp(u["now"]),
            )
            for u in updates
        ],
    )


def ready_to_push(connection: Connection, channel: str, now: datetime, min_wait: timedelta) -> bool:
    """Whether a dirty target of the channel, free to be pushed, has waited at least `min_wait`."""
    query = (
        select(targets.c.sku)
        .where(
            targets.c.channel == channel,
            targets.c.dirty.is_(True),
            targets.c.state == TargetState.OK.value,
            targets.c.batch_id.is_(None),
            or_(targets.c.lease_until.is_(None), targets.c.lease_until < now),
            targets.c.dirty_since <= now - min_wait,
        )
        .limit(1)
    )
    return connection.execute(query).first() is not None


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
            update(targets).where(key_filter(chunk)).values(lease_owner=owner, lease_until=lease_until)
        )
        claimed.extend(_target_row(r) for r in connection.execute(select(targets).where(key_filter(chunk))))
    return claimed


def held_by(connection: Connection, keys: Sequence[TargetKey], owner: str) -> set[TargetKey]:
    """Those of `keys` whose lease `owner` still holds: not claimed by another worker since (a lease
    run out and not yet claimed again is still its holder's)."""
    held: set[TargetKey] = set()
    for chunk in chunks(keys):
        query = select(targets.c.channel, targets.c.sku, targets.c.location).where(
            key_filter(chunk), targets.c.lease_owner == owner
        )
        held.update((r.channel, r.sku, r.location) for r in connection.execute(query))
    return held


def release_leases(connection: Connection, keys: Sequence[TargetKey], owner: str) -> None:
    for chunk in chunks(keys):
        connection.execute(
            update(targets)
            .where(key_filter(chunk), targets.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


def block_targets(connection: Connection, keys: Sequence[TargetKey], owner: str | None = None) -> None:
    for chunk in chunks(keys):
        stmt = update(targets).where(key_filter(chunk))
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


def blocked_targets(connection: Connection, channel: str) -> list[TargetKey]:
    """(channel, SKU, location) of every target blocked in the channel."""
    query = select(targets.c.channel, targets.c.sku, targets.c.location).where(
        targets.c.channel == channel, targets.c.state == TargetState.BLOCKED.value
    )
    return [(r.channel, r.sku, r.location) for r in connection.execute(query)]


def unblock_targets(connection: Connection, keys: Sequence[TargetKey]) -> None:
    """Let these targets be pushed again (they kept their desired figure and stayed dirty)."""
    for chunk in chunks(keys):
        connection.execute(
            update(targets)
            .where(key_filter(chunk), targets.c.state == TargetState.BLOCKED.value)
            .values(state=TargetState.OK.value)
        )


def blocked_skus(connection: Connection, channel: str) -> list[str]:
    query = select(targets.c.sku).where(
        targets.c.channel == channel, targets.c.state == TargetState.BLOCKED.value
    )
    return sorted(set(connection.execute(query).scalars()))


def forget_pushed(connection: Connection, keys: Sequence[TargetKey]) -> None:
    """The channel no longer shows what the hub last pushed (it answered stale): the next push reads
    it first. The drift check leaves these targets out until then (it has nothing to compare)."""
    for chunk in chunks(keys):
        connection.execute(update(targets).where(key_filter(chunk)).values(pushed=None))


def mark_in_sync(connection: Connection, rows: Sequence[TargetRow], owner: str, now: datetime) -> None:
    """The far end already shows these figures: record them as pushed without a call."""
    acknowledge(
        connection,
        [(r.channel, r.sku, r.location, r.desired, r.desired_version) for r in rows],
        now,
        owner=owner,
    )


def acknowledge(
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


def figures_of_sku(
    connection: Connection, sku: str
) -> dict[tuple[str, str], tuple[int, int | None, bool, str]]:
    """(channel, location) -> (desired, pushed, dirty, state) for one warehouse SKU."""
    query = select(targets).where(targets.c.sku == sku)
    return {
        (r.channel, r.location): (
            int(r.desired),
            None if r.pushed is None else int(r.pushed),
            bool(r.dirty),
            r.state,
        )
        for r in connection.execute(query)
    }


def hold(connection: Connection, keys: Sequence[TargetKey], holder: str, now: datetime) -> bool:
    """Hand these targets to `holder` (a finance batch about to move their figures in the channel)
    so no stock push plans or sends them meanwhile. False, and nothing held, when a stock batch or a
    live lease has one of them: the holder waits until it is answered."""
    ordered = sorted(set(keys))
    rows: list[Any] = []
    for chunk in chunks(ordered):
        query = (
            select(targets.c.batch_id, targets.c.lease_until)
            .where(key_filter(chunk))
            .order_by(*key_order(connection))
            .with_for_update()
        )
        rows.extend(connection.execute(query))
    for r in rows:
        lease_until = as_utc(r.lease_until)
        if r.batch_id not in (None, holder) or (lease_until is not None and lease_until >= now):
            return False
    for chunk in chunks(ordered):
        connection.execute(update(targets).where(key_filter(chunk)).values(batch_id=holder))
    return True


def release_hold(connection: Connection, holder: str) -> None:
    """The holder's figures did not move (its call failed): the stock push may take them again."""
    connection.execute(update(targets).where(targets.c.batch_id == holder).values(batch_id=None))


def moved_by_holder(connection: Connection, holder: str, moved: Mapping[TargetKey, int]) -> None:
    """The holder moved these figures in the channel by these units: what was pushed moved with them
    (a target never pushed stays so), and the targets are free again. In key order, as every
    writer of targets locks them."""
    for key in sorted(moved):
        channel, sku, location = key
        connection.execute(
            update(targets)
            .where(
                targets.c.channel == channel,
                targets.c.sku == sku,
                targets.c.location == location,
                targets.c.batch_id == holder,
            )
            .values(pushed=targets.c.pushed + moved[key], batch_id=None)
        )
    release_hold(connection, holder)
