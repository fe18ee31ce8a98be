"""Our Shopify connector against the Shopify simulator over real HTTP: stock read and set, a stale
figure, an idempotent replay, the cost bucket met by waiting, the orders catch-up, fulfilments."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from tests.servers import run_app
from tests.shopify_sim_support import (
    LOCATION,
    SECRET,
    TOKEN,
    VERSION,
    fresh,
    gql,
    level,
    place_order,
    seed,
    simulator,
)

from stockbridge.connectors.errors import (
    AuthenticationError,
    RateLimitedError,
    RetriableError,
    StaleFigureError,
)
from stockbridge.connectors.shopify import ShopifyClient, ShopifyOrders, ShopifyStock, Tracking
from stockbridge.connectors.shopify.fulfilments import FULFILMENT_STATE
from stockbridge.connectors.shopify.store_fulfilments import ShopifyStoreFulfilments
from stockbridge.connectors.shopify.webhooks import parse_order_event, read_delivery
from stockbridge.domain.storefront_fulfilment import ParcelTracking
from stockbridge.flows.ports import ChannelFigure, FigureLine

T = TypeVar("T")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with simulator() as url:
        yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with fresh(base_url) as client:
        yield client


def run(base_url: str, use: Callable[[ShopifyClient], Awaitable[T]], token: str = TOKEN) -> T:
    async def go() -> T:
        client = ShopifyClient(base_url, VERSION, token, timeout_s=10)
        try:
            return await use(client)
        finally:
            await client.aclose()

    return asyncio.run(go())


async def control(base_url: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A control call from inside a scenario (POST with a body, else GET)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await (client.post(path, json=body) if body is not None else client.get(path))
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer


def calls(http: httpx.Client) -> dict[str, Any]:
    answer: dict[str, Any] = http.get("/_control/calls").json()
    return answer


# --- stock ----------------------------------------------------------------------------------------


def test_reads_and_sets_available_per_location(base_url: str, http: httpx.Client) -> None:
    seed(http, "A-1", 5)
    seed(http, "B 2:x", 0)  # a SKU Shopify's search must be given quoted

    async def scenario(client: ShopifyClient) -> dict[str, ChannelFigure]:
        stock = ShopifyStock(client)
        figures = await stock.read_figures(LOCATION, ["A-1", "B 2:x", "NOPE"])
        await stock.push_figures("b-1", LOCATION, [FigureLine("A-1", 7, 5), FigureLine("B 2:x", 3, 0)])
        return figures

    figures = run(base_url, scenario)
    assert figures == {"A-1": ChannelFigure(5), "B 2:x": ChannelFigure(0)}  # unknown SKU absent
    assert level(http, "A-1")["available"] == 7
    assert level(http, "B 2:x")["available"] == 3
    applied = http.get("/_control/mutations").json()["mutations"]
    assert {m["reference_document_uri"] for m in applied} == {"stockbridge://batch/b-1"}
    assert all(m["idempotency_key"].startswith("b-1.") for m in applied)


def test_a_stale_figure_is_refused_whole_and_names_the_sku(base_url: str, http: httpx.Client) -> None:
    seed(http, "A-1", 5)
    seed(http, "C-3", 1)

    async def scenario(client: ShopifyClient) -> None:
        stock = ShopifyStock(client)
        await stock.read_figures(LOCATION, ["A-1", "C-3"])
        # the merchant sells one in the shop between our read and our push
        await control(base_url, "/_control/inventory", {"sku": "A-1", "available": 4})
        with pytest.raises(StaleFigureError) as caught:
            await stock.push_figures("b-2", LOCATION, [FigureLine("C-3", 2, 1), FigureLine("A-1", 9, 5)])
        assert caught.value.skus == ("A-1",)
        assert level(http, "C-3")["available"] == 1  # nothing of the call applied
        # the flow's answer: read again, recompute, push again (a new batch)
        again = await stock.read_figures(LOCATION, ["A-1", "C-3"])
        assert again["A-1"] == ChannelFigure(4)
        await stock.push_figures("b-3", LOCATION, [FigureLine("C-3", 2, 1), FigureLine("A-1", 8, 4)])

    run(base_url, scenario)
    assert (level(http, "A-1")["available"], level(http, "C-3")["available"]) == (8, 2)


def test_the_same_batch_recomputed_under_its_id_gets_a_new_key(base_url: str, http: httpx.Client) -> None:
    seed(http, "A-1", 5)

    async def scenario(client: ShopifyClient) -> None:
        stock = ShopifyStock(client)
        await stock.read_figures(LOCATION, ["A-1"])
        await control(base_url, "/_control/inventory", {"sku": "A-1", "available": 4})
        with pytest.raises(StaleFigureError):
            await stock.push_figures("b-9", LOCATION, [FigureLine("A-1", 9, 5)])
        await stock.push_figures("b-9", LOCATION, [FigureLine("A-1", 8, 4)])  # no key mismatch

    run(base_url, scenario)
    assert level(http, "A-1")["available"] == 8


def test_a_batch_sent_twice_applies_once(base_url: str, http: httpx.Client) -> None:
    seed(http, "A-1", 5)

    async def scenario(client: ShopifyClient) -> None:
        stock = ShopifyStock(client)
        await stock.read_figures(LOCATION, ["A-1"])
        lines = [FigureLine("A-1", 2, 5)]
        await stock.push_figures("b-4", LOCATION, lines)
        # a retry after a lost answer: same batch, same figures; its changeFromQuantity is stale
        # now, but the idempotency key returns the first result instead of applying again
        await stock.push_figures("b-4", LOCATION, lines)

    run(base_url, scenario)
    assert level(http, "A-1")["available"] == 2
    assert len(http.get("/_control/mutations").json()["mutations"]) == 1


def test_a_push_whose_answer_was_lost_is_retried_and_applied_once(base_url: str, http: httpx.Client) -> None:
    seed(http, "A-1", 5)

    async def scenario(client: ShopifyClient) -> None:
        stock = ShopifyStock(client)
        await stock.read_figures(LOCATION, ["A-1"])
        # Shopify applies the write, then the answer is lost (502): the hub cannot tell
        await control(base_url, "/_control/faults", {"api": {"fail_after_commit_rate": 1.0}})
        lines = [FigureLine("A-1", 2, 5)]
        with pytest.raises(RetriableError):
            await stock.push_figures("b-5", LOCATION, lines)
        await control(base_url, "/_control/faults", {"api": {"fail_after_commit_rate": 0.0}})
        await stock.push_figures("b-5", LOCATION, lines)  # the outbox's retry: same batch, same key

    run(base_url, scenario)
    assert level(http, "A-1")["available"] == 2
    assert len(http.get("/_control/mutations").json()["mutations"]) == 1


def test_on_hand_lets_the_store_subtract_its_own_commitments(base_url: str, http: httpx.Client) -> None:
    seed(http, "A-1", 5)
    place_order(http, [("A-1", 2)])  # committed 2: available 3, on hand 5

    async def scenario(client: ShopifyClient) -> dict[str, ChannelFigure]:
        stock = ShopifyStock(client, quantity_name="on_hand")
        figures = await stock.read_figures(LOCATION, ["A-1"])
        await stock.push_figures("b-7", LOCATION, [FigureLine("A-1", 10, 5)])
        return figures

    assert run(base_url, scenario) == {"A-1": ChannelFigure(5)}
    row = level(http, "A-1")
    assert (row["on_hand"], row["committed"], row["available"]) == (10, 2, 8)


def test_a_wrong_token_needs_a_person(base_url: str, http: httpx.Client) -> None:
    with pytest.raises(AuthenticationError):
        run(base_url, lambda c: ShopifyStock(c).read_figures(LOCATION, ["A-1"]), token="shpat_wrong")


def test_pushes_slow_to_the_restore_rate_without_a_throttled_storm(base_url: str, http: httpx.Client) -> None:
    seed(http, "A-1", 0)
    pushes = 30

    async def scenario(client: ShopifyClient) -> float:
        stocks = [ShopifyStock(client), ShopifyStock(client)]
        for stock in stocks:
            await stock.read_figures(LOCATION, ["A-1"])
        # a small bucket: 50 points, 100 per second; each push asks 10
        await control(base_url, "/_control/limits", {"bucket_size": 50, "restore_rate": 100})
        started = time.monotonic()

        async def pusher(stock: ShopifyStock, first: int) -> None:
            for n in range(first, pushes, 2):
                await stock.push_figures(f"t-{n}", LOCATION, [FigureLine("A-1", n, None)])

        await asyncio.gather(pusher(stocks[0], 0), pusher(stocks[1], 1))
        return time.monotonic() - started

    elapsed = run(base_url, scenario)
    stats = calls(http)
    assert stats["per_operation"].get("inventorySetQuantities") == pushes
    assert stats["throttled"] == 0  # each call waited for the points instead of being refused
    # 300 points through a 50-point bucket refilling at 100/s: at least 2.5 s
    assert elapsed >= (pushes * 10 - 50) / 100 * 0.9


def test_throttled_is_met_by_waiting_when_another_process_spends_the_bucket(
    base_url: str, http: httpx.Client
) -> None:
    seed(http, "A-1", 0)
    pushes = 12

    async def scenario(first: ShopifyClient) -> tuple[int, int]:
        # two worker processes of the same app: two clients, one bucket at the store
        second = ShopifyClient(base_url, VERSION, TOKEN, timeout_s=10)
        try:
            stocks = [ShopifyStock(first), ShopifyStock(second)]
            for stock in stocks:
                await stock.read_figures(LOCATION, ["A-1"])
            await control(base_url, "/_control/limits", {"bucket_size": 30, "restore_rate": 100})

            async def pusher(stock: ShopifyStock, tag: str) -> None:
                for n in range(pushes):
                    while True:
                        try:
                            await stock.push_figures(f"{tag}-{n}", LOCATION, [FigureLine("A-1", n, None)])
                            break
                        except RateLimitedError as exc:
                            # outbid five times in a row by the other process: the outbox tries the
                            # batch again after the wait the bucket asks for
                            await asyncio.sleep(exc.retry_after or 0.1)

            await asyncio.gather(pusher(stocks[0], "p"), pusher(stocks[1], "q"))
            return first.throttled + second.throttled, first.calls + second.calls
        finally:
            await second.aclose()

    throttled, sent = run(base_url, scenario)
    stats = calls(http)
    assert len(http.get("/_control/mutations").json()["mutations"]) == 2 * pushes  # every push applied
    assert stats["throttled"] == throttled > 0
    assert sent == 2 * pushes + throttled + 2  # every call is a push, a refusal or one of the reads
    # Each refusal is followed by the wait it asks for, so two clients racing for one bucket are
    # refused less often than they succeed: no storm. (One client alone is never refused, above.)
    assert throttled < 2 * pushes


# --- orders ---------------------------------------------------------------------------------------


def test_catch_up_pages_through_every_order_updated_since(base_url: str, http: httpx.Client) -> None:
    seed(http, "A-1", 100)
    since = datetime.now(UTC) - timedelta(seconds=5)
    placed = [place_order(http, [("A-1", 1)])["name"] for _ in range(23)]

    orders = run(base_url, lambda c: ShopifyOrders(c).updated_since(since))
    assert sorted(o.name for o in orders) == sorted(placed)
    assert [o.updated_at for o in orders] == sorted(o.updated_at for o in orders)
    assert calls(http)["per_operation"]["orders"] == 3  # pages of 10
    first = orders[0]
    assert first.ship_method == "Standard Delivery"
    assert first.address is not None
    assert first.address.postcode == "LS1 1AA"
    assert [(ln.sku, ln.quantity, ln.unfulfilled) for ln in first.lines] == [("A-1", 1, 1)]
    later = run(base_url, lambda c: ShopifyOrders(c).updated_since(datetime.now(UTC) + timedelta(hours=1)))
    assert later == []


def test_a_partial_fulfilment_then_the_rest(base_url: str, http: httpx.Client) -> None:
    seed(http, "A-1", 10)
    seed(http, "B-2", 10)
    placed = place_order(http, [("A-1", 3), ("B-2", 1)])
    order_id = placed["admin_graphql_api_id"]
    line_a, line_b = (item["admin_graphql_api_id"] for item in placed["line_items"])

    async def scenario(client: ShopifyClient) -> None:
        orders = ShopifyOrders(client)
        first = await orders.create_fulfilment(order_id, [(line_a, 2)], Tracking("DHL", "TRK-1", None))
        assert first.lines
        view = await control(base_url, f"/_control/orders/{placed['id']}")
        assert view["display_fulfillment_status"] == "PARTIALLY_FULFILLED"
        # the same shipment again (a retry after a timeout): recognised by its tracking number
        again = await orders.create_fulfilment(order_id, [(line_a, 2)], Tracking("DHL", "TRK-1", None))
        assert again.id == first.id
        await orders.create_fulfilment(
            order_id, [(line_a, 1), (line_b, 1)], Tracking("DHL", "TRK-2", "https://t.example/TRK-2")
        )
        now = await orders.order(order_id)
        assert now is not None
        assert [ln.unfulfilled for ln in now.lines] == [0, 0]

    run(base_url, scenario)
    view = http.get(f"/_control/orders/{placed['id']}").json()
    assert view["display_fulfillment_status"] == "FULFILLED"
    assert len(view["fulfillments"]) == 2


# The smallest bucket the hub is run against (a development store on a small plan): 400 points,
# 50 a second. A read for a store fulfilment asks at most a quarter of it, so the reads of all the
# fulfilment slots fit in it at once and an empty bucket holds one again within 2 s.
SMALL_BUCKET = {"bucket_size": 400, "restore_rate": 50}
MAX_READ_COST = 100
FULFILMENT_READS = ("OrderById", "OrderLineItems", "FulfilmentState", "FulfilmentOrderLines")


def test_a_store_fulfilment_of_a_long_order_pages_within_a_small_bucket(
    base_url: str, http: httpx.Client
) -> None:
    """55 line items: more than one page of the order's lines (50) and of the fulfillment order's
    first page (10); the shipment takes one of each of the last 20, all past the first page."""
    skus = [f"L-{n:02}" for n in range(55)]
    for sku in skus:
        seed(http, sku, 10)
    placed = place_order(http, [(sku, 2) for sku in skus])
    order_id = placed["admin_graphql_api_id"]
    http.post("/_control/limits", json=SMALL_BUCKET).raise_for_status()
    shipped = [item["admin_graphql_api_id"] for item in placed["line_items"][35:]]

    async def scenario(client: ShopifyClient) -> tuple[list[str] | None, str, str, dict[str, float]]:
        store = ShopifyStoreFulfilments(ShopifyOrders(client))
        ids = await store.line_item_ids(order_id)
        tracking = ParcelTracking("UPS", "1Z-LONG", None)
        made = await store.fulfil(order_id, dict.fromkeys(shipped, 1), tracking, notify_customer=True)
        again = await store.fulfil(order_id, dict.fromkeys(shipped, 1), tracking, notify_customer=True)
        return ids, made, again, {op: client.expected_cost(op, estimate=-1) for op in FULFILMENT_READS}

    ids, made, again, requested = run(base_url, scenario)
    assert ids == [item["admin_graphql_api_id"] for item in placed["line_items"]]
    assert again == made  # the retry found the fulfilment by its tracking number
    # Every read was made (the store reported its requested cost) and asked at most the bound.
    assert all(0 < cost <= MAX_READ_COST for cost in requested.values()), requested
    view = http.get(f"/_control/orders/{placed['id']}").json()
    assert [line["fulfillable_quantity"] for line in view["line_items"]] == [2] * 35 + [1] * 20
    assert len(view["fulfillments"]) == 1
    assert calls(http)["throttled"] == 0


def test_the_fulfilment_state_query_asks_what_one_order_needs(base_url: str, http: httpx.Client) -> None:
    """The requested cost the store reports for the fulfilment state read (it was 632 points)."""
    seed(http, "A-1", 10)
    order_id = place_order(http, [("A-1", 1)])["admin_graphql_api_id"]
    answer = gql(http, FULFILMENT_STATE, {"id": order_id})
    assert "errors" not in answer
    assert answer["extensions"]["cost"]["requestedQueryCost"] <= MAX_READ_COST


def test_simulator_webhooks_verify_and_parse(base_url: str, http: httpx.Client) -> None:
    """The simulator's signed orders/create reaches a receiver that verifies and reads it with ours."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    received: list[Any] = []

    async def receive(request: Request) -> Response:
        raw = await request.body()
        delivery = read_delivery(SECRET.encode(), request.headers, raw)
        received.append((delivery, parse_order_event("shopify", delivery.topic, raw)))
        return Response(status_code=200)

    receiver = Starlette(routes=[Route("/hooks", receive, methods=["POST"])])
    seed(http, "A-1", 10)
    with run_app(receiver) as hooks:
        http.post("/_control/webhooks", json={"address": f"{hooks}/hooks", "topics": ["orders/create"]})
        placed = place_order(http, [("A-1", 2)])
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
    assert received, "no delivery within 5 s"
    delivery, order = received[0]
    assert delivery.topic == "orders/create"
    assert order.name == placed["name"]
    assert [(ln.sku, ln.quantity) for ln in order.lines] == [("A-1", 2)]
