"""Magento orders: polled by `updated_at`, one by id, shipments made once, cancel, hold, unhold.

Polling: `GET /V1/orders` with `updated_at gteq <time>` sorted by `updated_at` then `entity_id`,
paged to `total_count`. Shipments: `POST /V1/order/{id}/ship` with the shipped items and quantities
(a partial shipment lists a subset) and its tracks. Magento takes no external id for a shipment, so
a retry would ship twice: `create_shipment` first reads the order's shipments back, and one that
carries the shipment's tracking number (without one: exactly its items and quantities) *is* this
shipment, returned without shipping again (decision 0032).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stockbridge.connectors.errors import NotFoundError, RejectedError
from stockbridge.connectors.magento.client import PAGE_SIZE, MagentoClient
from stockbridge.connectors.magento.wire import magento_time, order_from_json
from stockbridge.connectors.shapes import expect_shape
from stockbridge.domain.storefront_orders import StorefrontOrder


@dataclass(frozen=True, slots=True)
class Track:
    number: str
    title: str  # the carrier as the customer reads it ("Royal Mail")
    carrier_code: str  # Magento's carrier code ("custom" for one it has no module for)


@dataclass(frozen=True, slots=True)
class MagentoShipment:
    id: str
    order_id: str
    items: tuple[tuple[str, int], ...]  # (order item id, qty), dummies (a configurable's child) included
    track_numbers: tuple[str, ...]


class MagentoOrders:
    def __init__(
        self, client: MagentoClient, channel: str = "magento", *, page_size: int = PAGE_SIZE
    ) -> None:
        self._client = client
        self._channel = channel
        self._page_size = page_size

    async def updated_since(self, since: datetime) -> list[StorefrontOrder]:
        """Every order updated at or after `since`, oldest change first. Magento keeps times to the
        second: ask from a second already seen, with overlap (the flow's `orders_overlap_s`)."""
        records = await self._client.search(
            "orders",
            "/orders",
            [[("updated_at", magento_time(since), "gteq")]],
            sort=[("updated_at", "ASC"), ("entity_id", "ASC")],
            page_size=self._page_size,
        )
        with expect_shape(self._client.system, "orders"):
            return [order_from_json(self._channel, r) for r in records]

    async def order(self, order_id: str) -> StorefrontOrder | None:
        raw = await self.raw_order(order_id)
        if raw is None:
            return None
        with expect_shape(self._client.system, "order"):
            return order_from_json(self._channel, raw)

    async def raw_order(self, order_id: str) -> dict[str, Any] | None:
        try:
            raw = await self._client.get("order", f"/orders/{self._entity(order_id)}")
        except NotFoundError:
            return None
        if not isinstance(raw, dict):
            with expect_shape(self._client.system, "order"):
                raise TypeError("the order is not a JSON object")
        return raw

    async def shipments(self, order_id: str) -> list[MagentoShipment]:
        records = await self._client.search(
            "shipments", "/shipments", [[("order_id", str(self._entity(order_id)), "eq")]]
        )
        with expect_shape(self._client.system, "shipments"):
            return [
                MagentoShipment(
                    str(r["entity_id"]),
                    str(r["order_id"]),
                    tuple((str(i["order_item_id"]), round(float(i["qty"]))) for i in r.get("items") or []),
                    tuple(str(t["track_number"]) for t in r.get("tracks") or []),
                )
                for r in records
            ]

    async def create_shipment(
        self,
        order_id: str,
        lines: Mapping[str, int],
        tracks: Sequence[Track],
        *,
        notify: bool = True,
    ) -> str:
        """Ship these (order item id → qty) with these tracks, once: when the order already has a
        shipment with one of these tracking numbers (none given: exactly these items and quantities),
        its id is returned and nothing is shipped. Returns the shipment id."""
        wanted = {item: qty for item, qty in lines.items() if qty > 0}
        if not wanted:
            raise RejectedError(
                self._client.system, f"order {order_id}: nothing to ship", code="NOTHING_TO_SHIP"
            )
        numbers = {t.number for t in tracks if t.number}
        for shipment in await self.shipments(order_id):
            if _same_shipment(shipment, numbers, wanted):
                return shipment.id
        body = {
            "items": [
                {"order_item_id": self._entity(item), "qty": qty} for item, qty in sorted(wanted.items())
            ],
            "tracks": [
                {"track_number": t.number, "title": t.title, "carrier_code": t.carrier_code} for t in tracks
            ],
            "notify": notify,
        }
        made = await self._client.post("shipment id", f"/order/{self._entity(order_id)}/ship", body)
        with expect_shape(self._client.system, "shipment id"):
            if isinstance(made, bool) or not isinstance(made, str | int):
                raise TypeError(f"shipment id is a {type(made).__name__}")
            return str(made)

    def _entity(self, record_id: str) -> int:
        """A Magento id (`entity_id`, `item_id`): digits, else the request is refused here."""
        if not str(record_id).isdigit():
            raise RejectedError(self._client.system, f"{record_id!r} is not a Magento id", code="BAD_ID")
        return int(record_id)

    async def cancel(self, order_id: str) -> bool:
        """True when Magento cancelled the order; False when it cannot be (shipped, held, closed)."""
        return await self._boolean("cancel", order_id)

    async def hold(self, order_id: str) -> bool:
        return await self._boolean("hold", order_id)

    async def unhold(self, order_id: str) -> bool:
        return await self._boolean("unhold", order_id)

    async def _boolean(self, action: str, order_id: str) -> bool:
        answer = await self._client.post(action, f"/orders/{self._entity(order_id)}/{action}")
        with expect_shape(self._client.system, action):
            if not isinstance(answer, bool):
                raise TypeError(f"{action} answered a {type(answer).__name__}, not a boolean")
            return answer


def _same_shipment(shipment: MagentoShipment, numbers: set[str], wanted: Mapping[str, int]) -> bool:
    if numbers:
        return bool(numbers & set(shipment.track_numbers))
    shipped = dict(shipment.items)
    return not shipment.track_numbers and all(shipped.get(item) == qty for item, qty in wanted.items())
