"""Shopify as a `StorefrontFulfilments` (flows/edge_ports.py): the hub's shipments as fulfilments.

`ShopifyOrders.create_fulfilment` does the work (fulfillment orders, partial quantities, and the
tracking-number check that makes a retried create find the fulfilment it made, decision 0019).
"""

from __future__ import annotations

from collections.abc import Mapping

from stockbridge.connectors.shopify.fulfilments import Tracking
from stockbridge.connectors.shopify.orders import ShopifyOrders
from stockbridge.domain.storefront_fulfilment import ParcelTracking


class ShopifyStoreFulfilments:
    def __init__(self, orders: ShopifyOrders) -> None:
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
        made = await self._orders.create_fulfilment(
            order_id,
            sorted(lines.items()),
            Tracking(tracking.company, tracking.number, tracking.url),
            notify_customer=notify_customer,
        )
        return made.id
