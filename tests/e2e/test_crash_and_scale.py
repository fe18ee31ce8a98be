"""Killed workers and several workers: nothing lost, nothing pushed twice."""

from __future__ import annotations

import random
import signal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from tests.e2e.stack import Stack, stack, wait_until

from stockbridge.demo.traffic import Traffic, sku_name
from stockbridge.store import outbox_repo
from stockbridge.store.schema import inbox

pytestmark = pytest.mark.slow


def _movements(skus: int, count: int, seed: int) -> list[dict[str, object]]:
    traffic = Traffic(skus, seed)
    return list(traffic.initial_receipts()) + [traffic.next() for _ in range(count)]


def _distinct_movement_events(env: Stack) -> int:
    engine = create_engine(env.database_url)
    with engine.connect() as c:
        count = c.execute(
            select(func.count()).select_from(inbox).where(inbox.c.kind == "inventory.movement")
        ).scalar_one()
    engine.dispose()
    return int(count)


def test_sigkill_at_random_points_loses_and_duplicates_nothing(db_url: str, tmp_path: Path) -> None:
    rng = random.Random(20261126)
    with stack(db_url, tmp_path) as env:
        env.create_items([sku_name(i) for i in range(60)])
        env.ims_faults(latency_ms=40)  # keep pushes in flight, so a kill lands mid-call
        env.subscribe()
        movements = _movements(60, 900, seed=8)
        parts = [movements[:300], movements[300:650], movements[650:]]
        kills = 0
        for part in parts:
            with env.hub_process() as proc:
                env.move(part)
                calls_before = env.ims_stats()["calls"]
                target = calls_before + rng.randint(2, 8)
                wait_until(lambda t=target: env.ims_stats()["calls"] >= t or env.hub_idle(), 60, "pushes")
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
        with env.hub_process():
            env.drain()
            env.wait_converged(timeout_s=120)
            # Every movement Clarus made reached the inbox exactly once: no loss, no duplicate.
            assert _distinct_movement_events(env) == env.clarus_sequence()
        assert kills == 3
        assert env.duplicate_adjustment_lines() == []


def test_two_worker_processes_share_one_postgres(pg_url: str, tmp_path: Path) -> None:
    with stack(pg_url, tmp_path) as env:
        env.engine_settings = {"claim_batch": 40, "fold_batch": 200}
        env.create_items([sku_name(i) for i in range(300)])
        env.ims_faults(latency_ms=15)
        env.subscribe()
        with (
            env.hub_process("serve", "--worker-id", "worker-a"),
            env.hub_process("worker", "--worker-id", "worker-b"),
        ):
            env.move(_movements(300, 1500, seed=9))
            env.drain()
            env.wait_converged(timeout_s=120)
        assert env.duplicate_adjustment_lines() == []
        engine = create_engine(env.database_url)
        with engine.connect() as c:
            senders = outbox_repo.senders(c)
        engine.dispose()
        assert set(senders) == {"worker-a", "worker-b"}, senders
