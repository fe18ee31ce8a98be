"""The daily finance batch against the IMS simulator over HTTP, on SQLite and PostgreSQL.

A day of damage, write-off and count corrections at two warehouses is folded through the inbox;
the stock sync pushes to the IMS; the batch posts. What the IMS shows is read from the simulator's
own records and judged by the oracle (`oracle/finance.py`, `oracle/stock.py`), which knows nothing of
the hub's rules.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from sqlalchemy import Engine
from tests.factories import T0, config
from typer.testing import CliRunner

from stockbridge.cli import app
from stockbridge.config import EXAMPLE_CONFIG, Config
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.netsuite.auth import BearerAuth
from stockbridge.connectors.netsuite.client import NetSuiteClient
from stockbridge.connectors.netsuite.finance import ImsFinance
from stockbridge.connectors.netsuite.stock import ImsStock, SuiteQLItems
from stockbridge.engine.clock import FakeClock
from stockbridge.engine.connect import connect
from stockbridge.engine.ims_items import refresh_items
from stockbridge.engine.worker import Worker
from stockbridge.flows.edge_ports import FinancePosting
from stockbridge.flows.finance import FinanceBatcher, FinanceRun
from stockbridge.flows.fold import fold_inbox
from stockbridge.flows.stock_push import StockPusher
from stockbridge.monitor.backlog import read_backlog
from stockbridge.oracle import OracleSettings, drift, expected_figures, ims_figures
from stockbridge.oracle.finance import expected_adjustments, posted_adjustments
from stockbridge.servers import serve_in_thread
from stockbridge.simulators.ims import ImsSettings, create_app
from stockbridge.store import finance_repo, inbox_repo
from stockbridge.store.bookkeeping import list_exceptions
from stockbridge.store.dead_letters import replay_for_exception
from stockbridge.store.inbox_repo import InboundEvent
from stockbridge.store.states import BatchState, ExceptionState

T = TypeVar("T")
SETTINGS = ImsSettings(locations=[("6", "Main Warehouse"), ("7", "North Warehouse")])
TOKEN = SETTINGS.bearer_tokens[0]
DATA = {
    "locations": [{"warehouse": "WH1", "ims_location": "6"}, {"warehouse": "WH2", "ims_location": "7"}],
    "finance": {
        "reasons": {
            "DAMAGE": {"account": "5100"},
            "WRITE_OFF": {"account": "5100"},
            "COUNT": {"account": "5200"},
        },
        "post_at": "23:30",
    },
}
CONFIG = config(**DATA)
ORACLE = OracleSettings.from_config_data({**CONFIG.model_dump(mode="json")})
DAY = T0.date()


class Warehouse:
    """Clarus's stock rule, small: each movement is an event with the balances it left."""

    def __init__(self) -> None:
        self.stock: dict[str, dict[str, dict[str, int]]] = {}
        self.events: list[dict[str, Any]] = []
        self.sequence = 0

    def move(
        self, warehouse: str, sku: str, kind: str, quantity: int, source: str | None, dest: str | None
    ) -> dict[str, Any]:
        stock = self.stock.setdefault(warehouse, {}).setdefault(sku, {})
        changed = []
        if kind == "count":
            assert dest is not None
            quantity, stock[dest] = quantity - stock.get(dest, 0), quantity
            changed = [dest]
        else:
            if source is not None:
                stock[source] = stock.get(source, 0) - quantity
                assert stock[source] >= 0
                changed.append(source)
            if dest is not None:
                stock[dest] = stock.get(dest, 0) + quantity
                changed.append(dest)
        self.sequence += 1
        when = (T0 + timedelta(seconds=self.sequence)).isoformat().replace("+00:00", "Z")
        event = {
            "id": f"evt_{warehouse}_{self.sequence:012d}",
            "type": "inventory.movement",
            "created_at": when,
            "data": {
                "warehouse_id": warehouse,
                "sequence": self.sequence,
                "occurred_at": when,
                "movement_type": kind,
                "sku": sku,
                "quantity": quantity,
                "from_status": source,
                "to_status": dest,
                "reference": None,
                "balances": [{"status": s, "quantity": stock[s]} for s in changed],
            },
        }
        self.events.append(event)
        return event

    def state(self) -> dict[str, Any]:
        return {"warehouses": {w: {"stock": skus} for w, skus in self.stock.items()}}


@pytest.fixture
def ims() -> Iterator[str]:
    with serve_in_thread(create_app(SETTINGS)) as url:
        httpx.post(f"{url}/_control/items", json={"items": [{"itemId": "MUG-1"}, {"itemId": "CUP-2"}]})
        yield url


def _fold(engine: Engine, events: list[dict[str, Any]]) -> None:
    stored = [InboundEvent("clarus", e["id"], e["type"], json.dumps(e)) for e in events]
    inbox_repo.store_events(engine, stored, T0)
    with engine.begin() as c:
        fold_inbox(c, inbox_repo.claim_pending(c, 1000), CONFIG, T0, formats=ClarusInbound())


class Hub:
    def __init__(
        self, client: NetSuiteClient, limiter: RateLimiter, engine: Engine, clock: FakeClock, worker: str
    ):
        items = SuiteQLItems(client)
        channel = ImsStock(client, limiter, items, adjustment_account_id="1")
        self.pusher = StockPusher(
            engine=engine, config=CONFIG, channel=channel, clock=clock, worker_id=worker, rng=random.Random(1)
        )
        self.posting: FinancePosting = ImsFinance(client, items)
        self.engine, self.clock, self.worker = engine, clock, worker

    def batcher(self, posting: FinancePosting | None = None, cfg: Config = CONFIG) -> FinanceBatcher:
        return FinanceBatcher(
            engine=self.engine,
            config=lambda: cfg,
            ims=posting or self.posting,
            clock=self.clock,
            worker_id=self.worker,
            rng=random.Random(2),
        )

    async def sync(self) -> None:
        for _ in range(20):
            if not (await self.pusher.run_cycle()).did_work:
                return
        raise AssertionError("the stock sync never went idle")


def _with_hub(
    url: str, engine: Engine, clock: FakeClock, scenario: Callable[[Hub], Awaitable[T]], worker: str = "w1"
) -> T:
    async def go() -> T:
        limiter = RateLimiter(50, 4)
        client = NetSuiteClient(url, BearerAuth(TOKEN), limiter=limiter)
        try:
            return await scenario(Hub(client, limiter, engine, clock, worker))
        finally:
            await client.aclose()

    return asyncio.run(go())


def _adjustments(url: str) -> list[dict[str, Any]]:
    """Every inventory adjustment the IMS simulator holds, lines expanded."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    base = f"{url}/services/rest/record/v1/inventoryAdjustment"
    listed = httpx.get(base, headers=headers, params={"limit": 1000}).json()["items"]
    return [
        httpx.get(f"{base}/{r['id']}", headers=headers, params={"expandSubResources": "true"}).json()
        for r in listed
    ]


def _ims_state(url: str) -> dict[str, Any]:
    state: dict[str, Any] = httpx.get(f"{url}/_control/state").json()
    return state


def _day(warehouse: Warehouse) -> None:
    """Receipts, then damage, write-off and count corrections at two warehouses."""
    for wh in ("WH1", "WH2"):
        warehouse.move(wh, "MUG-1", "receipt", 20, None, "available")
        warehouse.move(wh, "CUP-2", "receipt", 10, None, "available")
        warehouse.move(wh, "MUG-1", "allocate", 2, "available", "allocated")
    warehouse.move("WH1", "MUG-1", "status_change", 3, "available", "damaged")  # DAMAGE -3
    warehouse.move("WH1", "MUG-1", "write_off", 3, "damaged", None)  # the IMS never held these: 0
    warehouse.move("WH1", "CUP-2", "write_off", 1, "available", None)  # WRITE_OFF -1
    warehouse.move("WH1", "MUG-1", "count", 16, None, "available")  # COUNT +1 (15 -> 16)
    warehouse.move("WH2", "MUG-1", "status_change", 4, "available", "damaged")  # DAMAGE -4
    warehouse.move("WH2", "CUP-2", "count", 7, None, "available")  # COUNT -3
    warehouse.move("WH2", "CUP-2", "status_change", 1, "available", "quarantine")  # not financial


def _accounts() -> dict[str, str]:
    return {reason: r["account"] for reason, r in DATA["finance"]["reasons"].items()}  # type: ignore[index]


def _expected(warehouse: Warehouse) -> dict[tuple[str, str, str], dict[tuple[str, str], int]]:
    return expected_adjustments(
        warehouse.events, ORACLE.targets["ims"].counted_statuses, ORACLE.locations, _accounts()
    )


def _figures(url: str) -> dict[tuple[str, str], int]:
    return ims_figures(_ims_state(url), set(ORACLE.locations.values()))


def _open(engine: Engine) -> list[Any]:
    with engine.begin() as c:
        return [e for e in list_exceptions(c) if e.state == ExceptionState.OPEN]


def test_a_day_posts_one_adjustment_per_location_and_account_and_moves_the_ims_once(
    engine: Engine, ims: str
) -> None:
    warehouse, clock = Warehouse(), FakeClock(T0)
    _day(warehouse)
    _fold(engine, warehouse.events)
    _with_hub(ims, engine, clock, lambda hub: hub.sync())
    before_batch = _figures(ims)
    synced = {r["id"] for r in _adjustments(ims)}
    # Until the batch posts, the IMS shows the units the financial movements took off (or found):
    # the figure the warehouse had without them. The sync did not move them.
    without_finance = {(sku, loc): 0 for sku, loc in before_batch}
    for event in warehouse.events:
        d = event["data"]
        if d["movement_type"] in ("receipt",) or (d["movement_type"], d["to_status"]) == (
            "status_change",
            "quarantine",
        ):
            key = (d["sku"], ORACLE.locations[d["warehouse_id"]])
            without_finance[key] += d["quantity"] if d["movement_type"] == "receipt" else -d["quantity"]
    assert before_batch == without_finance

    # The day is not closed before post_at: nothing is posted.
    run = _with_hub(ims, engine, clock, lambda hub: hub.batcher().run())
    assert run == FinanceRun()
    clock.advance(timedelta(hours=14, minutes=30).total_seconds())  # 23:30
    run = _with_hub(ims, engine, clock, lambda hub: hub.batcher().run())
    assert sorted(run.posted) == [
        "FIN-6-20261126-5100",
        "FIN-6-20261126-5200",
        "FIN-7-20261126-5100",
        "FIN-7-20261126-5200",
    ]

    records = [r for r in _adjustments(ims) if r["id"] not in synced]
    assert sorted(r["externalId"] for r in records) == sorted(run.posted)  # exactly one each
    assert posted_adjustments(records) == _expected(warehouse)
    for record in records:  # the control total is in the memo, and is the lines' sum
        total = sum(round(float(line["adjustQtyBy"])) for line in record["inventory"]["items"])
        assert f"control {total} units in {len(record['inventory']['items'])} lines" in record["memo"]

    # The IMS now shows the warehouse's figures, and the sync has nothing left to move.
    assert not drift(expected_figures(warehouse.state(), ORACLE), _figures(ims))
    adjustments = _ims_state(ims)["adjustments"]
    _with_hub(ims, engine, clock, lambda hub: hub.sync())
    assert _ims_state(ims)["adjustments"] == adjustments
    with engine.begin() as c:
        assert finance_repo.pending_units(c) == {}
    # A second run posts nothing again.
    clock.advance(3600)
    assert _with_hub(ims, engine, clock, lambda hub: hub.batcher().run()) == FinanceRun()


class Crash(BaseException):
    """The worker dies: nothing after the call runs (not an error the flow could catch)."""


class DiesAfterPosting:
    def __init__(self, inner: FinancePosting) -> None:
        self.inner = inner

    async def post_adjustment(self, batch: Any) -> None:
        await self.inner.post_adjustment(batch)
        raise Crash

    async def read_adjustment(self, batch: Any) -> Any:
        return await self.inner.read_adjustment(batch)


def _one_location_day(warehouse: Warehouse) -> None:
    warehouse.move("WH1", "MUG-1", "receipt", 20, None, "available")
    warehouse.move("WH1", "MUG-1", "status_change", 3, "available", "damaged")


def test_a_crash_after_the_ims_took_the_post_posts_nothing_twice(engine: Engine, ims: str) -> None:
    warehouse, clock = Warehouse(), FakeClock(T0)
    _one_location_day(warehouse)
    _fold(engine, warehouse.events)
    _with_hub(ims, engine, clock, lambda hub: hub.sync())
    assert _figures(ims)[("MUG-1", "6")] == 20

    async def crash(hub: Hub) -> None:
        await hub.batcher(DiesAfterPosting(hub.posting)).run(through=DAY)

    with pytest.raises(Crash):
        _with_hub(ims, engine, clock, crash)
    assert _figures(ims)[("MUG-1", "6")] == 17  # the IMS took it; the hub never heard
    # Meanwhile stock moves, and the stock sync leaves the held figure alone (it would undo the batch).
    _fold(engine, [warehouse.move("WH1", "MUG-1", "receipt", 2, None, "available")])
    _with_hub(ims, engine, clock, lambda hub: hub.sync())
    assert _figures(ims)[("MUG-1", "6")] == 17

    clock.advance(CONFIG.engine.lease_s + 1)  # the dead worker's lease runs out; another takes over
    run = _with_hub(ims, engine, clock, lambda hub: hub.batcher().run(through=DAY), worker="w2")
    assert run.posted == ["FIN-6-20261126-5100"]
    state = _ims_state(ims)
    assert state["replaced"] == 1  # the re-post replaced itself
    assert posted_adjustments(_adjustments(ims)) == _expected(warehouse)
    _with_hub(ims, engine, clock, lambda hub: hub.sync())  # the receipt goes out now
    assert _ims_state(ims)["adjustments"] == state["adjustments"] + 1
    assert not drift(expected_figures(warehouse.state(), ORACLE), _figures(ims))


def test_an_answer_lost_after_commit_is_posted_once(engine: Engine, ims: str) -> None:
    warehouse, clock = Warehouse(), FakeClock(T0)
    _one_location_day(warehouse)
    _fold(engine, warehouse.events)
    _with_hub(ims, engine, clock, lambda hub: hub.sync())
    httpx.put(f"{ims}/_control/faults", json={"fail_after_commit_next": 1}).raise_for_status()
    run = _with_hub(ims, engine, clock, lambda hub: hub.batcher().run(through=DAY))
    assert run.failed == ["FIN-6-20261126-5100"]
    # Stock keeps moving meanwhile; the sync holds off the SKU: the post may have applied, and
    # pushing the held figure now would undo it (the re-post replaces itself and would not redo it).
    _fold(engine, [warehouse.move("WH1", "MUG-1", "receipt", 1, None, "available")])
    _with_hub(ims, engine, clock, lambda hub: hub.sync())
    assert _figures(ims)[("MUG-1", "6")] == 17
    clock.advance(CONFIG.engine.backoff_cap_s)
    run = _with_hub(ims, engine, clock, lambda hub: hub.batcher().run(through=DAY))
    assert run.posted == ["FIN-6-20261126-5100"]
    assert posted_adjustments(_adjustments(ims)) == _expected(warehouse)
    _with_hub(ims, engine, clock, lambda hub: hub.sync())  # the receipt goes out now
    assert not drift(expected_figures(warehouse.state(), ORACLE), _figures(ims))


def test_an_ims_outage_is_retried_whole_later(engine: Engine, ims: str) -> None:
    warehouse, clock = Warehouse(), FakeClock(T0)
    _one_location_day(warehouse)
    warehouse.move("WH1", "MUG-1", "count", 15, None, "available")  # COUNT -2: a second batch
    _fold(engine, warehouse.events)
    _with_hub(ims, engine, clock, lambda hub: hub.sync())
    httpx.put(f"{ims}/_control/faults", json={"outage": True}).raise_for_status()
    run = _with_hub(ims, engine, clock, lambda hub: hub.batcher().run(through=DAY))
    assert run.failed == ["FIN-6-20261126-5100"]
    # The count's batch moves the same SKU: it waits while the damage's may have applied.
    assert run.waiting == ["FIN-6-20261126-5200"]
    assert _open(engine) == []  # retried, not yet a person's problem
    with engine.begin() as c:  # ...but visible as backlog
        backlog = {b.flow: b.size for b in read_backlog(c, CONFIG, clock.now())}
    assert backlog["finance_batches"] == 2
    httpx.put(f"{ims}/_control/faults", json={"outage": False}).raise_for_status()
    assert _figures(ims)[("MUG-1", "6")] == 20
    clock.advance(CONFIG.engine.backoff_cap_s)
    run = _with_hub(ims, engine, clock, lambda hub: hub.batcher().run(through=DAY))
    assert sorted(run.posted) == ["FIN-6-20261126-5100", "FIN-6-20261126-5200"]
    assert posted_adjustments(_adjustments(ims)) == _expected(warehouse)
    assert not drift(expected_figures(warehouse.state(), ORACLE), _figures(ims))


def test_a_refused_batch_is_finances_exception_and_its_replay_posts_it_once(engine: Engine, ims: str) -> None:
    warehouse, clock = Warehouse(), FakeClock(T0)
    _one_location_day(warehouse)
    _fold(engine, warehouse.events)
    _with_hub(ims, engine, clock, lambda hub: hub.sync())
    httpx.patch(f"{ims}/_control/items/MUG-1", json={"isInactive": True}).raise_for_status()
    run = _with_hub(ims, engine, clock, lambda hub: hub.batcher().run(through=DAY))
    assert run.failed == ["FIN-6-20261126-5100"]
    (exception,) = _open(engine)
    assert (exception.type, exception.entity, exception.owner) == (
        "finance_batch_failed",
        "finance_batch:FIN-6-20261126-5100",
        "finance",
    )
    with engine.begin() as c:
        (stored,) = finance_repo.list_batches(c)
    assert stored.state == BatchState.DEAD.value
    assert _figures(ims)[("MUG-1", "6")] == 20  # refused whole: nothing moved, the hold stays

    httpx.patch(f"{ims}/_control/items/MUG-1", json={"isInactive": False}).raise_for_status()
    with engine.begin() as c:  # what `stockbridge exceptions retry ID` does
        assert replay_for_exception(c, exception.type, exception.entity, clock.now()) == 1
    run = _with_hub(ims, engine, clock, lambda hub: hub.batcher().run(through=DAY))
    assert run.posted == ["FIN-6-20261126-5100"]
    assert _open(engine) == []
    assert posted_adjustments(_adjustments(ims)) == _expected(warehouse)
    assert not drift(expected_figures(warehouse.state(), ORACLE), _figures(ims))


def test_the_cli_posts_a_day_and_lists_its_batches(engine: Engine, ims: str, tmp_path: Path) -> None:
    warehouse, clock = Warehouse(), FakeClock(T0)
    _day(warehouse)
    _fold(engine, warehouse.events)

    async def refresh(hub: Hub) -> None:  # the worker's item refresh, which the CLI's directory reads
        client = NetSuiteClient(ims, BearerAuth(TOKEN))
        try:
            await refresh_items(engine, client)
        finally:
            await client.aclose()

    _with_hub(ims, engine, clock, refresh)
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data.update(DATA, database_url=engine.url.render_as_string(hide_password=False))
    data["connectors"]["ims"]["base_url"] = ims
    path = tmp_path / "stockbridge.yaml"
    path.write_text(yaml.safe_dump(data))
    env = {"IMS_TOKEN": TOKEN, "CLARUS_API_KEY": "k", "CLARUS_WEBHOOK_SECRET": "s"}

    posted = CliRunner().invoke(
        app, ["finance", "post", "--date", "2026-11-26", "--config", str(path)], env=env
    )
    assert posted.exit_code == 0, posted.output
    assert "posted 4" in posted.output
    listed = CliRunner().invoke(app, ["finance", "batches", "--json", "--config", str(path)])
    assert listed.exit_code == 0, listed.output
    shown = json.loads(listed.output)
    assert {b["id"]: b["state"] for b in shown["batches"]} == dict.fromkeys(
        ["FIN-6-20261126-5100", "FIN-6-20261126-5200", "FIN-7-20261126-5100", "FIN-7-20261126-5200"], "posted"
    )
    assert shown["not_yet_posted"] == []
    assert posted_adjustments(_adjustments(ims)) == _expected(warehouse)


def test_the_worker_runs_the_daily_job(engine: Engine, ims: str) -> None:
    warehouse, clock = Warehouse(), FakeClock(T0 + timedelta(hours=14, minutes=30))  # 23:30
    _one_location_day(warehouse)
    _fold(engine, warehouse.events)
    environ = {"CLARUS_API_KEY": "k", "CLARUS_WEBHOOK_SECRET": "s", "IMS_TOKEN": TOKEN}
    cfg = config(**DATA, connectors__ims__base_url=ims)

    async def job() -> None:
        connections = connect(cfg, environ)
        try:
            worker = Worker(engine=engine, config=cfg, connections=connections, clock=clock)
            assert ("finance_batch", cfg.schedules.finance_batch_s) in worker._jobs()
            await worker.run_job("finance_batch")
        finally:
            await connections.aclose()

    asyncio.run(job())
    assert posted_adjustments(_adjustments(ims)) == _expected(warehouse)


def test_switching_batching_off_releases_the_hold_to_the_stock_sync(engine: Engine, ims: str) -> None:
    warehouse, clock = Warehouse(), FakeClock(T0)
    _one_location_day(warehouse)
    _fold(engine, warehouse.events)
    _with_hub(ims, engine, clock, lambda hub: hub.sync())
    assert _figures(ims)[("MUG-1", "6")] == 20  # held back
    off = config(locations=DATA["locations"])
    run = _with_hub(ims, engine, clock, lambda hub: hub.batcher(cfg=off).run())
    assert run == FinanceRun()
    _with_hub(ims, engine, clock, lambda hub: hub.sync())  # the sync moves the damage now
    assert not drift(expected_figures(warehouse.state(), ORACLE), _figures(ims))
    assert posted_adjustments(_adjustments(ims)) == {}
    with engine.begin() as c:
        assert finance_repo.pending_units(c) == {}
