"""The weekly reconciliation against the simulators over HTTP, on SQLite and PostgreSQL: it ties out
on a clean week of receipts, shipments and adjustments, and lists planted differences (a SKU the IMS
does not know, an adjustment posted in the IMS by hand) with the hub's explanation of each.

Expected figures come from what this test asked Clarus to do and from the simulators' own state
(`/_control/state`), not from the hub's rules.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine
from tests.e2e.stack import ENVIRON, Stack, stack, wait_until

from stockbridge.config import IMS_CHANNEL_NAME
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.connectors.netsuite.client import AdjustmentLine
from stockbridge.engine.clock import SystemClock
from stockbridge.engine.connect import connect
from stockbridge.monitor.drift import check_drift
from stockbridge.reports import write_weekly
from stockbridge.reports.gather import reconciliation
from stockbridge.reports.reconcile import ReconciliationRow
from stockbridge.store.bookkeeping import list_exceptions
from stockbridge.store.states import ExceptionState

pytestmark = pytest.mark.slow

COUNTED = ("available", "allocated", "picked")  # what the stack's configuration counts for the IMS
SKUS = ("REC-1", "REC-2", "REC-3")


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[Stack]:
    with stack(db_url, tmp_path) as s:
        yield s


def _move(kind: str, sku: str, quantity: int, **extra: Any) -> dict[str, Any]:
    return {"warehouse_id": "WH1", "movement_type": kind, "sku": sku, "quantity": quantity, **extra}


# A week at the warehouse. Receipts of sellable stock: straight into available, or into inbound and
# put away. Shipments: allocated, picked, despatched. Adjustments: a stock count, damage written off,
# stock put in quarantine.
WEEK = [
    _move("receipt", "REC-1", 40, to_status="available"),
    _move("receipt", "REC-2", 25, to_status="inbound"),
    _move("putaway", "REC-2", 20),
    _move("receipt", "REC-3", 12, to_status="available"),
    _move("allocate", "REC-1", 6),
    _move("pick", "REC-1", 6),
    _move("despatch", "REC-1", 6),
    _move("allocate", "REC-3", 2),
    _move("pick", "REC-3", 2),
    _move("despatch", "REC-3", 2),
    {
        "warehouse_id": "WH1",
        "movement_type": "count",
        "sku": "REC-2",
        "counted_quantity": 17,
        "to_status": "available",
    },
    _move("status_change", "REC-1", 3, from_status="available", to_status="damaged"),
    _move("write_off", "REC-1", 3, from_status="damaged"),
    _move("status_change", "REC-3", 1, from_status="available", to_status="quarantine"),
]
# What this test asked for, in units of sellable (IMS-counted) stock.
RECEIPTS = {"REC-1": 40, "REC-2": 20, "REC-3": 12}
SHIPMENTS = {"REC-1": 6, "REC-2": 0, "REC-3": 2}
ADJUSTMENTS = {"REC-1": -3, "REC-2": -3, "REC-3": -1}


def _clarus_counted(env: Stack) -> dict[str, int]:
    stock = env.http.get(f"{env.clarus_url}/_control/state").json()["warehouses"]["WH1"]["stock"]
    return {sku: sum(q for s, q in statuses.items() if s in COUNTED) for sku, statuses in stock.items()}


def _reconcile(env: Stack, engine: Engine, now: datetime) -> dict[str, ReconciliationRow]:
    async def run() -> list[ReconciliationRow]:
        conn = connect(env.config, ENVIRON)
        try:
            return await reconciliation(
                engine,
                env.config,
                ClarusInbound(),
                conn.stock_channels[IMS_CHANNEL_NAME],
                conn.ims_ledger,
                now,
                now - timedelta(days=7),
            )
        finally:
            await conn.aclose()

    return {r.sku: r for r in asyncio.run(run())}


def _open(engine: Engine, type: str, entity: str) -> bool:
    with engine.connect() as c:
        return any(
            e.type == type and e.entity == entity for e in list_exceptions(c, state=ExceptionState.OPEN)
        )


def _hand_adjustment(env: Stack, sku: str, by: int) -> None:
    """Someone posts an inventory adjustment in the IMS, outside the hub."""
    item_id = env.ims_items()[sku]["id"]

    async def post() -> None:
        conn = connect(env.config, ENVIRON)
        try:
            await conn.ims.upsert_inventory_adjustment(
                "by-hand-1",
                account_id="1",
                location_id="6",
                lines=[AdjustmentLine(item_id, by, "count")],
                memo="counted by hand",
            )
        finally:
            await conn.aclose()

    asyncio.run(post())


def test_weekly_reconciliation_ties_out_then_lists_planted_differences(env: Stack, tmp_path: Path) -> None:
    env.create_items(list(SKUS))
    engine = create_engine(env.database_url)
    try:
        with env.hub():
            env.subscribe()
            env.move(WEEK)
            env.drain()
            env.wait_converged()
            clean = _reconcile(env, engine, datetime.now(UTC))

            # Planted: a receipt of a SKU the IMS does not know (blocked, unknown_sku).
            env.move([_move("receipt", "GHOST-1", 9, to_status="available")])
            env.drain()
            wait_until(lambda: _open(engine, "unknown_sku", "sku:GHOST-1@ims"), 30, "the unknown SKU blocked")

        closing = _clarus_counted(env)
        assert set(clean) == set(SKUS)
        for sku, row in clean.items():
            assert row.clarus.receipts == RECEIPTS[sku], sku
            assert row.clarus.shipments == SHIPMENTS[sku], sku
            assert row.clarus.adjustments == ADJUSTMENTS[sku], sku
            assert (row.clarus.opening, row.clarus.unseen) == (0, 0)
            assert row.clarus.closing == closing[sku] == row.hub_observed
            assert row.clarus.ties()
            assert row.ims_closing == env.on_hand(sku) == closing[sku]
            assert row.ims_adjustments == closing[sku]  # the IMS started the week at 0
            assert (row.difference, row.unexplained, row.explanations) == (0, 0, [])

        # Planted with the hub stopped: 4 units adjusted in the IMS by hand, found by the drift check.
        _hand_adjustment(env, "REC-1", 4)

        async def drift_check() -> None:
            c = connect(env.config, ENVIRON)
            try:
                await check_drift(engine, [c.stock_channels[IMS_CHANNEL_NAME]], env.config, SystemClock())
            finally:
                await c.aclose()

        asyncio.run(drift_check())
        now = datetime.now(UTC)
        planted = _reconcile(env, engine, now)
        differing = {sku: row for sku, row in planted.items() if row.difference}
        assert set(differing) == {"REC-1", "GHOST-1"}
        ghost, drifted = differing["GHOST-1"], differing["REC-1"]
        assert (ghost.clarus.receipts, ghost.clarus.closing, ghost.ims_closing, ghost.difference) == (
            9,
            9,
            None,
            -9,
        )
        assert ghost.unexplained == 0
        assert "blocked in the IMS: unknown_sku" in ghost.explanations[0].reason
        assert (drifted.difference, drifted.ims_adjustments, drifted.unexplained) == (
            4,
            closing["REC-1"] + 4,
            0,
        )
        assert drifted.explanations[0].reason.startswith("drift open")

        async def written() -> Path:
            c = connect(env.config, ENVIRON)
            try:
                return await write_weekly(
                    engine,
                    env.config,
                    tmp_path / "reports",
                    now,
                    formats=ClarusInbound(),
                    ims=c.stock_channels[IMS_CHANNEL_NAME],
                    ledger=c.ims_ledger,
                )
            finally:
                await c.aclose()

        page = asyncio.run(written())
        listed = (page.parent / "differences.csv").read_text().splitlines()
        assert len(listed) == 3  # the header, GHOST-1 and REC-1
        assert "drift open" in listed[2]
        assert "unknown_sku" in listed[1]
        assert page.exists()
    finally:
        engine.dispose()
