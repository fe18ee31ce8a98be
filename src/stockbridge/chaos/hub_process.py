"""`python -m stockbridge.chaos.hub_process serve|worker ...`: the hub's own CLI, plus one fault hook.

A full disk cannot be made on demand without privileges, so the SQLite "disk full" fault lowers
`PRAGMA max_page_count` instead: SQLite then fails every write that needs a new page with
SQLITE_FULL, exactly as on a full disk. The pragma is per connection, so this hook applies the limit
named in the file `STOCKBRIDGE_CHAOS_SQLITE_LIMIT` on every connection the hub's pool hands out,
and on the webhook writer's own connection before each group (it holds one open, decision 0043),
read only when the file changes. The hub's code is the shipped code; only this entry point differs.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.pool import Pool

from stockbridge.store.inbox_repo import GroupStore, InboundEvent

LIMIT_ENV = "STOCKBRIDGE_CHAOS_SQLITE_LIMIT"
UNLIMITED = 4_294_967_294  # SQLite's largest max_page_count


class _Limit:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: float | None = None
        self._pages = UNLIMITED

    def pages(self) -> int:
        try:
            stamp = self.path.stat().st_mtime
        except FileNotFoundError:
            return UNLIMITED
        if stamp != self._stamp:
            self._stamp = stamp
            text = self.path.read_text().strip()
            self._pages = int(text) if text else UNLIMITED
        return self._pages


def install(path: Path) -> None:
    limit = _Limit(path)

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            # A limit below the file's size clamps to the size: no page may be added.
            dbapi_connection.execute(f"PRAGMA max_page_count = {limit.pages()}")

    event.listen(Pool, "checkout", on_checkout)

    # The ingest writer checks its connection out once and keeps it: the limit is applied on it
    # before each group instead.
    write_group = GroupStore._store_sqlite

    def limited_group(store: GroupStore, events: Sequence[InboundEvent], now: datetime) -> int:
        store._cursor.execute(f"PRAGMA max_page_count = {limit.pages()}")
        return write_group(store, events, now)

    setattr(GroupStore, "_store_sqlite", limited_group)  # noqa: B010 (mypy refuses a method assigned)


def main() -> None:
    from stockbridge.cli import app

    limit_file = os.environ.get(LIMIT_ENV)
    if limit_file:
        install(Path(limit_file))
    app()


if __name__ == "__main__":
    main()
