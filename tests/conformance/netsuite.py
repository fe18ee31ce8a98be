"""Conformance adapter: the NetSuite connector against the IMS simulator."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import httpx
from tests.conformance.harness import FarCalls, Provocation

from stockbridge.connectors.errors import NotFoundError, RejectedError
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.netsuite.auth import BearerAuth
from stockbridge.connectors.netsuite.client import AdjustmentLine, NetSuiteClient
from stockbridge.connectors.netsuite.sales_orders import NetSuiteOrders
from stockbridge.servers import serve_in_thread
from stockbridge.simulators.ims import ImsSettings, create_app

TOKEN = ImsSettings().bearer_tokens[0]
LOCATION = "6"  # the simulator's default location
ADJUSTMENT = "CONF-ADJ-1"
QUANTITY = 5


class NetSuiteAdapter:
    name = "netsuite"
    system = "ims"

    def serve(self) -> AbstractContextManager[str]:
        return serve_in_thread(create_app(ImsSettings()))

    def client(self, url: str, *, good: bool = True, limiter: RateLimiter | None = None) -> NetSuiteClient:
        return NetSuiteClient(
            url, BearerAuth(TOKEN if good else "not-the-token"), timeout_s=10, limiter=limiter
        )

    async def probe(self, client: NetSuiteClient) -> None:
        await client.inventory_items()

    def seed(self, url: str, count: int) -> set[str]:
        skus = [f"SKU-{n:03d}" for n in range(count)]
        items = {"items": [{"itemId": sku} for sku in skus]}
        httpx.post(f"{url}/_control/items", json=items).raise_for_status()
        return set(skus)

    async def list_all(self, client: NetSuiteClient, page_size: int) -> list[str]:
        rows = await client.suiteql("SELECT itemid FROM item ORDER BY id", page_size=page_size)
        return [str(row["itemid"]) for row in rows]

    def throttle(self, url: str, calls_per_second: float) -> None:
        httpx.put(f"{url}/_control/limits", json={"calls_per_second": calls_per_second}).raise_for_status()

    def far_calls(self, url: str) -> FarCalls:
        stats = httpx.get(f"{url}/_control/stats").json()
        return FarCalls(stats["calls"], stats["throttled_429"])

    async def cheap_call(self, client: NetSuiteClient) -> None:
        await client.suiteql_page("SELECT id FROM item WHERE id = 1")

    def provocations(self) -> list[Provocation]:
        async def unknown_order(client: NetSuiteClient) -> Any:
            return await NetSuiteOrders(client).get("99999")

        async def bad_offset(client: NetSuiteClient) -> Any:
            return await client.suiteql_page("SELECT id FROM item", offset=1, limit=3)

        async def unknown_item(client: NetSuiteClient) -> Any:
            line = AdjustmentLine("99999", 1, "")
            return await client.upsert_inventory_adjustment(
                "CONF-BAD", account_id="1", location_id=LOCATION, lines=[line], memo="conformance"
            )

        return [
            Provocation("unknown record", unknown_order, NotFoundError, "NONEXISTENT_ID", "does not exist"),
            Provocation("invalid parameter", bad_offset, RejectedError, "INVALID_PARAMETER", "multiple of"),
            Provocation(
                "invalid field",
                unknown_item,
                RejectedError,
                "INVALID_CONTENT",
                "Invalid Field Value 99999",
                "inventory.items[0].item",
            ),
        ]

    def prepare_write(self, url: str) -> str:
        httpx.post(f"{url}/_control/items", json={"items": [{"itemId": "CONF-SKU"}]}).raise_for_status()
        return str(httpx.get(f"{url}/_control/state").json()["items"]["CONF-SKU"]["id"])

    async def write(self, client: NetSuiteClient, prepared: str) -> None:
        await client.upsert_inventory_adjustment(
            ADJUSTMENT,
            account_id="1",
            location_id=LOCATION,
            lines=[AdjustmentLine(prepared, QUANTITY, "conformance")],
            memo="conformance",
        )

    def writes_received(self, url: str) -> int:
        routes = httpx.get(f"{url}/_control/stats").json()["calls_by_route"]
        return int(routes.get("PUT inventoryAdjustment/eid:{externalId}", 0))

    def writes_applied(self, url: str, prepared: str) -> int:
        # Each applied adjustment moves the item's on-hand figure by QUANTITY.
        state = httpx.get(f"{url}/_control/state").json()
        on_hand = state["items"]["CONF-SKU"]["onHand"].get(LOCATION, 0)
        assert on_hand % QUANTITY == 0, on_hand
        return int(on_hand // QUANTITY)


ADAPTER = NetSuiteAdapter()
