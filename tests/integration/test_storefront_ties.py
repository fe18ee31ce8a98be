"""Two versions of one storefront order stamped in the same second (Shopify's `updated_at` is to the
second), delivered in either order, on a real database (SQLite and PostgreSQL): the hub does not
keep whichever arrived last; it reads the order from the store once that second is over, and ends
holding the store's current version on both routes (decision 0024)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.factories import T0, config

from stockbridge.connectors.shopify.inbound import ShopifyInbound
from stockbridge.domain.errors import RetriableError
from stockbridge.domain.shipping import Address
from stockbridge.domain.storefront_orders import StorefrontLine, StorefrontOrder
from stockbridge.domain.storefront_routing import ImsOrderRequest, ImsOrderResult, RoutedState
from stockbridge.engine.clock import FakeClock
from stockbridge.flows.fold import fold_inbox
from stockbridge.flows.storefront_orders import fold_storefront_orders
from stockbridge.flows.storefront_sync import (
    StorefrontOrderSender,
    poll_storefront_orders,
    reread_tied_orders,
)
from stockbridge.monitor.backlog import read_backlog
from stockbridge.store import inbox_repo, items_repo, orders_repo, storefront_repo
from stockbridge.store.bookkeeping import read_counters
from stockbridge.store.items_repo import ImsItem

ADDRESS = Address("Ada Lovelace", "1 Analytical St", "", "London", "", "N1 9GU", "GB")
STORE = {"shop_domain": "a.myshopify.com", "reference_prefix": "WEB-", "ims_customer": "501"}
ORDER_ID = "gid://shopify/Order/5001"
MUG = StorefrontLine("gid://shopify/LineItem/1", "mug", 1, 1)
TEA = StorefrontLine("gid://shopify/LineItem/2", "tea", 3, 3)


def _config(route: str) -> Any:
    return config(
        orders={"ship_methods": {"Standard Delivery": "STD"}},
        storefronts={"shopify": {**STORE, "orders_route": route}},
    )


def _order(*lines: StorefrontLine) -> StorefrontOrder:
    return StorefrontOrder(
        channel="shopify",
        order_id=ORDER_ID,
        name="#1001",
        email="ada@example.com",
        financial_status="paid",
        ship_method="Standard Delivery",
        address=ADDRESS,
        lines=lines,
        updated_at=T0,  # both changes in one second: Shopify stamps them alike
    )


PLACED = _order(MUG, TEA)
EDITED = _order(MUG, StorefrontLine(TEA.line_item_id, "tea", 0, 0))  # the tea line removed: current


class _Store:
    """The store's orders port, answering with the order as it is now (the edit)."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    async def updated_since(self, since: datetime) -> list[StorefrontOrder]:
        return [EDITED]

    async def order(self, order_id: str) -> StorefrontOrder | None:
        self.reads.append(order_id)
        return EDITED if order_id == ORDER_ID else None


class _Ims:
    def __init__(self) -> None:
        self.requests: list[ImsOrderRequest] = []

    async def put_storefront_order(self, request: ImsOrderRequest) -> ImsOrderResult:
        self.requests.append(request)
        return ImsOrderResult("9001", {line.line_item_id: n for n, line in enumerate(request.lines, start=1)})


@pytest.fixture
def catalog(engine: Engine) -> Engine:
    with engine.begin() as c:
        items_repo.upsert_items(c, [ImsItem("mug", "101", False), ImsItem("tea", "102", False)])
        items_repo.record_wms_items(c, {"MUG": (True, "mug"), "TEA": (True, "tea")}, T0)
    return engine


def _fold_inbox(engine: Engine, cfg: Any, now: datetime) -> int:
    with engine.begin() as c:
        entries = inbox_repo.claim_pending(c, 10)
        fold_inbox(c, entries, cfg, now, formats=None, storefronts={"shopify": ShopifyInbound("shopify")})  # type: ignore[arg-type]
    return len(entries)


def _open_lines(order: StorefrontOrder) -> list[tuple[str, int]]:
    return [(line.sku, line.quantity) for line in order.lines if line.quantity]


@pytest.mark.parametrize("route", ["clarus", "ims"])
@pytest.mark.parametrize("arrival", ["placed_first", "edited_first"])
def test_same_second_versions_in_either_order_end_as_the_store_says(
    catalog: Engine, route: str, arrival: str
) -> None:
    cfg = _config(route)
    store, clock = _Store(), FakeClock(T0 + timedelta(milliseconds=500))
    copies = [PLACED, EDITED] if arrival == "placed_first" else [EDITED, PLACED]
    for copy in copies:
        with catalog.begin() as c:
            fold_storefront_orders(c, [copy], cfg, clock.now())
    with catalog.connect() as c:
        assert storefront_repo.rereads_pending(c) == 1  # the tie asks the store, once
        backlog = {row.flow: row for row in read_backlog(c, cfg, clock.now() + timedelta(seconds=10))}
    assert backlog["storefront_order_rereads"].size == 1
    assert backlog["storefront_order_rereads"].oldest_age_s == pytest.approx(8.5)  # due 2 s after the stamp

    store_cfg = cfg.storefronts["shopify"]
    # Inside the stamp's second a read would prove nothing: not yet.
    assert asyncio.run(reread_tied_orders(catalog, "shopify", store, store_cfg, clock)) == 0
    clock.advance(2)
    assert asyncio.run(reread_tied_orders(catalog, "shopify", store, store_cfg, clock)) == 1
    assert asyncio.run(reread_tied_orders(catalog, "shopify", store, store_cfg, clock)) == 0
    assert store.reads == [ORDER_ID]  # one read for the tie
    assert _fold_inbox(catalog, cfg, clock.now()) == 1

    with catalog.begin() as c:  # a late duplicate of either webhook changes nothing and asks nothing
        fold_storefront_orders(c, copies, cfg, clock.now())
    with catalog.connect() as c:
        pending = storefront_repo.rereads_pending(c)
        record = orders_repo.get_order(c, reference="WEB-1001")
        routed = storefront_repo.get_routed(c, "shopify", ORDER_ID)
        counters = read_counters(c)
    assert pending == 0
    assert counters["storefront_orders.shopify.ties"] == 1
    assert counters["storefront_orders.shopify.rereads"] == 1
    if route == "clarus":
        assert record is not None
        assert routed is None
        assert [(ln.sku, ln.open_quantity) for ln in record.order.lines if ln.open_quantity] == [("mug", 1)]
        return
    assert record is None
    assert routed is not None
    assert _open_lines(routed.order) == [("mug", 1)]
    ims = _Ims()
    sender = StorefrontOrderSender(engine=catalog, config=lambda: cfg, ims=ims, clock=clock, worker_id="w1")

    async def send_all() -> None:
        while await sender.run_cycle():
            await sender.drain()

    asyncio.run(send_all())
    with catalog.connect() as c:
        synced = storefront_repo.get_routed(c, "shopify", ORDER_ID)
    assert synced is not None
    assert synced.state == RoutedState.SYNCED
    # The IMS sales order the hub last asked for is the store's current order: the mug only.
    assert [(ln.item_id, ln.quantity) for ln in ims.requests[-1].lines if ln.quantity] == [("101", 1)]


def test_a_tie_whose_read_is_not_stored_is_read_again(catalog: Engine) -> None:
    """The request is a row in the fold's transaction; a read whose answer is lost (the worker died,
    the store failed) leaves it, and the next run reads again."""
    cfg = _config("clarus")
    clock = FakeClock(T0 + timedelta(seconds=3))

    class _Failing(_Store):
        async def order(self, order_id: str) -> StorefrontOrder | None:
            raise RetriableError("shopify", "503")

    with catalog.begin() as c:
        fold_storefront_orders(c, [EDITED, PLACED], cfg, clock.now())
    with pytest.raises(RetriableError, match="503"):
        asyncio.run(reread_tied_orders(catalog, "shopify", _Failing(), cfg.storefronts["shopify"], clock))
    store = _Store()
    assert asyncio.run(reread_tied_orders(catalog, "shopify", store, cfg.storefronts["shopify"], clock)) == 1
    _fold_inbox(catalog, cfg, clock.now())
    with catalog.connect() as c:
        record = orders_repo.get_order(c, reference="WEB-1001")
    assert record is not None
    assert [(ln.sku, ln.open_quantity) for ln in record.order.lines if ln.open_quantity] == [("mug", 1)]


def test_the_catch_up_querys_read_after_the_second_settles_a_tie_by_itself(catalog: Engine) -> None:
    cfg = _config("clarus")
    clock = FakeClock(T0 + timedelta(seconds=5))
    with catalog.begin() as c:  # the webhook of the older change held; the newer's copy lost
        fold_storefront_orders(c, [PLACED], cfg, clock.now())
    asyncio.run(poll_storefront_orders(catalog, "shopify", _Store(), cfg.storefronts["shopify"], clock))
    _fold_inbox(catalog, cfg, clock.now())
    with catalog.begin() as c:  # the placed copy arrives again, late
        fold_storefront_orders(c, [PLACED], cfg, clock.now())
    with catalog.connect() as c:
        record = orders_repo.get_order(c, reference="WEB-1001")
        pending = storefront_repo.rereads_pending(c)
    assert record is not None
    assert [(ln.sku, ln.open_quantity) for ln in record.order.lines if ln.open_quantity] == [("mug", 1)]
    assert pending == 0  # the read beat the webhook copies; nothing to ask
