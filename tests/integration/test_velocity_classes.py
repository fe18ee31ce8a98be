"""A SKU that speeds up moves into the fast class and its larger buffer is pushed (issue 11 part 4),
on SQLite and PostgreSQL, with a clock the test moves.

Despatches are folded from the inbox as Clarus sends them; the scheduled reclassification puts the
SKU in the class its sales over the window reach; the storefront, which opts in to velocity buffers,
is pushed (to the Shopify simulator over HTTP) its figure less the class's buffer, and the IMS, which
does not, keeps its figure. The expected figures are worked out here from the sales the test made.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import Engine, select
from tests.factories import T0, config, inbound, movement_event
from tests.servers import run_app
from tests.shopify_sim_support import LOCATION, SECRET, TOKEN, VERSION, level, seed
from typer.testing import CliRunner

from stockbridge.cli import app
from stockbridge.config import Config
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.connectors.shopify import ShopifyClient, ShopifyStock
from stockbridge.domain.velocity import Sale
from stockbridge.engine.clock import FakeClock
from stockbridge.engine.connect import connect
from stockbridge.engine.worker import Worker
from stockbridge.flows.fold import fold_inbox
from stockbridge.flows.stock_push import StockPusher
from stockbridge.simulators.shopify import ShopifySettings, create_app
from stockbridge.store import inbox_repo, velocity_repo
from stockbridge.store.schema import targets

SKU = "MUG-1"
DAY_S = 86400
FAST = {"min_per_day": 20, "buffer": 6}
MEDIUM = {"min_per_day": 5, "buffer": 3}
STORE_BUFFER = 1
SECRETS = {
    "CLARUS_API_KEY": "k",
    "CLARUS_WEBHOOK_SECRET": "s",
    "IMS_TOKEN": "t",
    "SHOPIFY_ACCESS_TOKEN": TOKEN,
    "SHOPIFY_WEBHOOK_SECRET": SECRET,
}
CONFIG: Config = config(
    storefronts={
        "shopify": {
            "shop_domain": "x.myshopify.com",
            "orders_route": "clarus",
            "locations": {"WH1": LOCATION},
        }
    },
    inventory_statuses={
        "available": {"counts_for": ["ims", "shopify"]},
        "picked": {"counts_for": ["ims"]},
    },
    targets={"ims": {"buffer": 0}, "shopify": {"buffer": STORE_BUFFER, "velocity_buffers": True}},
    velocity={"window_s": DAY_S, "classes": {"fast": FAST, "medium": MEDIUM}, "reclassify_s": 3600},
)


@pytest.fixture(scope="module")
def shop_url() -> Iterator[str]:
    with run_app(create_app(ShopifySettings(access_token=TOKEN, api_secret=SECRET))) as url:
        yield url


@pytest.fixture
def shop(shop_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shop_url, timeout=10) as client:
        assert client.post("/_control/reset").status_code == 200
        seed(client, SKU, 0)
        yield client


class Warehouse:
    """The movements the test makes, folded as the worker would fold them."""

    def __init__(self, engine: Engine, clock: FakeClock) -> None:
        self.engine, self.clock = engine, clock
        self.sequence = 0
        self.available = 0

    def move(self, movement_type: str, quantity: int, available: int) -> None:
        self.sequence += 1
        self.available = available
        event: dict[str, Any] = movement_event(
            self.sequence,
            SKU,
            {"available": available, "picked": 0},
            movement_type=movement_type,
            occurred_at=self.clock.now(),
        )
        event["data"]["quantity"] = quantity
        now = self.clock.now()
        inbox_repo.store_events(self.engine, [inbound(event)], now)
        with self.engine.begin() as c:
            fold_inbox(c, inbox_repo.claim_pending(c, 100), CONFIG, now, formats=ClarusInbound())

    def sell(self, units: int) -> None:
        """A despatch of `units` (the warehouse's `available` had them taken off at allocation)."""
        self.move("despatch", units, self.available)

    def reclassify(self) -> None:
        """The scheduled job, run by a worker as its schedule would (`velocity.reclassify_s`)."""

        async def job() -> None:
            connections = connect(CONFIG, SECRETS)
            try:
                worker = Worker(engine=self.engine, config=CONFIG, connections=connections, clock=self.clock)
                assert ("velocity_reclassify", 3600) in worker._jobs()
                await worker.run_job("velocity_reclassify")
            finally:
                await connections.aclose()

        asyncio.run(job())


def _push(engine: Engine, shop_url: str, now: datetime) -> None:
    async def go() -> None:
        client = ShopifyClient(shop_url, VERSION, TOKEN, timeout_s=10)
        pusher = StockPusher(
            engine=engine,
            config=CONFIG,
            channel=ShopifyStock(client),
            clock=FakeClock(now),
            worker_id="w1",
            rng=random.Random(1),
        )
        try:
            for _ in range(10):
                if not (await pusher.run_cycle()).did_work:
                    return
        finally:
            await client.aclose()
        raise AssertionError("the pusher never went idle")

    asyncio.run(go())


def _shown(shop: httpx.Client) -> int:
    return int(level(shop, SKU)["available"])


def _ims_figure(engine: Engine) -> int:
    with engine.connect() as c:
        query = select(targets.c.desired).where(targets.c.channel == "ims", targets.c.sku == SKU)
        return int(c.execute(query).scalar_one())


def _class(engine: Engine) -> str | None:
    with engine.connect() as c:
        return velocity_repo.classes_for(c, [SKU]).get(SKU)


def _cli(engine: Engine, tmp_path: Path, *args: str, exit_code: int = 0) -> Any:
    path = tmp_path / "stockbridge.yaml"
    data = {
        **CONFIG.model_dump(mode="json"),
        "database_url": engine.url.render_as_string(hide_password=False),
    }
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["stock", *args, "--config", str(path), "--json"])
    assert result.exit_code == exit_code, result.output
    return json.loads(result.output) if exit_code == 0 else result.output


def test_a_sku_that_speeds_up_gets_the_fast_buffer_pushed(
    engine: Engine, shop: httpx.Client, shop_url: str, tmp_path: Path
) -> None:
    clock = FakeClock(T0)
    warehouse = Warehouse(engine, clock)
    warehouse.move("receipt", 200, available=200)
    _push(engine, shop_url, clock.now())
    assert _shown(shop) == 200 - STORE_BUFFER

    # 6 units sold in the one-day window: 6 a day, past medium's 5.
    for _ in range(3):
        clock.advance(600)
        warehouse.sell(2)
    clock.advance(3600)
    warehouse.reclassify()
    assert _class(engine) == "medium"
    _push(engine, shop_url, clock.now())
    assert _shown(shop) == 200 - max(STORE_BUFFER, MEDIUM["buffer"])

    # It speeds up: 20 more units within the day make 26, past fast's 20 a day.
    for _ in range(4):
        clock.advance(600)
        warehouse.sell(5)
    clock.advance(3600)
    warehouse.reclassify()
    assert _class(engine) == "fast"
    _push(engine, shop_url, clock.now())
    assert _shown(shop) == 200 - FAST["buffer"]
    assert _ims_figure(engine) == 200  # the IMS does not use velocity buffers

    shown = _cli(engine, tmp_path, "show", SKU)
    assert (shown["velocity_class"], shown["velocity_buffer"], shown["units_sold"]) == ("fast", 6, 26)
    lines = {line["channel"]: line for line in shown["lines"]}
    assert {k: lines["shopify"][k] for k in ("counted", "buffer", "buffer_from", "figure", "pushed")} == {
        "counted": 200,
        "buffer": FAST["buffer"],
        "buffer_from": "velocity fast",
        "figure": 200 - FAST["buffer"],
        "pushed": 200 - FAST["buffer"],
    }
    assert (lines["ims"]["buffer_from"], lines["ims"]["figure"]) == ("default", 200)
    assert _cli(engine, tmp_path, "classes") == {"fast": 1, "medium": 0, "(none)": 0}
    assert "no warehouse has reported stock of TEA-9" in _cli(engine, tmp_path, "show", "TEA-9", exit_code=1)

    # A despatch folded again (the same warehouse event) counts once.
    with engine.begin() as c:
        velocity_repo.record_sales(c, [(Sale(f"evt_WH1_{warehouse.sequence:012d}", SKU, "WH1", 5), T0)])
        assert velocity_repo.units_sold_since(c, T0)[SKU] == 26

    # A quiet day and a half: the window empties, the SKU is in no class, the configured buffer is back.
    clock.advance(1.5 * DAY_S)
    warehouse.reclassify()
    assert _class(engine) is None
    _push(engine, shop_url, clock.now())
    assert _shown(shop) == 200 - STORE_BUFFER
