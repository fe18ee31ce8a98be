"""`in_keys`: rows whose columns equal one of many keys, found through the table's index on both
backends (a plain row-value IN list is scanned against every row of the table)."""

from __future__ import annotations

from sqlalchemy import Engine, select
from tests.factories import T0

from stockbridge.store.db import make_engine, upgrade
from stockbridge.store.schema import targets
from stockbridge.store.sql import CHUNK
from stockbridge.store.targets_repo import key_filter, lock_targets

KEYS = [("ims", f"SKU-{i:04d}", "6") for i in range(CHUNK + 7)] + [("shop", 'it\'s "odd" ü', "gid://1")]


def _found(engine: Engine, keys: list[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    with engine.connect() as c:
        rows = c.execute(select(targets.c.channel, targets.c.sku, targets.c.location).where(key_filter(keys)))
        return {(r.channel, r.sku, r.location) for r in rows}


def test_every_key_asked_for_is_found_and_nothing_else(engine: Engine) -> None:
    with engine.begin() as c:
        lock_targets(c, KEYS, dict.fromkeys(KEYS, "WH1"), T0)
    asked = [*KEYS[::2], ("ims", "SKU-0001", "7"), ("other", "SKU-0002", "6")]  # the last two: no such target
    assert _found(engine, asked) == set(KEYS[::2])
    assert _found(engine, KEYS) == set(KEYS)  # more than a chunk, quotes and non-ASCII text, in one statement
    assert _found(engine, []) == set()
    # The same statement, compiled once, with other keys bound: nothing of the first run is kept.
    assert _found(engine, KEYS[1:2]) == {KEYS[1]}


def test_sqlite_looks_the_keys_up_by_index(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    query = select(targets.c.desired).where(key_filter(KEYS[:3]))
    with engine.connect() as c:
        compiled = query.compile(c)
        plan = c.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + str(compiled), tuple(compiled.params.values())
        ).fetchall()
    details = " | ".join(str(row[-1]) for row in plan)
    assert "SEARCH targets USING INDEX" in details, details
    assert "SCAN targets" not in details, details
