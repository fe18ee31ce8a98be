"""ShopifyStock against a scripted endpoint: what it asks, and how each answer reaches the flow."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.shopify_support import Endpoint, ok

from stockbridge.connectors.errors import (
    MalformedResponseError,
    RejectedError,
    RetriableError,
    StaleFigureError,
)
from stockbridge.connectors.shopify.stock import ShopifyStock, idempotency_key, sku_search
from stockbridge.flows.ports import ChannelFigure, FigureLine, StockChannel

T = TypeVar("T")
LOC = "gid://shopify/Location/1"


def variant(sku: str, item: int, available: int | None) -> dict[str, Any]:
    level = None if available is None else {"quantities": [{"name": "available", "quantity": available}]}
    return {
        "sku": sku,
        "inventoryItem": {"id": f"gid://shopify/InventoryItem/{item}", "inventoryLevel": level},
    }


def variants(*nodes: dict[str, Any]) -> httpx.Response:
    page = {"nodes": list(nodes), "pageInfo": {"hasNextPage": False, "endCursor": None}}
    return ok({"productVariants": page}, requested=202)


def user_errors(*errors: dict[str, Any]) -> httpx.Response:
    return ok({"inventorySetQuantities": {"userErrors": list(errors)}})


def run(endpoint: Endpoint, use: Callable[[ShopifyStock], Awaitable[T]]) -> T:
    async def go() -> T:
        client = endpoint.client()
        try:
            return await use(ShopifyStock(client))
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_implements_the_stock_channel_port() -> None:
    stock: StockChannel = ShopifyStock(Endpoint(lambda op, v: variants()).client(), max_lines_per_call=100)
    assert stock.name == "shopify"
    assert stock.max_lines_per_call == 100
    assert stock.budget_wait() == 0.0


def test_reads_exact_skus_only_and_marks_what_cannot_be_set() -> None:
    answer = variants(
        variant("A-1", 1, 5),
        variant("A-10", 2, 9),  # the search matched a longer SKU: not asked for
        variant("B-2", 3, None),  # not stocked at the location
        variant("C-3", 4, 1),
        variant("C-3", 5, 2),  # two variants share the SKU
    )
    endpoint = Endpoint(lambda op, v: answer)
    figures = run(endpoint, lambda s: s.read_figures(LOC, ["A-1", "B-2", "C-3", "GONE"]))
    assert figures == {
        "A-1": ChannelFigure(5),
        "B-2": ChannelFigure(0, pushable=False),
        "C-3": ChannelFigure(2, pushable=False),
    }
    variables = endpoint.bodies[0]["variables"]
    assert variables["query"] == 'sku:"A-1" OR sku:"B-2" OR sku:"C-3" OR sku:"GONE"'
    assert variables["location"] == LOC


def test_reads_in_batches_and_pages() -> None:
    pages = iter(
        [
            ok(
                {
                    "productVariants": {
                        "nodes": [variant("S0", 0, 0)],
                        "pageInfo": {"hasNextPage": True, "endCursor": "c1"},
                    }
                }
            ),
            ok(
                {
                    "productVariants": {
                        "nodes": [variant("S1", 1, 1)],
                        "pageInfo": {"hasNextPage": False, "endCursor": "c2"},
                    }
                }
            ),
            variants(variant("S60", 60, 60)),
        ]
    )
    endpoint = Endpoint(lambda op, v: next(pages))
    figures = run(endpoint, lambda s: s.read_figures(LOC, [f"S{n}" for n in range(70)]))
    assert figures == {"S0": ChannelFigure(0), "S1": ChannelFigure(1), "S60": ChannelFigure(60)}
    assert [b["variables"].get("after") for b in endpoint.bodies] == [None, "c1", None]
    assert endpoint.bodies[2]["variables"]["query"].startswith('sku:"S50"')


def test_push_sets_available_with_change_from_and_an_idempotency_key() -> None:
    answers = iter([variants(variant("A-1", 1, 5), variant("B-2", 2, 0)), user_errors()])
    endpoint = Endpoint(lambda op, v: next(answers))
    lines = [FigureLine("A-1", 7, 5), FigureLine("B-2", 3, None)]
    run(endpoint, lambda s: s.push_figures("batch-1", LOC, lines))
    mutation = endpoint.bodies[1]
    assert "@idempotent(key: $key)" in mutation["query"]
    assert mutation["variables"]["key"] == idempotency_key("batch-1", LOC, lines)
    assert mutation["variables"]["input"] == {
        "name": "available",
        "reason": "correction",
        "referenceDocumentUri": "stockbridge://batch/batch-1",
        "quantities": [
            {
                "inventoryItemId": "gid://shopify/InventoryItem/1",
                "locationId": LOC,
                "quantity": 7,
                "changeFromQuantity": 5,
            },
            {
                "inventoryItemId": "gid://shopify/InventoryItem/2",
                "locationId": LOC,
                "quantity": 3,
                "changeFromQuantity": None,
            },
        ],
    }


def test_stale_names_the_skus_shopify_points_at() -> None:
    stale = {
        "code": "CHANGE_FROM_QUANTITY_STALE",
        "field": ["input", "quantities", "1", "changeFromQuantity"],
        "message": "stale",
    }
    answers = iter([variants(variant("A-1", 1, 5), variant("B-2", 2, 0)), user_errors(stale)])
    with pytest.raises(StaleFigureError) as caught:
        run(
            Endpoint(lambda op, v: next(answers)),
            lambda s: s.push_figures("b", LOC, [FigureLine("A-1", 1, 5), FigureLine("B-2", 1, 0)]),
        )
    assert caught.value.skus == ("B-2",)
    assert caught.value.code == "CHANGE_FROM_QUANTITY_STALE"


def test_stale_without_a_field_names_every_checked_sku() -> None:
    stale = {"code": "CHANGE_FROM_QUANTITY_STALE", "field": None, "message": "stale"}
    answers = iter([variants(variant("A-1", 1, 5), variant("B-2", 2, 0)), user_errors(stale)])
    with pytest.raises(StaleFigureError) as caught:
        run(
            Endpoint(lambda op, v: next(answers)),
            lambda s: s.push_figures("b", LOC, [FigureLine("A-1", 1, 5), FigureLine("B-2", 1, None)]),
        )
    assert caught.value.skus == ("A-1",)


def test_other_user_errors_are_rejections_pointing_at_the_line() -> None:
    error = {
        "code": "NON_MUTABLE_INVENTORY_ITEM",
        "field": ["input", "quantities", "0", "inventoryItemId"],
        "message": "bundle",
    }
    answers = iter([variants(variant("A-1", 1, 5)), user_errors(error)])
    with pytest.raises(RejectedError) as caught:
        run(
            Endpoint(lambda op, v: next(answers)),
            lambda s: s.push_figures("b", LOC, [FigureLine("A-1", 1, 5)]),
        )
    assert type(caught.value) is RejectedError
    assert (caught.value.code, caught.value.path) == ("NON_MUTABLE_INVENTORY_ITEM", "lines[0]")


def test_a_request_still_running_under_its_key_is_retried_later() -> None:
    busy = {"code": "IDEMPOTENCY_CONCURRENT_REQUEST", "field": None, "message": "in progress"}
    answers = iter([variants(variant("A-1", 1, 5)), user_errors(busy)])
    with pytest.raises(RetriableError):
        run(
            Endpoint(lambda op, v: next(answers)),
            lambda s: s.push_figures("b", LOC, [FigureLine("A-1", 1, 5)]),
        )


def test_pushing_a_sku_the_store_does_not_have_is_rejected_before_any_write() -> None:
    endpoint = Endpoint(lambda op, v: variants(variant("A-1", 1, 5)))
    with pytest.raises(RejectedError) as caught:
        run(endpoint, lambda s: s.push_figures("b", LOC, [FigureLine("A-1", 1, 5), FigureLine("NOPE", 1, 0)]))
    assert (caught.value.code, caught.value.path) == ("UNKNOWN_SKU", "lines[1]")
    assert all("mutation" not in b["query"] for b in endpoint.bodies)


def test_a_payload_without_user_errors_is_malformed() -> None:
    answers = iter([variants(variant("A-1", 1, 5)), ok({"inventorySetQuantities": {}})])
    with pytest.raises(MalformedResponseError):
        run(
            Endpoint(lambda op, v: next(answers)),
            lambda s: s.push_figures("b", LOC, [FigureLine("A-1", 1, 5)]),
        )


def test_the_key_follows_the_content_not_only_the_batch() -> None:
    lines = [FigureLine("A-1", 7, 5)]
    assert idempotency_key("b", LOC, lines) == idempotency_key("b", LOC, list(lines))
    assert idempotency_key("b", LOC, lines) != idempotency_key("b", LOC, [FigureLine("A-1", 7, 6)])
    assert idempotency_key("b", LOC, lines).startswith("b.")


@given(st.text(min_size=1, max_size=20))
def test_any_sku_is_quoted_whole(sku: str) -> None:
    search = sku_search([sku])
    assert search.startswith('sku:"')
    assert search.endswith('"')
    inner = search[5:-1]
    # every quote or backslash inside is escaped, and unescaping gives the SKU back
    assert re.fullmatch(r'(?:[^"\\]|\\["\\])*', inner)
    assert re.sub(r"\\(.)", r"\1", inner) == sku
