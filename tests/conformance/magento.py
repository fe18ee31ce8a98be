"""Conformance adapter: the Magento connector against the Magento simulator.

The idempotent write is a source-item push: an absolute quantity, so the second send of the same
batch lands on the figure the first one set. "Applied" is read from the simulator's own log of
source-item changes (a quantity that moved), not from the number of requests.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import httpx
from tests.conformance.harness import FarCalls, Provocation

from stockbridge.connectors.errors import NotFoundError, RejectedError
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.magento import MagentoClient, MagentoOrders, MagentoStock
from stockbridge.connectors.rest import Retries
from stockbridge.flows.ports import FigureLine
from stockbridge.servers import serve_in_thread
from stockbridge.simulators.magento import MagentoSettings, create_app

TOKEN = MagentoSettings().tokens[0]
SOURCE = "default"


def _order(url: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    response = httpx.post(f"{url}/_control/orders", json={"items": items})
    response.raise_for_status()
    placed: dict[str, Any] = response.json()
    return placed


class MagentoAdapter:
    name = "magento"
    system = "magento"

    def serve(self) -> AbstractContextManager[str]:
        return serve_in_thread(create_app(MagentoSettings()))

    def client(self, url: str, *, good: bool = True, limiter: RateLimiter | None = None) -> MagentoClient:
        # One attempt per call: the suite retries itself, and counts what reached the far end.
        token = TOKEN if good else "not-the-token"
        return MagentoClient(url, token, timeout_s=10, limiter=limiter, read_retries=Retries(attempts=1))

    async def probe(self, client: MagentoClient) -> None:
        await client.get("orders", "/orders", {"searchCriteria[pageSize]": 1})

    def seed(self, url: str, count: int) -> set[str]:
        return {str(_order(url, [{"sku": f"SKU-{n:03d}", "qty": 1}])["increment_id"]) for n in range(count)}

    async def list_all(self, client: MagentoClient, page_size: int) -> list[str]:
        records = await client.search("orders", "/orders", page_size=page_size)
        return [str(r["increment_id"]) for r in records]

    def throttle(self, url: str, calls_per_second: float) -> None:
        httpx.post(f"{url}/_control/limits", json={"calls_per_second": calls_per_second}).raise_for_status()

    def far_calls(self, url: str) -> FarCalls:
        stats = httpx.get(f"{url}/_control/calls").json()
        return FarCalls(stats["calls"], stats["throttled_429"])

    async def cheap_call(self, client: MagentoClient) -> None:
        await client.get("orders", "/orders", {"searchCriteria[pageSize]": 1})

    def provocations(self) -> list[Provocation]:
        async def unknown_order(client: MagentoClient) -> Any:
            return await client.get("order", "/orders/99999")

        async def over_shipment(client: MagentoClient) -> Any:
            placed = _order(client.base_url, [{"sku": "CONF-OVER", "qty": 1}])
            item = str(placed["items"][0]["item_id"])
            return await MagentoOrders(client).create_shipment(str(placed["entity_id"]), {item: 3}, [])

        async def misspelt_search(client: MagentoClient) -> Any:
            return await client.get("orders", "/orders", {"searchCriteria[pageSise]": 1})

        async def empty_sku(client: MagentoClient) -> Any:
            return await MagentoStock(client).push_figures("CONF-BAD", SOURCE, [FigureLine("", 1, None)])

        return [
            Provocation("unknown order", unknown_order, NotFoundError, None, "requested doesn't exist"),
            Provocation(
                "over-shipment (%1 from parameters)",
                over_shipment,
                RejectedError,
                None,
                "greater than the unshipped quantity for the product CONF-OVER",
            ),
            Provocation(
                "unknown search field (%fieldName)",
                misspelt_search,
                RejectedError,
                None,
                '"searchCriteria[pageSise]" is not recognized',
            ),
            Provocation("validation failed", empty_sku, RejectedError, None, '"sku" can not be empty'),
        ]

    def prepare_write(self, url: str) -> None:
        seed = {"items": [{"sku": "CONF-SKU", "source_code": SOURCE, "quantity": 0}]}
        httpx.post(f"{url}/_control/source-items", json=seed).raise_for_status()

    async def write(self, client: MagentoClient, prepared: None) -> None:
        await MagentoStock(client).push_figures("CONF-1", SOURCE, [FigureLine("CONF-SKU", 7, None)])

    def writes_received(self, url: str) -> int:
        routes = httpx.get(f"{url}/_control/calls").json()["calls_by_route"]
        return int(routes.get("POST /V1/inventory/source-items", 0))

    def writes_applied(self, url: str, prepared: None) -> int:
        changes = httpx.get(f"{url}/_control/source-items").json()["changes"]
        return sum(1 for c in changes if c["sku"] == "CONF-SKU" and c["from"] is not None)


ADAPTER = MagentoAdapter()
