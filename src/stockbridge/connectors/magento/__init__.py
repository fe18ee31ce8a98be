"""Magento 2 connector: the REST API (orders, shipments, MSI source items) with an integration token."""

from stockbridge.connectors.magento.client import MagentoClient
from stockbridge.connectors.magento.orders import MagentoOrders, MagentoShipment, Track
from stockbridge.connectors.magento.stock import MagentoStock
from stockbridge.connectors.magento.store_fulfilments import MagentoStoreFulfilments

__all__ = [
    "MagentoClient",
    "MagentoOrders",
    "MagentoShipment",
    "MagentoStock",
    "MagentoStoreFulfilments",
    "Track",
]
