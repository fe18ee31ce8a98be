"""A Magento store under `storefronts:` (kind magento) is wired like a Shopify one: a stock channel, an
orders feed, shipments and a limiter of its own, under its channel name; its orders are polled on its
own schedule. Against the Magento simulator over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.factories import config

from stockbridge.config import Config, ConfigError, MagentoStore, ShopifyStore, parse_config
from stockbridge.connectors.magento import MagentoOrders, MagentoStock, MagentoStoreFulfilments
from stockbridge.engine.clock import FakeClock
from stockbridge.engine.connect import connect
from stockbridge.engine.db import in_transaction
from stockbridge.engine.schedule import run_soon
from stockbridge.engine.worker import Worker
from stockbridge.servers import serve_in_thread
from stockbridge.simulators import magento as magento_sim
from stockbridge.store.bookkeeping import read_counters

TOKEN = "wiring-magento-token-3b7d"
ENV = {
    "CLARUS_API_KEY": "wiring-clarus-key-3b7d",
    "CLARUS_WEBHOOK_SECRET": "wiring-clarus-hook-3b7d",
    "IMS_TOKEN": "wiring-ims-token-3b7d",
    "MAGENTO_ACCESS_TOKEN": TOKEN,
}


def _store(url: str, **settings: Any) -> dict[str, Any]:
    return {
        "kind": "magento",
        "base_url": url,
        "locations": {"WH1": "default"},
        "orders_route": "clarus",
        **settings,
    }


def _config(url: str, **stores: dict[str, Any]) -> Config:
    return config(storefronts=stores or {"mag": _store(url, calls_per_second=7, max_lines_per_call=30)})


def test_a_magento_store_is_read_by_kind_and_shares_the_flows_names() -> None:
    cfg = _config("http://127.0.0.1:9")
    store = cfg.storefronts["mag"]
    assert isinstance(store, MagentoStore)
    assert (store.releasing_statuses, store.reference_prefix, store.orders_poll_s) == (
        frozenset({"processing"}),
        "MAG-",
        60.0,
    )
    assert cfg.stock_channels() == ["ims", "mag"]
    assert cfg.location_of("mag", "WH1") == "default"
    assert cfg.ats_rule("mag").subtracts_open_demand  # a storefront's default
    env = cfg.required_env()
    assert env["storefronts.mag.access_token_env"] == "MAGENTO_ACCESS_TOKEN"
    assert "storefronts.mag.webhook_secret_env" not in env  # Magento sends no webhooks here
    shopify = config(storefronts={"shop": {"shop_domain": "a.myshopify.com", "orders_route": "clarus"}})
    assert isinstance(shopify.storefronts["shop"], ShopifyStore)  # kind may be left out for Shopify
    assert shopify.storefronts["shop"].releasing_statuses == frozenset({"paid"})


@pytest.mark.parametrize(
    ("store", "key", "words"),
    [
        ({"kind": "woo"}, "storefronts.mag.kind", "shopify, magento"),
        ({"kind": "magento", "orders_route": "clarus"}, "storefronts.mag.base_url", "required"),
        ({"kind": "magento", "base_url": "x", "orders_route": "ims"}, "storefronts.mag", "ims_customer"),
        (
            {"kind": "magento", "base_url": "x", "orders_route": "clarus", "min_calls_per_second": 99},
            "storefronts.mag",
            "min_calls_per_second",
        ),
        (
            {"kind": "magento", "base_url": "x", "orders_route": "clarus", "locations": {"WH9": "s"}},
            "(top level)",
            "WH9",
        ),
    ],
)
def test_a_bad_magento_store_names_the_key_and_the_file(store: dict[str, Any], key: str, words: str) -> None:
    data = config().model_dump(mode="json")
    data["storefronts"] = {"mag": store}
    with pytest.raises(ConfigError) as raised:
        parse_config(data, "hub.yaml")
    assert (raised.value.file, raised.value.key) == ("hub.yaml", key)
    assert words in str(raised.value)


def test_connect_builds_the_magento_channel_feed_shipments_and_limiter() -> None:
    cfg = _config("http://127.0.0.1:9")

    async def go() -> None:
        connections = connect(cfg, ENV)
        try:
            channel = connections.stock_channels["mag"]
            assert isinstance(channel, MagentoStock)
            assert (channel.name, channel.max_lines_per_call) == ("mag", 30)
            assert isinstance(connections.storefront_orders["mag"], MagentoOrders)
            assert isinstance(connections.storefront_fulfilments["mag"], MagentoStoreFulfilments)
            assert connections.limiters["mag"].rate == 7
            assert "mag" not in connections.storefront_secrets  # no webhooks: not a webhook channel
            assert connections.magento["mag"].base_url == "http://127.0.0.1:9"
        finally:
            await connections.aclose()

    asyncio.run(go())


def test_each_store_is_polled_on_its_own_schedule_and_all_when_asked(engine: Engine) -> None:
    app = magento_sim.create_app(magento_sim.MagentoSettings(tokens=[TOKEN]))
    clock = FakeClock()
    with serve_in_thread(app) as url:
        cfg = _config(
            url,
            often=_store(url, orders_poll_s=60, reference_prefix="OFTEN-"),
            seldom=_store(url, orders_poll_s=3600, reference_prefix="SELDOM-"),
        )

        async def go() -> dict[str, list[int]]:
            connections = connect(cfg, ENV)
            worker = Worker(engine=engine, config=cfg, connections=connections, clock=clock)
            polled: dict[str, list[int]] = {"often": [], "seldom": []}

            async def tick(seconds: float) -> None:
                clock.advance(seconds)
                await worker.run_job("storefront_orders_poll", scheduled=True)
                counters = await in_transaction(engine, read_counters)
                for name in polled:
                    polled[name].append(counters.get(f"jobs.storefront_orders_poll.{name}", 0))

            try:
                await tick(0)  # both due at first
                await tick(61)  # only `often`
                await tick(61)  # only `often`
                now = clock.now()
                await in_transaction(engine, lambda c: run_soon(c, "storefront_orders_poll", now))
                await tick(1)  # asked for: both
                await tick(1)  # neither
            finally:
                await connections.aclose()
            return polled

        polled = asyncio.run(go())
    assert polled == {"often": [1, 2, 3, 4, 4], "seldom": [1, 1, 1, 2, 2]}
