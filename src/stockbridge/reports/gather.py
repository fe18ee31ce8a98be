"""Read what the reports need: the hub's tables (`store/report_repo.py`), the warehouse's movements from
the inbox (parsed by the sender's connector through `InboundFormats`), the IMS through its ports.

The only I/O of `reports/`; the arithmetic is in `daily.py` and `reconcile.py`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from stockbridge.config import IMS_CHANNEL_NAME, Config
from stockbridge.domain import inbound
from stockbridge.domain.inbound import UnusableEvent
from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import with_retries
from stockbridge.flows.edge_ports import InboundFormats
from stockbridge.flows.ports import StockChannel
from stockbridge.flows.stock_push import sku_entity
from stockbridge.monitor.backlog import read_backlog
from stockbridge.reports.daily import ORDER_STATES, DailyFacts, LatencyTarget
from stockbridge.reports.ports import AdjustmentLedger
from stockbridge.reports.reconcile import (
    ClarusLedger,
    ImsTarget,
    OpenIssue,
    ReconciliationRow,
    TimedBalances,
    clarus_ledgers,
    explain,
    from_movement,
    from_snapshot,
    ims_measure,
)
from stockbridge.store import items_repo, report_repo
from stockbridge.store.bookkeeping import ExceptionRecord, list_exceptions
from stockbridge.store.states import ExceptionState, TargetState

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
READ_PAGE = 1000  # SKUs per read of the IMS's figures


def latency_targets(config: Config) -> dict[str, LatencyTarget | None]:
    """Each stock channel's latency target from `slo.latency_ms` (its own, else the default)."""
    found: dict[str, LatencyTarget | None] = {}
    for channel in config.stock_channels():
        target = config.slo.latency_target(channel)
        found[channel] = LatencyTarget(target.p95, target.p99)
    return found


def open_exceptions(connection: Connection) -> list[ExceptionRecord]:
    return [e for e in list_exceptions(connection) if e.state is not ExceptionState.RESOLVED]


async def daily_facts(
    engine: Engine, config: Config, now: datetime, start: datetime | None = None
) -> DailyFacts:
    """The facts of the day ending at `now` (from `start`, by default 24 hours before it)."""
    begin = start or now - DAY

    def read(c: Connection) -> DailyFacts:
        return DailyFacts(
            now=now,
            start=begin,
            end=now,
            channels=tuple(config.stock_channels()),
            backlog=tuple(read_backlog(c, config, now)),
            latency=tuple(report_repo.latency_between(c, begin, now)),
            latency_targets=latency_targets(config),
            exceptions=tuple(open_exceptions(c)),
            unsettled_targets=tuple(report_repo.target_statuses(c, unsettled_only=True)),
            orders=tuple(report_repo.orders_in_states(c, ORDER_STATES)),
            shipments=tuple(report_repo.shipments_without_fulfilment(c)),
        )

    return await in_transaction(engine, read)


def stock_history(
    entries: list[report_repo.StoredStockEntry], formats: InboundFormats
) -> list[TimedBalances]:
    """The warehouse's balances as the hub received them, parsed by the sender's connector. An entry
    that does not parse was set aside by the fold too (it is never `done`); it is skipped here."""
    history: list[TimedBalances] = []
    for entry in entries:
        try:
            if entry.kind == inbound.STOCK_MOVEMENT:
                history.append(from_movement(formats.movement(entry.payload)))
            else:
                history.extend(from_snapshot(formats.snapshot(entry.payload), entry.received_at))
        except UnusableEvent:
            continue
    return history


async def reconciliation(
    engine: Engine,
    config: Config,
    formats: InboundFormats,
    ims: StockChannel,
    ledger: AdjustmentLedger,
    now: datetime,
    start: datetime | None = None,
) -> list[ReconciliationRow]:
    """Per SKU and warehouse, the week to `now` (from `start`, by default 7 days before), between
    Clarus and the IMS (decision 0028)."""
    begin = start or now - WEEK
    rule = config.ats_rule(IMS_CHANNEL_NAME)

    def read(c: Connection) -> tuple[Any, ...]:
        return (
            report_repo.stock_entries(c, now),
            report_repo.observed_by_status(c),
            {(t.sku, t.location): t for t in report_repo.target_statuses(c, IMS_CHANNEL_NAME)},
            open_exceptions(c),
            report_repo.shipments_without_fulfilment(c),
            {i.item_id: i.sku for i in items_repo.all_items(c)},
        )

    entries, observed, targets, exceptions, shipments, sku_of_item = await in_transaction(engine, read)
    ledgers = clarus_ledgers(stock_history(entries, formats), rule.counted_statuses, begin, now)
    awaiting: dict[str, int] = defaultdict(int)
    for shipment in shipments:
        for sku, units in shipment.units.items():
            awaiting[sku] += units
    rows: list[ReconciliationRow] = []
    for mapping in config.locations:
        warehouse, location = mapping.warehouse, mapping.ims_location
        adjusted = await with_retries(lambda: ledger.adjusted_since(location, begin))
        by_sku: dict[str, int] = defaultdict(int)
        for item_id, units in adjusted.items():
            by_sku[sku_of_item.get(item_id, f"item:{item_id}")] += units
        skus = sorted(
            {s for s, w in ledgers if w == warehouse}
            | {s for s, w in observed if w == warehouse}
            | set(by_sku)
        )
        figures = await _ims_figures(ims, location, skus)
        for sku in skus:
            row = ReconciliationRow(
                sku,
                warehouse,
                location,
                ledgers.get((sku, warehouse), ClarusLedger()),
                ims_measure(observed.get((sku, warehouse), {}), rule.counted_statuses),
                by_sku.get(sku, 0),
                figures.get(sku),
            )
            target = targets.get((sku, location))
            row.explanations = explain(
                row,
                buffer=rule.buffer_for(sku),
                target=None if target is None else _ims_target(target),
                issues=_issues_of(exceptions, sku, location),
                awaiting_fulfilment=awaiting.get(sku, 0),
            )
            rows.append(row)
    return rows


async def _ims_figures(ims: StockChannel, location: str, skus: list[str]) -> dict[str, int]:
    figures: dict[str, int] = {}
    for i in range(0, len(skus), READ_PAGE):
        page = skus[i : i + READ_PAGE]
        read = await with_retries(lambda: ims.read_figures(location, page))
        figures.update({sku: f.quantity for sku, f in read.items() if f.pushable})
    return figures


def _ims_target(t: report_repo.TargetStatus) -> ImsTarget:
    return ImsTarget(t.desired, t.pushed, t.dirty, t.state is TargetState.BLOCKED, t.in_flight)


def _issues_of(exceptions: list[ExceptionRecord], sku: str, location: str) -> list[OpenIssue]:
    """Open exceptions on the SKU in the IMS: blocked (`sku:<sku>@ims`) or drifting there."""
    entity = sku_entity(IMS_CHANNEL_NAME, sku)
    mine = {entity, f"{entity}/{location}"}
    return [OpenIssue(e.type, e.first_seen, e.detail) for e in exceptions if e.entity in mine]
