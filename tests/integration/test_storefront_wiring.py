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
from stockbridge.domain.errors import RetriableError
from stockbridge.engine.clock import FakeClock
from stockbridge.engine.connect import connect
from stockbridge.engine.worker import Worker
from stockbridge.flows.inventory import fold_entries
from stockbridge.flows.ports import ChannelFigure, FigureLine
from stockbridge.store import inbox_repo
from stockbridge.store.bookkeeping import list_exceptions
from stockbridge.store.states import ExceptionState

ENV = {
    "CLARUS_API_KEY": "k",
    "CLARUS_WEBHOOK_SECRET": "s",
    "IMS_TOKEN": "t",
    "UK_TOKEN": "shpat_uk",
    "UK_SECRET": "uk-secret",
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
    }
    return config(storefronts={"shop_uk": store}, targets__shop_uk={"buffer": 1})


def _env(cfg: Config) -> dict[str, str]:
    env = dict(ENV)
    for name in cfg.required_env().values():
        env.setdefault(name, "x")
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
            worker = Worker(engine=engine, config=cfg, connections=connections, clock=FakeClock())
            assert set(worker.pushers) == {"ims", "shop_uk"}
            step = worker._push_step("shop_uk")
            _dirty(engine, cfg)
            for _ in range(3):
                with pytest.raises(Exception, match="503"):  # the loop logs it; health counted it
                    await step()
            assert _failing(engine) == {"connector:shop_uk": ExceptionState.OPEN}
            flaky.down = False
            assert await step() == 1
            assert _failing(engine) == {"connector:shop_uk": ExceptionState.RESOLVED}
        finally:
            await connections.aclose()

    asyncio.run(go())


def _dirty(engine: Engine, cfg: Config) -> None:
    """A movement folded: a dirty target for every channel."""
    inbox_repo.store_events(engine, [inbound(movement_event(1, "MUG-1", {"available": 5}))], T0)
    with engine.begin() as c:
        fold_entries(c, inbox_repo.claim_pending(c, 10), cfg, T0, formats=ClarusInbound())
