"""Two worker processes on one PostgreSQL share the IMS account's budget (docs/decisions/0037)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine
from tests.e2e.stack import stack

from stockbridge.demo.traffic import Traffic, sku_name
from stockbridge.store import outbox_repo

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

IMS_LIMIT = 10.0  # calls per second the IMS simulator allows the account; one more is a 429


def test_two_workers_against_a_hard_limit_meet_no_429(pg_url: str, tmp_path: Path) -> None:
    # Each worker configured as the only one would be: alone, two would send twice the limit.
    with stack(pg_url, tmp_path, calls_per_second=IMS_LIMIT, concurrency_limit=8) as env:
        env.engine_settings = {"claim_batch": 10, "fold_batch": 100}
        env.overrides["connectors.ims"] = {
            "base_url": env.ims_url,
            # The account's limit itself: the shared budget keeps its margin (engine.shared_budget_margin).
            "calls_per_second": IMS_LIMIT,
            "concurrency": 3,
            "max_lines_per_call": 1,  # one call per SKU: enough calls to press on the limit
            "timeout_s": 4,
        }
        skus = [sku_name(i) for i in range(60)]
        env.create_items(skus)
        env.subscribe()
        traffic = Traffic(len(skus), seed=12)
        with (
            env.hub_process("worker", "--worker-id", "worker-b"),
            env.hub_process("serve", "--worker-id", "worker-a"),
        ):
            env.move(list(traffic.initial_receipts()) + [traffic.next() for _ in range(240)])
            env.drain()
            env.wait_converged(timeout_s=120)  # reads the simulators' control views: not governed
            stats = env.ims_stats()
        # Counted by the simulator itself: every call the two workers made, none refused.
        assert stats["throttled_429"] == 0, stats
        assert stats["calls"] >= len(skus), stats
        engine = create_engine(env.database_url)
        with engine.connect() as c:
            senders = outbox_repo.senders(c)
        engine.dispose()
        assert set(senders) == {"worker-a", "worker-b"}, senders
        assert env.adjustments_off_target() == []
