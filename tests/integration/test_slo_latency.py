"""Latency from movement to acknowledgement: a slow channel breaks its target and says so, /metrics
counts what was planted, a healthy window resolves it, pruning keeps the counts. SQLite and PostgreSQL.

The channel is slow on a deterministic clock: its push moves the clock on before it acknowledges,
so every latency is known exactly from what the test planted.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, func, select
from tests.factories import T0, config, inbound, movement_event

from stockbridge.api.app import create_app
from stockbridge.config import Config
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.engine.clock import FakeClock
from stockbridge.flows.inventory import fold_entries
from stockbridge.flows.ports import ChannelFigure, FigureLine
from stockbridge.flows.stock_push import StockPusher
from stockbridge.monitor.slo import check_slos
from stockbridge.servers import serve_in_thread
from stockbridge.store import inbox_repo, tokens_repo
from stockbridge.store.bookkeeping import list_exceptions
from stockbridge.store.schema import latency_samples
from stockbridge.store.states import ExceptionState
from stockbridge.store.tokens_repo import Role

LOCATION = "6"  # the example config's IMS location for WH1
CONFIG = config(
    slo={
        "window_s": 900,
        "latency_ms": {"ims": {"p95": 5000, "p99": 30000}},
        "owners": {"ims": "ecommerce"},
        "latency_retention_s": 3600,
    }
)


class SlowChannel:
    """The IMS as a stock channel in memory, acknowledging each push `ack_delay_s` after it starts."""

    name = "ims"
    max_lines_per_call = 100
    compare_and_set = False

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.ack_delay_s = 0.0
        self.figures: dict[str, int] = {}
        self.acked: list[tuple[str, datetime]] = []  # (SKU, when its push was acknowledged)

    def budget_wait(self) -> float:
        return 0.0

    async def read_figures(self, location: str, skus: Sequence[str]) -> dict[str, ChannelFigure]:
        return {sku: ChannelFigure(self.figures.get(sku, 0)) for sku in skus}

    async def push_figures(self, batch_id: str, location: str, lines: Sequence[FigureLine]) -> None:
        self.clock.advance(self.ack_delay_s)
        for line in lines:
            self.figures[line.sku] = line.quantity
            self.acked.append((line.sku, self.clock.now()))


class Plant:
    """Movements folded and pushed; remembers when each happened, as the oracle's record."""

    def __init__(self, engine: Engine, clock: FakeClock, channel: SlowChannel) -> None:
        self.engine, self.clock, self.channel = engine, clock, channel
        self.occurred: dict[str, datetime] = {}
        self.sequence = 0
        self.latencies_s: list[float] = []
        self.pusher = StockPusher(
            engine=engine, config=CONFIG, channel=channel, clock=clock, worker_id="w1", rng=random.Random(1)
        )

    def movements(self, skus: Sequence[str], age_s: float) -> None:
        """One movement per SKU that happened `age_s` before now, folded now."""
        now = self.clock.now()
        events = []
        for sku in skus:
            self.sequence += 1
            self.occurred[sku] = now - timedelta(seconds=age_s)
            events.append(
                movement_event(
                    self.sequence, sku, {"available": self.sequence}, occurred_at=self.occurred[sku]
                )
            )
        inbox_repo.store_events(self.engine, [inbound(e) for e in events], now)
        with self.engine.begin() as c:
            fold_entries(c, inbox_repo.claim_pending(c, 1000), CONFIG, now, formats=ClarusInbound())

    def push(self) -> None:
        async def drive() -> None:
            for _ in range(20):
                if not (await self.pusher.run_cycle()).did_work:
                    return
            raise AssertionError("the pusher never went idle")

        seen = len(self.channel.acked)
        asyncio.run(drive())
        # Each acknowledged line's latency, from the channel's own record of when it acknowledged.
        for sku, acked in self.channel.acked[seen:]:
            self.latencies_s.append((acked - self.occurred[sku]).total_seconds())


def _open(engine: Engine, type: str) -> dict[str, str]:
    """Entity → owner of the open exceptions of `type`."""
    with engine.begin() as c:
        return {e.entity: e.owner for e in list_exceptions(c, state=ExceptionState.OPEN) if e.type == type}


def _scrape_histogram(url: str, token: str, channel: str) -> dict[str, float]:
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        if family.name != "stockbridge_movement_ack_latency_seconds":
            continue
        for sample in family.samples:
            if sample.labels.get("channel") != channel:
                continue
            key = sample.name.removeprefix(family.name) + sample.labels.get("le", "")
            found[key] = sample.value
    return found


def _expected_histogram(latencies_s: Sequence[float], bounds: Sequence[str]) -> dict[str, float]:
    expected = {f"_bucket{le}": float(sum(1 for v in latencies_s if v <= float(le))) for le in bounds}
    expected["_count"] = float(len(latencies_s))
    expected["_sum"] = sum(latencies_s)
    return expected


def test_a_slow_channel_breaks_its_target_and_metrics_count_every_acknowledged_line(engine: Engine) -> None:
    clock = FakeClock(T0 + timedelta(hours=1))
    channel = SlowChannel(clock)
    plant = Plant(engine, clock, channel)
    plant.movements(["MUG-1", "MUG-2", "MUG-3"], age_s=0.2)
    plant.push()  # acknowledged at once: 200 ms each
    channel.ack_delay_s = 45.0
    plant.movements(["TEA-1", "TEA-2"], age_s=0.0)
    plant.push()  # acknowledged 45 s later

    report = asyncio.run(check_slos(engine, CONFIG, clock))
    assert report.breached == ["ims"]
    assert _open(engine, "latency_slo") == {"channel:ims": "ecommerce"}  # slo.owners names the team

    app = create_app(engine=engine, config=CONFIG, clock=clock, clarus_webhook_secret="s")
    with engine.begin() as c:
        token = tokens_repo.create_token(c, name="viewer", role=Role.VIEWER, now=clock.now())
    with serve_in_thread(app) as url:
        scraped = _scrape_histogram(url, token, "ims")
        bounds = [key.removeprefix("_bucket") for key in scraped if key.startswith("_bucket")]
        assert "+Inf" in bounds
        assert len(bounds) > 5  # sub-second to minutes
        latencies = plant.latencies_s
        assert len(latencies) == 5
        assert scraped == pytest.approx(_expected_histogram(latencies, bounds), abs=0.01)

        # Healthy again: the slow acknowledgements leave the window, new ones are quick.
        channel.ack_delay_s = 0.0
        clock.advance(CONFIG.slo.window_s + 1)
        plant.movements(["MUG-1"], age_s=0.3)
        plant.push()
        report = asyncio.run(check_slos(engine, CONFIG, clock))
        assert report.breached == []
        assert _open(engine, "latency_slo") == {}

        # Past retention the samples go; the histogram's counts do not.
        clock.advance(CONFIG.slo.latency_retention_s + 1)
        report = asyncio.run(check_slos(engine, CONFIG, clock))
        assert report.pruned == len(plant.latencies_s)
        with engine.begin() as c:
            assert c.execute(select(func.count()).select_from(latency_samples)).scalar_one() == 0
        assert scraped != (after := _scrape_histogram(url, token, "ims"))
        assert after == pytest.approx(_expected_histogram(plant.latencies_s, bounds), abs=0.01)


def test_a_channel_with_no_acknowledgements_in_the_window_is_not_judged(engine: Engine) -> None:
    clock = FakeClock(T0 + timedelta(hours=1))
    channel = SlowChannel(clock)
    plant = Plant(engine, clock, channel)
    channel.ack_delay_s = 120.0
    plant.movements(["MUG-1"], age_s=0.0)
    plant.push()
    asyncio.run(check_slos(engine, CONFIG, clock))
    assert set(_open(engine, "latency_slo")) == {"channel:ims"}
    clock.advance(CONFIG.slo.window_s + 1)
    report = asyncio.run(check_slos(engine, CONFIG, clock))
    assert [(c.channel, c.samples, c.breached) for c in report.latency] == [("ims", 0, False)]
    assert _open(engine, "latency_slo") == {}


def test_default_targets_apply_to_a_channel_not_named(engine: Engine) -> None:
    plain: Config = config(slo={"latency_ms": {"default": {"p95": 100_000, "p99": 200_000}}})
    clock = FakeClock(T0 + timedelta(hours=1))
    channel = SlowChannel(clock)
    plant = Plant(engine, clock, channel)
    channel.ack_delay_s = 45.0
    plant.movements(["MUG-1"], age_s=0.0)
    plant.push()
    report = asyncio.run(check_slos(engine, plain, clock))
    assert report.breached == []  # 45 s is within the default's 100 s
    assert _open(engine, "latency_slo") == {}
