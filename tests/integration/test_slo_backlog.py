"""Backlog per flow: sizes and ages of what the test planted, the gauges, and `backlog_stalled` when a
flow's oldest item is past its target, resolved once it moves. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine
from tests.factories import T0, config, inbound, movement_event

from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.domain.fulfilment import Shipment, ShippedLine
from stockbridge.domain.order_state import Outcome
from stockbridge.domain.orders import OrderLine, SalesOrder
from stockbridge.domain.shipping import Address
from stockbridge.engine.clock import FakeClock
from stockbridge.flows.fulfilment import FulfilmentFolder
from stockbridge.flows.inventory import fold_entries
from stockbridge.flows.orders import OrderFolder
from stockbridge.monitor.backlog import FlowBacklog, read_backlog
from stockbridge.monitor.metrics import StoredMetrics
from stockbridge.monitor.slo import check_slos
from stockbridge.store import inbox_repo, items_repo, orders_repo, targets_repo
from stockbridge.store.bookkeeping import list_exceptions
from stockbridge.store.items_repo import ImsItem
from stockbridge.store.states import ExceptionState

AGE_TARGETS = {"default": 600, "targets.ims": 650, "held_orders": 3600}
CONFIG = config(
    orders={"ship_methods": {"UPS Ground": "STD"}},
    slo={"backlog_age_s": AGE_TARGETS, "owners": {"order_commands": "operations"}},
)
ADDRESS = Address("Ada Lovelace", "1 Analytical St", "", "London", "", "N1 9GU", "GB")


def _order(ims_id: str, ship_method: str) -> SalesOrder:
    return SalesOrder(ims_id, f"SO{ims_id}", "B", ship_method, ADDRESS, (OrderLine(1, "MUG", 1),), "v1")


def _fold_movements(engine: Engine, skus: Sequence[str], first_sequence: int, at: datetime) -> None:
    events = [movement_event(first_sequence + n, sku, {"available": 5}) for n, sku in enumerate(skus)]
    inbox_repo.store_events(engine, [inbound(e) for e in events], at)
    with engine.begin() as c:
        fold_entries(c, inbox_repo.claim_pending(c, 1000), CONFIG, at, formats=ClarusInbound())


def _plant(engine: Engine) -> dict[str, tuple[int, datetime]]:
    """Work in several flows, each at a known time; returns flow → (size, oldest since)."""
    with engine.begin() as c:
        items_repo.upsert_items(c, [ImsItem("MUG", "1", False)])
        items_repo.record_wms_items(c, {"MUG": (True, "MUG")}, T0)
    _fold_movements(engine, ["MUG-1", "MUG-2"], 1, T0)  # two dirty targets for the IMS
    with engine.begin() as c:
        folder = OrderFolder(c, CONFIG, T0)
        folder.fold_sales_order(_order("701", "UPS Ground"))  # its create waits in the outbox
        folder.fold_sales_order(_order("702", "Pigeon"))  # unmapped ship method: held
        parked = Shipment("SH-1", "SO999", "UPS", "STD", ("1Z1",), (ShippedLine("MUG", "MUG", 1),), 1)
        FulfilmentFolder(c, CONFIG, T0).fold_shipment(parked)  # order unknown: parked
    later = T0 + timedelta(seconds=120)
    unfolded = [movement_event(10 + n, f"TEA-{n}", {"available": 1}) for n in range(4)]
    inbox_repo.store_events(engine, [inbound(e) for e in unfolded], later)
    return {
        "targets.ims": (2, T0),
        "order_commands": (1, T0),
        "held_orders.ims": (1, T0),
        "parked_shipments": (1, T0),
        "inbox.inventory.movement": (len(unfolded), later),
    }


def _open(engine: Engine) -> dict[str, str]:
    with engine.begin() as c:
        return {
            e.entity: e.owner
            for e in list_exceptions(c, state=ExceptionState.OPEN)
            if e.type == "backlog_stalled"
        }


def _target(flow: str) -> float | None:
    """The oracle's reading of AGE_TARGETS: the flow, then its family, then default, except for the
    two families that wait for a person or an order."""
    family = flow.split(".")[0]
    for key in (flow, family):
        if key in AGE_TARGETS:
            return AGE_TARGETS[key]
    return None if family in ("held_orders", "parked_shipments") else AGE_TARGETS["default"]


def test_backlog_counts_and_ages_what_was_planted(engine: Engine) -> None:
    planted = _plant(engine)
    now = T0 + timedelta(seconds=700)
    with engine.begin() as c:
        rows = {row.flow: row for row in read_backlog(c, CONFIG, now)}
    for flow, (size, since) in planted.items():
        assert rows[flow] == FlowBacklog(flow, size, (now - since).total_seconds())
    empty = {flow for flow, row in rows.items() if row.size == 0}
    assert empty == set(rows) - set(planted)
    assert all(rows[flow].oldest_age_s is None for flow in empty)
    # Every flow is listed even when empty: a gauge never disappears.
    assert {"notifications", "stock_batches.ims", "fulfilment_commands.item_fulfilment"} <= empty

    metrics = {
        (family.name, sample.labels["flow"]): sample.value
        for family in StoredMetrics(engine, CONFIG, FakeClock(now)).collect()
        if family.name.startswith("stockbridge_backlog")
        for sample in family.samples
    }
    for flow, (size, since) in planted.items():
        assert metrics[("stockbridge_backlog_items", flow)] == size
        assert metrics[("stockbridge_backlog_oldest_age_seconds", flow)] == (now - since).total_seconds()


def test_a_backlog_past_its_target_is_stalled_until_it_moves(engine: Engine) -> None:
    planted = _plant(engine)
    clock = FakeClock(T0 + timedelta(seconds=700))
    now = clock.now()
    expected = {
        f"flow:{flow}"
        for flow, (_, since) in planted.items()
        if (target := _target(flow)) is not None and (now - since).total_seconds() > target
    }
    assert expected  # the plant is meant to break some targets and not others
    assert expected != {f"flow:{flow}" for flow in planted}
    assert {"flow:order_commands", "flow:targets.ims"} <= expected  # the two that move below
    report = asyncio.run(check_slos(engine, CONFIG, clock))
    assert {f"flow:{flow}" for flow in report.stalled} == expected
    owners = _open(engine)
    assert set(owners) == expected
    assert owners["flow:order_commands"] == "operations"  # slo.owners
    assert {o for e, o in owners.items() if e != "flow:order_commands"} <= {"integration"}

    # The order's create is acknowledged; the IMS targets are pushed (here: found in sync).
    with engine.begin() as c:
        (command,) = orders_repo.claim_commands(c, "w", now, now + timedelta(minutes=1), 5)
        orders_repo.command_done(c, command, "w", now)
        OrderFolder(c, CONFIG, now).command_answered(command, Outcome.DONE, "")
        rows = targets_repo.claim_dirty(c, "ims", "w", now, now + timedelta(minutes=1), 100)
        targets_repo.mark_in_sync(c, rows, "w", now)
    clock.advance(1)
    report = asyncio.run(check_slos(engine, CONFIG, clock))
    assert {"order_commands", "targets.ims"}.isdisjoint(report.stalled)
    assert set(_open(engine)) == expected - {"flow:order_commands", "flow:targets.ims"}
