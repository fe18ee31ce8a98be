"""The Shopify channel sets against the figure the hub last pushed, on SQLite and PostgreSQL
(docs/decisions/0036).

The store is the Shopify simulator over real HTTP, pushed to by the hub's own channel and pusher
(one connector for the whole test, as in a running hub: it keeps the inventory item ids it read).
Reads are counted by the store itself (`productVariants` in `/_control/calls`): the first push of a
SKU reads it, later pushes read nothing, and a figure changed by hand is refused as stale, read
again and set right.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine
from tests.factories import T0, config, inbound, movement_event
from tests.servers import run_app
from tests.shopify_sim_support import LOCATION, SECRET, TOKEN, VERSION, seed

from stockbridge.config import Config
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.connectors.shopify import ShopifyClient, ShopifyStock
from stockbridge.engine.clock import FakeClock
from stockbridge.flows.inventory import fold_entries
from stockbridge.flows.stock_push import StockPusher
from stockbridge.simulators.shopify import ShopifySettings, create_app
from stockbridge.store import inbox_repo, items_repo
from stockbridge.store.bookkeeping import read_counters
from stockbridge.store.items_repo import ImsItem

SKUS = [f"MUG-{i}" for i in range(60)]  # more than one read query's 50 SKUs
CONFIG: Config = config(
    storefronts={
        "shopify": {
            "shop_domain": "x.myshopify.com",
            "orders_route": "clarus",
            "locations": {"WH1": LOCATION},
        }
    },
    inventory_statuses={"available": {"counts_for": ["ims", "shopify"]}},
)


@pytest.fixture(scope="module")
def shop_url() -> Iterator[str]:
    with run_app(create_app(ShopifySettings(access_token=TOKEN, api_secret=SECRET))) as url:
        yield url


@pytest.fixture
def shop(shop_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shop_url, timeout=10) as client:
        assert client.post("/_control/reset").status_code == 200
        for sku in SKUS:
            seed(client, sku, 0)
        yield client


@pytest.fixture
def hub(engine: Engine) -> Engine:
    with engine.begin() as c:
        items_repo.upsert_items(c, [ImsItem(s, str(100 + i), False) for i, s in enumerate(SKUS)])
        items_repo.record_wms_items(c, {s: (True, s) for s in SKUS}, T0)
    return engine


class Pusher:
    """The hub's Shopify channel and pusher, kept across pushes like a running hub's."""

    def __init__(self, engine: Engine, shop_url: str) -> None:
        self.engine = engine
        self.loop = asyncio.new_event_loop()
        self.client = ShopifyClient(shop_url, VERSION, TOKEN, timeout_s=10)
        self.pusher = StockPusher(
            engine=engine,
            config=CONFIG,
            channel=ShopifyStock(self.client),
            clock=FakeClock(T0),
            worker_id="w1",
            rng=random.Random(1),
        )

    def push(self) -> None:
        """Cycles until the pusher has nothing left to do."""

        async def go() -> None:
            for _ in range(10):
                if not (await self.pusher.run_cycle()).did_work:
                    return
            raise AssertionError("the pusher never went idle")

        self.loop.run_until_complete(go())

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@pytest.fixture
def pusher(hub: Engine, shop: httpx.Client, shop_url: str) -> Iterator[Pusher]:
    p = Pusher(hub, shop_url)
    yield p
    p.close()


class Warehouse:
    """Clarus's movements as the hub receives them, with the balance the warehouse reports."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sequence = 0
        self.available: dict[str, int] = {}

    def move(self, changes: dict[str, int]) -> None:
        events = []
        for sku, units in changes.items():
            self.sequence += 1
            self.available[sku] = self.available.get(sku, 0) + units
            events.append(inbound(movement_event(self.sequence, sku, {"available": self.available[sku]})))
        inbox_repo.store_events(self.engine, events, T0)
        while True:
            with self.engine.begin() as c:
                entries = inbox_repo.claim_pending(c, 1000)
                if not entries:
                    return
                fold_entries(c, entries, CONFIG, T0, formats=ClarusInbound())


def _reads(shop: httpx.Client) -> int:
    return int(shop.get("/_control/calls").json()["per_operation"].get("productVariants", 0))


def _sets(shop: httpx.Client) -> int:
    return int(shop.get("/_control/calls").json()["per_operation"].get("inventorySetQuantities", 0))


def _shown(shop: httpx.Client) -> dict[str, int]:
    levels = shop.get("/_control/inventory").json()["levels"]
    return {row["sku"]: int(row["available"]) for row in levels if row["location_id"] == LOCATION}


def _counter(engine: Engine, name: str) -> int:
    with engine.connect() as c:
        return int(read_counters(c).get(name, 0))


def test_the_first_push_reads_and_a_burst_after_it_reads_nothing(
    hub: Engine, shop: httpx.Client, pusher: Pusher
) -> None:
    warehouse = Warehouse(hub)
    warehouse.move({s: 10 + i for i, s in enumerate(SKUS)})
    pusher.push()
    assert _reads(shop) == 2  # first push of each SKU: its figure read, 50 SKUs a query
    assert _shown(shop) == warehouse.available

    reads, sets = _reads(shop), _sets(shop)
    for _ in range(5):  # a burst: every SKU moves five times before the next push
        warehouse.move({s: -1 for s in SKUS})
    pusher.push()
    assert _reads(shop) == reads  # set against the figures last pushed: no read
    assert _sets(shop) == sets + 1  # 60 lines in one call
    assert _shown(shop) == warehouse.available
    last = shop.get("/_control/mutations").json()["mutations"][-len(SKUS) :]
    assert {m["sku"]: m["from"] for m in last} == {s: warehouse.available[s] + 5 for s in SKUS}


def test_a_figure_changed_by_hand_is_refused_as_stale_read_again_and_set(
    hub: Engine, shop: httpx.Client, pusher: Pusher
) -> None:
    warehouse = Warehouse(hub)
    warehouse.move({s: 10 for s in SKUS})
    pusher.push()
    shop.post("/_control/inventory", json={"sku": "MUG-7", "available": 40}).raise_for_status()
    reads = _reads(shop)

    warehouse.move({"MUG-7": -2, "MUG-8": -3})
    pusher.push()
    assert _counter(hub, "push.shopify.stale") == 1  # the set from the 10 it last pushed: refused
    assert _counter(hub, "push.shopify.stale_lines") == 1  # only MUG-7 was stale
    assert _reads(shop) == reads + 1  # that SKU read again, and only it
    assert _shown(shop) == warehouse.available  # the hand edit overwritten with the warehouse's figure
    froms = {m["sku"]: m["from"] for m in shop.get("/_control/mutations").json()["mutations"][-2:]}
    assert froms == {"MUG-7": 40, "MUG-8": 10}


def test_a_new_connector_reads_item_ids_once_but_sets_against_the_last_pushed_figures(
    hub: Engine, shop: httpx.Client, shop_url: str, pusher: Pusher
) -> None:
    """After a restart the hub knows its last figures but not the store's inventory item ids: the
    push reads those (the same query), and still sets from the figure it last pushed."""
    warehouse = Warehouse(hub)
    warehouse.move({s: 5 for s in SKUS})
    pusher.push()
    restarted = Pusher(hub, shop_url)
    try:
        warehouse.move({s: 1 for s in SKUS})
        reads = _reads(shop)
        restarted.push()
        assert _reads(shop) == reads + 2
        warehouse.move({s: 1 for s in SKUS})
        restarted.push()
        assert _reads(shop) == reads + 2
    finally:
        restarted.close()
    assert _shown(shop) == warehouse.available
    assert _counter(hub, "push.shopify.stale") == 0
