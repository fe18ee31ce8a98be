"""Far accounts' budgets shared by every worker process on PostgreSQL (docs/decisions/0037).

Every clock here is a number the test moves: two workers are two budget (or limiter) instances on
one database, asking in turn at the same instants.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import Engine
from tests.e2e.stack import ENVIRON, hub_config_data

from stockbridge.config import parse_config
from stockbridge.connectors.errors import RateLimitedError
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.shopify.bucket import CostBucket
from stockbridge.domain import pacing
from stockbridge.engine.budgets import StoredBudget, StoredCostBucket
from stockbridge.engine.connect import connect
from stockbridge.store.db import make_engine, upgrade

pytestmark = pytest.mark.postgres

LIMITS = pacing.PaceLimits(ceiling=10.0, floor=0.5, recovery_step=1.0)
T0 = 1_000_000.0  # wall-clock seconds, as the shared budgets keep them
SHOP = {
    "shop_domain": "shop.myshopify.com",
    "access_token_env": "SHOP_TOKEN",
    "webhook_secret_env": "SHOP_SECRET",
    "locations": {"WH1": "gid://shopify/Location/1"},
    "orders_route": "clarus",
    "timeout_s": 4,
}


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def busiest_window(starts: Sequence[float], window_s: float) -> int:
    """The most calls started within any `window_s` seconds (both ends included)."""
    ordered = sorted(starts)
    most, first = 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] < at - window_s - 1e-9:
            first += 1
        most = max(most, last - first + 1)
    return most


def bucket_bound(window_s: float) -> int:
    """What a token bucket of one second's worth lets start in `window_s`: the burst plus refill."""
    return int(LIMITS.ceiling + LIMITS.ceiling * window_s + 1e-9)


def test_two_workers_on_one_budget_never_get_more_than_it_allows(pg_engine: Engine) -> None:
    workers = [StoredBudget(pg_engine, "ims http://127.0.0.1:1", "ims") for _ in range(2)]

    async def ask() -> list[float]:
        starts: list[float] = []
        for step in range(80):  # 4 s, each worker asking for 3 calls every 50 ms
            now = T0 + step * 0.05
            for worker in workers:
                grant = await worker.grant(LIMITS, 3, now, successes=0)
                starts += [now] * grant.calls
        return starts

    starts = asyncio.run(ask())
    for window_s in (1.0, 2.0, 3.0):
        assert busiest_window(starts, window_s) <= bucket_bound(window_s), window_s
    # And it is the account's whole rate, not less: the burst plus 10 a second.
    assert len(starts) >= LIMITS.ceiling + LIMITS.ceiling * 3.9

    # The check catches two workers pacing themselves alone, as before this budget existed.
    alone: list[float] = []
    paces = [pacing.start(LIMITS, T0) for _ in range(2)]
    for step in range(80):
        now = T0 + step * 0.05
        for i, pace in enumerate(paces):
            paces[i], calls, _ = pacing.take_up_to(pace, now, 3)
            alone += [now] * calls
    assert busiest_window(alone, 1.0) > bucket_bound(1.0)


class Clock:
    def __init__(self) -> None:
        self.now = T0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def shared_limiter(engine: Engine, clock: Clock) -> RateLimiter:
    return RateLimiter(
        LIMITS.ceiling,
        4,
        clock,
        min_calls_per_second=LIMITS.floor,
        recovery_step=LIMITS.recovery_step,
        sleep=clock.sleep,
        budget=StoredBudget(engine, "ims http://127.0.0.1:2", "ims"),
    )


def test_a_refusal_met_by_one_worker_slows_the_other(pg_engine: Engine) -> None:
    clock = Clock()
    one, other = shared_limiter(pg_engine, clock), shared_limiter(pg_engine, clock)

    async def refused() -> None:
        raise RateLimitedError("ims", "429", retry_after=2.0)

    async def answered() -> str:
        return "ok"

    async def scenario() -> None:
        assert await other.run(answered) == "ok"
        assert other.rate == LIMITS.ceiling
        with pytest.raises(RateLimitedError):
            await one.run(refused)
        # The other worker never met the refusal: its next call waits out the Retry-After the
        # first one heard, and goes at half the rate.
        before = clock.now
        assert await other.run(answered) == "ok"
        assert clock.now - before >= 2.0
        # Half the rate, plus the step its own first answer (reported with this grant) won back.
        halved = LIMITS.ceiling * LIMITS.cut_factor
        assert other.rate == pytest.approx(halved + LIMITS.recovery_step / halved)
        # Its answers are reported with its next grants, and win the rate back for both.
        for _ in range(pacing.successes_to_recover(LIMITS, other.rate) + 1):
            await other.run(answered)
        await one.run(answered)
        assert one.rate == LIMITS.ceiling

    asyncio.run(scenario())
    assert (one.refusals, other.refusals) == (1, 0)


def test_shopify_workers_spend_one_cost_bucket_and_share_what_the_store_said(pg_engine: Engine) -> None:
    key = "shopify http://127.0.0.1:3"
    a, b = StoredCostBucket(pg_engine, key, "shop"), StoredCostBucket(pg_engine, key, "shop")
    image_a, image_b = CostBucket(1000.0, 1000.0, 100.0, T0), CostBucket(1000.0, 1000.0, 100.0, T0)

    async def scenario() -> None:
        assert await a.reserve(image_a, 600.0, T0) == 0.0
        # The other worker sees the 600 points the first reserved: 400 left, 200 short at 100/s.
        assert await b.reserve(image_b, 600.0, T0) == pytest.approx(2.0)
        assert image_b.level(T0) == pytest.approx(400.0)
        # The first call's answer says the store holds 300 (another app spends it too): the other
        # worker's wait is sized from that, though it never heard the answer itself.
        await a.settle(image_a, 600.0, (1000.0, 300.0, 100.0), T0)
        assert await b.reserve(image_b, 600.0, T0) == pytest.approx(3.0)
        assert await b.reserve(image_b, 600.0, T0 + 3.0) == 0.0
        assert image_a.level(T0 + 3.0) == pytest.approx(600.0)  # a's image catches up at its next call
        assert await a.reserve(image_a, 100.0, T0 + 3.0) == pytest.approx(1.0)
        assert image_a.level(T0 + 3.0) == pytest.approx(0.0)

    asyncio.run(scenario())


def test_a_worker_late_to_the_cost_bucket_does_not_count_its_refill_twice(pg_engine: Engine) -> None:
    # Each worker reads its clock before it has the row: under load it gets there after another has
    # written a later time. Its figures are taken at the later time, never moving the bucket back.
    key = "shopify http://127.0.0.1:4"
    a, b = StoredCostBucket(pg_engine, key, "shop"), StoredCostBucket(pg_engine, key, "shop")
    image_a, image_b = CostBucket(1000.0, 1000.0, 100.0, T0), CostBucket(1000.0, 1000.0, 100.0, T0)

    async def scenario() -> None:
        assert await a.reserve(image_a, 600.0, T0 + 1.0) == 0.0  # 400 left at T0 + 1
        assert await b.reserve(image_b, 100.0, T0) == 0.0  # read its clock at T0: 300 left at T0 + 1
        # At T0 + 1 the store holds 300: 400 points are a second away, not there (a bucket moved
        # back to T0 would add the second between T0 and T0 + 1 again, and grant them).
        assert await a.reserve(image_a, 400.0, T0 + 1.0) == pytest.approx(1.0)
        await b.settle(image_b, 100.0, (1000.0, 350.0, 100.0), T0 + 0.5)  # heard late, as of T0 + 1
        # The store's 350 less the 600 a has in flight, as of T0 + 1: 550 short of 300.
        assert await a.reserve(image_a, 300.0, T0 + 1.0) == pytest.approx(5.5)

    asyncio.run(scenario())


def test_an_answer_settled_late_does_not_hand_back_points_a_later_call_spent(pg_engine: Engine) -> None:
    key = "shopify http://127.0.0.1:5"
    a, b = StoredCostBucket(pg_engine, key, "shop"), StoredCostBucket(pg_engine, key, "shop")
    image_a, image_b = CostBucket(1000.0, 1000.0, 100.0, T0), CostBucket(1000.0, 1000.0, 100.0, T0)

    async def scenario() -> None:
        assert await a.reserve(image_a, 500.0, T0) == 0.0
        # a's call is answered at T0 + 0.1 (the store holds 500), but a reaches the row only later.
        assert await b.reserve(image_b, 400.0, T0 + 0.2) == 0.0
        await b.settle(image_b, 400.0, (1000.0, 130.0, 100.0), T0 + 0.3)  # the store charged both
        await a.settle(image_a, 500.0, (1000.0, 500.0, 100.0), T0 + 0.1)
        # The store holds 130 at T0 + 0.3: a's older 500 must not make 400 look available.
        assert await a.reserve(image_a, 400.0, T0 + 0.3) > 0.0

    asyncio.run(scenario())


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_only_postgresql_shares_budgets(engine: Engine) -> None:
    config = parse_config(hub_config_data("http://127.0.0.1:1", "http://127.0.0.1:2", 8000, str(engine.url)))
    connections = connect(config, ENVIRON, engine=engine)
    try:
        shared = engine.dialect.name == "postgresql"
        assert connections.ims_limiter.shared is shared
        assert connections.clarus_limiter.shared is shared
        assert not connect(config, ENVIRON).ims_limiter.shared  # no database: its own
        data = hub_config_data(
            "http://127.0.0.1:1", "http://127.0.0.1:2", 8000, str(engine.url), shared_budgets=False
        )
        assert not connect(parse_config(data), ENVIRON, engine=engine).ims_limiter.shared
    finally:
        asyncio.run(connections.aclose())


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_shared_budgets_pace_a_margin_below_the_account_and_share_the_shopify_bucket(engine: Engine) -> None:
    # Workers' calls granted on time reach the far end late, bunched: a budget exactly the far end's
    # meets 429s whenever they do. Shared, it keeps `shared_budget_margin` in hand.
    data = hub_config_data("http://127.0.0.1:1", "http://127.0.0.1:2", 8000, str(engine.url))
    data["storefronts"] = {"shop": SHOP}
    data["inventory_statuses"]["available"]["counts_for"] = ["ims", "shop"]
    config = parse_config(data)
    shared = engine.dialect.name == "postgresql"
    connections = connect(config, {**ENVIRON, "SHOP_TOKEN": "t", "SHOP_SECRET": "s"}, engine=engine)
    try:
        ims_rate = config.connectors.ims.calls_per_second
        margin = config.engine.shared_budget_margin
        assert 0.1 <= margin <= 0.2
        assert connections.ims_limiter.rate == pytest.approx(ims_rate * (1 - margin) if shared else ims_rate)
        clarus_rate = config.connectors.clarus.calls_per_second
        assert connections.clarus_limiter.rate == pytest.approx(
            clarus_rate * (1 - margin) if shared else clarus_rate
        )
        assert connections.storefronts["shop"].shared is shared
    finally:
        asyncio.run(connections.aclose())
    data["engine"]["shared_budget_margin"] = 0.0
    exact = connect(parse_config(data), {**ENVIRON, "SHOP_TOKEN": "t", "SHOP_SECRET": "s"}, engine=engine)
    try:
        assert exact.ims_limiter.rate == pytest.approx(config.connectors.ims.calls_per_second)
    finally:
        asyncio.run(exact.aclose())
