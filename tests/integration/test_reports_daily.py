"""The daily report with planted problems, on SQLite and PostgreSQL: each problem in its section with
its owner, the HTML parses, and every CSV's rows match figures this test counts for itself."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from tests.factories import T0, config
from tests.report_support import Tables
from tests.report_support import report_csv as _csv

from stockbridge.domain.errors import RetriableError
from stockbridge.domain.fulfilment import Shipment, ShippedLine
from stockbridge.domain.order_state import OrderState
from stockbridge.domain.orders import SalesOrder
from stockbridge.engine.clock import FakeClock
from stockbridge.flows.orders import OrderFolder
from stockbridge.monitor.connector_health import ConnectorHealth
from stockbridge.monitor.drift import drift_entity
from stockbridge.reports import write_daily
from stockbridge.store import targets_repo
from stockbridge.store.bookkeeping import LatencySample, raise_exception, record_latency
from stockbridge.store.fulfilment_repo import add_shipment
from stockbridge.store.orders_repo import OrderRecord, save_order
from stockbridge.store.schema import exceptions, storefront_orders
from stockbridge.store.states import ExceptionState

NOW = T0 + timedelta(hours=20)


def _nearest_rank(values: list[int], p: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def _plant(engine: Engine) -> list[int]:
    """A drift, a stalled order, an unknown SKU, a failing connector, one slow latency sample among
    fast ones; returns the latency samples' figures."""
    cfg = config()
    with engine.begin() as c:
        raise_exception(
            c,
            type="drift",
            entity=drift_entity("ims", "DRIFT-1", "6"),
            owner=cfg.owners.owner_of("drift"),
            detail="ims shows 7, the hub pushed 5",
            now=T0 + timedelta(hours=1),
        )
        order = SalesOrder("901", "SO-STALL", "B", None, None, (), "2026-11-26 09:00:00")
        save_order(c, OrderRecord(order, "v1", OrderState.RELEASE_PENDING, (), None, None, None, T0), T0)
        OrderFolder(c, cfg, NOW).check_stalled()
        key = ("ims", "NEW-1", "6")
        targets_repo.lock_targets(c, [key], {key: "WH1"}, T0)
        targets_repo.block_targets(c, [key])
        raise_exception(
            c,
            type="unknown_sku",
            entity="sku:NEW-1@ims",
            owner=cfg.owners.owner_of("unknown_sku"),
            detail="no IMS item for SKU NEW-1",
            now=T0 + timedelta(hours=2),
        )
        # A parcel that left before its order is known (parked, no Item Fulfilment).
        parcel = Shipment("SHP-9", "SO-LATE", "UPS", "STD", ("1Z9",), (ShippedLine("1", "SKU-1", 2),), 3)
        add_shipment(c, parcel, T0 + timedelta(hours=4))
        # A store's order held on its way to the IMS (route ims).
        c.execute(
            storefront_orders.insert().values(
                channel="shopify",
                order_id="gid://shopify/Order/1",
                reference="SHOP-1001",
                version="v1",
                storefront_order={},
                state="held",
                holds=[{"code": "unknown_item", "detail": "no SKU X"}],
                ims_lines={},
                updated_at=T0 + timedelta(hours=5),
            )
        )
        latencies = [400 + 10 * i for i in range(40)] + [180_000]
        samples = [
            LatencySample(
                "ims", f"SKU-{i}", "6", NOW - timedelta(hours=3, milliseconds=ms), NOW - timedelta(hours=3)
            )
            for i, ms in enumerate(latencies)
        ]
        record_latency(c, samples)
        # An old sample, outside the day: not counted.
        record_latency(c, [LatencySample("ims", "OLD", "6", T0 - timedelta(days=2), T0 - timedelta(days=2))])
    opens_at_once = cfg.connector_health.model_copy(update={"open_after_failures": 1})
    health = ConnectorHealth(
        engine, cfg.model_copy(update={"connector_health": opens_at_once}), FakeClock(NOW)
    )
    asyncio.run(health.failed(RetriableError("clarus", "connection refused")))
    return latencies


def test_daily_report_puts_each_planted_problem_in_its_section_with_its_owner(
    engine: Engine, tmp_path: Path
) -> None:
    latencies = _plant(engine)
    cfg = config()
    page = asyncio.run(write_daily(engine, cfg, tmp_path, NOW))

    parser = Tables()
    parser.feed(page.read_text())
    assert {"latency_chart", "backlog_chart", "drift_chart"} <= set(parser.svgs)
    html_tables = parser.tables

    # Each problem, in its section, owned by the team the configuration names.
    drift = _csv(page, "drift")
    assert [(r["entity"], r["owner"]) for r in drift] == [("sku:DRIFT-1@ims/6", cfg.owners.drift)]
    order_exceptions = _csv(page, "order_exceptions")
    assert [(r["type"], r["entity"], r["owner"]) for r in order_exceptions] == [
        ("order_stalled", "order:SO-STALL", cfg.owners.order_stalled)
    ]
    assert [(r["reference"], r["channel"], r["state"], r["hold_reasons"]) for r in _csv(page, "orders")] == [
        ("SO-STALL", "ims", "release_pending", ""),
        ("SHOP-1001", "shopify", "held", "unknown_item"),
    ]
    assert [(r["shipment_id"], r["state"], r["units"]) for r in _csv(page, "shipments")] == [
        ("SHP-9", "parked", "2")
    ]
    assert [(r["entity"], r["owner"]) for r in _csv(page, "unknown_skus")] == [
        ("sku:NEW-1@ims", "merchandising")
    ]
    assert [(r["channel"], r["sku"]) for r in _csv(page, "blocked_targets")] == [("ims", "NEW-1")]
    assert [(r["type"], r["entity"], r["owner"]) for r in _csv(page, "connectors")] == [
        ("connector_failing", "connector:clarus", cfg.owners.connector_failing)
    ]
    latency = {r["channel"]: r for r in _csv(page, "latency")}
    assert int(latency["ims"]["samples"]) == len(latencies)
    assert float(latency["ims"]["p99_ms"]) == _nearest_rank(latencies, 99) == 180_000
    assert float(latency["ims"]["p50_ms"]) == _nearest_rank(latencies, 50)
    target = cfg.slo.latency_target("ims")
    assert (float(latency["ims"]["target_p99_ms"]), latency["ims"]["verdict"]) == (target.p99, "missed")

    # Every open exception, grouped by owner: counted here straight from the table.
    with engine.connect() as c:
        per_owner = dict(
            c.execute(
                select(exceptions.c.owner, func.count())
                .where(exceptions.c.state != ExceptionState.RESOLVED.value)
                .group_by(exceptions.c.owner)
            ).all()
        )
    owners = {r["owner"]: int(r["open"]) for r in _csv(page, "owners")}
    assert owners == per_owner
    every = _csv(page, "exceptions")
    assert len(every) == sum(per_owner.values()) == 4
    assert [r["owner"] for r in every] == sorted(r["owner"] for r in every)

    # The page shows the same rows as the CSVs (header + one row per CSV row).
    for name in (
        "drift",
        "orders",
        "unknown_skus",
        "connectors",
        "latency",
        "owners",
        "exceptions",
        "backlog",
    ):
        assert len(html_tables[name]) == len(_csv(page, name)) + 1, name
    summary = {r["measure"]: int(r["value"]) for r in _csv(page, "summary")}
    assert summary["open exceptions"] == 4
    assert summary["orders stalled (open order_stalled)"] == 1
    assert summary["targets blocked"] == 1
    assert summary["orders held"] == 1
    assert summary["shipments without fulfilment"] == 1
    backlog = {r["flow"]: int(r["items"]) for r in _csv(page, "backlog")}
    held = sum(n for flow, n in backlog.items() if flow.startswith("held_orders."))
    assert (backlog["parked_shipments"], held) == (1, 1)


def test_the_scheduled_daily_report_is_written_into_reports_dir(engine: Engine, tmp_path: Path) -> None:
    from typing import cast

    from stockbridge.engine.connect import Connections
    from stockbridge.engine.report_jobs import run_report_job

    cfg = config(reports={"dir": str(tmp_path / "scheduled")})
    no_connections = cast(Connections, None)  # the daily report reads only the database
    page = asyncio.run(run_report_job("report_daily", engine, cfg, no_connections, NOW))
    assert page is not None
    assert asyncio.run(run_report_job("report_daily", engine, config(), no_connections, NOW)) is None
    assert page.parent.parent == tmp_path / "scheduled"
    assert page.name == "report.html"
    assert (page.parent / "backlog.csv").read_text().startswith("flow,items,oldest,age_s,age")
