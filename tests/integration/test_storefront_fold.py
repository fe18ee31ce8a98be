"""Storefront order versions folded against a real database (SQLite and PostgreSQL): arrival order
does not matter, the IMS route queues one command per order, the inbox's entries parse at the edge."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from tests.factories import T0, config

from stockbridge.connectors.errors import RejectedError
from stockbridge.connectors.shopify.inbound import ShopifyInbound
from stockbridge.domain.inbound import STOREFRONT_ORDER, STOREFRONT_ORDER_VERSION
from stockbridge.domain.order_state import OrderState
from stockbridge.domain.shipping import Address
from stockbridge.domain.storefront_orders import StorefrontLine, StorefrontOrder
from stockbridge.domain.storefront_routing import ImsOrderRequest, ImsOrderResult, RoutedState
from stockbridge.engine.clock import FakeClock
from stockbridge.flows.fold import fold_inbox
from stockbridge.flows.storefront_orders import fold_storefront_orders
from stockbridge.flows.storefront_sync import StorefrontOrderSender
from stockbridge.store import dead_letters, inbox_repo, items_repo, orders_repo, storefront_repo
from stockbridge.store.bookkeeping import list_exceptions
from stockbridge.store.dead_letters import Outbox
from stockbridge.store.inbox_repo import InboundEvent
from stockbridge.store.items_repo import ImsItem
from stockbridge.store.schema import order_commands, storefront_order_commands
from stockbridge.store.states import InboxState

ADDRESS = Address("Ada Lovelace", "1 Analytical St", "", "London", "", "N1 9GU", "GB")
STORE = {"shop_domain": "a.myshopify.com", "reference_prefix": "WEB-", "ims_customer": "501"}


def _config(route: str) -> Any:
    return config(
        orders={"ship_methods": {"Standard Delivery": "STD"}},
        storefronts={"shopify": {**STORE, "orders_route": route}},
    )


def _version(n: int, quantity: int, **kw: Any) -> StorefrontOrder:
    values: dict[str, Any] = {
        "channel": "shopify",
        "order_id": "gid://shopify/Order/5001",
        "name": "#1001",
        "email": "ada@example.com",
        "financial_status": "paid",
        "ship_method": "Standard Delivery",
        "address": ADDRESS,
        "lines": (StorefrontLine("gid://shopify/LineItem/1", "mug", quantity, quantity),),
        "updated_at": T0 + timedelta(minutes=n),
    }
    values.update(kw)
    return StorefrontOrder(**values)


@pytest.fixture
def catalog(engine: Engine) -> Engine:
    with engine.begin() as c:
        items_repo.upsert_items(c, [ImsItem("mug", "101", False)])
        items_repo.record_wms_items(c, {"MUG": (True, "mug")}, T0)
    return engine


def _reset(engine: Engine) -> None:
    with engine.begin() as c:
        for table in ("sales_orders", "order_commands", "storefront_orders", "storefront_order_commands"):
            c.exec_driver_sql(f"DELETE FROM {table}")


def test_direct_route_newest_version_wins_in_any_arrival_order(catalog: Engine) -> None:
    cfg = _config("clarus")
    versions = [_version(1, 1), _version(2, 3), _version(3, 2)]
    for arrival in itertools.permutations(versions):
        _reset(catalog)
        for i, version in enumerate(arrival):
            with catalog.begin() as c:
                fold_storefront_orders(c, [version], cfg, T0 + timedelta(seconds=i))
        with catalog.connect() as c:
            record = orders_repo.get_order(c, reference="WEB-1001")
            creates = c.execute(select(func.count()).select_from(order_commands)).scalar_one()
        assert record is not None
        assert record.channel == "shopify"
        assert record.state == OrderState.RELEASE_PENDING
        assert record.order.lines[0].quantity == 2  # version 3's
        assert creates == 1


def test_ims_route_one_command_per_order_while_one_is_pending(catalog: Engine) -> None:
    cfg = _config("ims")
    with catalog.begin() as c:
        fold_storefront_orders(c, [_version(1, 1, financial_status="pending")], cfg, T0)
        waiting = storefront_repo.get_routed(c, "shopify", "gid://shopify/Order/5001")
    assert waiting is not None
    assert waiting.state == RoutedState.WAITING
    for n, quantity in ((2, 1), (3, 4), (1, 9)):  # paid, then edited, then an old version arrives late
        with catalog.begin() as c:
            fold_storefront_orders(c, [_version(n, quantity)], cfg, T0)
    with catalog.connect() as c:
        routed = storefront_repo.get_routed(c, "shopify", "gid://shopify/Order/5001")
        commands = c.execute(select(func.count()).select_from(storefront_order_commands)).scalar_one()
    assert routed is not None
    assert (routed.state, routed.reference, routed.order.lines[0].quantity) == (
        RoutedState.PENDING,
        "WEB-1001",
        4,
    )
    assert commands == 1


def test_inbox_entries_parse_at_the_edge_and_an_unknown_store_is_set_aside(catalog: Engine) -> None:
    cfg = _config("clarus")
    webhook = json.dumps(
        {
            "id": 5001,
            "name": "#1001",
            "email": "ada@example.com",
            "financial_status": "paid",
            "updated_at": "2026-11-30T09:00:00Z",
            "shipping_lines": [{"title": "Standard Delivery"}],
            "shipping_address": {
                "name": "Ada",
                "address1": "1 St",
                "city": "London",
                "zip": "N1 9GU",
                "country_code": "GB",
            },
            "line_items": [{"id": 1, "sku": "mug", "quantity": 2}],
        }
    )
    version = json.dumps(storefront_repo.storefront_order_json(_version(0, 5)))
    events = [
        InboundEvent("shopify", "wh-1", STOREFRONT_ORDER, webhook),
        InboundEvent("shopify", "order:5001:v", STOREFRONT_ORDER_VERSION, version),
        InboundEvent("gone", "wh-2", STOREFRONT_ORDER, webhook),
    ]
    with catalog.begin() as c:
        inbox_repo.insert_events(c, events, T0, InboxState.PENDING)
        entries = inbox_repo.claim_pending(c, 10)
        report = fold_inbox(
            c,
            entries,
            cfg,
            T0,
            formats=None,
            storefronts={"shopify": ShopifyInbound("shopify")},  # type: ignore[arg-type]
        )
        record = orders_repo.get_order(c, reference="WEB-1001")
    assert (report.folded, report.set_aside) == (2, 1)
    assert record is not None
    assert record.order.lines[0].quantity == 2  # the webhook's version is the newer (09:00 > T0)


def test_an_order_keeps_the_route_it_took_when_the_store_changes_route(catalog: Engine) -> None:
    with catalog.begin() as c:
        fold_storefront_orders(c, [_version(1, 1)], _config("clarus"), T0)
    with catalog.begin() as c:
        fold_storefront_orders(c, [_version(2, 3)], _config("ims"), T0)
        fold_storefront_orders(
            c, [_version(1, 2, order_id="gid://shopify/Order/5002", name="#1002")], _config("ims"), T0
        )
    with catalog.connect() as c:
        direct = orders_repo.get_order(c, reference="WEB-1001")
        moved = storefront_repo.get_routed(c, "shopify", "gid://shopify/Order/5001")
        new = storefront_repo.get_routed(c, "shopify", "gid://shopify/Order/5002")
    assert direct is not None
    assert direct.order.lines[0].quantity == 3  # still the direct route's
    assert moved is None
    assert new is not None
    assert new.reference == "WEB-1002"


class _Ims:
    """The IMS port, scripted: refuses while `refuse` is set, else records what it was asked."""

    def __init__(self) -> None:
        self.refuse = True
        self.requests: list[ImsOrderRequest] = []

    async def put_storefront_order(self, request: ImsOrderRequest) -> ImsOrderResult:
        if self.refuse:
            raise RejectedError("ims", "400 INVALID_CONTENT inactive item", status=400)
        self.requests.append(request)
        return ImsOrderResult("9001", {line.line_item_id: n for n, line in enumerate(request.lines, start=1)})


async def _send_due(sender: StorefrontOrderSender) -> None:
    """One cycle of the sender, waiting for what it started."""
    await sender.run_cycle()
    await sender.drain()


def test_ims_command_dead_lettered_owned_and_replayed(catalog: Engine) -> None:
    cfg = _config("ims")
    ims = _Ims()
    sender = StorefrontOrderSender(
        engine=catalog, config=lambda: cfg, ims=ims, clock=FakeClock(T0), worker_id="w1"
    )
    with catalog.begin() as c:
        fold_storefront_orders(c, [_version(1, 2)], cfg, T0)
    asyncio.run(_send_due(sender))
    with catalog.connect() as c:
        dead = dead_letters.list_dead(c, [Outbox.STOREFRONT_ORDERS])
        open_ = {(e.type, e.entity, e.owner) for e in list_exceptions(c) if e.state.value == "open"}
    assert [d.subject for d in dead] == ["IMS sales order for shopify order WEB-1001"]
    assert ("storefront_order_failed", "order:WEB-1001", "integration") in open_
    ims.refuse = False
    with catalog.begin() as c:
        assert dead_letters.replay_for_exception(c, "storefront_order_failed", "order:WEB-1001", T0) == 1
    asyncio.run(_send_due(sender))
    asyncio.run(_send_due(sender))  # nothing more to send
    with catalog.connect() as c:
        routed = storefront_repo.get_routed(c, "shopify", "gid://shopify/Order/5001")
        still_open = [e.type for e in list_exceptions(c) if e.state.value == "open"]
    assert routed is not None
    assert (routed.state, routed.ims_id, routed.synced_version) == (
        RoutedState.SYNCED,
        "9001",
        routed.version,
    )
    assert [(r.external_id, r.tran_id, r.customer_id) for r in ims.requests] == [
        ("shopify-order-5001", "WEB-1001", "501")
    ]
    assert "storefront_order_failed" not in still_open
