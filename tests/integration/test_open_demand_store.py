"""Open demand against a real database (SQLite and PostgreSQL): an order claims units on each
storefront's figure from the moment it is on its way to the warehouse until the warehouse allocates
it (docs/decisions/0022); the IMS's figure never changes for it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.factories import T0, config, inbound, movement_event

from stockbridge.config import Config
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.domain.bundles import KitMember
from stockbridge.domain.fulfilment import Shipment, ShippedLine
from stockbridge.domain.inbound import SALES_ORDER, WarehouseOrderStatus
from stockbridge.domain.order_state import OrderState, Outcome
from stockbridge.domain.orders import CANCELLED, OrderLine, SalesOrder
from stockbridge.domain.shipping import Address
from stockbridge.flows.fold import fold_inbox
from stockbridge.flows.fulfilment import FulfilmentFolder
from stockbridge.flows.inventory import fold_entries
from stockbridge.flows.orders import OrderFolder
from stockbridge.store import inbox_repo, items_repo, orders_repo, targets_repo
from stockbridge.store.inbox_repo import InboundEvent
from stockbridge.store.items_repo import ImsItem

ADDRESS = Address("Ada Lovelace", "1 Analytical St", "", "London", "", "N1 9GU", "GB")
SHOP_LOCATION = "gid://shopify/Location/1"


def shop_config(**targets: Any) -> Config:
    return config(
        orders={"ship_methods": {"UPS Ground": "STD"}},
        sku_rules={"case": "upper"},
        storefronts={
            "shop": {
                "shop_domain": "x.myshopify.com",
                "orders_route": "clarus",
                "locations": {"WH1": SHOP_LOCATION},
            }
        },
        inventory_statuses={
            "available": {"counts_for": ["ims", "shop"]},
            "allocated": {"counts_for": ["ims"]},
            "picked": {"counts_for": ["ims"]},
        },
        targets=targets,
    )


CONFIG = shop_config()


@pytest.fixture
def catalog(engine: Engine) -> Engine:
    with engine.begin() as c:
        items_repo.upsert_items(
            c,
            [
                ImsItem("mug", "101", False),
                ImsItem("tea", "102", False),
                ImsItem("gift-box", "103", False, item_type="Kit"),
            ],
        )
        items_repo.replace_kits(c, {"gift-box": [KitMember("mug", 2), KitMember("tea", 1)]})
        items_repo.record_wms_items(c, {"MUG": (True, "mug"), "TEA": (True, "tea")}, T0)
    return engine


def _order(*lines: OrderLine, stamp: str = "2026-11-26 09:00:00", status: str = "B") -> SalesOrder:
    return SalesOrder("501", "SO501", status, "UPS Ground", ADDRESS, lines, stamp)


def _stock(engine: Engine, sequence: int, sku: str, cfg: Config = CONFIG, **balances: int) -> None:
    inbox_repo.store_events(engine, [inbound(movement_event(sequence, sku, balances))], T0)
    with engine.begin() as c:
        fold_entries(c, inbox_repo.claim_pending(c, 100), cfg, T0, formats=ClarusInbound())


def _fold(engine: Engine, order: SalesOrder, cfg: Config = CONFIG) -> None:
    with engine.begin() as c:
        OrderFolder(c, cfg, T0).fold_sales_order(order)


def _answer(engine: Engine, cfg: Config = CONFIG) -> None:
    with engine.begin() as c:
        (command,) = orders_repo.claim_commands(c, "w", T0, T0 + timedelta(minutes=1), 10)
        assert orders_repo.command_done(c, command, "w", T0)
        OrderFolder(c, cfg, T0).command_answered(command, Outcome.DONE, "")


def _status(engine: Engine, status: str, sequence: int, cfg: Config = CONFIG) -> None:
    with engine.begin() as c:
        OrderFolder(c, cfg, T0).fold_warehouse_status(
            WarehouseOrderStatus("SO501", status, sequence, "WH1", T0)
        )


def _figures(engine: Engine, sku: str) -> tuple[int, int]:
    """(shop desired, IMS desired) for a SKU at WH1."""
    with engine.connect() as c:
        shop = targets_repo.pushed_figures(c, "shop")[(sku, SHOP_LOCATION)][0]
        ims = targets_repo.pushed_figures(c, "ims")[(sku, "6")][0]
    return shop, ims


def test_an_order_claims_on_the_storefront_until_the_warehouse_allocates_it(catalog: Engine) -> None:
    _stock(catalog, 1, "MUG", available=10)
    assert _figures(catalog, "MUG") == (10, 10)
    _fold(catalog, _order(OrderLine(1, "mug", 3)))  # released: the create is in the outbox
    assert _figures(catalog, "MUG") == (7, 10)
    _answer(catalog)
    _status(catalog, "received", 1)
    _status(catalog, "released", 2)
    assert _figures(catalog, "MUG") == (7, 10)
    # A movement of the SKU meanwhile folds with the demand still taken off.
    _stock(catalog, 2, "MUG", available=12)
    assert _figures(catalog, "MUG") == (9, 12)
    # Allocated: the claim is over; the warehouse's own movement takes the units off available.
    _status(catalog, "allocated", 3)
    assert _figures(catalog, "MUG") == (12, 12)
    _stock(catalog, 3, "MUG", available=9, allocated=3)
    assert _figures(catalog, "MUG") == (9, 12)


def test_a_kit_claims_its_components(catalog: Engine) -> None:
    _stock(catalog, 1, "MUG", available=10)
    _stock(catalog, 2, "TEA", available=4)
    _fold(catalog, _order(OrderLine(1, "gift-box", 2), OrderLine(2, "mug", 1)))
    assert (_figures(catalog, "MUG"), _figures(catalog, "TEA")) == ((5, 10), (2, 4))


def test_cancelled_before_allocation_releases_the_units(catalog: Engine) -> None:
    _stock(catalog, 1, "MUG", available=10)
    _fold(catalog, _order(OrderLine(1, "mug", 3)))
    _answer(catalog)
    _status(catalog, "received", 1)
    assert _figures(catalog, "MUG")[0] == 7
    _fold(catalog, _order(OrderLine(1, "mug", 3), stamp="2026-11-26 09:05:00", status=CANCELLED))
    with catalog.connect() as c:
        record = orders_repo.get_order(c, ims_id="501")
    assert record is not None
    assert record.state == OrderState.CANCEL_PENDING
    assert _figures(catalog, "MUG") == (10, 10)
    _answer(catalog)
    _status(catalog, "cancelled", 2)
    assert _figures(catalog, "MUG") == (10, 10)


def test_an_amendment_claims_the_new_lines(catalog: Engine) -> None:
    _stock(catalog, 1, "MUG", available=10)
    _stock(catalog, 2, "TEA", available=10)
    _fold(catalog, _order(OrderLine(1, "mug", 3)))
    _answer(catalog)
    _status(catalog, "received", 1)
    _fold(catalog, _order(OrderLine(1, "mug", 1), OrderLine(2, "tea", 4), stamp="2026-11-26 09:05:00"))
    assert (_figures(catalog, "MUG")[0], _figures(catalog, "TEA")[0]) == (9, 6)
    _answer(catalog)
    assert (_figures(catalog, "MUG")[0], _figures(catalog, "TEA")[0]) == (9, 6)


def test_an_order_before_any_stock_is_taken_off_when_the_stock_arrives(catalog: Engine) -> None:
    _fold(catalog, _order(OrderLine(1, "mug", 3)))
    with catalog.connect() as c:
        assert targets_repo.pushed_figures(c, "shop") == {}  # nothing to re-derive yet
    _stock(catalog, 1, "MUG", available=10)
    assert _figures(catalog, "MUG") == (7, 10)


def test_held_orders_claim_nothing_and_a_storefront_may_opt_out(catalog: Engine) -> None:
    _stock(catalog, 1, "MUG", available=10)
    held = SalesOrder("501", "SO501", "B", "Pigeon", ADDRESS, (OrderLine(1, "mug", 3),), "s1")
    _fold(catalog, held)
    assert _figures(catalog, "MUG") == (10, 10)
    opted_out = shop_config(shop={"subtract_open_demand": False})
    _fold(catalog, _order(OrderLine(1, "mug", 3), stamp="s2"), opted_out)
    _stock(catalog, 2, "MUG", cfg=opted_out, available=10)
    assert _figures(catalog, "MUG") == (10, 10)
    _stock(catalog, 3, "MUG", available=10)  # the default again: this order claims
    assert _figures(catalog, "MUG") == (7, 10)


def test_a_claim_change_marks_the_pushed_storefront_target_dirty(catalog: Engine) -> None:
    _stock(catalog, 1, "MUG", available=10)
    with catalog.begin() as c:
        rows = targets_repo.claim_dirty(c, "shop", "w", T0, T0 + timedelta(minutes=1), 10)
        targets_repo.mark_in_sync(c, rows, "w", T0)
    with catalog.connect() as c:
        assert targets_repo.pushed_figures(c, "shop")[("MUG", SHOP_LOCATION)] == (10, 10, False, "ok")
    _fold(catalog, _order(OrderLine(1, "mug", 3)))
    with catalog.connect() as c:
        assert targets_repo.pushed_figures(c, "shop")[("MUG", SHOP_LOCATION)] == (7, 10, True, "ok")


def test_an_order_whose_create_is_still_on_its_way_keeps_its_claim(catalog: Engine) -> None:
    _stock(catalog, 1, "MUG", available=10)
    _fold(catalog, _order(OrderLine(1, "mug", 3)))
    _status(catalog, "received", 1)  # the warehouse's event before the create's answer
    _fold(catalog, _order(OrderLine(1, "mug", 3), OrderLine(2, "tea", 1), stamp="2026-11-26 09:01:00"))
    assert _figures(catalog, "MUG")[0] == 7  # the edit waits for the answer; so does its claim
    _answer(catalog)  # the create is acknowledged; the edit goes out as an amendment
    with catalog.connect() as c:
        record = orders_repo.get_order(c, ims_id="501")
    assert record is not None
    assert record.state == OrderState.AMEND_PENDING
    assert _figures(catalog, "MUG")[0] == 7
    _status(catalog, "allocated", 2)
    assert _figures(catalog, "MUG")[0] == 10


def _inbox_order(order: SalesOrder) -> InboundEvent:
    payload = json.dumps(orders_repo.sales_order_json(order))
    return InboundEvent("ims", f"so:{order.ims_id}:{order.last_modified}", SALES_ORDER, payload)


def _fold_inbox(engine: Engine, events: list[InboundEvent]) -> None:
    inbox_repo.store_events(engine, events, T0)
    with engine.begin() as c:
        report = fold_inbox(c, inbox_repo.claim_pending(c, 100), CONFIG, T0, formats=ClarusInbound())
    assert report.set_aside == 0


def test_the_inbox_fold_derives_orders_and_movements_of_one_batch_together(catalog: Engine) -> None:
    _fold_inbox(
        catalog,
        [
            inbound(movement_event(1, "MUG", {"available": 10})),
            _inbox_order(_order(OrderLine(1, "mug", 3))),
            inbound(movement_event(2, "TEA", {"available": 5})),
        ],
    )
    assert (_figures(catalog, "MUG"), _figures(catalog, "TEA")) == ((7, 10), (5, 5))
    # A batch of orders alone still re-derives the storefront's targets.
    other = SalesOrder("502", "SO502", "B", "UPS Ground", ADDRESS, (OrderLine(1, "tea", 2),), "s")
    _fold_inbox(catalog, [_inbox_order(other)])
    assert (_figures(catalog, "MUG"), _figures(catalog, "TEA")) == ((7, 10), (3, 5))


def test_a_despatch_the_hub_hears_of_before_any_status_report_ends_the_claim(catalog: Engine) -> None:
    """The warehouse shipped the order before the hub knew it (its status reports were dropped as
    unknown): the parked shipment, released when the order arrives, proves it is past allocation."""
    _stock(catalog, 1, "MUG", available=10)
    with catalog.begin() as c:
        FulfilmentFolder(c, CONFIG, T0).fold_shipment(
            Shipment("SHP-1", "SO501", "UPS", "STD", ("1Z1",), (ShippedLine("1", "MUG", 3),), 1)
        )
    _fold(catalog, _order(OrderLine(1, "mug", 3)))
    # The create's answer releases the parked shipment (fulfilment.unpark): the claim ends with it.
    _answer(catalog)
    assert _figures(catalog, "MUG") == (10, 10)
    # A status report that does come later still counts.
    _status(catalog, "despatched", 5)
    assert _figures(catalog, "MUG") == (10, 10)
