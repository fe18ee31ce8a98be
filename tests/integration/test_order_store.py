"""The order fold against a real database (SQLite and PostgreSQL): versions, decisions, outbox, holds."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from tests.factories import T0, config

from stockbridge.domain.inbound import WarehouseOrderStatus
from stockbridge.domain.order_state import CommandKind, OrderState, Outcome
from stockbridge.domain.orders import OrderLine, SalesOrder
from stockbridge.domain.shipping import Address
from stockbridge.flows.orders import OrderFolder
from stockbridge.store import items_repo, orders_repo
from stockbridge.store.bookkeeping import list_exceptions
from stockbridge.store.items_repo import ImsItem
from stockbridge.store.schema import order_commands
from stockbridge.store.states import ExceptionState

ADDRESS = Address("Ada Lovelace", "1 Analytical St", "", "London", "", "N1 9GU", "GB")
CONFIG = config(orders={"ship_methods": {"UPS Ground": "STD"}}, sku_rules={"case": "upper"})


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
        from stockbridge.domain.bundles import KitMember

        items_repo.replace_kits(c, {"gift-box": [KitMember("mug", 2), KitMember("tea", 1)]})
        items_repo.record_wms_items(c, {"MUG": (True, "mug"), "TEA": (True, "tea")}, T0)
    return engine


def _order(
    *lines: OrderLine, stamp: str = "2026-11-26 09:00:00", status: str = "B", ship: str = "UPS Ground"
) -> SalesOrder:
    return SalesOrder("501", "SO501", status, ship, ADDRESS, lines, stamp)


def _fold(engine: Engine, order: SalesOrder, cfg: object = CONFIG, at: int = 0) -> orders_repo.OrderRecord:
    with engine.begin() as c:
        OrderFolder(c, cfg, T0 + timedelta(seconds=at)).fold_sales_order(order)  # type: ignore[arg-type]
        record = orders_repo.get_order(c, ims_id=order.ims_id)
    assert record is not None
    return record


def _commands(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as c:
        return [(r.kind, r.state) for r in c.execute(select(order_commands).order_by(order_commands.c.id))]


def _answer(engine: Engine, outcome: Outcome = Outcome.DONE, reason: str = "") -> orders_repo.OrderRecord:
    with engine.begin() as c:
        (command,) = orders_repo.claim_commands(c, "w", T0, T0 + timedelta(minutes=1), 10)
        assert orders_repo.command_done(c, command, "w", T0)
        OrderFolder(c, CONFIG, T0).command_answered(command, outcome, reason)
        record = orders_repo.get_order(c, ims_id=command.ims_id)
    assert record is not None
    return record


def _status(engine: Engine, status: str, sequence: int) -> None:
    event = WarehouseOrderStatus("SO501", status, sequence, "WH1", T0)
    with engine.begin() as c:
        OrderFolder(c, CONFIG, T0).fold_warehouse_status(event)


def test_same_version_twice_creates_one_order_command(catalog: Engine) -> None:
    order = _order(OrderLine(1, "mug", 1), OrderLine(2, "gift-box", 1))
    _fold(catalog, order)
    record = _fold(catalog, order)
    assert record.state == OrderState.RELEASE_PENDING
    assert _commands(catalog) == [("create", "pending")]
    record = _answer(catalog)
    assert record.state == OrderState.RELEASED
    assert record.sent is not None
    assert [(line.sku, line.quantity, line.parent_line) for line in record.sent.lines] == [
        ("MUG", 1, 1),
        ("MUG", 2, 2),
        ("TEA", 1, 2),
    ]


def test_unmapped_ship_method_is_held_then_released_when_the_mapping_is_added(catalog: Engine) -> None:
    record = _fold(catalog, _order(OrderLine(1, "mug", 1), ship="DHL Express"))
    assert record.state == OrderState.HELD
    with catalog.connect() as c:
        (problem,) = [e for e in list_exceptions(c) if e.entity == "order:SO501"]
    assert (problem.type, problem.owner, problem.state) == (
        "unmapped_ship_method",
        "operations",
        ExceptionState.OPEN,
    )
    mapped = config(
        orders={"ship_methods": {"UPS Ground": "STD", "DHL Express": "EXP"}}, sku_rules={"case": "upper"}
    )
    with catalog.begin() as c:
        assert OrderFolder(c, mapped, T0).revalidate_held() == 1
    assert _commands(catalog) == [("create", "pending")]
    with catalog.connect() as c:
        (problem,) = [e for e in list_exceptions(c) if e.entity == "order:SO501"]
    assert problem.state == ExceptionState.RESOLVED


def test_edit_before_pick_amends_and_after_pick_raises(catalog: Engine) -> None:
    _fold(catalog, _order(OrderLine(1, "mug", 1)))
    _answer(catalog)
    record = _fold(catalog, _order(OrderLine(1, "mug", 3), stamp="2026-11-26 09:05:00"))
    assert record.state == OrderState.AMEND_PENDING
    record = _answer(catalog)
    assert record.state == OrderState.RELEASED
    assert record.sent is not None
    assert record.sent.lines[0].quantity == 3
    _status(catalog, "allocated", 10)
    _status(catalog, "picking", 11)
    _status(catalog, "allocated", 9)  # late and older: ignored
    record = _fold(catalog, _order(OrderLine(1, "mug", 5), stamp="2026-11-26 09:09:00"))
    assert record.state == OrderState.LOCKED
    assert record.wms_status == "picking"
    assert _commands(catalog) == [("create", "sent"), ("amend", "sent")]
    with catalog.connect() as c:
        assert [(e.type, e.owner) for e in list_exceptions(c)] == [("edit_after_pick", "operations")]


def test_amend_refused_because_picking_started_meanwhile(catalog: Engine) -> None:
    _fold(catalog, _order(OrderLine(1, "mug", 1)))
    _answer(catalog)
    _fold(catalog, _order(OrderLine(1, "mug", 2), stamp="2026-11-26 09:05:00"))
    record = _answer(catalog, Outcome.LOCKED, "picking has started")
    assert record.state == OrderState.LOCKED


def test_cancellation_after_release(catalog: Engine) -> None:
    _fold(catalog, _order(OrderLine(1, "mug", 1)))
    _answer(catalog)
    record = _fold(catalog, _order(OrderLine(1, "mug", 1), status="C", stamp="2026-11-26 09:05:00"))
    assert record.state == OrderState.CANCEL_PENDING
    assert _answer(catalog).state == OrderState.CANCELLED
    assert _commands(catalog) == [("create", "sent"), ("cancel", "sent")]


def test_manual_fulfilment_in_the_ims_reduces_the_warehouse_request(catalog: Engine) -> None:
    _fold(catalog, _order(OrderLine(1, "mug", 4), OrderLine(2, "tea", 1)))
    _answer(catalog)
    edited = _order(
        OrderLine(1, "mug", 4, quantity_fulfilled=1), OrderLine(2, "tea", 1), stamp="2026-11-26 09:05:00"
    )
    assert _fold(catalog, edited).state == OrderState.AMEND_PENDING
    record = _answer(catalog)
    assert record.sent is not None
    assert [(line.sku, line.quantity) for line in record.sent.lines] == [("MUG", 3), ("TEA", 1)]


def test_an_older_version_arriving_late_changes_nothing(catalog: Engine) -> None:
    _fold(catalog, _order(OrderLine(1, "mug", 2), stamp="2026-11-26 09:05:00"))
    record = _fold(catalog, _order(OrderLine(1, "mug", 9), stamp="2026-11-26 09:00:00"))
    assert record.order.lines[0].quantity == 2
    assert _commands(catalog) == [("create", "pending")]


def test_warehouse_rejection_holds_the_order(catalog: Engine) -> None:
    _fold(catalog, _order(OrderLine(1, "mug", 1)))
    record = _answer(catalog, Outcome.REJECTED, "unknown_sku: MUG (lines[0].sku)")
    assert record.state == OrderState.HELD
    assert record.holds[0].code == "rejected_by_wms"


def test_stalled_release_and_long_hold_raise_exceptions(catalog: Engine) -> None:
    _fold(catalog, _order(OrderLine(1, "mug", 1)))
    held = replace(_order(OrderLine(1, "mug", 1), ship="Pigeon"), ims_id="502", reference="SO502")
    with catalog.begin() as c:
        OrderFolder(c, CONFIG, T0).fold_sales_order(held)
    with catalog.begin() as c:
        OrderFolder(c, CONFIG, T0 + timedelta(hours=2)).check_stalled()
    with catalog.connect() as c:
        found = {(e.type, e.entity) for e in list_exceptions(c)}
    assert ("order_stalled", "order:SO501") in found
    assert ("order_held_too_long", "order:SO502") in found


def test_command_is_claimed_by_one_worker_only(catalog: Engine) -> None:
    _fold(catalog, _order(OrderLine(1, "mug", 1)))
    with catalog.begin() as c:
        first = orders_repo.claim_commands(c, "a", T0, T0 + timedelta(minutes=1), 10)
        second = orders_repo.claim_commands(c, "b", T0, T0 + timedelta(minutes=1), 10)
    assert [cmd.kind for cmd in first] == [CommandKind.CREATE]
    assert second == []


def test_colliding_skus_hold_the_order_as_a_collision_owned_by_merchandising(engine: Engine) -> None:
    with engine.begin() as c:
        items_repo.upsert_items(c, [ImsItem("00123", "201", False), ImsItem("123", "202", False)])
    cfg = config(orders={"ship_methods": {"UPS Ground": "STD"}}, sku_rules={"leading_zeros": "strip"})
    record = _fold(engine, _order(OrderLine(1, "00123", 2)), cfg)
    assert record.state == OrderState.HELD
    assert [h.code for h in record.holds] == ["sku_collision"]
    with engine.connect() as c:
        (found,) = [(e.type, e.entity, e.owner, e.detail) for e in list_exceptions(c)]
    assert found == (
        "sku_collision",
        "order:SO501",
        "merchandising",
        "IMS SKUs 00123 and 123 both become 123 in the warehouse: rename one",
    )
    assert _commands(engine) == []
