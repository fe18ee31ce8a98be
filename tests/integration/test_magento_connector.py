"""Our Magento connector against the Magento simulator over real HTTP: bundles and configurables into
component lines, partial shipments and a retried one, source items many per call, a 429 storm.

Expected figures come from the simulator's own state (its control API), never from the connector."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from tests.servers import run_app

from stockbridge.connectors.errors import AuthenticationError, RejectedError, RetriableError
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.magento import MagentoClient, MagentoOrders, MagentoStock, Track
from stockbridge.connectors.rest import Retries
from stockbridge.flows.ports import ChannelFigure, FigureLine
from stockbridge.simulators.magento import MagentoSettings, create_app

T = TypeVar("T")
TOKEN = "magento-integration-token"
START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


CLOCK = Clock()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    settings = MagentoSettings(tokens=[TOKEN], sources=["default", "wh-1"], store_codes=["en"], clock=CLOCK)
    with run_app(create_app(settings)) as url:
        yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    CLOCK.now = START
    with httpx.Client(base_url=base_url, timeout=10) as client:
        assert client.post("/_control/reset").status_code == 200
        yield client


def run(base_url: str, use: Callable[[MagentoClient], Awaitable[T]], **options: Any) -> T:
    async def go() -> T:
        client = MagentoClient(base_url, options.pop("token", TOKEN), timeout_s=10, **options)
        try:
            return await use(client)
        finally:
            await client.aclose()

    return asyncio.run(go())


def place(http: httpx.Client, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    response = http.post("/_control/orders", json={"items": items, **extra})
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def far_order(http: httpx.Client, entity_id: int) -> dict[str, Any]:
    found: dict[str, Any] = http.get(f"/_control/orders/{entity_id}").json()
    return found


def test_a_bundle_becomes_its_components_and_two_of_one_component_multiply(http: httpx.Client) -> None:
    placed = place(
        http,
        [
            {
                "bundle": "GIFT-BOX",
                "qty": 3,
                "components": [{"sku": "MUG", "qty": 2}, {"sku": "TEA", "qty": 1}],
            },
            {"sku": "SPOON", "qty": 1},
        ],
        shipping_description="Standard Delivery - Flat Rate",
    )
    order = run(str(http.base_url), lambda c: MagentoOrders(c).order(str(placed["entity_id"])))
    assert order is not None
    children = {i["sku"]: i for i in placed["items"] if i.get("parent_item_id")}
    # Oracle: the simulator's child items (qty_ordered already per order), never the bundle parent.
    expected = {(str(i["item_id"]), i["sku"], i["qty_ordered"]) for i in children.values()}
    expected.add(next((str(i["item_id"]), "SPOON", 1) for i in placed["items"] if i["sku"] == "SPOON"))
    assert {(line.line_item_id, line.sku, line.quantity) for line in order.lines} == expected
    assert {line.sku: line.quantity for line in order.lines}["MUG"] == 6  # 2 per bundle x 3 bundles
    assert "GIFT-BOX" not in {line.sku for line in order.lines}
    assert order.ship_method == "Standard Delivery - Flat Rate"
    assert order.name == placed["increment_id"]
    assert order.financial_status == "processing"
    assert order.address is not None
    assert order.address.country == "GB"


def test_a_configurable_becomes_its_simple_child_shipped_by_the_parent(http: httpx.Client) -> None:
    placed = place(http, [{"configurable": "TEE", "sku": "TEE-RED-M", "qty": 2}])
    parent = next(i for i in placed["items"] if i["product_type"] == "configurable")
    order = run(str(http.base_url), lambda c: MagentoOrders(c).order(str(placed["entity_id"])))
    assert order is not None
    assert [(line.line_item_id, line.sku, line.quantity) for line in order.lines] == [
        (str(parent["item_id"]), "TEE-RED-M", 2)
    ]

    async def ship(client: MagentoClient) -> str:
        orders = MagentoOrders(client)
        return await orders.create_shipment(
            order.order_id, {order.lines[0].line_item_id: 2}, [Track("RM1", "Royal Mail", "custom")]
        )

    run(str(http.base_url), ship)
    items = far_order(http, placed["entity_id"])["items"]
    assert {i["product_type"]: i["qty_shipped"] for i in items} == {"configurable": 2, "simple": 2}


def test_a_partial_shipment_then_the_rest(http: httpx.Client) -> None:
    placed = place(
        http, [{"bundle": "KIT", "qty": 2, "components": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]}]
    )
    order_id = str(placed["entity_id"])
    ids = {i["sku"]: str(i["item_id"]) for i in placed["items"] if i.get("parent_item_id")}

    async def first(client: MagentoClient) -> tuple[str, Any]:
        orders = MagentoOrders(client)
        made = await orders.create_shipment(order_id, {ids["A"]: 2}, [Track("T-1", "DPD", "custom")])
        return made, await orders.order(order_id)

    shipment_1, after_first = run(str(http.base_url), first)
    assert {line.sku: line.unfulfilled for line in after_first.lines} == {"A": 2, "B": 2}
    assert far_order(http, placed["entity_id"])["state"] == "processing"

    async def rest(client: MagentoClient) -> tuple[str, Any]:
        orders = MagentoOrders(client)
        made = await orders.create_shipment(
            order_id, {ids["A"]: 2, ids["B"]: 2}, [Track("T-2", "DPD", "custom")]
        )
        return made, await orders.order(order_id)

    shipment_2, after_rest = run(str(http.base_url), rest)
    assert shipment_1 != shipment_2
    assert all(line.unfulfilled == 0 for line in after_rest.lines)
    far = far_order(http, placed["entity_id"])
    assert far["state"] == "complete"
    assert [[t["track_number"] for t in s["tracks"]] for s in far["shipments"]] == [["T-1"], ["T-2"]]
    bundle = next(i for i in far["items"] if i["product_type"] == "bundle")
    assert bundle["qty_shipped"] == 2


def test_over_shipment_is_refused_with_magentos_words(http: httpx.Client) -> None:
    placed = place(http, [{"sku": "ONE", "qty": 1}])
    item = str(placed["items"][0]["item_id"])
    with pytest.raises(RejectedError) as refused:
        run(
            str(http.base_url),
            lambda c: MagentoOrders(c).create_shipment(str(placed["entity_id"]), {item: 5}, []),
        )
    assert refused.value.status == 400
    assert "must not be greater than the unshipped quantity for the product ONE" in refused.value.message
    assert far_order(http, placed["entity_id"])["shipments"] == []


def test_a_shipment_retried_after_a_lost_answer_is_not_made_twice(http: httpx.Client) -> None:
    placed = place(http, [{"sku": "LAMP", "qty": 3}])
    order_id, item = str(placed["entity_id"]), str(placed["items"][0]["item_id"])
    http.post("/_control/faults", json={"fail_after_commit_rate": 1.0}).raise_for_status()

    async def lost(client: MagentoClient) -> None:
        await MagentoOrders(client).create_shipment(order_id, {item: 1}, [Track("LOST-1", "UPS", "ups")])

    with pytest.raises(RetriableError):
        run(str(http.base_url), lost)
    assert len(far_order(http, placed["entity_id"])["shipments"]) == 1  # applied; the answer was lost
    http.post("/_control/faults", json={"fail_after_commit_rate": 0.0}).raise_for_status()
    again = run(
        str(http.base_url),
        lambda c: MagentoOrders(c).create_shipment(order_id, {item: 1}, [Track("LOST-1", "UPS", "ups")]),
    )
    far = far_order(http, placed["entity_id"])
    assert [s["entity_id"] for s in far["shipments"]] == [int(again)]
    assert far["items"][0]["qty_shipped"] == 1


def test_cancel_hold_and_unhold(http: httpx.Client) -> None:
    held = place(http, [{"sku": "H", "qty": 1}])
    shipped = place(http, [{"sku": "S", "qty": 1}])
    open_one = place(http, [{"sku": "C", "qty": 1}])

    async def drive(client: MagentoClient) -> list[bool]:
        orders = MagentoOrders(client)
        answers = [await orders.hold(str(held["entity_id"]))]
        answers.append(await orders.cancel(str(held["entity_id"])))  # a held order cannot be cancelled
        answers.append(await orders.unhold(str(held["entity_id"])))
        await orders.create_shipment(str(shipped["entity_id"]), {str(shipped["items"][0]["item_id"]): 1}, [])
        answers.append(await orders.cancel(str(shipped["entity_id"])))  # nothing left to cancel
        answers.append(await orders.cancel(str(open_one["entity_id"])))
        return answers

    assert run(str(http.base_url), drive) == [True, False, True, False, True]
    assert far_order(http, held["entity_id"])["state"] == "processing"
    assert far_order(http, open_one["entity_id"])["state"] == "canceled"
    cancelled = run(str(http.base_url), lambda c: MagentoOrders(c).order(str(open_one["entity_id"])))
    assert cancelled is not None
    assert cancelled.cancelled
    assert cancelled.open_lines == ()


def test_orders_polled_by_updated_at_page_to_the_end(http: httpx.Client) -> None:
    for n in range(7):
        CLOCK.now = START + timedelta(minutes=n)
        place(http, [{"sku": f"P-{n}", "qty": 1}])
    CLOCK.now = START + timedelta(minutes=9)
    http.post("/_control/orders/1", json={"status": "processing"}).raise_for_status()  # order 1 changes
    since = START + timedelta(minutes=2)

    async def poll(client: MagentoClient) -> list[str]:
        orders = await MagentoOrders(client, page_size=2).updated_since(since)
        return [o.lines[0].sku for o in orders]

    far = http.get("/_control/orders").json()["orders"]
    wanted = sorted(
        (o for o in far if o["updated_at"] >= "2026-11-30 09:02:00"), key=lambda o: o["updated_at"]
    )
    before = http.get("/_control/calls").json()["calls"]
    assert run(str(http.base_url), poll) == [o["items"][0]["sku"] for o in wanted]
    assert [o["items"][0]["sku"] for o in wanted][-1] == "P-0"  # the changed order comes last
    assert http.get("/_control/calls").json()["calls"] - before == 3  # 6 orders, 2 a page: no extra page


def test_source_items_many_per_call_absolute(http: httpx.Client) -> None:
    http.post("/_control/source-items", json={"items": [{"sku": "X", "source_code": "wh-1", "quantity": 4}]})
    lines = [FigureLine("X", 9, 4), FigureLine("Y", 0, None), FigureLine("Z", 12, None)]

    async def push_then_read(client: MagentoClient) -> dict[str, ChannelFigure]:
        stock = MagentoStock(client)
        await stock.push_figures("B-1", "wh-1", lines)
        await stock.push_figures("B-1", "wh-1", lines)  # sent again: the same absolute figures
        return await stock.read_figures("wh-1", ["X", "Y", "Z", "NOPE"])

    figures = run(str(http.base_url), push_then_read)
    assert figures == {"X": ChannelFigure(9), "Y": ChannelFigure(0), "Z": ChannelFigure(12)}
    state = http.get("/_control/source-items").json()
    assert {(i["sku"], i["quantity"], i["status"]) for i in state["items"]} == {
        ("X", 9, 1),
        ("Y", 0, 0),
        ("Z", 12, 1),
    }
    calls = http.get("/_control/calls").json()["calls_by_route"]
    assert calls["POST /V1/inventory/source-items"] == 2  # three SKUs in each call
    assert len([c for c in state["changes"] if c["source_code"] == "wh-1"]) == 4  # seed + 3, not 7


def test_an_unknown_source_is_refused_whole(http: httpx.Client) -> None:
    lines = [FigureLine("X", 1, None)]
    with pytest.raises(RejectedError) as refused:
        run(str(http.base_url), lambda c: MagentoStock(c).push_figures("B-2", "nowhere", lines))
    assert "Could not save Source Item" in refused.value.message
    assert http.get("/_control/source-items").json()["items"] == []


def test_a_refused_token_needs_a_person(http: httpx.Client) -> None:
    with pytest.raises(AuthenticationError) as refused:
        run(str(http.base_url), lambda c: MagentoOrders(c).order("1"), token="wrong")
    assert "Magento_Sales::actions_view" in refused.value.message  # the parameter put into %resources


def test_a_429_storm_is_met_with_backoff_honouring_retry_after(http: httpx.Client) -> None:
    http.post(
        "/_control/source-items", json={"items": [{"sku": "Q", "source_code": "default", "quantity": 1}]}
    )
    http.post("/_control/limits", json={"calls_per_second": 4}).raise_for_status()
    limiter = RateLimiter(40.0, 4, min_calls_per_second=0.5, recovery_step=1.0, system="magento")
    calls = 24

    async def storm(client: MagentoClient) -> float:
        stock = MagentoStock(client)
        started = time.monotonic()
        await asyncio.gather(*(stock.read_figures("default", ["Q"]) for _ in range(calls)))
        return time.monotonic() - started

    elapsed = run(
        str(http.base_url), storm, limiter=limiter, read_retries=Retries(attempts=20, base=0.05, cap=2)
    )
    far = http.get("/_control/calls").json()
    answered = far["calls"] - far["throttled_429"]
    assert answered == calls, far  # every read answered in the end
    assert far["throttled_429"] <= calls // 2, far  # backed off: no storm of refusals
    assert elapsed >= (calls - 4) / 4 * 0.8, elapsed  # slowed to the host's rate
    assert limiter.refusals == far["throttled_429"]  # the limiter saw every 429
