"""The reports' pure parts: the reconciliation's ledger and explanations, the schedule, rendering;
and the CLI and the demo writing a daily report."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from stockbridge.cli import app
from stockbridge.config import EXAMPLE_CONFIG, parse_config
from stockbridge.demo import write_demo_report
from stockbridge.domain.stock import StockBalance
from stockbridge.reports.daily import DailyFacts, LatencyTarget, build_daily
from stockbridge.reports.model import Report, Section, Table
from stockbridge.reports.reconcile import (
    ClarusLedger,
    ImsTarget,
    OpenIssue,
    ReconciliationRow,
    TimedBalances,
    clarus_ledgers,
    explain,
)
from stockbridge.reports.render import report_html, table_csv
from stockbridge.reports.schedule import next_daily, next_weekly
from stockbridge.store.bookkeeping import ExceptionRecord
from stockbridge.store.report_repo import LatencyRow
from stockbridge.store.states import ExceptionState

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # a Monday
COUNTED = frozenset({"available", "allocated", "picked"})
STATUSES = ("available", "allocated", "picked", "damaged", "inbound")
TYPES = ("receipt", "putaway", "despatch", "count", "status_change", "allocate", None)


@st.composite
def histories(draw: st.DrawFn) -> list[TimedBalances]:
    """Versioned balances of one SKU at one warehouse, in any arrival order, some of them snapshots."""
    entries = []
    for version in range(1, draw(st.integers(1, 25)) + 1):
        statuses = draw(st.sets(st.sampled_from(STATUSES), min_size=1, max_size=3))
        balances = tuple(
            StockBalance("A", "WH1", s, draw(st.integers(0, 50)), version) for s in sorted(statuses)
        )
        at = T0 + timedelta(hours=draw(st.integers(0, 24 * 10)))
        entries.append(TimedBalances(at, version, draw(st.sampled_from(TYPES)), balances))
    return draw(st.permutations(entries))


@given(histories())
def test_the_clarus_ledger_ties_out_and_ends_at_the_newest_counted_figures(
    entries: list[TimedBalances],
) -> None:
    start, end = T0 + timedelta(days=3), T0 + timedelta(days=8)
    ledger = clarus_ledgers(entries, COUNTED, start, end).get(("A", "WH1"), ClarusLedger())
    assert ledger.ties()
    newest: dict[str, tuple[int, int]] = {}
    for entry in entries:
        for b in entry.balances:
            if entry.at < end and b.version > newest.get(b.status, (0, 0))[0]:
                newest[b.status] = (b.version, b.quantity)
    assert ledger.closing == sum(q for s, (_, q) in newest.items() if s in COUNTED)


def test_a_movement_books_its_change_of_the_counted_sum_to_its_column() -> None:
    def entry(version: int, kind: str | None, **balances: int) -> TimedBalances:
        at = T0 + timedelta(days=1, hours=version)
        return TimedBalances(
            at, version, kind, tuple(StockBalance("A", "WH1", s, q, version) for s, q in balances.items())
        )

    entries = [
        TimedBalances(T0 - timedelta(days=1), 1, "receipt", (StockBalance("A", "WH1", "available", 10, 1),)),
        entry(2, "receipt", inbound=5),  # not sellable yet: nothing
        entry(3, "putaway", inbound=0, available=15),  # +5 received
        entry(4, "allocate", available=12, allocated=3),  # 0
        entry(5, "pick", allocated=0, picked=3),  # 0
        entry(6, "despatch", picked=0),  # 3 shipped
        entry(7, "status_change", available=10, damaged=2),  # −2 adjusted
        entry(8, None, available=11),  # a snapshot says 1 more: unseen
    ]
    ledger = clarus_ledgers(entries, COUNTED, T0, T0 + timedelta(days=7))[("A", "WH1")]
    assert (
        ledger.opening,
        ledger.receipts,
        ledger.shipments,
        ledger.adjustments,
        ledger.unseen,
        ledger.closing,
    ) == (
        10,
        5,
        3,
        -2,
        1,
        11,
    )


def _row(clarus_closing: int, observed: int, ims: int | None) -> ReconciliationRow:
    return ReconciliationRow("A", "WH1", "6", ClarusLedger(closing=clarus_closing), observed, 0, ims)


def test_explanations_split_the_difference_into_what_the_hub_knows() -> None:
    buffered = _row(10, 10, 8)
    reasons = explain(
        buffered, buffer=2, target=ImsTarget(8, 8, False, False, False), issues=[], awaiting_fulfilment=0
    )
    buffered.explanations = reasons
    assert [(e.units) for e in reasons] == [-2]
    assert buffered.unexplained == 0

    pending = _row(10, 12, 10)  # two units folded after the week's last movement read, not pushed yet
    pending.explanations = explain(
        pending, buffer=0, target=ImsTarget(12, 10, True, False, False), issues=[], awaiting_fulfilment=0
    )
    assert [e.units for e in pending.explanations] == [2, -2]
    assert pending.explanations[1].reason.startswith("adjustment batch pending")

    unknown = _row(0, 0, 5)  # the IMS shows 5 of something the hub never pushed: unexplained
    unknown.explanations = explain(
        unknown, buffer=0, target=ImsTarget(0, 0, False, False, False), issues=[], awaiting_fulfilment=0
    )
    assert unknown.explanations == []
    assert unknown.unexplained == 5

    drifting = _row(7, 7, 9)
    issue = OpenIssue("drift", T0, "ims shows 9 at location 6, the hub pushed 7")
    drifting.explanations = explain(
        drifting, buffer=0, target=ImsTarget(7, 9, True, False, False), issues=[issue], awaiting_fulfilment=0
    )
    assert drifting.explanations[0].reason.startswith("drift open since 2026-11-23 00:00")
    assert drifting.unexplained == 0


def test_reports_fall_due_at_their_time_of_day_and_day_of_week() -> None:
    wednesday = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    assert next_daily(wednesday, (6, 0)) == datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
    assert next_daily(wednesday, (7, 30)) == datetime(2026, 11, 25, 7, 30, tzinfo=UTC)
    assert next_weekly(wednesday, 0, (6, 0)) == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    assert next_weekly(datetime(2026, 11, 30, 6, 0, tzinfo=UTC), 0, (6, 0)) == datetime(
        2026, 12, 7, 6, 0, tzinfo=UTC
    )


def test_latency_is_judged_against_its_target_per_channel() -> None:
    now = T0 + timedelta(days=1)
    samples = tuple(LatencyRow("ims", now - timedelta(hours=2), ms) for ms in (100, 200, 9_000))
    samples += tuple(LatencyRow("shopify", now - timedelta(hours=1), 50) for _ in range(3))
    facts = DailyFacts(
        now,
        T0,
        now,
        ("ims", "shopify", "quiet"),
        (),
        samples,
        {"ims": LatencyTarget(5_000, 8_000), "shopify": LatencyTarget(5_000, 8_000), "quiet": None},
        (),
        (),
        (),
        (),
    )
    report = build_daily(facts)
    verdicts = {row[0]: row[-1] for row in report.table("latency").rows}
    assert verdicts == {"ims": "missed", "shopify": "met", "quiet": "no target"}
    html = report_html(report)
    assert html.count("<polyline") + html.count("<circle") >= 2  # a point or a line per channel with samples


def test_slow_channels_stalled_flows_and_failed_finance_batches_are_listed_in_their_sections() -> None:
    now = T0 + timedelta(days=1)
    planted = {  # exception type -> (entity, owner, the table of its section)
        "latency_slo": ("channel:ims", "ecommerce", "latency_exceptions"),
        "backlog_stalled": ("flow:targets.shopify", "integration", "backlog_exceptions"),
        "finance_batch_failed": ("finance_batch:FIN-6-20261123-5100", "finance", "finance_exceptions"),
    }
    records = tuple(
        ExceptionRecord(n, kind, entity, owner, ExceptionState.OPEN, "d", None, 1, T0, T0)
        for n, (kind, (entity, owner, _)) in enumerate(planted.items())
    )
    facts = DailyFacts(now, T0, now, ("ims",), (), (), {"ims": None}, records, (), (), ())
    report = build_daily(facts)
    for kind, (entity, owner, table) in planted.items():
        rows = report.table(table).rows
        assert [(r[0], r[1], r[2]) for r in rows] == [(kind, entity, owner)], table
    assert "Finance batches" in [section.title for section in report.sections]


def test_rendering_escapes_and_writes_empty_cells() -> None:
    table = Table("t", "<T>", ("a", "b"), (("<script>", None), ("x,y", 3)))
    report = Report("daily", "r", T0, T0, T0, (Section("s", (table,)),))
    assert "<script>" not in report_html(report)
    assert table_csv(table) == 'a,b\n<script>,\n"x,y",3\n'


def _config_file(tmp_path: Path) -> Path:
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["database_url"] = f"sqlite:///{tmp_path / 'hub.db'}"
    path = tmp_path / "stockbridge.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_stockbridge_report_daily_names_the_page_it_wrote(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "report",
            "daily",
            "--config",
            str(_config_file(tmp_path)),
            "--dir",
            str(tmp_path / "out"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    page = Path(json.loads(result.stdout)["report"])
    assert page.is_file()
    assert (page.parent / "exceptions.csv").is_file()


def test_the_demo_writes_its_daily_report(tmp_path: Path) -> None:
    from stockbridge.store.db import make_engine, upgrade

    config = parse_config(yaml.safe_load(_config_file(tmp_path).read_text()))
    upgrade(make_engine(config.database_url))
    page = write_demo_report(config, str(tmp_path / "demo-reports"))
    assert page.is_file()
    assert page.is_relative_to(tmp_path / "demo-reports")


def test_report_settings_are_checked_and_drive_the_schedule() -> None:
    import pytest

    from stockbridge.config import ConfigError
    from stockbridge.engine.report_jobs import seconds_until_due

    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    with pytest.raises(ConfigError) as bad:
        parse_config({**data, "reports": {"dir": "r", "daily_at": "25:00"}}, "f.yaml")
    assert (bad.value.file, bad.value.key) == ("f.yaml", "reports.daily_at")
    settings = parse_config(
        {**data, "reports": {"dir": "r", "daily_at": "06:30", "weekly_on": "friday"}}
    ).reports
    assert settings is not None
    wednesday = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
    assert seconds_until_due("report_daily", settings, wednesday) == 30 * 60
    assert (
        seconds_until_due("report_weekly", settings, wednesday)
        == timedelta(days=2, minutes=30).total_seconds()
    )


def test_reports_read_the_outside_only_through_ports() -> None:
    import ast

    package = Path(__file__).parents[2] / "src" / "stockbridge" / "reports"
    for module in package.glob("*.py"):
        tree = ast.parse(module.read_text())
        imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in imported if m.startswith("stockbridge.connectors")], module.name
