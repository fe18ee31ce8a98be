"""Conformance adapter: the Clarus connector against the Clarus simulator."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import httpx
from tests.conformance.harness import FarCalls, Provocation

from stockbridge.connectors.clarus.client import ClarusClient
from stockbridge.connectors.clarus.orders import ClarusOrders
from stockbridge.connectors.errors import NotFoundError, RejectedError
from stockbridge.connectors.http import RateLimiter
from stockbridge.domain.order_state import Outcome
from stockbridge.domain.orders import WmsLine, WmsOrder
from stockbridge.domain.shipping import Address
from stockbridge.servers import serve_in_thread
from stockbridge.simulators.clarus import ClarusSettings, create_app

KEY = ClarusSettings().api_key
AUTH = {"Authorization": f"Bearer {KEY}"}
ORDER = WmsOrder(
    reference="CONF-1",
    warehouse_id="WH1",
    ship_method="STD",
    ship_to=Address(name="A Person", line1="1 High Street", city="London", postcode="N1 9GU", country="GB"),
    lines=(WmsLine("1", "CONF-SKU", 2, 1),),
)


class ClarusAdapter:
    name = "clarus"
    system = "clarus"

    def serve(self) -> AbstractContextManager[str]:
        return serve_in_thread(create_app(ClarusSettings()))

    def client(self, url: str, *, good: bool = True, limiter: RateLimiter | None = None) -> ClarusClient:
        return ClarusClient(url, KEY if good else "not-the-key", timeout_s=10, limiter=limiter)

    async def probe(self, client: ClarusClient) -> None:
        await client.warehouses()

    def seed(self, url: str, count: int) -> set[str]:
        skus = {f"SKU-{n:03d}" for n in range(count)}
        with httpx.Client(base_url=url, headers=AUTH) as http:
            for sku in skus:
                http.put(f"/api/v1/items/{sku}", json={"active": True}).raise_for_status()
        return skus

    async def list_all(self, client: ClarusClient, page_size: int) -> list[str]:
        return [
            str(item["sku"])
            async for page in client.listing("items", "/items", {"limit": page_size})
            for item in page.records
        ]

    def throttle(self, url: str, calls_per_second: float) -> None:
        httpx.put(f"{url}/_control/limits", json={"calls_per_second": calls_per_second}).raise_for_status()

    def far_calls(self, url: str) -> FarCalls:
        stats = httpx.get(f"{url}/_control/stats").json()
        return FarCalls(stats["calls"], stats["throttled_429"])

    async def cheap_call(self, client: ClarusClient) -> None:
        await client.warehouses()

    def provocations(self) -> list[Provocation]:
        async def unknown_order(client: ClarusClient) -> Any:
            return await client.request("GET", "/orders/NO-SUCH-ORDER")

        async def bad_item(client: ClarusClient) -> Any:
            return await client.request("PUT", "/items/OK-1", json={"active": "yes"})

        async def bad_cursor(client: ClarusClient) -> Any:
            return await client.get("/items", {"cursor": "not-a-cursor"})

        return [
            Provocation("unknown record", unknown_order, NotFoundError, "not_found", "NO-SUCH-ORDER"),
            Provocation("invalid field", bad_item, RejectedError, "invalid_field", "true or false", "active"),
            Provocation("invalid cursor", bad_cursor, RejectedError, "invalid_cursor", "not one", "cursor"),
        ]

    def prepare_write(self, url: str) -> None:
        with httpx.Client(base_url=url, headers=AUTH) as http:
            http.put("/api/v1/items/CONF-SKU", json={"active": True}).raise_for_status()

    async def write(self, client: ClarusClient, prepared: None) -> None:
        outcome, detail = await ClarusOrders(client).create(ORDER)
        assert outcome is Outcome.DONE, detail

    def writes_received(self, url: str) -> int:
        return int(httpx.get(f"{url}/_control/stats").json()["calls_by_route"].get("POST /api/v1/orders", 0))

    def writes_applied(self, url: str, prepared: None) -> int:
        # Each order the warehouse creates is recorded as a "received" event in its feed.
        events = httpx.get(f"{url}/api/v1/events", params={"warehouse_id": "WH1"}, headers=AUTH).json()
        return sum(
            1
            for e in events["data"]
            if e["type"] == "order.status_changed"
            and e["data"]["reference"] == ORDER.reference
            and e["data"]["status"] == "received"
        )


ADAPTER = ClarusAdapter()
