"""The inbox: inbound signals stored before they are acknowledged, de-duplicated by source event id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, bindparam, func, select, text, update

from stockbridge.store.bookkeeping import bump_many
from stockbridge.store.db import sqlite_write_lock
from stockbridge.store.schema import counters, inbox
from stockbridge.store.sql import chunks, insert_for
from stockbridge.store.states import InboxState

RECEIVED = "inbox.received"
DUPLICATES = "inbox.duplicates"


@dataclass(frozen=True, slots=True)
class InboundEvent:
    source: str
    event_id: str
    kind: str
    payload: str


@dataclass(frozen=True, slots=True)
class InboxEntry:
    id: int
    source: str
    event_id: str
    kind: str
    payload: str


def store_events(engine: Engine, events: Sequence[InboundEvent], now: datetime) -> int:
    """Store events in one transaction (one commit for the whole group); returns how many were new."""
    if not events:
        return 0
    with engine.begin() as connection:
        inserted = insert_events(connection, events, now, InboxState.PENDING)
        bump_many(connection, {RECEIVED: len(events), DUPLICATES: len(events) - inserted})
    return inserted


class GroupStore:
    """The webhook group commit's own connection (decision 0043): each group's inbox rows and its two
    counters go straight through the database driver in one transaction, committed before `store`
    returns (SQLite `synchronous=FULL`). What `store_events` does, without SQLAlchemy's pool
    checkout, transaction events and statement handling on every group: at small groups those
    were most of the group's fixed cost. Used from one thread at a time (the writer's)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        # SQLite: queue behind the engine's own transactions (a fold, a push) on their lock.
        self._lock = sqlite_write_lock(engine) if self._sqlite else None
        stamp = inbox.c.received_at.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
        self._stamp = stamp if self._sqlite else None  # psycopg takes an aware datetime as it is
        self._connection: Any = None  # SQLAlchemy's proxy of the driver's connection, held open
        self._cursor: Any = None

    def store(self, events: Sequence[InboundEvent], now: datetime) -> int:
        """Store a group in one transaction; returns how many were new. Raises if nothing was
        stored (the connection is then dropped, and the next group opens another). A connection
        held open that the database dropped meanwhile (a restart, a failover) is replaced and the
        group tried once more on the new one, as the pool's pre-ping would have done."""
        if not events:
            return 0
        reused = self._cursor is not None
        if not reused:
            self._connection = self._engine.raw_connection()
        try:
            if not reused:
                self._cursor = self._connection.cursor()
            if self._lock is not None:
                with self._lock:
                    return self._store_sqlite(events, now)
            return self._store_postgresql(events, now)
        except Exception as exc:
            dialect = self._engine.dialect
            gone = isinstance(exc, dialect.loaded_dbapi.Error) and dialect.is_disconnect(
                cast(Any, exc), self._connection.driver_connection, self._cursor
            )
            self._drop()
            if reused and gone:
                return self.store(events, now)
            raise
        except BaseException:
            self._drop()
            raise

    def close(self) -> None:
        if self._connection is not None:
            if self._cursor is not None:
                self._cursor.close()
            self._connection.close()  # back to the pool
            self._connection = self._cursor = None

    def _drop(self) -> None:
        connection, self._connection, self._cursor = self._connection, None, None
        if connection is not None:
            connection.invalidate()  # never back to the pool: its state is unknown

    def _store_sqlite(self, events: Sequence[InboundEvent], now: datetime) -> int:
        cursor = self._cursor
        received_at = self._stamp(now) if self._stamp is not None else now
        pending = InboxState.PENDING.value
        rows = [(e.source, e.event_id, e.kind, e.payload, received_at, pending, None) for e in events]
        cursor.execute("BEGIN IMMEDIATE")
        try:
            # executemany reports the total of rows changed, so duplicates are simply not counted.
            inserted = int(cursor.executemany(_SQLITE_INSERT, rows).rowcount)
            cursor.executemany(_SQLITE_BUMP, _increments(len(events), inserted))
            cursor.execute("COMMIT")
        except BaseException:
            if self._connection.driver_connection.in_transaction:
                cursor.execute("ROLLBACK")
            raise
        return inserted

    def _store_postgresql(self, events: Sequence[InboundEvent], now: datetime) -> int:
        cursor = self._cursor
        try:
            cursor.execute(
                _PG_DRIVER_INSERT,
                (
                    now,
                    InboxState.PENDING.value,
                    [e.source for e in events],
                    [e.event_id for e in events],
                    [e.kind for e in events],
                    [e.payload for e in events],
                ),
            )
            inserted = int(cursor.rowcount)
            increments = _increments(len(events), inserted)
            values = ", ".join(["(%s, %s)"] * len(increments))
            cursor.execute(_PG_BUMP % values, [v for pair in increments for v in pair])
            self._connection.commit()
        except BaseException:
            self._connection.rollback()
            raise
        return inserted


def _increments(received: int, inserted: int) -> list[tuple[str, int]]:
    """The counters a group adds to (a counter is not created by adding nothing, as `bump_many`)."""
    return [(name, by) for name, by in ((RECEIVED, received), (DUPLICATES, received - inserted)) if by]


_SQLITE_BUMP = (
    f"INSERT INTO {counters.name} (name, value) VALUES (?, ?) "
    f"ON CONFLICT (name) DO UPDATE SET value = {counters.name}.value + excluded.value"
)
_PG_BUMP = (
    f"INSERT INTO {counters.name} (name, value) VALUES %s "
    f"ON CONFLICT (name) DO UPDATE SET value = {counters.name}.value + excluded.value"
)
# Every row of a group shares its time, state and (no) error: bound once, not once a row.
_PG_DRIVER_INSERT = f"""
    INSERT INTO {inbox.name} (source, event_id, kind, payload, received_at, state, error)
    SELECT s, e, k, p, %s, %s, NULL
    FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS g(s, e, k, p)
    ON CONFLICT DO NOTHING
"""


# PostgreSQL: one statement for the whole group, arrays unnested server-side; far cheaper than
# executemany, and its rowcount is exact.
_PG_INSERT = text(
    f"""
    INSERT INTO {inbox.name} (source, event_id, kind, payload, received_at, state, error)
    SELECT * FROM unnest(
        CAST(:source AS text[]), CAST(:event_id AS text[]), CAST(:kind AS text[]), CAST(:payload AS text[]),
        CAST(:received_at AS timestamptz[]), CAST(:state AS text[]), CAST(:error AS text[]))
    ON CONFLICT DO NOTHING
    """
)

_SQLITE_INSERT = (
    f"INSERT INTO {inbox.name} (source, event_id, kind, payload, received_at, state, error) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


def insert_events(
    connection: Connection,
    events: Sequence[InboundEvent],
    now: datetime,
    state: InboxState,
    error: str | None = None,
) -> int:
    """Insert what is new, ignore what is known (same source and event id); returns how many were new."""
    if not events:
        return 0
    if connection.dialect.name == "postgresql":
        result = connection.execute(
            _PG_INSERT,
            {
                "source": [e.source for e in events],
                "event_id": [e.event_id for e in events],
                "kind": [e.kind for e in events],
                "payload": [e.payload for e in events],
                "received_at": [now] * len(events),
                "state": [state.value] * len(events),
                "error": [error] * len(events),
            },
        )
        return int(result.rowcount)
    if connection.dialect.name == "sqlite":
        # Straight to sqlite3's executemany: the statement is fixed and every row shares its time
        # and state, so the per-row parameter processing of a compiled insert (the largest item in
        # the webhook path's profile, bench/profile_ingest.py) has nothing to do. The time is bound
        # once, by the column's own type, so it is stored as the compiled insert would store it.
        dialect = connection.dialect
        stamp = inbox.c.received_at.type.dialect_impl(dialect).bind_processor(dialect)
        received_at = stamp(now) if stamp is not None else now
        tuples = [(e.source, e.event_id, e.kind, e.payload, received_at, state.value, error) for e in events]
        # sqlite3's executemany reports the total of rows changed, so duplicates are simply not counted.
        return int(connection.exec_driver_sql(_SQLITE_INSERT, tuples).rowcount)
    rows = [
        {
            "source": e.source,
            "event_id": e.event_id,
            "kind": e.kind,
            "payload": e.payload,
            "received_at": now,
            "state": state.value,
            "processed_at": None,
            "error": error,
        }
        for e in events
    ]
    return int(connection.execute(insert_for(connection, inbox).on_conflict_do_nothing(), rows).rowcount)


def claim_pending(connection: Connection, limit: int, max_bytes: int | None = None) -> list[InboxEntry]:
    """Pending entries in arrival order, locked for this transaction (skipped by other workers).

    With `max_bytes`, only the first entries whose payloads together fit in it (at least one): a
    snapshot page carries a thousand rows where a movement carries one, so a batch of `limit` pages
    would hold a whole catalogue in memory. The rows past the budget stay locked until this
    transaction ends and are claimed by the next one."""
    query = (
        select(inbox.c.id, func.length(inbox.c.payload).label("size"))
        .where(inbox.c.state == InboxState.PENDING.value)
        .order_by(inbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids: list[int] = []
    total = 0
    for r in connection.execute(query):
        total += int(r.size or 0)
        if ids and max_bytes is not None and total > max_bytes:
            break
        ids.append(int(r.id))
    entries: list[InboxEntry] = []
    for chunk in chunks(ids):
        rows = connection.execute(
            select(inbox.c.id, inbox.c.source, inbox.c.event_id, inbox.c.kind, inbox.c.payload)
            .where(inbox.c.id.in_(chunk))
            .order_by(inbox.c.id)
        )
        entries.extend(InboxEntry(r.id, r.source, r.event_id, r.kind, r.payload) for r in rows)
    return entries


def mark_processed(connection: Connection, ids: Sequence[int], now: datetime) -> None:
    for chunk in chunks(ids):
        connection.execute(
            update(inbox)
            .where(inbox.c.id.in_(chunk), inbox.c.state == InboxState.PENDING.value)
            .values(state=InboxState.DONE.value, processed_at=now)
        )


def set_aside(connection: Connection, failures: Sequence[tuple[int, str]], now: datetime) -> None:
    """Move claimed entries that could not be folded to `failed`, each with its error; body kept."""
    if failures:
        connection.execute(
            update(inbox)
            .where(inbox.c.id == bindparam("entry_id"), inbox.c.state == InboxState.PENDING.value)
            .values(state=InboxState.FAILED.value, error=bindparam("reason"), processed_at=now),
            [{"entry_id": entry_id, "reason": reason} for entry_id, reason in failures],
        )


def requeue_failed(
    connection: Connection, source: str | None = None, event_id: str | None = None
) -> list[tuple[str, str]]:
    """Put set-aside entries (all, or the one named) back to pending; returns their (source, event id)."""
    query = (
        update(inbox)
        .where(inbox.c.state == InboxState.FAILED.value)
        .values(state=InboxState.PENDING.value, error=None, processed_at=None)
        .returning(inbox.c.source, inbox.c.event_id)
    )
    if source is not None:
        query = query.where(inbox.c.source == source)
    if event_id is not None:
        query = query.where(inbox.c.event_id == event_id)
    return [(row.source, row.event_id) for row in connection.execute(query)]


def pending_count(connection: Connection) -> int:
    return count_in(connection, InboxState.PENDING)


def count_in(connection: Connection, state: InboxState) -> int:
    query = select(func.count()).select_from(inbox).where(inbox.c.state == state.value)
    return int(connection.execute(query).scalar_one())
