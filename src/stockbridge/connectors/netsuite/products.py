"""The IMS's product master for the hub: its items and its kits (`flows.edge_ports.ProductMaster`)."""

from __future__ import annotations

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

    async def kits(self) -> dict[str, list[KitMember]]:
        """Kit SKU → its members (SKU and quantity)."""
        return await NetSuiteOrders(self._client).kits()
