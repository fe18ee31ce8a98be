"""The daily report: is every flow healthy, and who must act on what. Pure: facts in, a `Report` out.

`gather.daily_facts` reads the facts from the database; every figure here is counted from them.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from stockbridge.monitor.backlog import FlowBacklog
from stockbridge.monitor.latency import percentile
from stockbridge.reports.model import Cell, Chart, Report, Section, Series, Table, age_s, duration, stamp
from stockbridge.store.bookkeeping import ExceptionRecord
from stockbridge.store.report_repo import LatencyRow, OrderRow, ShipmentRow, TargetStatus
from stockbridge.store.states import ExceptionState, TargetState

# Which exceptions each section lists (by type; a prefix ends in `*`).
DRIFT_TYPES = ("drift*",)
ORDER_TYPES = ("order_stalled", "order_held_too_long", "order_command_failed", "edit_after_pick")
SHIPMENT_TYPES = (
    "fulfilment_waiting_for_order",
    "fulfilment_stalled",
    "fulfilment_command_failed",
    "storefront_fulfilment_failed",
    "over_fulfilment",
)
SKU_TYPES = (
    "unknown_sku",
    "inactive_sku",
    "unknown_item",
    "inactive_item",
    "unknown_in_wms",
    "inactive_in_wms",
    "invalid_sku",
    "sku_collision",
    "bad_kit",
)
CONNECTOR_TYPES = ("connector_*", "push_failed", "webhook_subscription")
BACKLOG_TYPES = ("backlog_stalled",)
LATENCY_TYPES = ("latency_slo",)
FINANCE_TYPES = ("finance_batch_failed",)
# Order states shown as held or stalled: held by a rule, or sent and not yet acknowledged.
ORDER_STATES = ("held", "release_pending", "amend_pending", "cancel_pending")
HOURS = 24
DRIFT_BARS = 20  # the drift chart's bars: the longest-open drifts


@dataclass(frozen=True, slots=True)
class LatencyTarget:
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class DailyFacts:
    now: datetime
    start: datetime
    end: datetime
    channels: tuple[str, ...]
    backlog: tuple[FlowBacklog, ...]  # monitor/backlog.py
    latency: tuple[LatencyRow, ...]
    latency_targets: Mapping[str, LatencyTarget | None]
    exceptions: tuple[ExceptionRecord, ...]  # open and acknowledged
    unsettled_targets: tuple[TargetStatus, ...]  # dirty, blocked or in flight
    orders: tuple[OrderRow, ...]  # in ORDER_STATES
    shipments: tuple[ShipmentRow, ...]  # without their fulfilment


def of_types(records: Sequence[ExceptionRecord], types: Sequence[str]) -> list[ExceptionRecord]:
    def matches(t: str) -> bool:
        return any(t.startswith(p[:-1]) if p.endswith("*") else t == p for p in types)

    return [r for r in records if matches(r.type)]


def build_daily(facts: DailyFacts) -> Report:
    sections = (
        _summary(facts),
        _backlog(facts),
        _latency(facts),
        _drift(facts),
        _orders(facts),
        _shipments(facts),
        _skus(facts),
        _connectors(facts),
        _finance(facts),
        _by_owner(facts),
    )
    title = f"stockbridge daily report, {facts.start:%Y-%m-%d %H:%M} to {facts.end:%Y-%m-%d %H:%M} UTC"
    return Report("daily", title, facts.now, facts.start, facts.end, sections)


def _summary(f: DailyFacts) -> Section:
    blocked = [t for t in f.unsettled_targets if t.state is TargetState.BLOCKED]
    rows: list[tuple[Cell, ...]] = [
        ("work waiting (all flows)", sum(b.size for b in f.backlog)),
        ("open exceptions", len(f.exceptions)),
        ("SKUs drifting (open drift exceptions)", len(of_types(f.exceptions, DRIFT_TYPES))),
        ("targets dirty", sum(1 for t in f.unsettled_targets if t.dirty and t.state is TargetState.OK)),
        ("targets blocked", len(blocked)),
        ("orders held", sum(1 for o in f.orders if o.state == "held")),
        ("orders stalled (open order_stalled)", len(of_types(f.exceptions, ("order_stalled",)))),
        ("shipments without fulfilment", len(f.shipments)),
        ("unknown or unusable SKUs (open)", len(of_types(f.exceptions, SKU_TYPES))),
        ("connectors failing or throttled (open)", len(of_types(f.exceptions, ("connector_*",)))),
        ("latency samples", len(f.latency)),
    ]
    return Section("Summary", (Table("summary", "At a glance", ("measure", "value"), tuple(rows)),))


def _backlog(f: DailyFacts) -> Section:
    rows = tuple((b.flow, b.size, stamp(_since(b, f.now)), _age(b), duration(_age(b))) for b in f.backlog)
    table = Table("backlog", "Backlog per flow", ("flow", "items", "oldest", "age_s", "age"), rows)
    waiting = [b for b in f.backlog if b.size]
    chart = Chart(
        "backlog_chart",
        "Items waiting per flow now",
        tuple(b.flow for b in waiting),
        "items",
        (Series("items", tuple(float(b.size) for b in waiting)),),
        kind="bar",
    )
    stalled = Table(
        "backlog_exceptions",
        "Flows over their age target (open backlog_stalled)",
        _EXCEPTION_COLUMNS,
        _exception_rows(of_types(f.exceptions, BACKLOG_TYPES), f.now),
    )
    note = "Work waiting now, per flow (monitor/backlog.py), and how long its oldest item has waited."
    return Section("Backlog", (table, stalled), (chart,) if waiting else (), note)


def _age(b: FlowBacklog) -> int | None:
    return None if b.oldest_age_s is None else round(b.oldest_age_s)


def _since(b: FlowBacklog, now: datetime) -> datetime | None:
    return None if b.oldest_age_s is None else now - timedelta(seconds=b.oldest_age_s)


def _latency(f: DailyFacts) -> Section:
    by_channel: dict[str, list[int]] = defaultdict(list)
    by_hour: dict[tuple[str, int], list[int]] = defaultdict(list)
    for sample in f.latency:
        by_channel[sample.channel].append(sample.latency_ms)
        hour = math.floor((sample.acked_at - f.start).total_seconds() / 3600)
        by_hour[(sample.channel, min(max(hour, 0), HOURS - 1))].append(sample.latency_ms)
    channels = sorted(set(f.channels) | set(by_channel))
    rows: list[tuple[Cell, ...]] = []
    for channel in channels:
        values = by_channel.get(channel, [])
        target = f.latency_targets.get(channel)
        p95, p99 = percentile(values, 95), percentile(values, 99)
        rows.append(
            (
                channel,
                len(values),
                percentile(values, 50),
                p95,
                p99,
                None if target is None else target.p95_ms,
                None if target is None else target.p99_ms,
                _verdict(p95, p99, target),
            )
        )
    hour_rows: list[tuple[Cell, ...]] = []
    for channel in channels:
        for hour in range(HOURS):
            values = by_hour.get((channel, hour), [])
            if values:
                start = stamp(f.start + timedelta(hours=hour))
                hour_rows.append(
                    (
                        channel,
                        start,
                        len(values),
                        percentile(values, 50),
                        percentile(values, 95),
                        percentile(values, 99),
                    )
                )
    labels = tuple(f"{(f.start + timedelta(hours=h)):%H}h" for h in range(HOURS))
    series = []
    for channel in channels:
        target = f.latency_targets.get(channel)
        for p in (95, 99):
            per_hour = tuple(
                None if not by_hour.get((channel, h)) else percentile(by_hour[(channel, h)], p)
                for h in range(HOURS)
            )
            goal = None if target is None else (target.p95_ms if p == 95 else target.p99_ms)
            series.append(Series(f"{channel} p{p}", per_hour, goal))
    chart = Chart(
        "latency_chart", "Movement to acknowledged, p95 and p99 per hour (ms)", labels, "ms", tuple(series)
    )
    columns = (
        "channel",
        "samples",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "target_p95_ms",
        "target_p99_ms",
        "verdict",
    )
    tables = (
        Table("latency", "Latency from a warehouse movement to each channel", columns, tuple(rows)),
        Table(
            "latency_by_hour",
            "Latency per hour",
            ("channel", "hour_from", "samples", "p50_ms", "p95_ms", "p99_ms"),
            tuple(hour_rows),
        ),
        Table(
            "latency_exceptions",
            "Channels over their latency target now (open latency_slo)",
            _EXCEPTION_COLUMNS,
            _exception_rows(of_types(f.exceptions, LATENCY_TYPES), f.now),
        ),
    )
    note = "Targets: slo.latency_ms (per channel, else its default); met when both p95 and p99 are within."
    return Section("Latency", tables, (chart,), note)


def _verdict(p95: float | None, p99: float | None, target: LatencyTarget | None) -> str:
    if target is None:
        return "no target"
    if p95 is None or p99 is None:
        return "no samples"
    return "met" if p95 <= target.p95_ms and p99 <= target.p99_ms else "missed"


_EXCEPTION_COLUMNS = (
    "type",
    "entity",
    "owner",
    "state",
    "first_seen",
    "last_seen",
    "open_for",
    "count",
    "detail",
)


def _exception_rows(records: Sequence[ExceptionRecord], now: datetime) -> tuple[tuple[Cell, ...], ...]:
    ordered = sorted(records, key=lambda r: (r.first_seen, r.type, r.entity))
    return tuple(
        (
            r.type,
            r.entity,
            r.owner,
            r.state.value,
            stamp(r.first_seen),
            stamp(r.last_seen),
            duration(age_s(r.first_seen, now)),
            r.count,
            r.detail,
        )
        for r in ordered
    )


def _drift(f: DailyFacts) -> Section:
    drift = Table(
        "drift",
        "Figures that differ between the warehouse and a channel (open drift)",
        _EXCEPTION_COLUMNS,
        _exception_rows(of_types(f.exceptions, DRIFT_TYPES), f.now),
    )
    per_channel: dict[str, Counter[str]] = defaultdict(Counter)
    oldest: dict[str, datetime] = {}
    for t in f.unsettled_targets:
        c = per_channel[t.channel]
        if t.state is TargetState.BLOCKED:
            c["blocked"] += 1
        elif t.dirty:
            c["dirty"] += 1
            if t.dirty_since is not None and (t.channel not in oldest or t.dirty_since < oldest[t.channel]):
                oldest[t.channel] = t.dirty_since
        if t.in_flight:
            c["in_flight"] += 1
    summary = tuple(
        (
            ch,
            per_channel[ch]["dirty"],
            stamp(oldest.get(ch)),
            duration(age_s(oldest.get(ch), f.now)),
            per_channel[ch]["in_flight"],
            per_channel[ch]["blocked"],
        )
        for ch in sorted(set(f.channels) | set(per_channel))
    )
    targets = Table(
        "targets",
        "Targets not settled, per channel",
        ("channel", "dirty", "oldest_dirty", "dirty_for", "in_flight", "blocked"),
        summary,
    )
    blocked = tuple(
        (t.channel, t.sku, t.location, t.desired, t.pushed, stamp(t.updated_at))
        for t in f.unsettled_targets
        if t.state is TargetState.BLOCKED
    )
    blocked_table = Table(
        "blocked_targets",
        "Figures a channel cannot take (blocked)",
        ("channel", "sku", "location", "desired", "pushed", "blocked_since"),
        blocked,
    )
    oldest_first = sorted(of_types(f.exceptions, DRIFT_TYPES), key=lambda r: r.first_seen)[:DRIFT_BARS]
    chart = Chart(
        "drift_chart",
        f"How long each figure has differed, hours (the {DRIFT_BARS} oldest)",
        tuple(r.entity for r in oldest_first),
        "hours",
        (
            Series(
                "hours open",
                tuple(round((f.now - r.first_seen).total_seconds() / 3600, 1) for r in oldest_first),
            ),
        ),
        kind="bar",
    )
    charts = (chart,) if oldest_first else ()
    return Section("Stock figures that differ", (drift, targets, blocked_table), charts)


def _orders(f: DailyFacts) -> Section:
    rows = tuple(
        (o.reference, o.channel, o.state, stamp(o.since), duration(age_s(o.since, f.now)), " ".join(o.holds))
        for o in f.orders
    )
    orders = Table(
        "orders",
        "Orders held, or sent and not acknowledged",
        ("reference", "channel", "state", "since", "for", "hold_reasons"),
        rows,
    )
    exceptions = Table(
        "order_exceptions",
        "Order exceptions (stalled, held too long, failed)",
        _EXCEPTION_COLUMNS,
        _exception_rows(of_types(f.exceptions, ORDER_TYPES), f.now),
    )
    return Section("Orders held or stalled", (orders, exceptions))


def _shipments(f: DailyFacts) -> Section:
    rows = tuple(
        (
            s.shipment_id,
            s.reference,
            s.state.value,
            stamp(s.since),
            duration(age_s(s.since, f.now)),
            sum(s.units.values()),
        )
        for s in f.shipments
    )
    table = Table(
        "shipments",
        "Shipments without their fulfilment",
        ("shipment_id", "reference", "state", "since", "for", "units"),
        rows,
    )
    exceptions = Table(
        "shipment_exceptions",
        "Fulfilment exceptions",
        _EXCEPTION_COLUMNS,
        _exception_rows(of_types(f.exceptions, SHIPMENT_TYPES), f.now),
    )
    return Section("Shipments without fulfilments", (table, exceptions))


def _skus(f: DailyFacts) -> Section:
    table = Table(
        "unknown_skus",
        "Unknown or unusable SKUs",
        _EXCEPTION_COLUMNS,
        _exception_rows(of_types(f.exceptions, SKU_TYPES), f.now),
    )
    return Section("Unknown SKUs", (table,))


def _connectors(f: DailyFacts) -> Section:
    table = Table(
        "connectors",
        "Connectors failing or rate limited",
        _EXCEPTION_COLUMNS,
        _exception_rows(of_types(f.exceptions, CONNECTOR_TYPES), f.now),
    )
    return Section("Connectors", (table,))


def _finance(f: DailyFacts) -> Section:
    table = Table(
        "finance_exceptions",
        "Financial adjustments not posted (open finance_batch_failed)",
        _EXCEPTION_COLUMNS,
        _exception_rows(of_types(f.exceptions, FINANCE_TYPES), f.now),
    )
    return Section("Finance batches", (table,), note="stockbridge finance batches lists every batch.")


def _by_owner(f: DailyFacts) -> Section:
    owners: dict[str, list[ExceptionRecord]] = defaultdict(list)
    for r in f.exceptions:
        owners[r.owner].append(r)
    counts = tuple(
        (
            owner,
            len(records),
            sum(1 for r in records if r.state is ExceptionState.ACKNOWLEDGED),
            stamp(min(r.first_seen for r in records)),
            ", ".join(f"{t} {n}" for t, n in sorted(Counter(r.type for r in records).items())),
        )
        for owner, records in sorted(owners.items())
    )
    summary = Table(
        "owners", "Open exceptions per owner", ("owner", "open", "acknowledged", "oldest", "types"), counts
    )
    rows = tuple(row for owner in sorted(owners) for row in _exception_rows(owners[owner], f.now))
    every = Table("exceptions", "Every open exception, by owner", _EXCEPTION_COLUMNS, rows)
    return Section("Open exceptions by owner", (summary, every))
