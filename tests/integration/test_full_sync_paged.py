"""A full sync streams: the snapshot is read a page at a time and folded a bounded batch at a time,
and what it folds is what folding the same movements one by one gives.

Memory is not measured here (bench/million.py does): the bound is checked by its structure, the page
size honoured by every snapshot call and every fold claim within its byte budget.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.exc import OperationalError
from tests.clarus_support import clarus_client
from tests.factories import T0, config

from stockbridge.config import IMS_CHANNEL_NAME as IMS_CHANNEL
from stockbridge.connectors.clarus.client import ClarusClient
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.connectors.clarus.stock import ClarusStock
from stockbridge.connectors.errors import RejectedError
from stockbridge.demo.traffic import Traffic
from stockbridge.domain.inbound import STOCK_SNAPSHOT, FeedItem, SnapshotPage
from stockbridge.engine.clock import FakeClock
from stockbridge.flows import stock_sync
from stockbridge.flows.fold import fold_inbox
from stockbridge.flows.stock_sync import full_sync, poll_events
from stockbridge.store import inbox_repo, stock_repo, targets_repo
from stockbridge.store.schema import inbox, observed_stock, targets
from stockbridge.store.states import InboxState

CONFIG = config()
SKUS = 23
PAGE = 7


def _sync(engine: Engine, base_url: str, *, snapshot: bool) -> int:
    async def go() -> int:
        client = ClarusClient(base_url, "clarus-dev-key")
        try:
            stock = ClarusStock(client)
            if snapshot:
                return await full_sync(engine, stock, "WH1", FakeClock(T0), page_size=PAGE)
            return await poll_events(engine, stock, "WH1", CONFIG, FakeClock(T0))
        finally:
            await client.aclose()

    return asyncio.run(go())


def _fold_all(engine: Engine, max_bytes: int | None = None) -> list[int]:
    """Fold the inbox empty; returns the payload bytes of each claim."""
    claims: list[int] = []
    for _ in range(500):
        with engine.begin() as c:
            entries = inbox_repo.claim_pending(c, 1000, max_bytes)
            if not entries:
                return claims
            claims.append(sum(len(e.payload) for e in entries))
            fold_inbox(c, entries, CONFIG, T0, formats=ClarusInbound())
    raise AssertionError("the inbox never emptied")


def _figures(engine: Engine) -> tuple[dict[str, dict[str, int]], dict[tuple[str, str], int]]:
    with engine.connect() as c:
        stock = stock_repo.observed_stock_by_warehouse(c, "WH1")
        desired = {key: value[0] for key, value in targets_repo.pushed_figures(c, IMS_CHANNEL).items()}
    nonzero = {sku: {s: q for s, q in st.items() if q} for sku, st in stock.items()}
    return {sku: st for sku, st in nonzero.items() if st}, desired


@pytest.mark.parametrize("seed", [3, 11])
def test_a_paged_full_sync_folds_to_what_the_movements_fold_to(engine: Engine, seed: int) -> None:
    traffic = Traffic(SKUS, seed=seed)
    movements = list(traffic.initial_receipts()) + [traffic.next() for _ in range(150)]
    with clarus_client() as clarus:
        clarus.post("/_control/movements", json={"movements": movements}).raise_for_status()
        warehouse = clarus.get("/_control/state").json()["warehouses"]["WH1"]["stock"]
        base_url = str(clarus.base_url)
        # The movements one by one, from the events feed, as webhooks would bring them.
        assert _sync(engine, base_url, snapshot=False) == len(movements)
        _fold_all(engine)
        by_movements = _figures(engine)
        with engine.begin() as c:  # forget what was folded: the snapshot alone must rebuild it
            c.execute(delete(targets))
            c.execute(delete(observed_stock))
        rows = _sync(engine, base_url, snapshot=True)
    page_bytes = _largest_snapshot_page(engine)
    claims = _fold_all(engine, max_bytes=2 * page_bytes)
    by_snapshot = _figures(engine)

    statuses = sum(len(st) for st in warehouse.values())
    assert rows >= statuses  # the snapshot also lists statuses that went back to 0
    assert by_snapshot == by_movements
    assert by_snapshot[0] == warehouse  # the simulator's own figures
    with engine.connect() as c:
        pages = c.execute(select(func.count()).where(inbox.c.kind == STOCK_SNAPSHOT)).scalar_one()
    assert pages == math.ceil(rows / PAGE) > 2
    # Each fold took at most two pages' worth of payload: never the whole snapshot at once.
    assert len(claims) >= math.ceil(pages / 2)
    assert all(size <= 2 * page_bytes for size in claims)


def _largest_snapshot_page(engine: Engine) -> int:
    with engine.connect() as c:
        sizes = c.execute(select(inbox.c.payload).where(inbox.c.kind == STOCK_SNAPSHOT)).scalars()
        return max(len(p) for p in sizes)


def test_a_claim_within_its_byte_budget_takes_a_prefix_and_at_least_one(engine: Engine) -> None:
    with engine.begin() as c:
        inbox_repo.insert_events(
            c,
            [
                inbox_repo.InboundEvent("clarus", f"e{i}", STOCK_SNAPSHOT, "x" * size)
                for i, size in enumerate([40, 40, 40, 500, 10])
            ],
            T0,
            InboxState.PENDING,
        )
    taken: list[list[str]] = []
    for budget in (100, 100, 100, 100):
        with engine.begin() as c:
            entries = inbox_repo.claim_pending(c, 10, budget)
            taken.append([e.event_id for e in entries])
            inbox_repo.mark_processed(c, [e.id for e in entries], T0)
    # Two of 40 fit in 100, not a third; 500 alone is more than the budget, but taken alone.
    assert taken == [["e0", "e1"], ["e2"], ["e3"], ["e4"]]


def test_the_clarus_simulator_seeds_opening_stock_in_bulk_without_events() -> None:
    with clarus_client() as clarus:

        def seed(rows: list[dict[str, object]]) -> int:
            response = clarus.post("/_control/stock", json={"warehouse_id": "WH1", "rows": rows})
            return response.status_code

        assert seed([{"sku": f"S-{i:02d}", "status": "available", "quantity": i} for i in (5, 1, 3)]) == 200
        assert seed([{"sku": "S-02", "status": "quarantine", "quantity": 2}]) == 200
        refused = [{"sku": "S-09", "status": "available", "quantity": 1}, {"sku": "S-10", "status": "x"}]
        assert seed(refused) == 422  # nothing of a refused call is kept, not even its good rows
        clarus.post(
            "/_control/movements",
            json={
                "movements": [
                    {
                        "warehouse_id": "WH1",
                        "movement_type": "receipt",
                        "sku": "S-03",
                        "quantity": 4,
                        "to_status": "available",
                    }
                ]
            },
        ).raise_for_status()
        rows, cursor = [], None
        while True:
            params = {"warehouse_id": "WH1", "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = clarus.get("/api/v1/stock", params=params).json()
            rows += [(r["sku"], r["status"], r["quantity"], r["sequence"]) for r in page["data"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        events = clarus.get("/api/v1/events", params={"warehouse_id": "WH1", "after_sequence": 0}).json()
    # In SKU order across pages; seeded rows as of sequence 0, the later movement newer than them.
    assert rows == [
        ("S-01", "available", 1, 0),
        ("S-02", "quarantine", 2, 0),
        ("S-03", "available", 7, 1),
        ("S-05", "available", 5, 0),
    ]
    assert (len(events["data"]), events["next_after_sequence"]) == (1, 1)  # the movement's event alone


class _PagedStock:
    """A warehouse whose snapshot is `pages` pages of one row each; the read of page `fail_at`, if
    any, is refused. `reading` is set when a page's read begins (its number in `started`)."""

    source = "clarus"

    def __init__(self, pages: int, fail_at: int | None = None) -> None:
        self.pages, self.fail_at = pages, fail_at
        self.started: list[int] = []
        self.reading = asyncio.Event()

    async def snapshot_page(
        self, warehouse_id: str, cursor: str | None, page_size: int = 1000
    ) -> SnapshotPage:
        number = int(cursor or 0)
        self.started.append(number)
        self.reading.set()
        if number == self.fail_at:
            raise RejectedError("clarus", f"page {number} refused")
        row = {
            "warehouse_id": warehouse_id,
            "sku": f"P-{number}",
            "status": "available",
            "quantity": 1,
            "sequence": 1,
        }
        following = str(number + 1) if number + 1 < self.pages else None
        return SnapshotPage(json.dumps([row]), 1, following, 10)

    async def events_after(
        self, warehouse_id: str, after_sequence: int, limit: int = 1000
    ) -> tuple[list[FeedItem], int, bool]:
        return [], after_sequence, False


def _stored_pages(engine: Engine) -> list[str]:
    with engine.connect() as c:
        ids = c.execute(select(inbox.c.event_id).where(inbox.c.kind == STOCK_SNAPSHOT)).scalars()
        return sorted(i.rsplit(":", 1)[1] for i in ids)


def test_the_next_page_is_read_while_a_page_is_stored(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock = _PagedStock(pages=3)
    real = stock_sync.in_transaction
    waited: list[list[int]] = []

    async def storing(engine_: Engine, work: Callable[[Connection], object]) -> object:
        # A store does not begin until the read after it has: a sync that read a page only once the
        # last was stored would wait here for ever (the deadline fails it).
        if len(waited) < 2:
            stock.reading.clear()
            if len(stock.started) <= len(waited) + 1:
                await asyncio.wait_for(stock.reading.wait(), timeout=10)
            waited.append(list(stock.started))
        return await real(engine_, work)

    monkeypatch.setattr(stock_sync, "in_transaction", storing)
    rows = asyncio.run(full_sync(engine, stock, "WH1", FakeClock(T0)))
    assert rows == 3
    assert waited == [[0, 1], [0, 1, 2]]  # page 0 stored once page 1 was being read; page 1, page 2
    assert _stored_pages(engine) == ["0", "1", "2"]


def test_a_page_that_cannot_be_read_ends_the_sync_with_every_page_before_it_stored(engine: Engine) -> None:
    stock = _PagedStock(pages=5, fail_at=3)
    with pytest.raises(RejectedError, match="page 3 refused"):
        asyncio.run(full_sync(engine, stock, "WH1", FakeClock(T0)))
    assert stock.started == [0, 1, 2, 3]  # nothing read past the failure
    assert _stored_pages(engine) == ["0", "1", "2"]
    with engine.connect() as c:
        assert inbox_repo.pending_count(c) == 3  # folded as any page is; the next full sync reads all again


def test_a_store_that_fails_stops_the_read_ahead(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    stock = _PagedStock(pages=5)
    real = stock_sync.in_transaction
    stores = 0

    async def failing_second(engine_: Engine, work: Callable[[Connection], object]) -> object:
        nonlocal stores
        stores += 1
        if stores == 2:
            raise OperationalError("INSERT", {}, Exception("database is locked"))
        return await real(engine_, work)

    monkeypatch.setattr(stock_sync, "in_transaction", failing_second)
    with pytest.raises(OperationalError):
        asyncio.run(full_sync(engine, stock, "WH1", FakeClock(T0)))
    assert _stored_pages(engine) == ["0"]
    assert max(stock.started) <= 2  # the read ahead of the failed store was the last one begun
