"""The quick chaos day (`stockbridge chaos --quick`) on SQLite and on PostgreSQL with two worker
processes: every fault kind that applies is injected, and nothing is lost, doubled, stale or drifted,
on the IMS and on the Shopify store alike (its stock, its orders and their fulfilments).

Runs when CHAOS=quick (CI sets it; about two minutes each on a 2-core machine).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from stockbridge.chaos import QUICK, ChaosOptions, ChaosReport, run_chaos
from stockbridge.chaos.postgres import PostgresUnavailable
from stockbridge.chaos.report import summary
from stockbridge.chaos.schedule import FaultKind, kinds_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("CHAOS") != "quick", reason="set CHAOS=quick to run the chaos day"),
    pytest.mark.timeout(420),
]


def _check(report: ChaosReport, database: str, workers: int) -> None:
    shown = json.dumps(summary(report), indent=1, default=str)
    # Every fault kind for this backend was injected (the poison event only where the simulator has one).
    expected = {str(k) for k in kinds_for(database, workers)} - set(report.skipped)
    assert set(report.injected) == expected, shown
    assert set(report.skipped) <= {str(FaultKind.POISON)}, shown
    assert report.injected[FaultKind.KILL] == QUICK.kills, shown
    assert sum(report.restarts.values()) >= QUICK.kills, shown
    assert report.injector_errors == [], shown
    assert report.orders > 0, shown
    assert report.shipments > 0, shown
    assert report.events > 1000, shown
    assert report.converge_s is not None, shown
    assert [c.channel for c in report.channels if not c.clean] == [], shown
    # The Shopify store is a channel of the day, checked like the others. (Whether the hub met its
    # 5-second API faults depends on the kills: a restarting hub makes no calls; the full day's
    # 20-second windows always catch some, docs/reliability.md.)
    shopify = next(c for c in report.channels if c.channel == "shopify: stock")
    assert shopify.items > 0, shown
    assert shopify.detail["sets_applied"] > 0, shown
    # Its orders (route clarus) and their fulfilments are channels of the day too: placed, changed,
    # despatched (partly, then the rest) and judged by the oracle like the IMS's.
    orders = next(c for c in report.channels if c.channel == "shopify: orders")
    assert orders.items > 0, shown
    assert orders.detail["placed"] == orders.items, shown
    fulfilments = next(c for c in report.channels if c.channel == "shopify: fulfilments")
    assert fulfilments.items > 0, shown
    assert fulfilments.detail["fulfilments"] > 0, shown


def test_quick_day_on_sqlite(tmp_path: Path) -> None:
    report = run_chaos(ChaosOptions(QUICK, "sqlite", 1, seed=1, quiet=True, keep_logs=tmp_path / "logs"))
    _check(report, "sqlite", 1)


def test_quick_day_on_postgres_with_two_workers(tmp_path: Path) -> None:
    options = ChaosOptions(QUICK, "postgresql", 2, seed=1, quiet=True, keep_logs=tmp_path / "logs")
    try:
        report = run_chaos(options)
    except PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs PostgreSQL's server binaries: {exc}")
        pytest.skip(str(exc))
    _check(report, "postgresql", 2)
    assert set(report.restarts) == {"hub", "worker-1"}, report.restarts  # both kinds of process killed
