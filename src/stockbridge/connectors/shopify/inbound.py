"""Shopify order webhooks, as the inbox stored them, read into domain types when the fold reads them.

Implements `flows.edge_ports.StorefrontFormats` for one store (its channel name). What cannot be used
raises `UnusableEvent` with the reason (the fold sets such an entry aside).
"""

from __future__ import annotations

from stockbridge.connectors.shopify.webhooks import parse_order, parse_order_event
from stockbridge.connectors.shopify.wire import UnusablePayloadError
from stockbridge.domain.inbound import StorefrontOrderChanged, UnusableEvent
from stockbridge.domain.storefront_orders import StorefrontOrder


class ShopifyInbound:
    def __init__(self, channel: str) -> None:
        self.channel = channel

    def order(self, payload: str) -> StorefrontOrder:
        try:
            return parse_order(self.channel, payload.encode())
        except UnusablePayloadError as exc:
            raise UnusableEvent(str(exc)) from None

    def order_changed(self, payload: str) -> StorefrontOrderChanged:
        try:
            notice = parse_order_event(self.channel, "orders/edited", payload.encode())
        except UnusablePayloadError as exc:
            raise UnusableEvent(str(exc)) from None
        # An `order_edit` notice, or (older payloads) the whole order: either way, this order changed.
        return StorefrontOrderChanged(self.channel, notice.order_id)
