"""SQLite's disk full under a running hub process: webhooks refused with 503 (never acknowledged and
lost), redelivered by Clarus and stored once space returns."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from tests.e2e.stack import CLARUS_KEY, ENVIRON, WEBHOOK_SECRET, Stack, stack, wait_until

from stockbridge.chaos.fleet import HubFleet
from stockbridge.chaos.hub_process import LIMIT_ENV
from stockbridge.connectors.clarus.signature import sign
from stockbridge.demo.traffic import Traffic, sku_name

pytestmark = pytest.mark.slow


def _deliveries(env: Stack) -> dict[str, int]:
    counters: dict[str, int] = env.http.get(f"{env.clarus_url}/_control/deliveries").json()
    return counters


def _post_signed(env: Stack, event: dict[str, object]) -> httpx.Response:
    body = json.dumps(event, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Clarus-Event-Id": str(event["id"]),
        "X-Clarus-Timestamp": str(timestamp),
        "X-Clarus-Signature": sign(WEBHOOK_SECRET.encode(), body, timestamp),
    }
    return env.http.post(f"{env.hub_url}/webhooks/clarus", content=body, headers=headers)


def test_disk_full_refuses_webhooks_with_503_and_loses_none(tmp_path: Path) -> None:
    limit = tmp_path / "page-limit"
    with stack(f"sqlite:///{tmp_path / 'stockbridge.db'}", tmp_path) as env:
        skus = [sku_name(i) for i in range(30)]
        env.create_items(skus)
        env.subscribe()
        traffic = Traffic(30, seed=4)
        fleet = HubFleet(env.write_config(), {**ENVIRON, LIMIT_ENV: str(limit)}, 1, tmp_path / "logs")
        fleet.start()
        try:
            wait_until(env.hub_idle, 60, "the hub to start")
            env.move(list(traffic.initial_receipts()))
            env.drain()
            limit.write_text("1")  # no page may be added from now on: SQLITE_FULL
            env.move([traffic.next() for _ in range(400)])
            wait_until(lambda: _deliveries(env)["failed_attempts"] >= 20, 60, "the hub to refuse deliveries")
            feed = env.http.get(
                f"{env.clarus_url}/api/v1/events",
                params={"warehouse_id": "WH1", "after_sequence": env.clarus_sequence() - 1},
                headers={"Authorization": f"Bearer {CLARUS_KEY}"},
            ).json()["data"]
            # Refused while the disk is full; SQLite may still fit a row into a page freed earlier, and
            # then it is stored. Never a 200 for what was not stored (checked below), never a 5xx other
            # than 503.
            assert _post_signed(env, feed[-1]).status_code in (200, 503)
            limit.write_text("")  # space returns
            assert env.drain()["drained"]
            env.wait_converged(timeout_s=120)
            deliveries = _deliveries(env)
            assert deliveries["rejected"] == deliveries["exhausted"] == 0
            # Every event Clarus made is in the inbox exactly once: nothing acknowledged and lost.
            assert env.stored_movements() == env.clarus_sequence()
            assert fleet.exits == {}, fleet.exits
        finally:
            fleet.stop()
