"""Database engine for SQLite (file, WAL) and PostgreSQL, and schema migration with Alembic."""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant will do; it only has to be the same in every process that migrates this database.
_PG_MIGRATION_LOCK = 7_134_205_511
# Each SQLite engine's writer lock (see make_engine), for code that writes through a connection of its
# own rather than the engine's transactions: the webhook group commit (api/ingest.py).
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str) -> Engine:
    """An engine tuned for the hub's workload on either backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
        )
        writer = threading.RLock()
        _WRITE_LOCKS[engine] = writer

        def begin(connection: Any) -> None:
            # One writer at a time, queued on a Python lock that wakes the next thread the moment the
            # last commits. SQLite's own busy handler sleeps in growing steps (up to 100 ms) instead,
            # which caps webhook ingest at a few hundred a second while a fold holds the write lock.
            writer.acquire()
            try:
                _sqlite_begin_immediate(connection)
            except BaseException:
                writer.release()
                raise

        def end(_connection: Any) -> None:
            writer.release()

        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", begin)
        event.listen(engine, "commit", end)
        event.listen(engine, "rollback", end)
        return engine
    return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)


def sqlite_write_lock(engine: Engine) -> threading.RLock:
    """The lock every transaction of this SQLite engine holds from BEGIN to its end: whoever writes
    through a raw connection of the same engine takes it too, to queue behind them instead of on
    SQLite's busy handler."""
    return _WRITE_LOCKS[engine]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module so BEGIN IMMEDIATE below is ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before the webhook is answered. Group commit amortises the fsync.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # Take the write lock at BEGIN: a deferred transaction that reads then writes can fail with
    # SQLITE_BUSY without waiting, where an immediate one queues on busy_timeout.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration; safe when several processes start at once."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        if not is_sqlite(engine):
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
