"""A full sync streams: the snapshot is read a page at a time and folded a bounded batch at a time,
and what it folds is what folding the same movements one by one gives.

Memory is not measured here (bench/million.py does): the bound is checked by its structure, the page
size honoured by every snapshot call and every fold claim within its byte budget.
"""

from __future__ import annotations

import asyncio
import math

import pytest
from sqlalchemy import Engine, delete, func, select
from tests.clarus_support import clarus_client
from tests.factories import T0, config

from stockbridge.config import IMS_CHANNEL_NAME as IMS_CHANNEL
from stockbridge.connectors.clarus.client import ClarusClient
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.connectors.clarus.stock import ClarusStock
from stockbridge.demo.traffic import Traffic
from stockbridge.domain.inbound import STOCK_SNAPSHOT
from stockbridge.engine.clock import FakeClock
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
