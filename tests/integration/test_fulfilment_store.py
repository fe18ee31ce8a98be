"""The fulfilment fold on SQLite and PostgreSQL: parking, one Item Fulfilment per shipment, follow-ons."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from tests.factories import T0, config

from stockbridge.domain.bundles import KitMember
from stockbridge.domain.fulfilment import Shipment, ShippedLine
from stockbridge.domain.fulfilment_state import ShipmentState
from stockbridge.domain.inbound import WarehouseOrderStatus
from stockbridge.domain.order_state import OrderState, Outcome
from stockbridge.domain.orders import OrderLine, SalesOrder
from stockbridge.domain.shipping import Address
from stockbridge.flows.fulfilment import FulfilmentFolder
from stockbridge.flows.orders import OrderFolder
from stockbridge.store import fulfilment_repo, items_repo, orders_repo
from stockbridge.store.bookkeeping import list_exceptions
from stockbridge.store.items_repo import ImsItem
from stockbridge.store.schema import fulfilment_commands

CONFIG = config(orders={"ship_methods": {"UPS Ground": "STD"}})
ADDRESS = Address("Ada Lovelace", "1 Analytical St", "", "London", "", "N1 9GU", "GB")
ORDER = SalesOrder(
    "601", "SO601", "B", "UPS Ground", ADDRESS, (OrderLine(1, "MUG", 3), OrderLine(2, "BOX", 2)), "s1"
)


@pytest.fixture
def store(engine: Engine) -> Engine:
    with engine.begin() as c:
        items_repo.upsert_items(
            c,
            [
                ImsItem("MUG", "1", False),
                ImsItem("TEA", "2", False),
                ImsItem("BOX", "3", False, item_type="Kit"),
            ],
        )
        items_repo.replace_kits(c, {"BOX": [KitMember("MUG", 1), KitMember("TEA", 1)]})
        items_repo.record_wms_items(c, {"MUG": (True, "MUG"), "TEA": (True, "TEA")}, T0)
    return engine


def _release(engine: Engine) -> None:
    with engine.begin() as c:
        OrderFolder(c, CONFIG, T0).fold_sales_order(ORDER)
        (command,) = orders_repo.claim_commands(c, "w", T0, T0 + timedelta(minutes=1), 5)
        orders_repo.command_done(c, command, "w", T0)
        OrderFolder(c, CONFIG, T0).command_answered(command, Outcome.DONE, "")


def _ship(engine: Engine, sid: str, *lines: tuple[str, str, int], seq: int = 1) -> None:
    shipment = Shipment(
        sid, "SO601", "UPS", "STD", ("1Z" + sid,), tuple(ShippedLine(*line) for line in lines), seq
    )
    with engine.begin() as c:
        FulfilmentFolder(c, CONFIG, T0).fold_shipment(shipment)


def _commands(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as c:
        rows = c.execute(select(fulfilment_commands).order_by(fulfilment_commands.c.id))
        return [(r.shipment_id, r.kind) for r in rows]


def _answer_if(engine: Engine, created: bool = True) -> None:
    with engine.begin() as c:
        for task in fulfilment_repo.claim(c, "w", T0, T0 + timedelta(minutes=1), 10):
            fulfilment_repo.done(c, task, "w", T0)
            if task.kind.value == "item_fulfilment":
                FulfilmentFolder(c, CONFIG, T0).item_fulfilment_answered(task.shipment_id, created)


def _state(engine: Engine, sid: str) -> tuple[ShipmentState, dict[int, int] | None]:
    with engine.connect() as c:
        record = fulfilment_repo.get_shipment(c, sid)
    assert record is not None
    return record.state, record.fulfil_lines


def test_despatch_before_its_order_is_parked_then_fulfilled(store: Engine) -> None:
    _ship(store, "S1", ("1", "MUG", 3))
    assert _state(store, "S1")[0] == ShipmentState.PARKED
    assert _commands(store) == []
    _release(store)
    assert _state(store, "S1") == (ShipmentState.IF_PENDING, {1: 3})
    assert _commands(store) == [("S1", "item_fulfilment")]


def test_duplicate_despatch_message_makes_one_item_fulfilment(store: Engine) -> None:
    _release(store)
    _ship(store, "S1", ("1", "MUG", 1))
    _ship(store, "S1", ("1", "MUG", 1))
    assert _commands(store) == [("S1", "item_fulfilment")]


def test_follow_ons_are_written_only_when_the_item_fulfilment_exists(store: Engine) -> None:
    _release(store)
    _ship(store, "S1", ("1", "MUG", 3))
    assert [kind for _, kind in _commands(store)] == ["item_fulfilment"]
    _answer_if(store)
    assert _commands(store) == [("S1", "item_fulfilment"), ("S1", "notify"), ("S1", "invoice")]


def test_refused_item_fulfilment_tells_nobody_and_raises(store: Engine) -> None:
    _release(store)
    _ship(store, "S1", ("1", "MUG", 3))
    _answer_if(store, created=False)
    assert _commands(store) == [("S1", "item_fulfilment")]
    with store.connect() as c:
        assert [(e.type, e.owner) for e in list_exceptions(c)] == [("over_fulfilment", "operations")]


def test_bundle_in_two_parcels_is_fulfilled_when_whole(store: Engine) -> None:
    _release(store)
    _ship(store, "S1", ("2.1", "MUG", 2), ("1", "MUG", 1), seq=1)
    assert _state(store, "S1") == (ShipmentState.IF_PENDING, {1: 1})
    _ship(store, "S2", ("2.2", "TEA", 1), seq=2)
    assert _state(store, "S2") == (ShipmentState.IF_PENDING, {2: 1})
    _ship(store, "S3", ("2.2", "TEA", 1), ("1", "MUG", 2), seq=3)
    assert _state(store, "S3") == (ShipmentState.IF_PENDING, {1: 2, 2: 1})


def test_parked_too_long_raises_to_operations(store: Engine) -> None:
    _ship(store, "S9", ("1", "MUG", 1))
    with store.begin() as c:
        FulfilmentFolder(c, CONFIG, T0 + timedelta(hours=2)).check()
    with store.connect() as c:
        assert [(e.type, e.entity, e.owner) for e in list_exceptions(c)] == [
            ("fulfilment_waiting_for_order", "shipment:S9", "operations")
        ]


def test_the_hubs_own_fulfilments_are_not_mistaken_for_edits(store: Engine) -> None:
    from dataclasses import replace

    from stockbridge.domain.order_state import OrderState
    from stockbridge.store.schema import order_commands

    _release(store)
    _ship(store, "S1", ("1", "MUG", 3))
    _answer_if(store)
    shown = replace(
        ORDER, lines=(OrderLine(1, "MUG", 3, quantity_fulfilled=3), ORDER.lines[1]), last_modified="s2"
    )
    with store.begin() as c:
        OrderFolder(c, CONFIG, T0).fold_sales_order(shown)
        record = orders_repo.get_order(c, reference="SO601")
        kinds = [r.kind for r in c.execute(select(order_commands))]
    assert record is not None
    assert record.state == OrderState.RELEASED
    assert kinds == ["create"]
    # A line fulfilled by hand on top is still a change to the warehouse's request.
    by_hand = replace(
        ORDER, lines=(ORDER.lines[0], OrderLine(2, "BOX", 2, quantity_fulfilled=1)), last_modified="s3"
    )
    with store.begin() as c:
        OrderFolder(c, CONFIG, T0).fold_sales_order(by_hand)
        kinds = [r.kind for r in c.execute(select(order_commands))]
    assert kinds == ["create", "amend"]


def test_status_table_raises_when_the_ims_does_not_show_the_mapped_status(store: Engine) -> None:
    from dataclasses import replace

    _release(store)
    _ship(store, "S1", ("1", "MUG", 3), ("2.1", "MUG", 2), ("2.2", "TEA", 2))
    _answer_if(store)
    event = WarehouseOrderStatus("SO601", "despatched", 5, "WH1", T0)
    with store.begin() as c:
        OrderFolder(c, CONFIG, T0).fold_warehouse_status(event)
    later = T0 + timedelta(hours=1)
    with store.begin() as c:
        FulfilmentFolder(c, CONFIG, later).check_statuses()
    with store.connect() as c:
        assert [(e.type, e.state.value) for e in list_exceptions(c)] == [("status_drift", "open")]
    # The IMS catches up (Pending Billing); the next check resolves it.
    with store.begin() as c:
        record = orders_repo.get_order(c, reference="SO601")
        assert record is not None
        orders_repo.save_order(c, replace(record, order=replace(record.order, status="F")), later)
        FulfilmentFolder(c, CONFIG, later).check_statuses()
    with store.connect() as c:
        assert [(e.type, e.state.value) for e in list_exceptions(c)] == [("status_drift", "resolved")]


# --- cancelled in the IMS, despatched by the warehouse (issue 8, defect 7) -------------------------
CANCELLED_ORDER = replace(
    ORDER, status="C", last_modified="s2", lines=tuple(replace(ln, is_closed=True) for ln in ORDER.lines)
)


def _fold_order(engine: Engine, order: SalesOrder) -> None:
    with engine.begin() as c:
        OrderFolder(c, CONFIG, T0).fold_sales_order(order)


def _warehouse_says(engine: Engine, status: str, sequence: int) -> None:
    event = WarehouseOrderStatus("SO601", status, sequence, "WH1", T0)
    with engine.begin() as c:
        OrderFolder(c, CONFIG, T0).fold_warehouse_status(event)


def _open_exceptions(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as c:
        return sorted((e.type, e.entity, e.owner) for e in list_exceptions(c) if e.state.value == "open")


def _order_state(engine: Engine) -> OrderState:
    with engine.connect() as c:
        record = orders_repo.get_order(c, reference="SO601")
    assert record is not None
    return record.state


CANCELLED_AFTER_DESPATCH = ("cancelled_after_despatch", "order:SO601", "customer_service")


def test_despatch_of_an_order_cancelled_in_the_ims_is_named_and_not_complete(store: Engine) -> None:
    _release(store)
    _warehouse_says(store, "despatched", 5)
    assert _order_state(store) == OrderState.COMPLETE
    _fold_order(store, CANCELLED_ORDER)
    _ship(store, "S1", ("1", "MUG", 3))
    assert _order_state(store) == OrderState.DESPATCHED_CANCELLED
    assert _state(store, "S1")[0] == ShipmentState.ORDER_CANCELLED
    assert _commands(store) == []  # no Item Fulfilment the IMS would refuse, nobody told it shipped
    assert _open_exceptions(store) == [CANCELLED_AFTER_DESPATCH]
    with store.connect() as c:
        (found,) = list_exceptions(c)
    assert "shipment S1 (UPS 1ZS1)" in found.detail


def test_item_fulfilment_refused_before_the_cancellation_was_seen_is_renamed(store: Engine) -> None:
    _release(store)
    _ship(store, "S1", ("1", "MUG", 3))
    _answer_if(store, created=False)  # the IMS had cancelled the order meanwhile
    assert _open_exceptions(store) == [("over_fulfilment", "shipment:S1", "operations")]
    _warehouse_says(store, "despatched", 5)
    _fold_order(store, CANCELLED_ORDER)
    assert _order_state(store) == OrderState.DESPATCHED_CANCELLED
    assert _state(store, "S1")[0] == ShipmentState.ORDER_CANCELLED
    assert _open_exceptions(store) == [CANCELLED_AFTER_DESPATCH]


def test_cancellation_refused_by_the_warehouse_then_despatched(store: Engine) -> None:
    _release(store)
    _fold_order(store, CANCELLED_ORDER)
    assert _order_state(store) == OrderState.CANCEL_PENDING
    with store.begin() as c:
        (command,) = orders_repo.claim_commands(c, "w", T0, T0 + timedelta(minutes=1), 5)
        orders_repo.command_done(c, command, "w", T0)
        OrderFolder(c, CONFIG, T0).command_answered(command, Outcome.LOCKED, "")
    assert _order_state(store) == OrderState.LOCKED
    _warehouse_says(store, "partially_despatched", 6)
    assert _order_state(store) == OrderState.DESPATCHED_CANCELLED
    _ship(store, "S1", ("1", "MUG", 1))
    _warehouse_says(store, "despatched", 7)
    assert _order_state(store) == OrderState.DESPATCHED_CANCELLED
    assert _commands(store) == []
    assert CANCELLED_AFTER_DESPATCH in _open_exceptions(store)
