"""The drift check against the IMS and Shopify simulators over real HTTP, on SQLite and PostgreSQL.

The hub folds warehouse movements and pushes them to both channels with its own connectors; then a
figure is changed behind its back the way a person would (an inventory adjustment posted in the IMS,
a level typed into the Shopify admin through the simulator's control API), with every link up. What
the channels show is read from the simulators themselves, never from the hub.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine, func, select, update
from tests.factories import T0, config, inbound, movement_event
from tests.servers import run_app
from tests.shopify_sim_support import LOCATION as SHOP_LOCATION
from tests.shopify_sim_support import SECRET, TOKEN, VERSION, seed

from stockbridge.config import Config
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.netsuite.auth import BearerAuth
from stockbridge.connectors.netsuite.client import NetSuiteClient
from stockbridge.connectors.netsuite.stock import ImsStock, SuiteQLItems
from stockbridge.connectors.shopify import ShopifyClient, ShopifyStock
from stockbridge.engine.clock import FakeClock
from stockbridge.flows.inventory import fold_entries
from stockbridge.flows.ports import StockChannel
from stockbridge.flows.stock_push import StockPusher
from stockbridge.monitor.drift import DriftMetrics, DriftReport, check_drift
from stockbridge.simulators import ims as ims_sim
from stockbridge.simulators import shopify as shop_sim
from stockbridge.store import drift_repo, inbox_repo
from stockbridge.store.bookkeeping import list_exceptions
from stockbridge.store.schema import latency_samples, targets
from stockbridge.store.states import ExceptionState

IMS_LOCATION = "6"  # the example config's IMS location for WH1
IMS_TOKEN = ims_sim.ImsSettings().bearer_tokens[0]
SKUS = ["A-1", "B-2", "C-3", "D-4", "E-5"]
STOCK = {"A-1": 10, "B-2": 20, "C-3": 30, "D-4": 40, "E-5": 50}


def _config(**drift: Any) -> Config:
    return config(
        storefronts={
            "shopify": {
                "shop_domain": "x.myshopify.com",
                "orders_route": "clarus",
                "locations": {"WH1": SHOP_LOCATION},
            }
        },
        inventory_statuses={"available": {"counts_for": ["ims", "shopify"]}},
        drift=drift,
    )


@pytest.fixture
def ims_url() -> Iterator[str]:
    with run_app(ims_sim.create_app(ims_sim.ImsSettings())) as url:
        httpx.post(f"{url}/_control/items", json={"items": [{"itemId": s} for s in SKUS]}).raise_for_status()
        yield url


@pytest.fixture(scope="module")
def shop_server() -> Iterator[str]:
    with run_app(shop_sim.create_app(shop_sim.ShopifySettings(access_token=TOKEN, api_secret=SECRET))) as url:
        yield url


@pytest.fixture
def shop_url(shop_server: str) -> str:
    with httpx.Client(base_url=shop_server, timeout=10) as http:
        assert http.post("/_control/reset").status_code == 200
        for sku in SKUS:
            seed(http, sku, 0)
    return shop_server


class Hub:
    """The hub's stock flow and drift check against the two simulators, on a clock the test moves."""

    def __init__(self, engine: Engine, cfg: Config, ims_url: str, shop_url: str) -> None:
        self.engine, self.config, self.ims_url, self.shop_url = engine, cfg, ims_url, shop_url
        self.clock = FakeClock(T0)
        self._sequence = 0

    def fold(self, stock: dict[str, int]) -> None:
        events = []
        for sku, available in stock.items():
            self._sequence += 1
            events.append(inbound(movement_event(self._sequence, sku, {"available": available})))
        inbox_repo.store_events(self.engine, events, T0)
        with self.engine.begin() as c:
            fold_entries(c, inbox_repo.claim_pending(c, 1000), self.config, T0, formats=ClarusInbound())

    def _with_channels(self, work: Callable[[list[StockChannel]], Any]) -> Any:
        async def go() -> Any:
            netsuite = NetSuiteClient(self.ims_url, BearerAuth(IMS_TOKEN), limiter=RateLimiter(50, 4))
            shopify = ShopifyClient(self.shop_url, VERSION, TOKEN, timeout_s=10)
            channels: list[StockChannel] = [
                ImsStock(netsuite, RateLimiter(50, 4), SuiteQLItems(netsuite), adjustment_account_id="1"),
                ShopifyStock(shopify),
            ]
            try:
                return await work(channels)
            finally:
                await netsuite.aclose()
                await shopify.aclose()

        return asyncio.run(go())

    def push(self) -> None:
        """Push every channel until it has nothing more to do."""

        async def work(channels: list[StockChannel]) -> None:
            for channel in channels:
                pusher = StockPusher(
                    engine=self.engine,
                    config=self.config,
                    channel=channel,
                    clock=self.clock,
                    worker_id="w1",
                    rng=random.Random(1),
                )
                for _ in range(10):
                    if not (await pusher.run_cycle()).did_work:
                        break
                else:
                    raise AssertionError(f"{channel.name} never went idle")

        self._with_channels(work)

    def check(self) -> DriftReport:
        report: DriftReport = self._with_channels(
            lambda channels: check_drift(self.engine, channels, self.config, self.clock)
        )
        return report

    def exceptions(self) -> dict[tuple[str, str], tuple[str, ExceptionState]]:
        with self.engine.connect() as c:
            return {
                (e.type, e.entity): (e.owner, e.state)
                for e in list_exceptions(c)
                if e.type.startswith("drift")
            }

    def open(self) -> dict[tuple[str, str], str]:
        return {k: owner for k, (owner, state) in self.exceptions().items() if state is ExceptionState.OPEN}

    def episodes(self) -> list[drift_repo.Episode]:
        with self.engine.connect() as c:
            return drift_repo.episodes_since(c, T0)


# --- what the simulators show, and a person's edits in them -------------------------------------------


def shop_available(shop_url: str, sku: str) -> int:
    levels = httpx.get(f"{shop_url}/_control/inventory").json()["levels"]
    return int(
        next(lv["available"] for lv in levels if lv["sku"] == sku and lv["location_id"] == SHOP_LOCATION)
    )


def shop_edit(shop_url: str, sku: str, available: int) -> None:
    body = {"sku": sku, "location_id": SHOP_LOCATION, "available": available}
    httpx.post(f"{shop_url}/_control/inventory", json=body).raise_for_status()


def ims_on_hand(ims_url: str, sku: str) -> int:
    item = httpx.get(f"{ims_url}/_control/state").json()["items"][sku]
    return int(item["onHand"].get(IMS_LOCATION, 0))


def ims_edit(ims_url: str, sku: str, on_hand: int) -> None:
    """A person posts an inventory adjustment in the IMS (NetSuite's REST record API)."""
    item_id = httpx.get(f"{ims_url}/_control/state").json()["items"][sku]["id"]
    body = {
        "account": {"id": "1"},
        "adjLocation": {"id": IMS_LOCATION},
        "memo": "stock count by hand",
        "inventory": {
            "items": [
                {
                    "item": {"id": item_id},
                    "location": {"id": IMS_LOCATION},
                    "adjustQtyBy": on_hand - ims_on_hand(ims_url, sku),
                }
            ]
        },
    }
    httpx.post(
        f"{ims_url}/services/rest/record/v1/inventoryAdjustment",
        json=body,
        headers={"Authorization": f"Bearer {IMS_TOKEN}"},
    ).raise_for_status()
    assert ims_on_hand(ims_url, sku) == on_hand


def _entity(channel: str, sku: str) -> str:
    location = IMS_LOCATION if channel == "ims" else SHOP_LOCATION
    return f"sku:{sku}@{channel}/{location}"


def _hub(engine: Engine, ims_url: str, shop_url: str, **drift: Any) -> Hub:
    hub = Hub(engine, _config(**drift), ims_url, shop_url)
    hub.fold(STOCK)
    hub.push()
    assert [shop_available(shop_url, s) for s in SKUS] == [STOCK[s] for s in SKUS]
    assert [ims_on_hand(ims_url, s) for s in SKUS] == [STOCK[s] for s in SKUS]
    assert hub.check().drifted == []
    return hub


def _metrics(hub: Hub) -> str:
    registry = CollectorRegistry()
    registry.register(DriftMetrics(hub.engine, hub.config.stock_channels()))
    return generate_latest(registry).decode()


# --- the tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["shopify", "ims"])
def test_a_hand_edit_is_named_owned_and_repaired(
    engine: Engine, ims_url: str, shop_url: str, channel: str
) -> None:
    hub = _hub(engine, ims_url, shop_url)
    edit, shown = (shop_edit, shop_available) if channel == "shopify" else (ims_edit, ims_on_hand)
    url = shop_url if channel == "shopify" else ims_url
    edit(url, "B-2", 27)  # 7 more than the warehouse has: an oversell waiting to happen

    report = hub.check()
    assert [(d.channel, d.sku, d.cause.value, d.units) for d in report.drifted] == [
        (channel, "B-2", "manual_edit", 7)
    ]
    assert hub.open() == {("drift_manual_edit", _entity(channel, "B-2")): "operations"}
    with hub.engine.connect() as c:
        (row,) = c.execute(targets.select().where(targets.c.channel == channel, targets.c.sku == "B-2"))
    assert (row.dirty, row.pushed) == (True, 27)  # the hub now knows what the channel shows
    assert f'stockbridge_drift_skus{{channel="{channel}"}} 1.0' in _metrics(hub)
    assert f'stockbridge_drift_units{{channel="{channel}"}} 7.0' in _metrics(hub)

    hub.push()  # the repair
    assert shown(url, "B-2") == 20
    hub.clock.advance(900)
    assert hub.check().drifted == []
    assert hub.open() == {}
    assert hub.exceptions()[("drift_manual_edit", _entity(channel, "B-2"))] == (
        "operations",
        ExceptionState.RESOLVED,
    )
    (episode,) = hub.episodes()
    assert (episode.channel, episode.sku, episode.max_units, episode.repairs) == (channel, "B-2", 7, 1)
    assert episode.duration(hub.clock.now()).total_seconds() == 900  # for how long it differed
    assert f'stockbridge_drift_skus{{channel="{channel}"}} 0.0' in _metrics(hub)


def _latency_samples(engine: Engine, channel: str) -> int:
    with engine.connect() as c:
        return int(
            c.execute(
                select(func.count()).select_from(latency_samples).where(latency_samples.c.channel == channel)
            ).scalar_one()
        )


def test_a_repair_is_not_a_movement_and_adds_no_latency_sample(
    engine: Engine, ims_url: str, shop_url: str
) -> None:
    hub = _hub(engine, ims_url, shop_url)
    measured = _latency_samples(engine, "shopify")
    assert measured == len(SKUS)  # each movement's first acknowledgement
    hub.clock.advance(3600)
    shop_edit(shop_url, "B-2", 27)
    hub.check()
    hub.push()  # the repair
    assert shop_available(shop_url, "B-2") == 20
    # The movement was acknowledged an hour ago: the store is not an hour slow.
    assert _latency_samples(engine, "shopify") == measured
    hub.fold({"B-2": 21})  # a movement again: measured again
    hub.push()
    assert shop_available(shop_url, "B-2") == 21
    assert _latency_samples(engine, "shopify") == measured + 1


def test_a_drift_within_tolerance_is_left_alone(engine: Engine, ims_url: str, shop_url: str) -> None:
    hub = _hub(engine, ims_url, shop_url, tolerance_units=2, channels={"ims": {"tolerance_units": 0}})
    shop_edit(shop_url, "A-1", 12)  # 2 off: within the store's tolerance
    ims_edit(ims_url, "A-1", 11)  # 1 off: over the IMS's (0)
    report = hub.check()
    assert [(d.channel, d.sku) for d in report.drifted] == [("ims", "A-1")]
    assert set(hub.open()) == {("drift_manual_edit", _entity("ims", "A-1"))}
    hub.push()
    assert shop_available(shop_url, "A-1") == 12  # not touched
    assert ims_on_hand(ims_url, "A-1") == 10


def test_a_drift_shorter_than_the_grace_time_is_only_recorded(
    engine: Engine, ims_url: str, shop_url: str
) -> None:
    hub = _hub(engine, ims_url, shop_url, grace_s=300)
    shop_edit(shop_url, "C-3", 25)
    shop_edit(shop_url, "D-4", 45)
    assert [d.step.value for d in hub.check().drifted] == ["watch", "watch"]
    assert hub.open() == {}
    hub.push()
    assert shop_available(shop_url, "C-3") == 25  # not repaired inside the grace time
    shop_edit(shop_url, "C-3", 30)  # put right again by whoever changed it
    hub.clock.advance(300)
    report = hub.check()
    # D-4 has now differed for the grace time: raised and repaired; C-3 cleared without a word.
    assert [(d.sku, d.step.value) for d in report.drifted] == [("D-4", "repair")]
    assert hub.open() == {("drift_manual_edit", _entity("shopify", "D-4")): "operations"}
    assert ("drift_manual_edit", _entity("shopify", "C-3")) not in hub.exceptions()
    hub.push()
    assert shop_available(shop_url, "D-4") == 40
    recorded = {e.sku: (e.raised_at is not None, e.cleared_at is not None) for e in hub.episodes()}
    assert recorded == {"C-3": (False, True), "D-4": (True, False)}


def test_a_drift_repairs_do_not_clear_escalates(engine: Engine, ims_url: str, shop_url: str) -> None:
    hub = _hub(engine, ims_url, shop_url, escalate_after_repairs=2)
    entity = _entity("shopify", "E-5")
    for run in range(3):
        shop_edit(shop_url, "E-5", 0)  # another app keeps zeroing it
        report = hub.check()
        assert [d.step.value for d in report.drifted] == ["escalate" if run == 2 else "repair"]
        hub.push()
        assert shop_available(shop_url, "E-5") == 50  # each repair works, until it is overwritten
        hub.clock.advance(900)
    assert hub.open() == {
        ("drift_manual_edit", entity): "operations",
        ("drift_unrepaired", entity): "integration",
    }
    assert 'stockbridge_drift_unrepaired_skus{channel="shopify"} 1.0' in _metrics(hub)
    assert hub.check().drifted == []  # the app stopped; the last repair holds
    assert hub.open() == {}
    assert hub.exceptions()[("drift_unrepaired", entity)] == ("integration", ExceptionState.RESOLVED)


def test_a_hub_behind_the_warehouse_with_nothing_on_its_way_is_drift(
    engine: Engine, ims_url: str, shop_url: str
) -> None:
    hub = _hub(engine, ims_url, shop_url)
    with hub.engine.begin() as c:  # a target the hub lost track of: a new figure, not marked dirty
        c.execute(
            update(targets).where(targets.c.channel == "ims", targets.c.sku == "A-1").values(desired=13)
        )
    (found,) = hub.check().drifted
    assert (found.channel, found.cause.value, found.shown, found.expected) == ("ims", "behind", 10, 13)
    assert hub.open() == {("drift", _entity("ims", "A-1")): "integration"}
    hub.push()
    assert ims_on_hand(ims_url, "A-1") == 13


def test_a_rotating_sample_reads_the_whole_catalogue_over_runs(
    engine: Engine, ims_url: str, shop_url: str
) -> None:
    hub = _hub(engine, ims_url, shop_url, sample_size=2)
    for sku in SKUS:
        shop_edit(shop_url, sku, STOCK[sku] + 1)
    found: list[str] = []
    for _ in range(3):  # ceil(5 / 2)
        report = hub.check()
        assert report.checked == 2 * 2  # two pairs in each channel
        found += [d.sku for d in report.drifted]
    assert sorted(found) == SKUS
    assert len(hub.open()) == len(SKUS)


def test_a_run_holds_a_page_of_the_catalogue_not_all_of_it(
    engine: Engine, ims_url: str, shop_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted, not measured: with pages of 2, no step of a run takes more than a page's targets
    (or its open episodes, one here), and the run still checks every pair and finds the hand edit
    (a run holding the catalogue compared all five at once: decision 0044)."""
    from stockbridge.monitor import drift

    hub = _hub(engine, ims_url, shop_url)
    monkeypatch.setattr(drift, "READ_PAGE", 2)
    asked: list[int] = []
    compared = drift_repo.compared_targets

    def counting(connection: Any, channel: str, keys: Any, now: Any) -> Any:
        asked.append(len(keys))
        return compared(connection, channel, keys, now)

    monkeypatch.setattr(drift_repo, "compared_targets", counting)
    shop_edit(shop_url, "C-3", STOCK["C-3"] + 1)
    report = hub.check()
    assert report.checked == 2 * len(SKUS)
    assert [(d.channel, d.sku) for d in report.drifted] == [("shopify", "C-3")]
    assert asked
    assert max(asked) <= 2
