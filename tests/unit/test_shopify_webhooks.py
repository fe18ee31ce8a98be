"""Shopify order webhooks: HMAC over the raw body, the dedupe key, and the REST order payload read into
a StorefrontOrder (or refused with the field named, and nothing else ever raised)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockbridge.connectors.shopify.webhooks import (
    OrderEditNotice,
    UnusablePayloadError,
    WebhookVerificationError,
    is_authentic,
    parse_order,
    parse_order_event,
    read_delivery,
    sign,
)
from stockbridge.domain.shipping import Address
from stockbridge.domain.storefront_orders import StorefrontLine

SECRET = b"shopify-secret"


def order_payload(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": 820982911946154508,
        "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
        "name": "#1001",
        "email": "jon@example.com",
        "financial_status": "paid",
        "cancelled_at": None,
        "updated_at": "2026-11-30T06:00:00-05:00",
        "shipping_lines": [{"title": "Standard Delivery", "code": "STD"}],
        "shipping_address": {
            "first_name": "Jon",
            "last_name": "Snow",
            "address1": "1 Wall St",
            "address2": None,
            "city": "Leeds",
            "province": "West Yorkshire",
            "province_code": None,
            "zip": "LS1 1AA",
            "country": "United Kingdom",
            "country_code": "GB",
            "phone": None,
        },
        "line_items": [
            {"id": 466157049, "sku": "A-1", "quantity": 2, "current_quantity": 2, "fulfillable_quantity": 2},
            {
                "id": 518995019,
                "admin_graphql_api_id": "gid://shopify/LineItem/518995019",
                "sku": "B 2",
                "quantity": 3,
                "current_quantity": 1,
                "fulfillable_quantity": 0,
            },
        ],
    }
    order.update(changes)
    return order


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


# --- HMAC -----------------------------------------------------------------------------------------


def test_sign_is_base64_hmac_sha256_of_the_raw_body() -> None:
    raw = b'{"id": 1}'
    expected = base64.b64encode(hmac.new(SECRET, raw, hashlib.sha256).digest()).decode()
    assert sign(SECRET, raw) == expected
    assert is_authentic(SECRET, raw, expected)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "not base64!",
        sign(b"another-secret", b'{"id": 1}'),
        sign(SECRET, b'{"id": 2}'),  # another body
        sign(SECRET, b'{"id":1}'),  # the same JSON re-serialised: the raw bytes are what is signed
        "é" * 44,  # non-ASCII
        "\udcff",  # a lone surrogate, as a server may decode a raw header byte
    ],
)
def test_a_missing_or_wrong_signature_is_refused(header: str | None) -> None:
    raw = b'{"id": 1}'
    assert not is_authentic(SECRET, raw, header)
    headers = httpx.Headers({"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "w1"})
    if header is not None and header.isascii():
        headers["X-Shopify-Hmac-Sha256"] = header
    with pytest.raises(WebhookVerificationError):
        read_delivery(SECRET, headers, raw)


def test_an_empty_secret_verifies_nothing() -> None:
    assert not is_authentic(b"", b"{}", sign(b"", b"{}"))


def test_delivery_headers_are_read_case_insensitively() -> None:
    raw = body(order_payload())
    headers = httpx.Headers(
        {
            "x-shopify-hmac-sha256": sign(SECRET, raw),
            "X-Shopify-Topic": "orders/paid",
            "X-SHOPIFY-SHOP-DOMAIN": "example.myshopify.com",
            "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
            "X-Shopify-Triggered-At": "2026-11-30T11:00:00.123Z",
            "X-Shopify-API-Version": "2026-04",
        }
    )
    delivery = read_delivery(SECRET, headers, raw)
    assert delivery.dedupe_key == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert delivery.topic == "orders/paid"
    assert delivery.shop_domain == "example.myshopify.com"
    assert delivery.triggered_at == datetime(2026, 11, 30, 11, 0, 0, 123000, tzinfo=UTC)
    assert delivery.api_version == "2026-04"


def test_the_event_id_dedupes_when_there_is_no_webhook_id() -> None:
    raw = b"{}"
    headers = {"x-shopify-hmac-sha256": sign(SECRET, raw), "x-shopify-topic": "orders/create"}
    assert read_delivery(SECRET, headers | {"x-shopify-event-id": "e-7"}, raw).dedupe_key == "e-7"
    with pytest.raises(UnusablePayloadError) as caught:
        read_delivery(SECRET, headers, raw)
    assert caught.value.field == "x-shopify-webhook-id"


# --- the order payload ----------------------------------------------------------------------------


def test_a_rest_order_becomes_a_storefront_order() -> None:
    order = parse_order("shopify", body(order_payload()))
    assert order.channel == "shopify"
    assert order.order_id == "gid://shopify/Order/820982911946154508"
    assert order.name == "#1001"
    assert order.email == "jon@example.com"
    assert order.financial_status == "paid"
    assert order.ship_method == "Standard Delivery"
    assert order.address == Address(
        name="Jon Snow",
        line1="1 Wall St",
        city="Leeds",
        region="West Yorkshire",
        postcode="LS1 1AA",
        country="GB",
    )
    assert order.lines == (
        StorefrontLine("gid://shopify/LineItem/466157049", "A-1", 2, 2),
        StorefrontLine("gid://shopify/LineItem/518995019", "B 2", 1, 0),
    )
    assert order.updated_at == datetime(2026, 11, 30, 6, tzinfo=timezone(timedelta(hours=-5)))
    assert not order.cancelled
    assert order.open_lines == order.lines[:1]


def test_a_cancelled_order_says_when() -> None:
    order = parse_order("shopify", body(order_payload(cancelled_at="2026-11-30T12:00:00Z")))
    assert order.cancelled_at == datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert order.as_sales_order().status == "cancelled"


def test_the_pipeline_view_numbers_lines_and_closes_removed_ones() -> None:
    sales = parse_order("shopify", body(order_payload())).as_sales_order()
    assert [(ln.line, ln.sku, ln.quantity, ln.quantity_fulfilled) for ln in sales.lines] == [
        (1, "A-1", 2, 0),
        (2, "B 2", 1, 1),
    ]
    assert sales.reference == "#1001"
    assert sales.ship_method == "Standard Delivery"
    assert [ln.sku for ln in sales.open_lines] == ["A-1"]


def test_orders_edited_is_a_notice_to_fetch_the_order() -> None:
    edit = {"order_edit": {"id": 78, "order_id": 450789469, "created_at": "2026-11-30T06:00:00Z"}}
    notice = parse_order_event("shopify", "orders/edited", body(edit))
    assert notice == OrderEditNotice(
        "shopify", "gid://shopify/Order/450789469", datetime(2026, 11, 30, 6, tzinfo=UTC)
    )
    # an order-shaped orders/edited payload is read as the order
    assert parse_order_event("shopify", "orders/edited", body(order_payload())).name == "#1001"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": None, "admin_graphql_api_id": None}, "id"),
        ({"name": None}, "name"),
        ({"updated_at": None}, "updated_at"),
        ({"updated_at": "yesterday"}, "updated_at"),
        ({"updated_at": "2026-11-30T06:00:00"}, "updated_at"),  # no offset
        ({"line_items": None}, "line_items"),
        ({"line_items": [{"id": 1, "sku": "A", "quantity": -1}]}, "line_items[0].quantity"),
        ({"line_items": [{"id": 1, "sku": "A", "quantity": "2"}]}, "line_items[0].quantity"),
        ({"line_items": [{"sku": "A", "quantity": 2}]}, "line_items[0].id"),
        ({"line_items": [{"id": 1, "sku": 5, "quantity": 2}]}, "line_items[0].sku"),
        ({"line_items": ["A"]}, "line_items[0]"),
        ({"shipping_address": "here"}, "shipping_address"),
        ({"shipping_address": {"zip": 12345}}, "shipping_address.zip"),
        ({"shipping_lines": [{"title": 7}]}, "shipping_lines[0].title"),
    ],
)
def test_unusable_content_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(UnusablePayloadError) as caught:
        parse_order("shopify", body(order_payload(**changes)))
    assert caught.value.field == field


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b"\xff\xfe", b"null", b"1" * 5000])
def test_a_body_that_is_not_an_object_is_unusable(raw: bytes) -> None:
    with pytest.raises(UnusablePayloadError):
        parse_order("shopify", raw)


def test_a_topic_that_is_not_an_order_topic_is_unusable() -> None:
    with pytest.raises(UnusablePayloadError):
        parse_order_event("shopify", "products/create", body(order_payload()))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
_fields = st.sampled_from(
    [
        "id",
        "name",
        "updated_at",
        "cancelled_at",
        "line_items",
        "shipping_address",
        "shipping_lines",
        "order_edit",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_fields, _json, max_size=8), st.sampled_from(["orders/create", "orders/edited"]))
def test_the_parser_raises_nothing_but_its_own_error_on_junk(junk: dict[str, Any], topic: str) -> None:
    document = order_payload()
    document.update(junk)
    with contextlib.suppress(UnusablePayloadError):
        parse_order_event("shopify", topic, body(document))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_the_parser_raises_nothing_but_its_own_error_on_junk_bytes(raw: bytes) -> None:
    with contextlib.suppress(UnusablePayloadError):
        parse_order("shopify", raw)
