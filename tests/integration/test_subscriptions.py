"""The hub subscribes itself to Clarus's webhooks, over HTTP against the Clarus simulator, on SQLite
and PostgreSQL: once, idempotently, repaired by the scheduled job, and an exception when it cannot."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine
from tests.factories import T0, config
from tests.servers import run_app

from stockbridge.config import Config
from stockbridge.connectors.clarus.client import ClarusClient
from stockbridge.connectors.clarus.webhooks import ClarusWebhooks
from stockbridge.connectors.clarus.wire import FEED_EVENTS
from stockbridge.connectors.errors import ConnectorError
from stockbridge.engine.clock import FakeClock
from stockbridge.engine.connect import connect
from stockbridge.engine.schedule import claim_run
from stockbridge.engine.worker import Worker
from stockbridge.flows.subscriptions import check_subscription
from stockbridge.simulators import clarus as clarus_sim
from stockbridge.store.bookkeeping import list_exceptions

KEY = "test-clarus-key"
SECRET = "test-webhook-secret"
HUB = "http://127.0.0.1:8080"
HOOK = f"{HUB}/webhooks/clarus"


@pytest.fixture(scope="module")
def clarus_url() -> Iterator[str]:
    with run_app(clarus_sim.create_app(clarus_sim.ClarusSettings(api_key=KEY))) as url:
        yield url


@pytest.fixture
def http(clarus_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=clarus_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as client:
        client.post("/_control/reset").raise_for_status()
        yield client


def _subscriptions(http: httpx.Client) -> list[dict[str, object]]:
    data: list[dict[str, object]] = http.get("/api/v1/webhooks").json()["data"]
    return data


def _config(clarus_url: str) -> Config:
    return config(connectors__clarus__base_url=clarus_url)


def _check(engine: Engine, clarus_url: str, secret: str = SECRET, base: str = HUB) -> None:
    async def go() -> None:
        client = ClarusClient(clarus_url, KEY, timeout_s=5)
        try:
            await check_subscription(
                engine, ClarusWebhooks(client), _config(clarus_url), secret, FakeClock(T0), base
            )
        finally:
            await client.aclose()

    asyncio.run(go())


def test_registered_once_and_again_changes_nothing(
    engine: Engine, clarus_url: str, http: httpx.Client
) -> None:
    _check(engine, clarus_url)
    (first,) = _subscriptions(http)
    assert first["url"] == HOOK
    assert set(first["events"]) == FEED_EVENTS  # type: ignore[arg-type]
    _check(engine, clarus_url)
    assert _subscriptions(http) == [first]


def test_the_scheduled_job_recreates_a_deleted_subscription(
    engine: Engine, db_url: str, clarus_url: str, http: httpx.Client
) -> None:
    _check(engine, clarus_url)
    (first,) = _subscriptions(http)
    assert http.delete(f"/api/v1/webhooks/{first['id']}").status_code == 204
    cfg = config(connectors__clarus__base_url=clarus_url, database_url=db_url)
    environ = {"CLARUS_API_KEY": KEY, "CLARUS_WEBHOOK_SECRET": SECRET, "IMS_TOKEN": "unused"}

    async def job() -> None:
        connections = connect(cfg, environ)
        try:
            worker = Worker(engine=engine, config=cfg, connections=connections, clock=FakeClock(T0))
            assert ("subscriptions_check", cfg.schedules.subscriptions_check_s) in worker._jobs()
            await worker.run_job("subscriptions_check")
        finally:
            await connections.aclose()

    asyncio.run(job())
    (again,) = _subscriptions(http)
    assert again["url"] == f"{cfg.hub.webhook_base()}/webhooks/clarus"
    assert again["id"] != first["id"]


def test_wrong_url_missing_events_and_rotated_secret_are_put_right(
    engine: Engine, clarus_url: str, http: httpx.Client
) -> None:
    by_hand = {"url": HOOK, "secret": SECRET, "events": ["inventory.movement"]}
    http.post("/api/v1/webhooks", json=by_hand).raise_for_status()
    _check(engine, clarus_url)
    (full,) = _subscriptions(http)
    assert set(full["events"]) == FEED_EVENTS  # type: ignore[arg-type]
    _check(engine, clarus_url, base="http://hub.example:9000")  # hub.public_url changed
    (moved,) = _subscriptions(http)
    assert moved["url"] == "http://hub.example:9000/webhooks/clarus"
    _check(engine, clarus_url, secret="rotated-secret", base="http://hub.example:9000")
    (rotated,) = _subscriptions(http)
    assert rotated["id"] != moved["id"]


def test_replacing_a_subscription_reads_the_events_feed_at_once(
    engine: Engine, clarus_url: str, http: httpx.Client
) -> None:
    """Clarus drops what it still had queued for a subscription the hub deletes; the feed has it."""
    with engine.begin() as c:  # the events poll ran a moment ago: not due for another hour
        claim_run(c, "events_poll", T0, 3600)
    _check(engine, clarus_url)  # nothing replaced: the poll stays where its schedule put it
    with engine.begin() as c:
        assert not claim_run(c, "events_poll", T0, 3600)
    by_hand = {"url": HOOK, "secret": SECRET, "events": ["inventory.movement"]}
    http.post("/api/v1/webhooks", json=by_hand).raise_for_status()
    _check(engine, clarus_url)  # the stray subscription is deleted, with whatever it held queued
    with engine.begin() as c:
        assert claim_run(c, "events_poll", T0, 3600)


def test_clarus_refusing_raises_an_exception_that_the_next_success_resolves(
    engine: Engine, clarus_url: str, http: httpx.Client
) -> None:
    with pytest.raises(ConnectorError):
        _check(engine, clarus_url, base="ftp://nowhere")  # Clarus refuses the URL: 422
    with engine.connect() as c:
        (found,) = list_exceptions(c)
    assert (found.type, found.entity, found.owner, found.state.value) == (
        "webhook_subscription",
        "clarus:webhooks",
        "integration",
        "open",
    )
    _check(engine, clarus_url)
    with engine.connect() as c:
        assert [e.state.value for e in list_exceptions(c)] == ["resolved"]
