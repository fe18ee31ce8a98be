"""Outbox tables worked through by leases: claim what is due, then finish, retry or dead-letter it.

One implementation for every command outbox whose table has `id`, `state`, `attempts`,
`next_attempt_at`, `lease_owner`, `lease_until`, `last_error`, `failing_since` and `done_at` (order
and fulfilment commands). Each transition is a conditional UPDATE naming the state and lease it leaves from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, func, or_, select, update

from stockbridge.store.states import BatchState


def claim_due(
    connection: Connection,
    table: Table,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    *where: Any,
) -> list[Row[Any]]:
    """Lease up to `limit` due pending rows (those matching `where`), oldest first; rows another
    worker holds are skipped."""
    c = table.c
    free = or_(c.lease_until.is_(None), c.lease_until < now)
    query = (
        select(table)
        .where(c.state == BatchState.PENDING.value, c.next_attempt_at <= now, free, *where)
        .order_by(c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed: list[Row[Any]] = []
    for row in list(connection.execute(query)):
        won = connection.execute(
            update(table)
            .where(c.id == row.id, c.state == BatchState.PENDING.value, free)
            .values(lease_owner=owner, lease_until=lease_until)
        ).rowcount
        if won:
            claimed.append(row)
    return claimed


def finish(connection: Connection, table: Table, row_id: int, owner: str, now: datetime) -> bool:
    """Mark done; False when the lease was lost meanwhile (another worker took the row over)."""
    c = table.c
    won = connection.execute(
        update(table)
        .where(c.id == row_id, c.state == BatchState.PENDING.value, c.lease_owner == owner)
        .values(state=BatchState.SENT.value, done_at=now, lease_owner=None, lease_until=None)
    ).rowcount
    return bool(won)


def failure_values(
    table: Table, error: str, retry_at: datetime | None, failing_since: datetime
) -> dict[str, Any]:
    """The columns a failed attempt sets: retry at `retry_at`, or dead-letter when it is None."""
    values: dict[str, Any] = {
        "attempts": table.c.attempts + 1,
        "last_error": error,
        "failing_since": failing_since,
        "lease_owner": None,
        "lease_until": None,
    }
    if retry_at is None:
        values["state"] = BatchState.DEAD.value
    else:
        values["next_attempt_at"] = retry_at
    return values


def fail(
    connection: Connection,
    table: Table,
    row_id: int,
    owner: str,
    error: str,
    retry_at: datetime | None,
    failing_since: datetime,
) -> None:
    """A failed attempt of the run of failures that began at `failing_since`."""
    c = table.c
    values = failure_values(table, error, retry_at, failing_since)
    connection.execute(update(table).where(c.id == row_id, c.lease_owner == owner).values(**values))


def replay_dead(
    connection: Connection, table: Table, now: datetime, ids: Sequence[Any] | None = None, *where: Any
) -> int:
    """Queue dead-lettered rows again (all, those with `ids`, and/or those matching `where`), with a
    fresh attempt budget and retry window."""
    c = table.c
    stmt = update(table).where(c.state == BatchState.DEAD.value, *where)
    if ids:
        stmt = stmt.where(c.id.in_(ids))
    result = connection.execute(
        stmt.values(
            state=BatchState.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            last_error=None,
            failing_since=None,
            lease_owner=None,
            lease_until=None,
        )
    )
    return int(result.rowcount)


def count_by_state(connection: Connection, table: Table) -> dict[str, int]:
    query = select(table.c.state, func.count()).group_by(table.c.state)
    return {row[0]: int(row[1]) for row in connection.execute(query)}
