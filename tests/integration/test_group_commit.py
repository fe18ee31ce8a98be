"""The webhook path's durability after its speed-ups: a request is answered only once its event is
committed; the SQLite insert stores what the compiled insert stored; the signature is compared in
constant time."""

from __future__ import annotations

import asyncio
import hmac
import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, insert, select
from tests.factories import T0, inbound, movement_event

from stockbridge.api import ingest
from stockbridge.connectors.clarus import signature
from stockbridge.engine.clock import FakeClock
from stockbridge.store import inbox_repo
from stockbridge.store.bookkeeping import read_counters
from stockbridge.store.db import make_engine, upgrade
from stockbridge.store.schema import inbox
from stockbridge.store.states import InboxState


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _stored(engine: Engine) -> list[Any]:
    with engine.connect() as c:
        return list(c.execute(select(inbox).order_by(inbox.c.id)))


def test_a_request_is_released_only_after_its_group_is_committed(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    real_store = inbox_repo.GroupStore.store

    def held_store(*args: Any) -> int:
        entered.set()
        assert release.wait(10)
        return real_store(*args)

    monkeypatch.setattr(inbox_repo.GroupStore, "store", held_store)
    events = [inbound(movement_event(n, f"SKU-{n}", {"available": n})) for n in (1, 2)]

    async def scenario() -> None:
        writer = ingest.GroupCommitWriter(engine, FakeClock(T0))
        await writer.start()
        try:
            waiting = [writer.store(e) for e in events]
            assert await asyncio.to_thread(entered.wait, 10)
            await asyncio.sleep(0.05)  # every chance to answer early, were it going to
            assert not any(task.done() for task in waiting)
            assert _stored(engine) == []
            release.set()
            await asyncio.gather(*waiting)
            # Released: the rows are there for any other connection to read.
            assert [row.event_id for row in _stored(engine)] == [e.event_id for e in events]
        finally:
            release.set()
            await writer.stop()

    asyncio.run(scenario())


def test_a_failed_commit_answers_every_waiting_request_with_its_error(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(inbox_repo.GroupStore, "store", broken)

    async def scenario() -> None:
        writer = ingest.GroupCommitWriter(engine, FakeClock(T0))
        await writer.start()
        try:
            with pytest.raises(RuntimeError, match="disk full"):
                await writer.store(inbound(movement_event(1, "SKU-1", {"available": 1})))
        finally:
            await writer.stop()

    asyncio.run(scenario())
    assert _stored(engine) == []


def test_a_group_stores_what_is_new_and_counts_the_rest(engine: Engine) -> None:
    first = [inbound(movement_event(n, "SKU-1", {"available": n})) for n in (1, 2)]
    assert inbox_repo.store_events(engine, first, T0) == 2
    later = datetime(2026, 11, 26, 9, 0, 5, 123456, tzinfo=UTC)
    again = [first[1], inbound(movement_event(3, "SKU-1", {"available": 3})), first[1]]
    assert inbox_repo.store_events(engine, again, later) == 1
    rows = _stored(engine)
    assert [(r.event_id, _utc(r.received_at), r.state, r.error, r.processed_at) for r in rows] == [
        (first[0].event_id, T0, InboxState.PENDING.value, None, None),
        (first[1].event_id, T0, InboxState.PENDING.value, None, None),
        (again[1].event_id, later, InboxState.PENDING.value, None, None),
    ]
    assert rows[2].payload == again[1].payload
    assert rows[2].kind == again[1].kind
    with engine.connect() as c:
        counters = read_counters(c)
    assert (counters["inbox.received"], counters["inbox.duplicates"]) == (5, 2)


def test_sqlite_rows_are_stored_as_the_compiled_insert_stores_them(sqlite_url: str) -> None:
    """Byte for byte in the database, so every reader (SQLAlchemy, the CLI, an operator's sqlite3
    shell) sees one format whichever path wrote the row. (The driver-level insert is SQLite's alone.)"""
    engine = make_engine(sqlite_url)
    upgrade(engine)
    when = datetime(2026, 11, 26, 9, 0, 7, 250000, tzinfo=UTC)
    fast, compiled = (inbound(movement_event(n, "SKU-1", {"available": n})) for n in (1, 2))
    with engine.begin() as c:
        inbox_repo.insert_events(c, [fast], when, InboxState.FAILED, error="why")
        c.execute(
            insert(inbox).values(
                source=compiled.source,
                event_id=compiled.event_id,
                kind=compiled.kind,
                payload=compiled.payload,
                received_at=when,
                state=InboxState.FAILED.value,
                error="why",
            )
        )
    with engine.connect() as c:
        raw = c.exec_driver_sql("SELECT received_at, state, error, processed_at FROM inbox ORDER BY id").all()
    assert raw[0] == raw[1]
    assert raw[0][0] == "2026-11-26 09:00:07.250000"


def test_the_signature_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signature.hmac, "compare_digest", spy)
    body, secret = b'{"id":"evt_1"}', b"whsec"
    good = signature.sign(secret, body, 1_700_000_000)
    assert signature.verify(secret, body, good, "1700000000") == 1_700_000_000
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert signature.verify(secret, body, bad, "1700000000") is None
    assert compared == [(good.encode(), good.encode()), (good.encode(), bad.encode())]


def test_the_writers_own_connection_stores_as_store_events_does(engine: Engine, db_url: str) -> None:
    """The group commit writes through the driver on a connection it holds: the same rows, the same
    counters, duplicates (within a group and across groups) not stored twice."""
    store = inbox_repo.GroupStore(engine)
    try:
        first = [inbound(movement_event(n, "SKU-1", {"available": n})) for n in (1, 2)]
        assert store.store(first, T0) == 2
        later = datetime(2026, 11, 26, 9, 0, 5, 123456, tzinfo=UTC)
        again = [first[1], inbound(movement_event(3, "SKU-1", {"available": 3})), first[1]]
        assert store.store(again, later) == 1
        assert store.store([first[0]], later) == 0
    finally:
        store.close()
    rows = _stored(engine)
    assert [(r.event_id, _utc(r.received_at), r.state, r.error, r.processed_at) for r in rows] == [
        (first[0].event_id, T0, InboxState.PENDING.value, None, None),
        (first[1].event_id, T0, InboxState.PENDING.value, None, None),
        (again[1].event_id, later, InboxState.PENDING.value, None, None),
    ]
    assert (rows[2].payload, rows[2].kind) == (again[1].payload, again[1].kind)
    with engine.connect() as c:
        counters = read_counters(c)
    assert (counters["inbox.received"], counters["inbox.duplicates"]) == (6, 3)
    if db_url.startswith("sqlite"):  # byte for byte what the compiled insert stores
        reference = make_engine(db_url)
        with reference.begin() as c:
            compiled = inbound(movement_event(4, "SKU-1", {"available": 4}))
            c.execute(
                insert(inbox).values(
                    source=compiled.source,
                    event_id=compiled.event_id,
                    kind=compiled.kind,
                    payload=compiled.payload,
                    received_at=later,
                    state=InboxState.PENDING.value,
                )
            )
            raw = c.exec_driver_sql("SELECT received_at, state, error FROM inbox WHERE id > 2").all()
        reference.dispose()
        assert raw[0] == raw[1]


def test_no_counter_is_created_by_adding_nothing(engine: Engine) -> None:
    store = inbox_repo.GroupStore(engine)
    try:
        store.store([inbound(movement_event(1, "SKU-1", {"available": 1}))], T0)
    finally:
        store.close()
    with engine.connect() as c:
        assert read_counters(c) == {"inbox.received": 1}


def test_a_connection_the_database_dropped_is_replaced_and_the_group_stored(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = inbox_repo.GroupStore(engine)
    try:
        store.store([inbound(movement_event(1, "SKU-1", {"available": 1}))], T0)
        store._connection.driver_connection.close()  # the server restarted, the file went away...
        assert store.store([inbound(movement_event(2, "SKU-1", {"available": 2}))], T0) == 1
        # A new connection that fails is not tried again: the group's requests are answered 503.
        store._connection.driver_connection.close()
        with monkeypatch.context() as patch:
            patch.setattr(engine, "raw_connection", _broken_connection(engine.raw_connection))
            with pytest.raises((sqlite3.Error, psycopg.Error)):
                store.store([inbound(movement_event(3, "SKU-1", {"available": 3}))], T0)
    finally:
        store.close()
    assert [row.event_id for row in _stored(engine)] == ["evt_WH1_000000000001", "evt_WH1_000000000002"]


def _broken_connection(open_connection: Any) -> Any:
    def opened() -> Any:
        connection = open_connection()
        connection.driver_connection.close()
        return connection

    return opened


def test_on_sqlite_a_group_waits_for_the_engines_open_transaction(sqlite_url: str) -> None:
    """The writer's connection is not the engine's, but it queues on the engine's writer lock like
    every transaction of that engine (a fold, a push): it starts only once the open one commits."""
    engine = make_engine(sqlite_url)
    upgrade(engine)
    store = inbox_repo.GroupStore(engine)
    stored: list[int] = []
    writer = threading.Thread(
        target=lambda: stored.append(store.store([inbound(movement_event(1, "SKU-1", {"available": 1}))], T0))
    )
    try:
        with engine.begin() as c:
            c.exec_driver_sql("UPDATE counters SET value = value")
            writer.start()
            writer.join(0.2)  # every chance to write now, were it not waiting
            assert writer.is_alive()
            assert stored == []
        writer.join(10)
        assert stored == [1]
        # Its own connection is the engine's kind: a commit is on disk before it returns.
        assert store._cursor.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert store._cursor.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        store.close()
        engine.dispose()


def test_stop_stores_what_was_handed_over_before_it(engine: Engine) -> None:
    committed: list[None] = []
    events = [inbound(movement_event(n, "SKU-1", {"available": n})) for n in range(1, 6)]

    async def scenario() -> list[asyncio.Future[None]]:
        writer = ingest.GroupCommitWriter(engine, FakeClock(T0), on_commit=lambda: committed.append(None))
        await writer.start()
        waiting = [writer.store(e) for e in events]
        await writer.stop()  # its groups' releases were scheduled on the loop before its own return
        return waiting

    waiting = asyncio.run(scenario())
    assert all(f.done() and f.exception() is None for f in waiting)
    assert [row.event_id for row in _stored(engine)] == [e.event_id for e in events]
    assert committed
