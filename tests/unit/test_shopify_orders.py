"""ShopifyOrders against a scripted endpoint: which fulfillment order lines a shipment takes, and how a
retried shipment is recognised instead of fulfilled twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
from tests.shopify_support import Endpoint, ok

from stockbridge.connectors.errors import RejectedError
from stockbridge.connectors.shopify.fulfilments import Tracking
from stockbridge.connectors.shopify.orders import ShopifyOrders, order_from_node

T = TypeVar("T")
ORDER = "gid://shopify/Order/1"
LINE_A, LINE_B = "gid://shopify/LineItem/11", "gid://shopify/LineItem/12"


def state(
    remaining: dict[str, int], fulfilments: list[dict[str, Any]] | None = None, status: str = "OPEN"
) -> httpx.Response:
    fo_lines = [
        {
            "id": f"gid://shopify/FulfillmentOrderLineItem/{n}",
            "remainingQuantity": qty,
            "lineItem": {"id": line},
        }
        for n, (line, qty) in enumerate(remaining.items())
    ]
    fulfillment_order = {
        "id": "gid://shopify/FulfillmentOrder/9",
        "status": status,
        "assignedLocation": {"location": {"id": "gid://shopify/Location/1"}},
        "lineItems": {"nodes": fo_lines, "pageInfo": {"hasNextPage": False, "endCursor": None}},
    }
    shown = [{k: f[k] for k in ("id", "status", "trackingInfo")} for f in fulfilments or []]
    order = {
        "fulfillmentOrders": {
            "nodes": [fulfillment_order],
            "pageInfo": {"hasNextPage": False, "endCursor": None},
        },
        "fulfillments": shown,
    }
    return ok({"order": order})


def lines_of(fulfilments: list[dict[str, Any]]) -> httpx.Response:
    """The `FulfilmentLines` answer: each fulfilment's id and lines."""
    return ok(
        {"order": {"fulfillments": [{k: f[k] for k in ("id", "fulfillmentLineItems")} for f in fulfilments]}}
    )


def fulfilment(number: str | None, lines: dict[str, int], status: str = "SUCCESS") -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Fulfillment/{number}",
        "status": status,
        "trackingInfo": [] if number is None else [{"number": number}],
        "fulfillmentLineItems": {
            "nodes": [{"quantity": q, "lineItem": {"id": line}} for line, q in lines.items()],
            "pageInfo": {"hasNextPage": False},
        },
    }


CREATED = ok(
    {
        "fulfillmentCreate": {
            "fulfillment": {"id": "gid://shopify/Fulfillment/new", "status": "SUCCESS"},
            "userErrors": [],
        }
    }
)


def run(endpoint: Endpoint, use: Callable[[ShopifyOrders], Awaitable[T]]) -> T:
    async def go() -> T:
        client = endpoint.client()
        try:
            return await use(ShopifyOrders(client))
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_a_partial_shipment_fulfils_only_the_shipped_quantities() -> None:
    answers = iter([state({LINE_A: 3, LINE_B: 1}), CREATED])
    endpoint = Endpoint(lambda op, v: next(answers))
    made = run(
        endpoint, lambda o: o.create_fulfilment(ORDER, [(LINE_A, 2)], Tracking("DHL", "T1", "https://t/1"))
    )
    assert made.id == "gid://shopify/Fulfillment/new"
    assert endpoint.bodies[1]["variables"]["fulfillment"] == {
        "lineItemsByFulfillmentOrder": [
            {
                "fulfillmentOrderId": "gid://shopify/FulfillmentOrder/9",
                "fulfillmentOrderLineItems": [
                    {"id": "gid://shopify/FulfillmentOrderLineItem/0", "quantity": 2}
                ],
            }
        ],
        "trackingInfo": {"company": "DHL", "number": "T1", "url": "https://t/1"},
        "notifyCustomer": True,
    }


def test_a_shipment_already_fulfilled_under_its_tracking_number_is_not_fulfilled_again() -> None:
    endpoint = Endpoint(lambda op, v: state({LINE_A: 1}, [fulfilment("T1", {LINE_A: 2})]))
    made = run(endpoint, lambda o: o.create_fulfilment(ORDER, [(LINE_A, 2)], Tracking("DHL", "T1")))
    assert made.id == "gid://shopify/Fulfillment/T1"
    assert len(endpoint.bodies) == 1  # no fulfillmentCreate


def test_without_tracking_the_same_lines_are_the_same_shipment() -> None:
    made_before = [fulfilment(None, {LINE_A: 2})]
    answers = iter([state({LINE_A: 1}, made_before), lines_of(made_before)])
    endpoint = Endpoint(lambda op, v: next(answers))
    made = run(
        endpoint, lambda o: o.create_fulfilment(ORDER, [(LINE_A, 1), (LINE_A, 1)], Tracking(None, None))
    )
    assert made.id == "gid://shopify/Fulfillment/None"
    assert len(endpoint.bodies) == 2  # the state, then the fulfilments' lines; no fulfillmentCreate
    assert endpoint.bodies[1]["variables"] == {"id": ORDER, "lines": 2}  # one more than the shipment's


def test_without_tracking_a_fulfilment_with_more_lines_is_another_shipment() -> None:
    bigger = fulfilment(None, {LINE_A: 2, LINE_B: 1})
    bigger["fulfillmentLineItems"]["nodes"].pop()  # the page of 2 asked for holds one of its lines
    bigger["fulfillmentLineItems"]["pageInfo"]["hasNextPage"] = True
    answers = iter([state({LINE_A: 2}, [bigger]), lines_of([bigger]), CREATED])
    endpoint = Endpoint(lambda op, v: next(answers))
    made = run(endpoint, lambda o: o.create_fulfilment(ORDER, [(LINE_A, 2)], Tracking(None, None)))
    assert made.id == "gid://shopify/Fulfillment/new"


def test_fulfillment_orders_and_their_lines_past_the_first_page_are_read() -> None:
    first = state({LINE_A: 1})
    body = first.json()
    page = body["data"]["order"]["fulfillmentOrders"]
    page["pageInfo"] = {"hasNextPage": True, "endCursor": "fo-1"}
    page["nodes"][0]["lineItems"]["pageInfo"] = {"hasNextPage": True, "endCursor": "line-1"}
    second = state({LINE_B: 4}).json()
    second["data"]["order"]["fulfillmentOrders"]["nodes"][0]["id"] = "gid://shopify/FulfillmentOrder/10"
    more_lines = {
        "fulfillmentOrder": {
            "lineItems": {
                "nodes": [
                    {"id": "gid://shopify/FulfillmentOrderLineItem/7", "remainingQuantity": 2,
                     "lineItem": {"id": LINE_B}}
                ],
                "pageInfo": {"hasNextPage": False, "endCursor": "line-2"},
            }
        }
    }  # fmt: skip
    answers = iter([httpx.Response(200, json=body), ok(more_lines), httpx.Response(200, json=second)])
    endpoint = Endpoint(lambda op, v: next(answers))
    orders = run(endpoint, lambda o: o.fulfillment_orders(ORDER))
    assert [(fo.id, [(ln.line_item_id, ln.remaining) for ln in fo.lines]) for fo in orders] == [
        ("gid://shopify/FulfillmentOrder/9", [(LINE_A, 1), (LINE_B, 2)]),
        ("gid://shopify/FulfillmentOrder/10", [(LINE_B, 4)]),
    ]
    # each page goes on from the cursor of the one before it
    assert [b["variables"].get("after") for b in endpoint.bodies] == [None, "line-1", "fo-1"]


def test_a_cancelled_fulfilment_does_not_count_as_the_shipment() -> None:
    answers = iter([state({LINE_A: 2}, [fulfilment("T1", {LINE_A: 2}, status="CANCELLED")]), CREATED])
    endpoint = Endpoint(lambda op, v: next(answers))
    made = run(endpoint, lambda o: o.create_fulfilment(ORDER, [(LINE_A, 2)], Tracking("DHL", "T1")))
    assert made.id == "gid://shopify/Fulfillment/new"


@pytest.mark.parametrize("status", ["OPEN", "CLOSED"])
def test_shipping_more_than_remains_is_rejected_naming_the_line(status: str) -> None:
    endpoint = Endpoint(lambda op, v: state({LINE_A: 1}, status=status))
    with pytest.raises(RejectedError) as caught:
        run(endpoint, lambda o: o.create_fulfilment(ORDER, [(LINE_A, 2)], Tracking("DHL", "T9")))
    assert (caught.value.code, caught.value.path) == ("NOTHING_TO_FULFIL", LINE_A)
    assert len(endpoint.bodies) == 1


def test_fulfillment_create_user_errors_are_rejections() -> None:
    refused = ok(
        {
            "fulfillmentCreate": {
                "fulfillment": None,
                "userErrors": [{"field": ["fulfillment"], "message": "no"}],
            }
        }
    )
    answers = iter([state({LINE_A: 2}), refused])
    with pytest.raises(RejectedError) as caught:
        run(
            Endpoint(lambda op, v: next(answers)),
            lambda o: o.create_fulfilment(ORDER, [(LINE_A, 2)], Tracking("DHL", "T1")),
        )
    assert caught.value.path == "fulfillment"


def test_an_order_node_becomes_a_storefront_order() -> None:
    node = {
        "id": ORDER,
        "name": "#1001",
        "email": None,
        "updatedAt": "2026-11-30T06:00:00Z",
        "cancelledAt": "2026-11-30T07:00:00Z",
        "displayFinancialStatus": "PAID",
        "shippingLines": {"nodes": []},
        "shippingAddress": {
            "firstName": "Ada",
            "lastName": "L",
            "address1": "1 St",
            "zip": "LS1 1AA",
            "countryCodeV2": "GB",
        },
        "lineItems": {"nodes": [], "pageInfo": {"hasNextPage": False}},
    }
    items = [{"id": LINE_A, "sku": None, "quantity": 2, "currentQuantity": 1, "unfulfilledQuantity": 1}]
    order = order_from_node("shopify", node, items)
    assert order.financial_status == "paid"
    assert order.ship_method is None
    assert order.email == ""
    assert order.address is not None
    assert (order.address.name, order.address.country) == ("Ada L", "GB")
    assert order.cancelled_at == datetime(2026, 11, 30, 7, tzinfo=UTC)
    assert [(ln.sku, ln.quantity, ln.unfulfilled) for ln in order.lines] == [("", 1, 1)]


def test_catch_up_asks_by_updated_at_sorted_and_pages() -> None:
    def page(after: str | None) -> httpx.Response:
        more = after is None
        return ok(
            {"orders": {"nodes": [], "pageInfo": {"hasNextPage": more, "endCursor": "c1" if more else None}}}
        )

    endpoint = Endpoint(lambda op, v: page(v.get("after")))
    found = run(endpoint, lambda o: o.updated_since(datetime(2026, 11, 30, 6, 0, 5, tzinfo=UTC)))
    assert found == []
    assert [b["variables"] for b in endpoint.bodies] == [
        {"first": 10, "query": "updated_at:>='2026-11-30T06:00:05Z'"},
        {"first": 10, "query": "updated_at:>='2026-11-30T06:00:05Z'", "after": "c1"},
    ]
    assert "sortKey: UPDATED_AT" in endpoint.bodies[0]["query"]
