"""Storefront orders' routing rules (domain/storefront_routing.py), their config, and the Shopify
inbound reader."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.factories import config

from stockbridge.config import ConfigError, parse_config
from stockbridge.connectors.shopify.inbound import ShopifyInbound
from stockbridge.domain.inbound import StorefrontOrderChanged, UnusableEvent
from stockbridge.domain.orders import CANCELLED, HoldReason, is_newer
from stockbridge.domain.shipping import Address
from stockbridge.domain.storefront_orders import StorefrontLine, StorefrontOrder
from stockbridge.domain.storefront_routing import (
    ImsItemRef,
    ImsOrderRequest,
    RouteDecision,
    RoutedState,
    as_hub_sales_order,
    decide_ims_route,
    ims_external_id,
    ims_order_request,
    ims_status,
    released,
    storefront_reference,
    storefront_version,
)

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
RS = RoutedState
ADDRESS = Address("Ada Lovelace", "1 Analytical St", "", "London", "", "N1 9GU", "GB")


def _order(*lines: StorefrontLine, at: datetime = T0, **kw: Any) -> StorefrontOrder:
    values: dict[str, Any] = {
        "channel": "shopify",
        "order_id": "gid://shopify/Order/5001",
        "name": "#1001",
        "email": "ada@example.com",
        "financial_status": "paid",
        "ship_method": "Standard Delivery",
        "address": ADDRESS,
        "lines": lines or (StorefrontLine("gid://shopify/LineItem/1", "MUG-1", 2, 2),),
        "updated_at": at,
    }
    values.update(kw)
    return StorefrontOrder(**values)


def test_reference_and_external_id() -> None:
    assert storefront_reference("SHOP-", "#1001") == "SHOP-1001"
    assert ims_external_id("shopify", "gid://shopify/Order/5001") == "shopify-order-5001"


def test_hub_view_status_reference_and_lines() -> None:
    removed = StorefrontLine("gid://shopify/LineItem/2", "TEA-2", 0, 0)
    shipped = StorefrontLine("gid://shopify/LineItem/3", "odd.sku-7", 3, 1)
    view = as_hub_sales_order(_order(removed, shipped), "SHOP-")
    assert (view.ims_id, view.reference, view.status) == (
        "shopify:gid://shopify/Order/5001",
        "SHOP-1001",
        "paid",
    )
    # A removed line asks for nothing; fulfilments made in the store do not reduce the request.
    assert [(ln.line, ln.sku, ln.open_quantity) for ln in view.lines] == [
        (1, "TEA-2", 0),
        (2, "odd.sku-7", 3),
    ]
    assert as_hub_sales_order(_order(cancelled_at=T0), "SHOP-").status == CANCELLED
    assert released(_order(), frozenset({"paid"}))
    assert not released(_order(financial_status="pending"), frozenset({"paid"}))
    assert not released(_order(cancelled_at=T0), frozenset({"paid"}))


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 5), st.integers(0, 5))
def test_a_later_update_is_newer_and_an_earlier_never_is(a: int, b: int, qa: int, qb: int) -> None:
    first = _order(StorefrontLine("l1", "MUG-1", qa, qa), at=T0 + timedelta(seconds=a))
    second = _order(StorefrontLine("l1", "MUG-1", qb, qb), at=T0 + timedelta(seconds=b))
    v1, v2 = storefront_version(first), storefront_version(second)
    if a < b:
        assert is_newer(v2, v1)
        assert not is_newer(v1, v2)
    assert not is_newer(v1, v1)


def test_ims_request_holds_unknown_and_inactive_items() -> None:
    lines = (
        StorefrontLine("l1", "MUG-1", 1, 1),
        StorefrontLine("l2", "GONE", 1, 1),
        StorefrontLine("l3", "OLD", 1, 1),
    )
    items = {"MUG-1": ImsItemRef("101", True), "OLD": ImsItemRef("103", False)}
    held = ims_order_request(
        _order(*lines), reference="SHOP-1001", customer_id="501", status="B", items=items, ims_lines={}
    )
    assert isinstance(held, list)
    assert [h.code for h in held] == ["unknown_item", "inactive_item"]
    assert all(isinstance(h, HoldReason) for h in held)


def test_ims_request_lines_created_edited_and_cancelled() -> None:
    items = {"MUG-1": ImsItemRef("101", True), "TEA-2": ImsItemRef("102", True)}
    lines = (StorefrontLine("l1", "MUG-1", 2, 2), StorefrontLine("l2", "TEA-2", 0, 0))
    fresh = ims_order_request(
        _order(*lines), reference="R", customer_id="501", status="B", items=items, ims_lines={}
    )
    assert isinstance(fresh, ImsOrderRequest)
    assert fresh.external_id == "shopify-order-5001"
    assert [(ln.line, ln.item_id, ln.quantity) for ln in fresh.lines] == [(None, "101", 2)]  # l2 never sent
    known = {"l1": 1, "l2": 2}
    edited = ims_order_request(
        _order(*lines), reference="R", customer_id="501", status="B", items=items, ims_lines=known
    )
    assert isinstance(edited, ImsOrderRequest)
    assert [(ln.line, ln.quantity) for ln in edited.lines] == [(1, 2), (2, 0)]  # l2 closed
    cancelled = ims_order_request(
        _order(*lines, cancelled_at=T0),
        reference="R",
        customer_id="501",
        status="B",
        items=items,
        ims_lines=known,
    )
    assert isinstance(cancelled, ImsOrderRequest)
    assert cancelled.cancelled
    assert [ln.quantity for ln in cancelled.lines] == [0, 0]


def _store_data(**store: Any) -> dict[str, Any]:
    data = config().model_dump(mode="json")
    data["storefronts"] = {"shopify": {"shop_domain": "a.myshopify.com", "orders_route": "clarus", **store}}
    return data


def test_config_storefront_orders_keys() -> None:
    store = parse_config(_store_data()).storefronts["shopify"]
    assert (store.release_financial_statuses, store.reference_prefix) == (frozenset({"paid"}), "SHOP-")
    data = _store_data()
    data["storefronts"]["other"] = {"shop_domain": "b.myshopify.com", "orders_route": "clarus"}
    with pytest.raises(ConfigError, match="reference_prefix"):
        parse_config(data)
    with pytest.raises(ConfigError, match="ims_customer"):
        parse_config(_store_data(orders_route="ims"))
    assert (
        parse_config(_store_data(orders_route="ims", ims_customer="501")).storefronts["shopify"].ims_customer
        == "501"
    )
    with pytest.raises(ConfigError, match="reference_prefix"):
        parse_config(_store_data(reference_prefix="SHOP/"))


def test_inbound_reader_answers_domain_types_or_unusable() -> None:
    reader = ShopifyInbound("shopify")
    body = (
        '{"id": 5001, "name": "#1001", "email": "a@b.c", "financial_status": "paid",'
        ' "updated_at": "2026-11-30T09:00:00Z", "line_items": [{"id": 1, "sku": "MUG-1", "quantity": 2}]}'
    )
    order = reader.order(body)
    assert (order.channel, order.order_id, order.lines[0].quantity) == (
        "shopify",
        "gid://shopify/Order/5001",
        2,
    )
    with pytest.raises(UnusableEvent):
        reader.order('{"id": 5001}')
    with pytest.raises(UnusableEvent):
        reader.order("not json")
    notice = reader.order_changed('{"order_edit": {"id": 9, "order_id": 5001}}')
    assert notice == StorefrontOrderChanged("shopify", "gid://shopify/Order/5001")


def _decide(
    order: StorefrontOrder, state: RS, *, in_ims: bool, synced: bool = False, held: bool = False
) -> RouteDecision:
    request: ImsOrderRequest | list[HoldReason] = (
        [HoldReason("unknown_item", "GONE is not an item in the IMS")]
        if held
        else ImsOrderRequest("x", "R", "501", "B", None, None, "", (), order.cancelled)
    )
    return decide_ims_route(
        order,
        state=state,
        in_ims=in_ims,
        synced=synced,
        release_financial_statuses=frozenset({"paid"}),
        request=request,
    )


@pytest.mark.parametrize(
    ("order", "state", "in_ims", "synced", "held", "expected"),
    [
        # Never in the IMS: unpaid waits, cancelled is cancelled, paid goes (or is held).
        (
            _order(financial_status="pending"),
            RS.WAITING,
            False,
            False,
            False,
            (RS.WAITING, False),
        ),
        (_order(cancelled_at=T0), RS.WAITING, False, False, False, (RS.CANCELLED, False)),
        (_order(cancelled_at=T0), RS.PENDING, False, False, False, (RS.CANCELLED, False)),
        (_order(), RS.WAITING, False, False, False, (RS.PENDING, True)),
        (_order(), RS.WAITING, False, False, True, (RS.HELD, False)),
        (_order(), RS.HELD, False, False, False, (RS.PENDING, True)),
        # In the IMS: a new version is sent, even unpaid (a refund must not strand the IMS order);
        # the version already sent is not; a cancellation closes it once.
        (
            _order(financial_status="refunded"),
            RS.SYNCED,
            True,
            False,
            False,
            (RS.PENDING, True),
        ),
        (_order(), RS.SYNCED, True, True, False, (RS.SYNCED, False)),
        (_order(cancelled_at=T0), RS.SYNCED, True, False, False, (RS.PENDING, True)),
        (_order(cancelled_at=T0), RS.CANCELLED, True, False, False, (RS.CANCELLED, False)),
        (_order(), RS.SYNCED, True, False, True, (RS.HELD, False)),
    ],
)
def test_ims_route_transitions(
    order: StorefrontOrder,
    state: RS,
    in_ims: bool,
    synced: bool,
    held: bool,
    expected: tuple[RS, bool],
) -> None:
    decision = _decide(order, state, in_ims=in_ims, synced=synced, held=held)
    assert (decision.state, decision.command) == expected
    assert bool(decision.holds) == (decision.state == RS.HELD)


def test_ims_status_is_one_the_ims_flow_releases() -> None:
    assert ims_status(frozenset({"B"})) == "B"
    assert ims_status(frozenset({"A", "B"})) == "B"
    assert ims_status(frozenset({"A"})) == "A"
