"""An order placed between two pushes (issue 9, no oversell), on SQLite and PostgreSQL.

The storefront is the Shopify simulator over real HTTP, pushed to by the hub's own Shopify channel
and pusher. An IMS order for 3 units reaches the warehouse between two pushes: the store's figure
drops by 3 while the warehouse's `available` has not moved, and once the warehouse allocates it (the
movement available → allocated and the status `allocated`, in either order) the figure is right
again, never taken off twice (docs/decisions/0022).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine
from tests.factories import T0, config, inbound, movement_event
from tests.shopify_sim_support import LOCATION, TOKEN, VERSION, fresh, level, place_order, seed, simulator

from stockbridge.config import Config
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.connectors.shopify import ShopifyClient, ShopifyStock
from stockbridge.domain.inbound import WarehouseOrderStatus
from stockbridge.domain.order_state import Outcome
from stockbridge.domain.orders import OrderLine, SalesOrder
from stockbridge.domain.shipping import Address
from stockbridge.engine.clock import FakeClock
from stockbridge.flows.inventory import fold_entries
from stockbridge.flows.orders import OrderFolder
from stockbridge.flows.stock_push import StockPusher
from stockbridge.store import inbox_repo, items_repo, orders_repo, stock_repo
from stockbridge.store.items_repo import ImsItem

ADDRESS = Address("Ada Lovelace", "1 Analytical St", "", "London", "", "N1 9GU", "GB")
CONFIG: Config = config(
    orders={"ship_methods": {"UPS Ground": "STD"}},
    storefronts={
        "shopify": {
            "shop_domain": "x.myshopify.com",
            "orders_route": "clarus",
            "locations": {"WH1": LOCATION},
        }
    },
    inventory_statuses={
        "available": {"counts_for": ["ims", "shopify"]},
        "allocated": {"counts_for": ["ims"]},
        "picked": {"counts_for": ["ims"]},
    },
)


@pytest.fixture(scope="module")
def shop_url() -> Iterator[str]:
    with simulator() as url:
        yield url


@pytest.fixture
def shop(shop_url: str) -> Iterator[httpx.Client]:
    with fresh(shop_url) as client:
        yield client


@pytest.fixture
def hub(engine: Engine) -> Engine:
    with engine.begin() as c:
        items_repo.upsert_items(c, [ImsItem("MUG-1", "101", False)])
        items_repo.record_wms_items(c, {"MUG-1": (True, "MUG-1")}, T0)
    return engine


def _movement(engine: Engine, sequence: int, **balances: int) -> None:
    inbox_repo.store_events(engine, [inbound(movement_event(sequence, "MUG-1", balances))], T0)
    with engine.begin() as c:
        fold_entries(c, inbox_repo.claim_pending(c, 100), CONFIG, T0, formats=ClarusInbound())


def _order_reaches_the_warehouse(engine: Engine) -> None:
    """The IMS order is folded and released, the warehouse takes it and reports it `received`."""
    order = SalesOrder("501", "SO501", "B", "UPS Ground", ADDRESS, (OrderLine(1, "MUG-1", 3),), "s1")
    with engine.begin() as c:
        OrderFolder(c, CONFIG, T0).fold_sales_order(order)
    with engine.begin() as c:
        (command,) = orders_repo.claim_commands(c, "w", T0, T0 + timedelta(minutes=1), 10)
        assert orders_repo.command_done(c, command, "w", T0)
        OrderFolder(c, CONFIG, T0).command_answered(command, Outcome.DONE, "")
    _status(engine, "received", 1)


def _status(engine: Engine, status: str, sequence: int) -> None:
    with engine.begin() as c:
        OrderFolder(c, CONFIG, T0).fold_warehouse_status(
            WarehouseOrderStatus("SO501", status, sequence, "WH1", T0)
        )


def _warehouse_available(engine: Engine) -> int:
    with engine.connect() as c:
        return stock_repo.observed_stock_by_warehouse(c, "WH1")["MUG-1"]["available"]


def _push(engine: Engine, shop_url: str) -> int:
    """Push until the store is in step, through the hub's Shopify channel; the batches sent."""

    async def go() -> int:
        client = ShopifyClient(shop_url, VERSION, TOKEN, timeout_s=10)
        pusher = StockPusher(
            engine=engine,
            config=CONFIG,
            channel=ShopifyStock(client),
            clock=FakeClock(T0),
            worker_id="w1",
            rng=random.Random(1),
        )
        sent = 0
        try:
            for _ in range(10):
                result = await pusher.run_cycle()
                sent += result.batches_sent
                if not result.did_work:
                    return sent
        finally:
            await client.aclose()
        raise AssertionError("the pusher never went idle")

    return asyncio.run(go())


def _shown(shop: httpx.Client) -> int:
    return int(level(shop, "MUG-1")["available"])


@pytest.mark.parametrize("movement_first", [True, False], ids=["movement-first", "status-first"])
def test_an_order_placed_between_two_pushes_is_not_offered_again(
    hub: Engine, shop: httpx.Client, shop_url: str, movement_first: bool
) -> None:
    seed(shop, "MUG-1", 0)
    _movement(hub, 1, available=10)
    assert _push(hub, shop_url) == 1
    assert _shown(shop) == 10
    _order_reaches_the_warehouse(hub)  # between two pushes
    assert _warehouse_available(hub) == 10  # the warehouse has not allocated it
    assert _push(hub, shop_url) == 1
    assert _shown(shop) == 7  # 3 fewer
    # The warehouse allocates: its movement and its status, in either order.
    if movement_first:
        _movement(hub, 2, available=7, allocated=3)
        _push(hub, shop_url)
        assert _shown(shop) == 4  # taken off twice for a moment: undersold, never oversold
        _status(hub, "allocated", 2)
    else:
        _status(hub, "allocated", 2)
        _push(hub, shop_url)
        assert _shown(shop) == 10  # the window two separate events leave open (decision 0022)
        _movement(hub, 2, available=7, allocated=3)
    _push(hub, shop_url)
    assert _shown(shop) == 7  # allocated: right, not taken off twice
    assert level(shop, "MUG-1")["on_hand"] == 7


def test_the_stores_own_order_is_not_taken_off_twice(hub: Engine, shop: httpx.Client, shop_url: str) -> None:
    """A store's own order: Shopify already took it off its `available` (committed); the hub's
    figure, with the order's claim taken off, is the same figure, so no push goes out."""
    seed(shop, "MUG-1", 0)
    _movement(hub, 1, available=10)
    _push(hub, shop_url)
    place_order(shop, [("MUG-1", 3)])
    assert _shown(shop) == 7  # the store committed it itself
    _order_reaches_the_warehouse(hub)  # the same order, as the hub holds it
    assert _push(hub, shop_url) == 0
    assert (_shown(shop), level(shop, "MUG-1")["committed"]) == (7, 3)
