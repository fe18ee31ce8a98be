"""Shopify connector: the Admin GraphQL API (stock, orders, fulfilments) and order webhooks."""

from stockbridge.connectors.shopify.client import ShopifyClient
from stockbridge.connectors.shopify.orders import ShopifyOrders, Tracking
from stockbridge.connectors.shopify.stock import ShopifyStock

__all__ = ["ShopifyClient", "ShopifyOrders", "ShopifyStock", "Tracking"]
