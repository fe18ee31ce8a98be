"""The IMS's product master for the hub: its items and its kits (`flows.edge_ports.ProductMaster`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from stockbridge.connectors.netsuite.client import NetSuiteClient
from stockbridge.connectors.netsuite.sales_orders import NetSuiteOrders
from stockbridge.domain.bundles import KitMember
from stockbridge.domain.product_master import ItemRecord


class NetSuiteProducts:
    def __init__(self, client: NetSuiteClient) -> None:
        self._client = client

    async def inventory_items(self) -> list[ItemRecord]:
        """Every inventory and kit item."""
        return await self._client.inventory_items()

    def inventory_item_pages(self) -> AsyncIterator[list[ItemRecord]]:
        """Every inventory and kit item, a SuiteQL page at a time."""
        return self._client.inventory_item_pages()

    async def kits(self) -> dict[str, list[KitMember]]:
        """Kit SKU → its members (SKU and quantity)."""
        return await NetSuiteOrders(self._client).kits()
