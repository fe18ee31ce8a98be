"""The daily report and the weekly reconciliation (DESIGN.md §4, issue 10 part 5).

`model` (what a report is), `daily` and `reconcile`/`weekly` (pure: facts in, a report out),
`gather` (reads the facts: the database, the inbox through the warehouse's connector, the IMS through
its ports), `render` (HTML and CSV). `write_daily` and `write_weekly` are what the CLI, the worker's
schedule and the demo call.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from stockbridge.config import Config
from stockbridge.flows.edge_ports import InboundFormats
from stockbridge.flows.ports import StockChannel
from stockbridge.reports.daily import build_daily
from stockbridge.reports.gather import WEEK, daily_facts, reconciliation
from stockbridge.reports.ports import AdjustmentLedger
from stockbridge.reports.render import write_report
from stockbridge.reports.weekly import build_weekly

__all__ = ["write_daily", "write_weekly"]


async def write_daily(
    engine: Engine, config: Config, directory: str | Path, now: datetime, start: datetime | None = None
) -> Path:
    """Write the daily report for the day ending at `now`; returns the HTML page's path."""
    return write_report(build_daily(await daily_facts(engine, config, now, start)), directory)


async def write_weekly(
    engine: Engine,
    config: Config,
    directory: str | Path,
    now: datetime,
    *,
    formats: InboundFormats,
    ims: StockChannel,
    ledger: AdjustmentLedger,
    start: datetime | None = None,
) -> Path:
    """Write the weekly reconciliation for the week ending at `now`; returns the HTML page's path."""
    begin = start or now - WEEK
    rows = await reconciliation(engine, config, formats, ims, ledger, now, begin)
    return write_report(build_weekly(rows, now, begin), directory)
