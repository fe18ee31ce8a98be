"""Conformance adapter: the Shopify connector against the Shopify simulator.

Shopify paces by its cost bucket inside `ShopifyClient` (decision 0019), so the `limiter` the suite
offers is not used; "throttling" here is the store's bucket made small: one point per cheap query,
restored at the suite's calls per second, holding one second's worth.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import httpx
from tests.conformance.harness import FarCalls, Provocation

from stockbridge.connectors.errors import NotFoundError, RejectedError, StaleFigureError
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.rest import GraphQLCursorPaging, Token
from stockbridge.connectors.shopify import ShopifyClient, ShopifyStock
from stockbridge.flows.ports import FigureLine
from stockbridge.servers import serve_in_thread
from stockbridge.simulators.shopify import ShopifySettings, create_app

TOKEN, VERSION = "shpat_test", "2026-04"
LOCATION = "gid://shopify/Location/1"
SHOP = "query Shop { shop { name } }"  # one point
VARIANTS = """
query Variants($first: Int!, $after: String) {
  productVariants(first: $first, after: $after) { nodes { sku } pageInfo { hasNextPage endCursor } }
}
"""
BATCH = "CONF-1"


def _base(client: ShopifyClient) -> str:
    return client.url.split("/admin/api/")[0]


def _product(url: str, skus: list[str], available: int = 0) -> None:
    variants = [{"sku": sku, "inventory": {LOCATION: available}} for sku in skus]
    httpx.post(
        f"{url}/_control/products", json={"title": "Conformance", "variants": variants}
    ).raise_for_status()


class ShopifyAdapter:
    name = "shopify"
    system = "shopify"

    def serve(self) -> AbstractContextManager[str]:
        return serve_in_thread(create_app(ShopifySettings(access_token=TOKEN)))

    def client(self, url: str, *, good: bool = True, limiter: RateLimiter | None = None) -> ShopifyClient:
        return ShopifyClient(url, VERSION, TOKEN if good else "shpat_not_the_token", timeout_s=10)

    async def probe(self, client: ShopifyClient) -> None:
        await client.execute("Shop", SHOP, cost=1)

    def seed(self, url: str, count: int) -> set[str]:
        skus = [f"SKU-{n:03d}" for n in range(count)]
        _product(url, skus)
        return set(skus)

    async def list_all(self, client: ShopifyClient, page_size: int) -> list[str]:
        paging = GraphQLCursorPaging(("productVariants",))
        found: list[str] = []
        token: Token | None = None
        while True:
            data = await client.execute("Variants", VARIANTS, {"first": page_size, "after": token})
            records = paging.records(data)
            found.extend(str(node["sku"]) for node in records)
            token = paging.next_token(data, token, records)
            if token is None:
                return found

    def throttle(self, url: str, calls_per_second: float) -> None:
        limits = {"bucket_size": int(calls_per_second), "restore_rate": calls_per_second}
        httpx.post(f"{url}/_control/limits", json=limits).raise_for_status()

    def far_calls(self, url: str) -> FarCalls:
        stats = httpx.get(f"{url}/_control/calls").json()  # refused credentials are counted apart
        return FarCalls(stats["calls"] + stats["unauthorized"], stats["throttled"])

    async def cheap_call(self, client: ShopifyClient) -> None:
        await client.execute("Shop", SHOP, cost=1)

    def provocations(self) -> list[Provocation]:
        async def unknown_version(client: ShopifyClient) -> Any:
            old = ShopifyClient(_base(client), "2019-01", TOKEN, timeout_s=10)
            try:
                return await old.execute("Shop", SHOP)
            finally:
                await old.aclose()

        async def unknown_field(client: ShopifyClient) -> Any:
            return await client.execute("Nope", "query Nope { nope }")

        async def unknown_location(client: ShopifyClient) -> Any:
            _product(_base(client), ["LOC-SKU"])
            line = FigureLine("LOC-SKU", 5, None)
            return await ShopifyStock(client).push_figures("B-LOC", "gid://shopify/Location/99", [line])

        async def stale_figure(client: ShopifyClient) -> Any:
            _product(_base(client), ["STALE-SKU"], available=3)
            line = FigureLine("STALE-SKU", 5, 99)  # read as 99: the store shows 3
            return await ShopifyStock(client).push_figures("B-STALE", LOCATION, [line])

        return [
            Provocation("unknown API version", unknown_version, NotFoundError, None, "Not Found"),
            Provocation("GraphQL error", unknown_field, RejectedError, None, "Cannot query field 'nope'"),
            Provocation(
                "userErrors",
                unknown_location,
                RejectedError,
                "INVALID_LOCATION",
                "could not be found",
                "lines[0]",
            ),
            Provocation(
                "stale figure", stale_figure, StaleFigureError, "CHANGE_FROM_QUANTITY_STALE", "STALE-SKU"
            ),
        ]

    def prepare_write(self, url: str) -> None:
        _product(url, ["CONF-SKU"])

    async def write(self, client: ShopifyClient, prepared: None) -> None:
        await ShopifyStock(client).push_figures(BATCH, LOCATION, [FigureLine("CONF-SKU", 7, None)])

    def writes_received(self, url: str) -> int:
        per_operation = httpx.get(f"{url}/_control/calls").json()["per_operation"]
        return int(per_operation.get("inventorySetQuantities", 0))

    def writes_applied(self, url: str, prepared: None) -> int:
        mutations = httpx.get(f"{url}/_control/mutations").json()["mutations"]
        return sum(1 for m in mutations if m["sku"] == "CONF-SKU")


ADAPTER = ShopifyAdapter()
