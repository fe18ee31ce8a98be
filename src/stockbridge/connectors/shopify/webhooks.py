"""Shopify order webhooks: who sent them (HMAC), which delivery (dedupe key), and the order inside.

Headers and signature per ../shared/reference/shopify.md: `X-Shopify-Hmac-Sha256` is the base64 of
HMAC-SHA256 over the raw body with the app's client secret; deliveries come at least once and in no
order, so the receiver dedupes on `X-Shopify-Webhook-Id` (else `X-Shopify-Event-Id`) and keeps the
version with the later `updated_at`. The payloads of `orders/create|updated|cancelled|paid` are the
REST order resource; `orders/edited` carries an `order_edit` (which order, what changed), read here
as an `OrderEditNotice` so the hub fetches the order as it now is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stockbridge.connectors.shopify.wire import (
    UnusablePayloadError,
    aware_datetime,
    expect_int,
    expect_list,
    expect_object,
    expect_str,
    gid,
    optional_str,
)
from stockbridge.domain.shipping import Address
from stockbridge.domain.storefront_orders import StorefrontLine, StorefrontOrder

HMAC_HEADER = "x-shopify-hmac-sha256"
TOPIC_HEADER = "x-shopify-topic"
SHOP_HEADER = "x-shopify-shop-domain"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"
EVENT_ID_HEADER = "x-shopify-event-id"
TRIGGERED_AT_HEADER = "x-shopify-triggered-at"
API_VERSION_HEADER = "x-shopify-api-version"

ORDER_TOPICS = frozenset(
    {"orders/create", "orders/updated", "orders/edited", "orders/cancelled", "orders/paid"}
)

__all__ = [
    "ORDER_TOPICS",
    "OrderEditNotice",
    "UnusablePayloadError",
    "WebhookDelivery",
    "WebhookVerificationError",
    "is_authentic",
    "parse_order",
    "parse_order_event",
    "read_delivery",
    "sign",
]


class WebhookVerificationError(Exception):
    """The delivery is not from the store (missing or wrong HMAC): answered 401, nothing stored."""


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    dedupe_key: str  # X-Shopify-Webhook-Id, else X-Shopify-Event-Id
    topic: str
    shop_domain: str
    triggered_at: datetime | None
    api_version: str | None


@dataclass(frozen=True, slots=True)
class OrderEditNotice:
    """`orders/edited`: the order changed; its new state is the order itself, fetched by id."""

    channel: str
    order_id: str
    edited_at: datetime | None


def sign(secret: bytes, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode("ascii")


def is_authentic(secret: bytes, body: bytes, header: str | None) -> bool:
    """Does the header carry the body's HMAC? Compares the decoded digests in constant time, so a
    header of any content (non-ASCII, not base64, empty) is a plain mismatch, never an error."""
    if not header or not secret:
        return False
    try:
        claimed = base64.b64decode(header.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        return False
    expected = hmac.new(secret, body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, claimed)


def read_delivery(secret: bytes, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
    """Verify a delivery and read its headers. `headers` must look names up case-insensitively
    (Starlette's and httpx's do); raises WebhookVerificationError or UnusablePayloadError."""
    if not is_authentic(secret, body, headers.get(HMAC_HEADER)):
        raise WebhookVerificationError(f"missing or invalid {HMAC_HEADER}")
    dedupe_key = headers.get(WEBHOOK_ID_HEADER) or headers.get(EVENT_ID_HEADER)
    if not dedupe_key:
        raise UnusablePayloadError(WEBHOOK_ID_HEADER, f"neither {WEBHOOK_ID_HEADER} nor {EVENT_ID_HEADER}")
    topic = headers.get(TOPIC_HEADER)
    if not topic:
        raise UnusablePayloadError(TOPIC_HEADER, "missing")
    triggered = headers.get(TRIGGERED_AT_HEADER)
    return WebhookDelivery(
        dedupe_key=dedupe_key,
        topic=topic,
        shop_domain=headers.get(SHOP_HEADER, ""),
        triggered_at=aware_datetime(triggered, TRIGGERED_AT_HEADER) if triggered else None,
        api_version=headers.get(API_VERSION_HEADER),
    )


def parse_order_event(channel: str, topic: str, body: bytes) -> StorefrontOrder | OrderEditNotice:
    """The order (or, for `orders/edited`, the notice) a delivery of an order topic carries."""
    if topic not in ORDER_TOPICS:
        raise UnusablePayloadError(TOPIC_HEADER, f"{topic!r} is not an order topic")
    document = _json(body)
    if topic == "orders/edited" and "order_edit" in document:
        edit = expect_object(document, "order_edit", "")
        return OrderEditNotice(
            channel,
            gid("Order", expect_int(edit, "order_id", "order_edit")),
            aware_datetime(edit.get("created_at"), "order_edit.created_at")
            if edit.get("created_at")
            else None,
        )
    return _order(channel, document)


def parse_order(channel: str, body: bytes) -> StorefrontOrder:
    """A REST-shaped order (the payload of orders/create, updated, cancelled, paid)."""
    return _order(channel, _json(body))


def _json(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise UnusablePayloadError("body", "not JSON") from None
    if not isinstance(document, dict):
        raise UnusablePayloadError("body", "not a JSON object")
    return document


def _order(channel: str, order: dict[str, Any]) -> StorefrontOrder:
    shipping_lines = expect_list(order, "shipping_lines", "", required=False)
    ship_method = None
    if shipping_lines:
        first = shipping_lines[0]
        if not isinstance(first, dict):
            raise UnusablePayloadError("shipping_lines[0]", "not an object")
        ship_method = optional_str(first, "title", "shipping_lines[0]")
    address = order.get("shipping_address")
    cancelled_at = order.get("cancelled_at")
    return StorefrontOrder(
        channel=channel,
        order_id=optional_str(order, "admin_graphql_api_id", "") or gid("Order", expect_int(order, "id", "")),
        name=expect_str(order, "name", ""),
        email=optional_str(order, "email", "") or "",
        financial_status=(optional_str(order, "financial_status", "") or "").lower(),
        ship_method=ship_method,
        address=None if address is None else _address(expect_object(order, "shipping_address", "")),
        lines=tuple(
            _line(item, f"line_items[{i}]") for i, item in enumerate(expect_list(order, "line_items", ""))
        ),
        updated_at=aware_datetime(order.get("updated_at"), "updated_at"),
        cancelled_at=aware_datetime(cancelled_at, "cancelled_at") if cancelled_at else None,
    )


def _line(item: Any, where: str) -> StorefrontLine:
    if not isinstance(item, dict):
        raise UnusablePayloadError(where, "not an object")
    quantity = expect_int(item, "quantity", where)
    # current_quantity: after edits and removals; fulfillable_quantity: what is left to ship.
    current = expect_int(item, "current_quantity", where) if "current_quantity" in item else quantity
    unfulfilled = (
        expect_int(item, "fulfillable_quantity", where) if "fulfillable_quantity" in item else current
    )
    line_id = optional_str(item, "admin_graphql_api_id", where) or gid(
        "LineItem", expect_int(item, "id", where)
    )
    return StorefrontLine(line_id, optional_str(item, "sku", where) or "", current, unfulfilled)


def _address(raw: dict[str, Any]) -> Address:
    where = "shipping_address"

    def text(key: str) -> str:
        return optional_str(raw, key, where) or ""

    name = text("name") or " ".join(part for part in (text("first_name"), text("last_name")) if part)
    return Address(
        name=name,
        line1=text("address1"),
        line2=text("address2"),
        city=text("city"),
        region=text("province_code") or text("province"),
        postcode=text("zip"),
        country=text("country_code") or text("country"),
        phone=text("phone"),
    )
