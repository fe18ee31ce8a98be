"""Clarus items and orders: the product master and order calls, translated to and from domain types."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from stockbridge.connectors.clarus.client import SYSTEM, ClarusClient
from stockbridge.connectors.errors import RejectedError
from stockbridge.connectors.shapes import expect_shape
from stockbridge.domain.order_state import Outcome
from stockbridge.domain.orders import WmsOrder


def order_payload(order: WmsOrder) -> dict[str, Any]:
    address = asdict(order.ship_to)
    ship_to = {k: v for k, v in address.items() if v}
    ship_to["country"] = order.ship_to.country.upper()
    return {
        "reference": order.reference,
        "warehouse_id": order.warehouse_id,
        "ship_method": order.ship_method,
        "ship_to": ship_to,
        "lines": [
            {"line_ref": line.line_ref, "sku": line.sku, "quantity": line.quantity} for line in order.lines
        ],
    }


class ClarusOrders:
    """The order and item half of the Clarus API (docs/simulators/clarus.md)."""

    def __init__(self, client: ClarusClient) -> None:
        self._client = client

    async def put_item(self, sku: str, *, active: bool, description: str = "") -> None:
        """Create or update an item; PUT by SKU is idempotent."""
        await self._client.request(
            "PUT", f"/items/{sku}", json={"active": active, "description": description}
        )

    async def items(self) -> dict[str, bool]:
        """Every item in the warehouse: SKU → active."""
        found: dict[str, bool] = {}
        async for page in self.item_pages():
            found.update(page)
        return found

    async def item_pages(self) -> AsyncIterator[dict[str, bool]]:
        """The same items a page (of up to 1,000) at a time."""
        async for page in self._client.listing("items", "/items", {"limit": 1000}):
            with expect_shape(SYSTEM, "items"):
                items = {str(item["sku"]): bool(item["active"]) for item in page.records}
            yield items

    async def create(self, order: WmsOrder) -> tuple[Outcome, str]:
        """Create the order. A retry after a lost answer meets 409 duplicate_reference: already done."""
        return await self._outcome("POST", "/orders", order_payload(order))

    async def amend(self, order: WmsOrder) -> tuple[Outcome, str]:
        payload = order_payload(order)
        body = {k: payload[k] for k in ("ship_method", "ship_to", "lines")}
        return await self._outcome("PATCH", f"/orders/{order.reference}", body)

    async def cancel(self, reference: str) -> tuple[Outcome, str]:
        return await self._outcome("POST", f"/orders/{reference}/cancel", None)

    async def _outcome(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[Outcome, str]:
        """DONE, LOCKED or REJECTED with the warehouse's reason; transient failures raise as usual."""
        try:
            await self._client.request(method, path, json=body)
        except RejectedError as exc:
            if exc.code == "duplicate_reference":
                return Outcome.DONE, "already created"
            if exc.code in ("order_locked", "order_cancelled"):
                return Outcome.LOCKED, exc.message
            where = f" ({exc.path})" if exc.path else ""
            return Outcome.REJECTED, f"{exc.code or exc.status}: {exc.message}{where}"
        return Outcome.DONE, ""
