"""The hub subscribes itself to Clarus's webhooks when it starts, once however often it starts, and
the scheduled `subscriptions_check` re-creates a subscription someone deleted (issue 8, defect 7)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine
from tests.e2e.stack import CLARUS_KEY, Stack, stack, wait_until

from stockbridge.connectors.clarus.wire import FEED_EVENTS
from stockbridge.store.bookkeeping import read_counters

pytestmark = pytest.mark.slow


def _checks(env: Stack) -> int:
    engine = create_engine(env.database_url)
    with engine.connect() as c:
        count = read_counters(c).get("jobs.subscriptions_check", 0)
    engine.dispose()
    return count


def test_subscribed_once_on_start_and_again_after_a_deletion(db_url: str, tmp_path: Path) -> None:
    with stack(db_url, tmp_path) as env:
        assert env.subscriptions() == []
        with env.hub():
            wait_until(lambda: _checks(env) == 1, 30, "the subscription registered at start")
            (first,) = env.subscriptions()
            assert set(first["events"]) == FEED_EVENTS
        with env.hub():
            wait_until(lambda: _checks(env) == 2, 30, "the subscription checked at the second start")
            assert env.subscriptions() == [first]
            env.http.delete(
                f"{env.clarus_url}/api/v1/webhooks/{first['id']}",
                headers={"Authorization": f"Bearer {CLARUS_KEY}"},
            ).raise_for_status()
            env.run_job("subscriptions_check", wait=True)
            (again,) = env.subscriptions()
            assert again["id"] != first["id"]
            receipt = {"warehouse_id": "WH1", "movement_type": "receipt", "sku": "SUB-1", "quantity": 2}
            env.move([{**receipt, "to_status": "available"}])
            delivered = env.drain()
    # Signed with the hub's secret and accepted by the hub (a refused delivery is not `delivered`).
    assert delivered["delivered"] == 1
    assert delivered["failed_attempts"] == 0
