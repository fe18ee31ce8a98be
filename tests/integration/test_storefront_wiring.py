"""Each configured storefront becomes a stock channel of the hub, and its failures count under its name.

`connect` builds a ShopifyClient and a ShopifyStock per `storefronts:` entry; the worker runs a push
loop for each; connector health opens and clears `connector_failing` for the channel's own name,
whatever system the error first named.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from tests.factories import T0, config, inbound, movement_event
from tests.shopify_support import Endpoint

from stockbridge.config import Config
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.connectors.shopify import ShopifyStock
from stockbridge.domain.errors import AuthenticationError, RetriableError
from stockbridge.engine.clock import FakeClock
from stockbridge.engine.connect import connect
from stockbridge.engine.worker import Worker
from stockbridge.flows.blocked import recheck_blocked
from stockbridge.flows.inventory import fold_entries
from stockbridge.flows.ports import ChannelFigure, FigureLine
from stockbridge.flows.stock_push import StockPusher
from stockbridge.store import inbox_repo
from stockbridge.store.bookkeeping import list_exceptions
from stockbridge.store.states import ExceptionState

# Distinct values: the hub masks every secret it reads in all later log lines of the process.
ENV = {
    "CLARUS_API_KEY": "wiring-clarus-key-71c2",
    "CLARUS_WEBHOOK_SECRET": "wiring-clarus-hook-71c2",
    "IMS_TOKEN": "wiring-ims-token-71c2",
    "UK_TOKEN": "shpat_wiring_uk_71c2",
    "UK_SECRET": "wiring-uk-secret-71c2",
}
UK_LOCATION = "gid://shopify/Location/7"


def _config() -> Config:
    store: dict[str, Any] = {
        "shop_domain": "uk-shop.myshopify.com",
        "access_token_env": "UK_TOKEN",
        "webhook_secret_env": "UK_SECRET",
        "locations": {"WH1": UK_LOCATION},
        "max_lines_per_call": 40,
        "restore_rate": 20,
        "bucket_size": 200,
        "orders_route": "clarus",
    }
    return config(
        storefronts={"shop_uk": store},
        targets__shop_uk={"buffer": 1},
        inventory_statuses__available={"counts_for": ["ims", "shop_uk"]},
    )


def _env(cfg: Config) -> dict[str, str]:
    env = dict(ENV)
    for name in cfg.required_env().values():
        env.setdefault(name, "wiring-value-5e1f")
    return env


def test_connect_builds_a_stock_channel_per_storefront() -> None:
    cfg = _config()

    async def go() -> None:
        connections = connect(cfg, _env(cfg))
        try:
            assert list(connections.stock_channels) == ["ims", "shop_uk"]
            channel = connections.stock_channels["shop_uk"]
            assert isinstance(channel, ShopifyStock)
            assert channel.name == "shop_uk"
            assert channel.max_lines_per_call == 40
            client = connections.storefronts["shop_uk"]
            assert client.url == "https://uk-shop.myshopify.com/admin/api/2026-04/graphql.json"
            # The configured plan seeds the bucket before any answer: 200 points, 20 restored a second.
            assert (client.bucket.maximum, client.bucket.restore_rate) == (200.0, 20.0)
            assert client.budget_wait(200) == 0.0
            assert client.budget_wait(220) == 0.0  # more than the bucket: waits for a full one only
        finally:
            await connections.aclose()

    asyncio.run(go())


def test_a_storefront_error_names_its_channel() -> None:
    endpoint = Endpoint(lambda op, v: httpx.Response(503, text="down"))

    async def go() -> None:
        client = endpoint.client()
        try:
            with pytest.raises(RetriableError) as raised:
                await ShopifyStock(client, name="shop_uk").read_figures(UK_LOCATION, ["MUG-1"])
        finally:
            await client.aclose()
        assert raised.value.system == "shop_uk"
        assert str(raised.value).startswith("shop_uk: ")

    asyncio.run(go())


class _FlakyChannel:
    """A storefront that fails its reads (as a connector would: naming its system, not the channel)
    until told otherwise."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.max_lines_per_call = 10
        self.compare_and_set = False
        self.down = True

    def budget_wait(self) -> float:
        return 0.0

    async def read_figures(self, location: str, skus: Sequence[str]) -> dict[str, ChannelFigure]:
        if self.down:
            raise RetriableError("shopify", "503 Service Unavailable")
        return {sku: ChannelFigure(0) for sku in skus}

    async def push_figures(self, batch_id: str, location: str, lines: Sequence[FigureLine]) -> None:
        if self.down:
            raise RetriableError("shopify", "503 Service Unavailable")


def _failing(engine: Engine) -> dict[str, ExceptionState]:
    with engine.connect() as c:
        return {e.entity: e.state for e in list_exceptions(c) if e.type == "connector_failing"}


def test_connector_health_opens_and_clears_under_the_channel_name(engine: Engine) -> None:
    cfg = _config()
    flaky = _FlakyChannel("shop_uk")

    async def go() -> None:
        connections = connect(cfg, _env(cfg))
        connections.stock_channels["shop_uk"] = flaky
        try:
            clock = FakeClock()
            worker = Worker(engine=engine, config=cfg, connections=connections, clock=clock)
            assert set(worker.pushers) == {"ims", "shop_uk"}
            step = worker._push_step("shop_uk")
            _dirty(engine, cfg)
            for _ in range(3):
                with pytest.raises(Exception, match="503"):  # the loop logs it; health counted it
                    await step()
            assert _failing(engine) == {"connector:shop_uk": ExceptionState.OPEN}
            flaky.down = False
            assert await step() == 1  # half-open: one success is not yet health
            assert _failing(engine) == {"connector:shop_uk": ExceptionState.OPEN}
            clock.advance(cfg.connector_health.close_after_s)  # no failure since
            await worker.health.review()
            assert _failing(engine) == {"connector:shop_uk": ExceptionState.RESOLVED}
        finally:
            await connections.aclose()

    asyncio.run(go())


def _dirty(engine: Engine, cfg: Config) -> None:
    """A movement folded: a dirty target for every channel."""
    inbox_repo.store_events(engine, [inbound(movement_event(1, "MUG-1", {"available": 5}))], T0)
    with engine.begin() as c:
        fold_entries(c, inbox_repo.claim_pending(c, 10), cfg, T0, formats=ClarusInbound())


class _Store:
    """A storefront in memory that knows only the SKUs in `figures`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.max_lines_per_call = 10
        self.compare_and_set = False
        self.figures: dict[str, int] = {}

    def budget_wait(self) -> float:
        return 0.0

    async def read_figures(self, location: str, skus: Sequence[str]) -> dict[str, ChannelFigure]:
        return {s: ChannelFigure(self.figures[s]) for s in skus if s in self.figures}

    async def push_figures(self, batch_id: str, location: str, lines: Sequence[FigureLine]) -> None:
        self.figures.update({line.sku: line.quantity for line in lines})


def test_a_sku_blocked_in_a_store_flows_once_the_store_knows_it(engine: Engine) -> None:
    cfg = _config()
    store = _Store("shop_uk")
    pusher = StockPusher(engine=engine, config=cfg, channel=store, clock=FakeClock(), worker_id="w1")
    entity = ("unknown_sku", "sku:MUG-1@shop_uk")

    def states() -> dict[tuple[str, str], ExceptionState]:
        with engine.connect() as c:
            return {(e.type, e.entity): e.state for e in list_exceptions(c)}

    async def go() -> None:
        _dirty(engine, cfg)
        await pusher.run_cycle()
        assert states()[entity] == ExceptionState.OPEN
        assert await recheck_blocked(engine, store) == 0  # still unknown: stays blocked
        store.figures["MUG-1"] = 0  # the variant is created
        assert await recheck_blocked(engine, store) == 1
        assert states()[entity] == ExceptionState.RESOLVED
        await pusher.run_cycle()
        assert store.figures == {"MUG-1": 4}  # 5 available minus the store's buffer of 1

    asyncio.run(go())


def test_each_storefronts_calls_and_bucket_are_exposed_as_metrics() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from stockbridge.monitor.connector_health import StorefrontMetrics

    endpoint = Endpoint(
        lambda op, v: httpx.Response(200, json={"data": {"productVariants": _page()}, "extensions": _cost()})
    )

    async def go() -> str:
        client = endpoint.client()
        try:
            await ShopifyStock(client, name="shop_uk").read_figures(UK_LOCATION, ["MUG-1"])
            registry = CollectorRegistry()
            registry.register(StorefrontMetrics({"shop_uk": client}))
            return generate_latest(registry).decode()
        finally:
            await client.aclose()

    text = asyncio.run(go())
    assert 'stockbridge_store_api_calls_total{channel="shop_uk"} 1.0' in text
    assert 'stockbridge_store_api_throttled_total{channel="shop_uk"} 0.0' in text
    assert 'stockbridge_store_api_bucket_points{channel="shop_uk"} 798.0' in text


def _page() -> dict[str, Any]:
    return {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


def _cost() -> dict[str, Any]:
    status = {"maximumAvailable": 1000, "currentlyAvailable": 798, "restoreRate": 100}
    return {"cost": {"requestedQueryCost": 202, "actualQueryCost": 2, "throttleStatus": status}}


def test_a_stores_orders_catch_up_failing_names_its_channel(engine: Engine) -> None:
    cfg = _config()
    endpoint = Endpoint(lambda op, v: httpx.Response(401, json={"errors": "[API] Invalid API key"}))

    async def go() -> None:
        connections = connect(cfg, _env(cfg))
        await connections.storefronts["shop_uk"].aclose()
        connections.storefronts["shop_uk"] = endpoint.client()
        try:
            clock = FakeClock()
            worker = Worker(engine=engine, config=cfg, connections=connections, clock=clock)
            with pytest.raises(AuthenticationError) as raised:
                await worker.run_job("storefront_orders_poll")
            assert raised.value.system == "shop_uk"
        finally:
            await connections.aclose()

    asyncio.run(go())
