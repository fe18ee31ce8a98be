"""Shipments without fulfilments: past `fulfilment.stall_after_s` each raises `fulfilment_stalled`
(no Item Fulfilment; or, on a storefront's route ims, no store fulfilment after the Item
Fulfilment), resolved when the fulfilment is answered. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine
from tests.factories import T0, config

from stockbridge.domain.fulfilment import Shipment, ShippedLine
from stockbridge.domain.fulfilment_state import FulfilmentCommand, ShipmentState
from stockbridge.domain.order_state import Outcome
from stockbridge.domain.orders import OrderLine, SalesOrder
from stockbridge.domain.shipping import Address
from stockbridge.flows.fulfilment import FulfilmentFolder
from stockbridge.flows.orders import OrderFolder
from stockbridge.store import fulfilment_repo, items_repo, orders_repo
from stockbridge.store.bookkeeping import list_exceptions
from stockbridge.store.items_repo import ImsItem
from stockbridge.store.states import ExceptionState

CONFIG = config(orders={"ship_methods": {"UPS Ground": "STD"}})
STALL = timedelta(seconds=CONFIG.fulfilment.stall_after_s)
ADDRESS = Address("Ada Lovelace", "1 Analytical St", "", "London", "", "N1 9GU", "GB")
ORDER = SalesOrder("801", "SO801", "B", "UPS Ground", ADDRESS, (OrderLine(1, "MUG", 2),), "v1")


def _shipment(sid: str, reference: str = "SO801") -> Shipment:
    return Shipment(sid, reference, "UPS", "STD", ("1Z" + sid,), (ShippedLine("1", "MUG", 1),), 1)


def _release_and_ship(engine: Engine, sid: str) -> None:
    with engine.begin() as c:
        items_repo.upsert_items(c, [ImsItem("MUG", "1", False)])
        items_repo.record_wms_items(c, {"MUG": (True, "MUG")}, T0)
        OrderFolder(c, CONFIG, T0).fold_sales_order(ORDER)
        (command,) = orders_repo.claim_commands(c, "w", T0, T0 + timedelta(minutes=1), 5)
        orders_repo.command_done(c, command, "w", T0)
        OrderFolder(c, CONFIG, T0).command_answered(command, Outcome.DONE, "")
        FulfilmentFolder(c, CONFIG, T0).fold_shipment(_shipment(sid))


def _check(engine: Engine, now: datetime) -> dict[str, str]:
    """Run the fulfilment checks at `now`; open fulfilment_stalled entity → owner."""
    with engine.begin() as c:
        FulfilmentFolder(c, CONFIG, now).check()
        return {
            e.entity: e.owner
            for e in list_exceptions(c, state=ExceptionState.OPEN)
            if e.type == "fulfilment_stalled"
        }


def _answer(engine: Engine, kind: FulfilmentCommand, now: datetime) -> None:
    with engine.begin() as c:
        for task in fulfilment_repo.claim(c, "w", now, now + timedelta(minutes=1), 10):
            if task.kind != kind:
                continue
            fulfilment_repo.done(c, task, "w", now)
            folder = FulfilmentFolder(c, CONFIG, now)
            if kind == FulfilmentCommand.ITEM_FULFILMENT:
                folder.item_fulfilment_answered(task.shipment_id, created=True)
            else:
                folder.store_fulfilment_answered(task.shipment_id)


def test_despatch_without_item_fulfilment_past_its_time_raises_then_resolves(engine: Engine) -> None:
    _release_and_ship(engine, "SH-1")
    assert _check(engine, T0 + STALL) == {}  # not past its time yet
    late = T0 + STALL + timedelta(seconds=1)
    assert _check(engine, late) == {"shipment:SH-1": CONFIG.owners.fulfilment_stalled}
    _answer(engine, FulfilmentCommand.ITEM_FULFILMENT, late)
    assert _check(engine, late) == {}


def test_store_fulfilment_after_the_item_fulfilment_past_its_time_raises_then_resolves(
    engine: Engine,
) -> None:
    """Route ims: the IMS has the Item Fulfilment (shipment `fulfilled`), the store's fulfilment, a
    follow-on written then, has not been made."""
    followed_at = T0 + timedelta(minutes=30)
    with engine.begin() as c:
        fulfilment_repo.add_shipment(c, _shipment("SH-2", "SHOP-1001"), T0)
        fulfilment_repo.set_state(c, "SH-2", ShipmentState.FULFILLED, followed_at, {1: 1})
        fulfilment_repo.add_commands(c, "SH-2", [FulfilmentCommand.STORE_FULFILMENT], followed_at)
    # The shipment is older than the stall time, but its follow-on is not.
    assert _check(engine, followed_at + STALL) == {}
    late = followed_at + STALL + timedelta(seconds=1)
    assert _check(engine, late) == {"shipment:SH-2": CONFIG.owners.fulfilment_stalled}
    _answer(engine, FulfilmentCommand.STORE_FULFILMENT, late)
    assert _check(engine, late) == {}
