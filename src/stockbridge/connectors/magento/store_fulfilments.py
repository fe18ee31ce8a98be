"""Magento as a `StorefrontFulfilments` (flows/edge_ports.py): the hub's shipments as Magento shipments.

`MagentoOrders.create_shipment` does the work (partial quantities by item, tracks, and the read-back
that makes a retried shipment find the one it made). A line item id is the id of the order item
Magento ships (`connectors/magento/wire.py`).
"""

from __future__ import annotations

from collections.abc import Mapping

from stockbridge.connectors.magento.orders import MagentoOrders, Track
from stockbridge.domain.storefront_fulfilment import ParcelTracking

CUSTOM_CARRIER = "custom"  # Magento's carrier code for a carrier it has no module for


class MagentoStoreFulfilments:
    def __init__(self, orders: MagentoOrders) -> None:
        self._orders = orders

    async def line_item_ids(self, order_id: str) -> list[str] | None:
        order = await self._orders.order(order_id)
        return None if order is None else [line.line_item_id for line in order.lines]

    async def fulfil(
        self,
        order_id: str,
        lines: Mapping[str, int],
        tracking: ParcelTracking,
        *,
        notify_customer: bool,
    ) -> str:
        tracks = (
            [Track(tracking.number, tracking.company or "Carrier", CUSTOM_CARRIER)] if tracking.number else []
        )
        return await self._orders.create_shipment(order_id, lines, tracks, notify=notify_customer)
