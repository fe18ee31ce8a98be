"""Killed workers and several workers: nothing lost, nothing pushed twice."""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from tests.e2e.stack import stack, wait_until

from stockbridge.demo.traffic import Traffic, sku_name
from stockbridge.store import inbox_repo, outbox_repo, targets_repo

pytestmark = pytest.mark.slow


def _movements(skus: int, count: int, seed: int) -> list[dict[str, object]]:
    traffic = Traffic(skus, seed)
    return list(traffic.initial_receipts()) + [traffic.next() for _ in range(count)]


def _work_in_flight(engine: Engine) -> int:
    """Inbox rows not folded, targets not pushed, batches not answered: the hub's own work queue,
    read from its database (it only times the kills; what is right is the oracle's to say)."""
    with engine.connect() as c:
        return (
            inbox_repo.pending_count(c)
            + targets_repo.dirty_count(c)
            + outbox_repo.batches_by_state(c).get("pending", 0)
        )


def _when_busy(engine: Engine) -> int:
    """Wait until the hub has work in flight; the amount seen."""
    seen: list[int] = []
    wait_until(lambda: seen.append(_work_in_flight(engine)) is None and seen[-1] > 0, 30, "work in flight")
    return seen[-1]


def test_sigkill_at_random_points_of_a_burst_loses_doubles_and_leaves_stale_nothing(
    db_url: str, tmp_path: Path
) -> None:
    rng = random.Random(20261126)
    with stack(db_url, tmp_path) as env:
        env.create_items([sku_name(i) for i in range(60)])
        env.ims_faults(latency_ms=40)  # keep pushes in flight, so a kill lands mid-call
        env.subscribe()
        movements = _movements(60, 900, seed=8)
        chunks = [movements[start : start + 40] for start in range(0, len(movements), 40)]
        engine = create_engine(env.database_url)
        work_at_kill: list[int] = []
        sent = 0
        while sent < len(chunks):
            with env.hub_process() as proc:
                # A random point of the burst: a few chunks, then the kill as soon as the hub has
                # work it has not finished, never an idle hub.
                upto = min(len(chunks), sent + rng.randint(3, 8))
                for chunk in chunks[sent:upto]:
                    env.move(chunk)
                sent = upto
                work_at_kill.append(_when_busy(engine))
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        engine.dispose()
        with env.hub_process():
            deliveries = env.drain()
            # Every delivery the hub acknowledged is in its inbox (a 200 means stored)...
            assert env.stored_movements() >= deliveries["delivered"], json.dumps(deliveries)
            # ...and what Clarus gave up on while the hub was down comes from the events feed.
            env.run_job("events_poll", wait=True)
            env.wait_converged(timeout_s=120)
            # Every movement Clarus made reached the inbox exactly once: none lost, none doubled.
            assert env.stored_movements() == env.clarus_sequence(), json.dumps(deliveries)
        # None stale: the oracle finds every IMS figure equal to what the warehouse holds.
        drift = env.ims_drift()
        assert not drift, drift.examples
        assert len(work_at_kill) >= 3, work_at_kill
        assert all(work > 0 for work in work_at_kill), work_at_kill
        # None doubled: every adjustment took the IMS to exactly the figure it set (a push retried
        # after the kill replaced itself under its external id instead of applying twice).
        assert env.adjustments_off_target() == []


def test_two_worker_processes_share_one_postgres(pg_url: str, tmp_path: Path) -> None:
    with stack(pg_url, tmp_path) as env:
        env.engine_settings = {"claim_batch": 40, "fold_batch": 200}
        env.create_items([sku_name(i) for i in range(300)])
        env.ims_faults(latency_ms=15)
        env.subscribe()
        # The worker first: on a loaded machine a late second process would find the work done.
        with (
            env.hub_process("worker", "--worker-id", "worker-b"),
            env.hub_process("serve", "--worker-id", "worker-a"),
        ):
            env.move(_movements(300, 1500, seed=9))
            env.drain()
            env.wait_converged(timeout_s=120)
        assert env.adjustments_off_target() == []
        engine = create_engine(env.database_url)
        with engine.connect() as c:
            senders = outbox_repo.senders(c)
        engine.dispose()
        assert set(senders) == {"worker-a", "worker-b"}, senders
