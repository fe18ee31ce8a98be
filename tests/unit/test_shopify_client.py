"""The Shopify client: the cost bucket's waits (computed on a fake clock, never slept) and how every
kind of failure leaves it as one of the hub's errors."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.shopify_support import BASE, TOKEN, VERSION, Endpoint, FakeClock, ok, throttled

from stockbridge.connectors.errors import (
    AuthenticationError,
    MalformedResponseError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    RetriableError,
)
from stockbridge.connectors.shopify.bucket import CostBucket
from stockbridge.connectors.shopify.client import ShopifyClient

Q = "query Shop { shop { name } }"


def run(client: ShopifyClient, **kw: Any) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        try:
            return await client.execute("Shop", Q, **kw)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_posts_graphql_to_the_versioned_endpoint_with_the_token() -> None:
    endpoint = Endpoint(lambda op, v: ok({"shop": {"name": "x"}}))
    assert run(endpoint.client(), variables={"a": 1}) == {"shop": {"name": "x"}}
    request = endpoint.requests[0]
    assert str(request.url) == f"{BASE}/admin/api/{VERSION}/graphql.json"
    assert request.headers["X-Shopify-Access-Token"] == TOKEN
    assert endpoint.bodies[0] == {"query": Q, "variables": {"a": 1}}


# --- the bucket ---------------------------------------------------------------------------------


def test_bucket_waits_exactly_for_the_points_missing() -> None:
    bucket = CostBucket(maximum=1000, available=0, restore_rate=100, as_of=0)
    assert bucket.wait_for(250, now=0) == pytest.approx(2.5)
    assert bucket.wait_for(250, now=1) == pytest.approx(1.5)
    assert bucket.wait_for(250, now=3) == 0.0
    # a cost above the bucket's size waits for a full bucket, not for ever
    assert bucket.wait_for(5000, now=0) == pytest.approx(10.0)


def test_reservations_of_calls_in_flight_survive_a_report() -> None:
    bucket = CostBucket(maximum=100, available=100, restore_rate=10, as_of=0)
    bucket.reserve(60, now=0)
    bucket.reserve(30, now=0)
    bucket.release(30)  # the second call is answered; the first is still in flight
    bucket.observe(maximum=100, currently_available=70, restore_rate=10, now=0)
    assert bucket.level(0) == pytest.approx(10)  # 70 reported, 60 still reserved
    assert bucket.wait_for(30, now=0) == pytest.approx(2.0)


@given(
    available=st.floats(0, 1000),
    cost=st.floats(1, 1000),
    rate=st.floats(1, 2000),
    elapsed=st.floats(0, 100),
)
def test_after_waiting_what_it_says_the_bucket_holds_the_cost(
    available: float, cost: float, rate: float, elapsed: float
) -> None:
    bucket = CostBucket(maximum=1000, available=available, restore_rate=rate, as_of=0)
    wait = bucket.wait_for(cost, elapsed)
    assert wait >= 0
    assert bucket.level(elapsed + wait) >= cost - 1e-6
    if wait > 0:  # and not a moment earlier than needed
        assert bucket.level(elapsed + wait * 0.99) < cost


def test_a_call_waits_only_as_long_as_the_reported_bucket_needs() -> None:
    clock = FakeClock()
    answers = iter([ok({"a": 1}, requested=100, available=20), ok({"a": 2}, requested=100, available=0)])
    endpoint = Endpoint(lambda op, v: next(answers))
    client = endpoint.client(clock)

    async def go() -> None:
        await client.execute("Shop", Q, cost=100)  # fresh bucket: no wait
        assert clock.slept == []
        assert client.budget_wait(100) == pytest.approx(0.8)  # 20 available, 80 missing at 100/s
        await client.execute("Shop", Q, cost=100)
        await client.aclose()

    asyncio.run(go())
    assert clock.slept == [pytest.approx(0.8)]
    assert client.calls == 2
    assert client.throttled == 0


def test_throttled_waits_the_restore_time_for_the_requested_cost_then_retries() -> None:
    clock = FakeClock()
    answers = iter([throttled(requested=250, available=50, rate=50), ok({"a": 1}, requested=250)])
    endpoint = Endpoint(lambda op, v: next(answers))
    client = endpoint.client(clock)
    assert run(client, cost=10) == {"a": 1}
    assert clock.slept == [pytest.approx(4.0)]  # (250 - 50) / 50 points per second
    assert client.calls == 2
    assert client.throttled == 1


def test_persistent_throttling_ends_as_rate_limited_with_the_wait() -> None:
    clock = FakeClock()
    client = Endpoint(lambda op, v: throttled(requested=100, available=0)).client(clock)
    with pytest.raises(RateLimitedError) as caught:
        run(client)
    assert client.throttled == client.calls == 5
    assert caught.value.retry_after == pytest.approx(1.0)


def test_concurrent_calls_queue_for_the_bucket_instead_of_bursting() -> None:
    clock = FakeClock()
    spent = {"points": 0.0, "at": clock.now}

    def store_bucket(op: str, v: dict[str, Any]) -> httpx.Response:
        # the store's own bucket: 1,000 points refilling at 100 per second of the fake clock
        refilled = (clock.now - spent["at"]) * 100
        spent["points"] = max(0.0, spent["points"] - refilled) + 400
        spent["at"] = clock.now
        return ok({"a": 1}, requested=400, available=1000 - spent["points"])

    client = Endpoint(store_bucket).client(clock)

    async def go() -> None:
        await asyncio.gather(*(client.execute("Shop", Q, cost=400) for _ in range(3)))
        await client.aclose()

    asyncio.run(go())
    # two fit in the bucket at once; the third waits for the 200 points missing
    assert clock.slept == [pytest.approx(2.0)]


# --- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(401, json={"errors": "[API] Invalid API key or access token"}), AuthenticationError),
        (httpx.Response(403, text="forbidden"), AuthenticationError),
        (httpx.Response(402, text="Payment Required"), AuthenticationError),
        (httpx.Response(404, text="Not Found"), NotFoundError),
        (httpx.Response(400, json={"errors": "bad"}), RejectedError),
        (httpx.Response(429, headers={"Retry-After": "2.0"}, text="slow down"), RateLimitedError),
        (httpx.Response(503, headers={"Retry-After": "7"}), RetriableError),
        (httpx.Response(200, text="<html>proxy</html>"), MalformedResponseError),
        (httpx.Response(200, json=[1, 2]), MalformedResponseError),
        (httpx.Response(200, json={"extensions": {}}), MalformedResponseError),
        (httpx.Response(200, json={"data": {}, "extensions": {"cost": {"nope": 1}}}), MalformedResponseError),
        (httpx.Response(200, json={"errors": "not a list"}), MalformedResponseError),
    ],
)
def test_http_answers_become_hub_errors(response: httpx.Response, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        run(Endpoint(lambda op, v: response).client())
    assert type(caught.value) is error
    if response.status_code in (429, 503):
        assert caught.value.retry_after == float(response.headers["retry-after"])  # type: ignore[attr-defined]


def test_transport_failure_is_retriable() -> None:
    def refuse(op: str, v: dict[str, Any]) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(RetriableError):
        run(Endpoint(refuse).client())


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("INTERNAL_SERVER_ERROR", RetriableError),
        ("ACCESS_DENIED", AuthenticationError),
        ("MAX_COST_EXCEEDED", RejectedError),
        (None, RejectedError),
    ],
)
def test_graphql_errors_become_hub_errors(code: str | None, error: type[Exception]) -> None:
    extensions = {} if code is None else {"code": code}
    body = {
        "errors": [{"message": "no", "path": ["inventorySetQuantities", 0], "extensions": extensions}],
        "extensions": {},
    }
    with pytest.raises(error) as caught:
        run(Endpoint(lambda op, v: httpx.Response(200, json=body)).client())
    assert type(caught.value) is error
    if error is RejectedError:
        assert caught.value.code == code  # type: ignore[attr-defined]
        assert caught.value.path == "inventorySetQuantities.0"  # type: ignore[attr-defined]


def test_the_public_surface_is_pinned() -> None:
    from stockbridge.connectors import shopify
    from stockbridge.connectors.shopify import webhooks

    assert shopify.__all__ == ["ShopifyClient", "ShopifyOrders", "ShopifyStock", "Tracking"]
    assert all(hasattr(shopify, name) for name in shopify.__all__)
    assert all(hasattr(webhooks, name) for name in webhooks.__all__)


class RecordingSharedBucket:
    """A shared cost bucket that always holds the points, and records what was settled."""

    def __init__(self) -> None:
        self.reserved: list[float] = []
        self.settled: list[float] = []

    async def reserve(self, local: CostBucket, cost: float, now: float) -> float:
        self.reserved.append(cost)
        return 0.0

    async def settle(
        self, local: CostBucket, cost: float, status: tuple[float, float, float] | None, now: float
    ) -> None:
        self.settled.append(cost)


def test_a_call_cancelled_in_flight_settles_its_shared_reservation() -> None:
    # A worker stopping cancels its calls: points reserved in the bucket every worker spends must be
    # given back, not left to shrink it for the others until the row is untouched for a minute.
    shared, sent = RecordingSharedBucket(), asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        sent.set()
        await asyncio.Event().wait()
        raise AssertionError("never answered")

    async def go() -> None:
        clock = FakeClock()
        client = ShopifyClient(
            BASE,
            VERSION,
            TOKEN,
            clock=clock,
            sleep=clock.sleep,
            transport=httpx.MockTransport(hang),
            shared=shared,
        )
        call = asyncio.create_task(client.execute("Shop", Q, cost=7.0))
        await sent.wait()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await client.aclose()

    asyncio.run(go())
    assert shared.reserved == [7.0]
    assert shared.settled == [7.0]
