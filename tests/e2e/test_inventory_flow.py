"""The inventory flow end to end: Clarus simulator → hub → IMS simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from tests.e2e.stack import Stack, stack, wait_until

from stockbridge.demo.traffic import Traffic, sku_name
from stockbridge.store.bookkeeping import list_exceptions
from stockbridge.store.states import ExceptionState

pytestmark = pytest.mark.slow


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[Stack]:
    with stack(db_url, tmp_path) as s:
        yield s


def _day(skus: int, movements: int, seed: int) -> list[dict[str, object]]:
    traffic = Traffic(skus, seed)
    opening = list(traffic.initial_receipts())
    return opening + [traffic.next() for _ in range(movements)]


def _exceptions(env: Stack) -> dict[tuple[str, str], tuple[str, ExceptionState]]:
    engine = create_engine(env.database_url)
    with engine.connect() as c:
        found = {(e.type, e.entity): (e.owner, e.state) for e in list_exceptions(c)}
    engine.dispose()
    return found


def test_stock_reaches_the_ims_through_duplicates_and_reordering(env: Stack) -> None:
    skus = [sku_name(i) for i in range(40)]
    env.create_items(skus)
    with env.hub():
        env.subscribe()
        env.faults(duplicate_rate=0.3, reorder_rate=0.3, delay_ms=[0, 5], failure_rate=0.1)
        env.move(_day(40, 600, seed=3))
        env.drain()
        env.wait_converged()
        health = env.health()
    assert health["counters"]["inbox.duplicates"] > 0
    assert env.adjustments_off_target() == []


def test_lost_webhooks_are_repaired_by_the_full_sync(env: Stack) -> None:
    skus = [sku_name(i) for i in range(30)]
    env.create_items(skus)
    with env.hub():
        env.subscribe()
        env.move(_day(30, 100, seed=4)[:30])
        env.drain()
        env.wait_converged()
        env.faults(drop_rate=1.0)  # every further webhook is lost
        env.move(_day(30, 300, seed=5)[30:])
        env.drain()
        wait_until(env.hub_idle, 30, "the hub to go idle")
        assert env.drift() > 0, "lost webhooks should leave the IMS behind until the full sync"
        env.run_job("full_sync")
        env.wait_converged()


def test_unknown_and_inactive_skus_raise_exceptions_then_flow_once_fixed(env: Stack) -> None:
    env.create_items(["KNOWN-1", "SLEEPY-1"], inactive=frozenset({"SLEEPY-1"}))
    movements = [
        {
            "warehouse_id": "WH1",
            "movement_type": "receipt",
            "sku": sku,
            "quantity": qty,
            "to_status": "available",
        }
        for sku, qty in (("KNOWN-1", 5), ("SLEEPY-1", 7), ("NEW-1", 9))
    ]
    with env.hub():
        env.subscribe()
        env.move(movements)
        env.drain()
        wait_until(lambda: env.on_hand("KNOWN-1") == 5, 30, "the known SKU to be pushed")
        wait_until(lambda: ("unknown_sku", "sku:NEW-1@ims") in _exceptions(env), 30, "unknown_sku exception")
        found = _exceptions(env)
        assert found[("unknown_sku", "sku:NEW-1@ims")] == ("merchandising", ExceptionState.OPEN)
        assert found[("inactive_sku", "sku:SLEEPY-1@ims")] == ("merchandising", ExceptionState.OPEN)
        assert env.on_hand("SLEEPY-1") == 0
        assert env.on_hand("NEW-1") == 0
        # Merchandising fixes the items; the hub pushes the stock that waited and closes the exceptions.
        env.create_items(["NEW-1"])
        env.activate("SLEEPY-1")
        env.run_job("blocked_refresh")
        env.wait_converged()
        assert env.on_hand("NEW-1") == 9
        assert env.on_hand("SLEEPY-1") == 7
    found = _exceptions(env)
    assert found[("unknown_sku", "sku:NEW-1@ims")][1] == ExceptionState.RESOLVED
    assert found[("inactive_sku", "sku:SLEEPY-1@ims")][1] == ExceptionState.RESOLVED


def test_ims_throttling_errors_and_outage_are_ridden_out(env: Stack) -> None:
    skus = [sku_name(i) for i in range(40)]
    env.create_items(skus)
    env.ims_limits(calls_per_second=4, concurrency_limit=1)
    env.ims_faults(fail_rate=0.2, fail_after_commit_rate=0.2, latency_ms=20)
    with env.hub():
        env.subscribe()
        env.move(_day(40, 200, seed=6))
        env.drain()
        env.ims_faults(outage=True)
        env.move(_day(40, 200, seed=7)[40:])
        env.drain()
        env.ims_faults(outage=False)
        env.wait_converged(timeout_s=90)
    env.ims_faults(fail_rate=0, fail_after_commit_rate=0)  # the checks below read the IMS too
    stats = env.ims_stats()
    assert stats["throttled_429"] > 0
    assert stats["errors_5xx"] > 0
    # Adjustments that were applied and then answered 500 were re-sent with the same external id.
    assert env.adjustments_off_target() == []


def test_dead_lettered_push_is_visible_and_replayable(env: Stack) -> None:
    from typer.testing import CliRunner

    from stockbridge.cli import app

    env.create_items(["DL-1", "DL-2"])
    # The IMS refuses adjustments with more than one line: a misconfigured max_lines_per_call.
    env.ims_limits(max_lines_per_request=1)
    receipts = [
        {
            "warehouse_id": "WH1",
            "movement_type": "receipt",
            "sku": sku,
            "quantity": 4,
            "to_status": "available",
        }
        for sku in ("DL-1", "DL-2")
    ]
    # Moved while the hub is down, so it reads both from the events feed at start and folds them
    # together: one two-line adjustment (a trickle would go out one line at a time, and succeed).
    env.move(receipts)
    with env.hub():
        env.subscribe()
        env.drain()
        wait_until(lambda: env.health()["batches"].get("dead", 0) >= 1, 30, "the batch to be dead-lettered")
        assert any(kind == "push_failed" for kind, _ in _exceptions(env))
        assert env.on_hand("DL-1") == 0
        env.ims_limits(max_lines_per_request=1000)  # the fix
        result = CliRunner().invoke(app, ["replay", "--config", str(env.write_config())])
        assert result.exit_code == 0, result.output
        env.wait_converged()
    assert env.on_hand("DL-1") == 4
    assert env.on_hand("DL-2") == 4
