"""A store whose cost bucket is nearly empty must not hold up an IMS Item Fulfilment.

Four storefront orders sent straight to Clarus are despatched first (four storefront fulfilments,
as many as the fulfilment sender has slots), then an IMS order. The Shopify simulator's bucket holds
5 of 400 points and its clock stands still, so it never refills; the hub's Shopify client waits for
the bucket through a `sleep` the test releases. The Item Fulfilment must be made while every
storefront fulfilment is still waiting; once the bucket refills, the storefront fulfilments follow.
SQLite and PostgreSQL, the IMS and Shopify simulators over real HTTP, no timed waits for the work.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, select
from tests.factories import T0
from tests.integration.test_fulfilment_slow_call import (
    SECRETS,
    _config,
    _drive,
    _eventually,
    _ims_order,
    _sender,
)
from tests.shopify_sim_support import SECRET, TOKEN, VERSION, StepClock, place_order, seed, simulator
from tests.shopify_support import FakeClock

from stockbridge.config import Config
from stockbridge.connectors.shopify import ShopifyClient, ShopifyOrders
from stockbridge.connectors.shopify.store_fulfilments import ShopifyStoreFulfilments
from stockbridge.domain.fulfilment import Shipment, ShippedLine
from stockbridge.domain.order_state import Outcome
from stockbridge.domain.orders import OrderLine, SalesOrder
from stockbridge.domain.shipping import Address
from stockbridge.engine.clock import SystemClock
from stockbridge.engine.connect import connect
from stockbridge.flows.fulfilment import FulfilmentFolder
from stockbridge.flows.orders import OrderFolder
from stockbridge.servers import serve_in_thread
from stockbridge.simulators.ims import ImsSettings
from stockbridge.simulators.ims import create_app as ims_app
from stockbridge.simulators.shopify import ShopifySettings
from stockbridge.store import items_repo, orders_repo
from stockbridge.store.items_repo import ImsItem
from stockbridge.store.schema import fulfilment_commands

ADDRESS = Address("Ada Lovelace", "1 Analytical St", "", "London", "", "N1 9GU", "GB")
STORE_ORDERS = 4  # the fulfilment sender's default concurrency: before its own slots, all of them


@pytest.fixture
def ims_url() -> Iterator[str]:
    with serve_in_thread(ims_app(ImsSettings())) as url:
        yield url


@pytest.fixture
def shop() -> Iterator[tuple[str, StepClock]]:
    clock = StepClock()
    with simulator(ShopifySettings(access_token=TOKEN, api_secret=SECRET, clock=clock)) as url:
        yield url, clock


def _place_store_orders(http: httpx.Client) -> list[str]:
    seed(http, "MUG", 100)
    return [str(place_order(http, [("MUG", 1)])["admin_graphql_api_id"]) for _ in range(STORE_ORDERS)]


def _starve(http: httpx.Client) -> None:
    """Leave 5 points in a 400-point bucket (a bucket keeps its level when it grows)."""
    http.post("/_control/limits", json={"bucket_size": 5, "restore_rate": 50}).raise_for_status()
    http.post("/_control/limits", json={"bucket_size": 400, "restore_rate": 50}).raise_for_status()


def _release(engine: Engine, cfg: Config, orders: list[tuple[SalesOrder, str]]) -> None:
    """Each order is in the hub and acknowledged by the warehouse."""
    with engine.begin() as c:
        items_repo.upsert_items(c, [ImsItem("MUG", "1", False)])
        items_repo.record_wms_items(c, {"MUG": (True, "MUG")}, T0)
        for order, channel in orders:
            OrderFolder(c, cfg, T0).fold_sales_order(order, channel=channel)
        for command in orders_repo.claim_commands(c, "w", T0, T0 + timedelta(minutes=1), 10):
            orders_repo.command_done(c, command, "w", T0)
            OrderFolder(c, cfg, T0).command_answered(command, Outcome.DONE, "")


def _despatch(engine: Engine, cfg: Config, reference: str, shipment_id: str) -> None:
    lines = (ShippedLine("1", "MUG", 1),)
    shipment = Shipment(shipment_id, reference, "UPS", "STD", (f"1Z{shipment_id}",), lines, 1)
    with engine.begin() as c:
        FulfilmentFolder(c, cfg, SystemClock().now()).fold_shipment(shipment)


def _sales_order(ims_id: str, reference: str) -> SalesOrder:
    return SalesOrder(
        ims_id, reference, "B", "UPS Ground", ADDRESS, (OrderLine(1, "MUG", 1),), "s1", email="a@b.c"
    )


def _true(condition: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def holds() -> bool:
        return condition()

    return holds


def _command_states(engine: Engine) -> dict[tuple[str, str], str]:
    with engine.connect() as c:
        rows = c.execute(select(fulfilment_commands))
        return {(r.shipment_id, r.kind): r.state for r in rows}


def test_a_starved_store_bucket_does_not_delay_an_item_fulfilment(
    engine: Engine, ims_url: str, shop: tuple[str, StepClock]
) -> None:
    shop_url, shop_clock = shop
    cfg = _config(ims_url)
    ims = httpx.Client(base_url=ims_url, timeout=30)
    shopify = httpx.Client(base_url=shop_url, timeout=30)
    store_orders = _place_store_orders(shopify)
    _starve(shopify)
    orders = [(_sales_order(f"shopify:{gid}", f"SHOP-{n}"), "shopify") for n, gid in enumerate(store_orders)]
    _release(engine, cfg, [*orders, (_sales_order(_ims_order(ims), "SO1"), "ims")])
    for n in range(STORE_ORDERS):
        _despatch(engine, cfg, f"SHOP-{n}", f"SH-{n}")
    _despatch(engine, cfg, "SO1", "SHP-IMS")

    def item_fulfilments() -> list[str]:
        return [str(f["externalId"]) for f in ims.get("/_control/fulfilments").json()["fulfilments"]]

    def store_fulfilments() -> int:
        orders = shopify.get("/_control/orders").json()["orders"]
        return sum(len(o["fulfillments"]) for o in orders)

    client_clock = FakeClock()
    refilled = asyncio.Event()

    async def wait_for_the_bucket(seconds: float) -> None:
        """The hub's client waiting for the store's bucket: over when the test refills it."""
        await refilled.wait()
        client_clock.now += seconds

    async def scenario() -> None:
        client = ShopifyClient(
            shop_url, VERSION, TOKEN, timeout_s=10, clock=client_clock, sleep=wait_for_the_bucket
        )
        connections = connect(cfg, SECRETS)
        store = ShopifyStoreFulfilments(ShopifyOrders(client))
        sender = _sender(engine, cfg, connections, storefronts={"shopify": store})
        stop = asyncio.Event()
        driver = asyncio.create_task(_drive(sender, stop))
        try:
            await _eventually(
                lambda: asyncio.to_thread(lambda: item_fulfilments() == ["sb-if-SHP-IMS"]),
                10,
                "the Item Fulfilment while the store's bucket is empty",
            )
            # The storefront fulfilments met the empty bucket and are waiting for it: none was made.
            await _eventually(_true(lambda: client.throttled >= 1), 10, "the store's THROTTLED answer")
            assert await asyncio.to_thread(store_fulfilments) == 0
            shop_clock.advance(60)  # the store's bucket refills
            refilled.set()
            await _eventually(
                lambda: asyncio.to_thread(lambda: set(_command_states(engine).values()) == {"sent"}),
                10,
                "every command, the storefront fulfilments too",
            )
        finally:
            stop.set()
            # Without slots of their own the loop waits for one forever: cut it off, do not hang.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(driver, 5)
            await sender.aclose()
            await connections.aclose()
            await client.aclose()

    try:
        asyncio.run(scenario())
        assert store_fulfilments() == STORE_ORDERS
    finally:
        ims.close()
        shopify.close()
    assert _command_states(engine) == {
        **{(f"SH-{n}", "store_fulfilment"): "sent" for n in range(STORE_ORDERS)},
        ("SHP-IMS", "item_fulfilment"): "sent",
        ("SHP-IMS", "notify"): "sent",
    }
