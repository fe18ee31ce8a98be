"""The reports as the worker and the CLI run them: the weekly reconciliation wired to the connectors,
and when each scheduled report is next due (`reports:` in the configuration)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from stockbridge.config import IMS_CHANNEL_NAME, Config, ReportSettings
from stockbridge.engine.connect import Connections
from stockbridge.logs import get_logger
from stockbridge.reports import write_daily, write_weekly
from stockbridge.reports.schedule import next_daily, next_weekly

REPORT_JOBS = ("report_daily", "report_weekly")

log = get_logger(__name__)


async def weekly_report(
    engine: Engine,
    config: Config,
    connections: Connections,
    directory: str | Path,
    now: datetime,
    start: datetime | None = None,
) -> Path:
    """The weekly reconciliation: Clarus's movements read by its connector, the IMS through its ports."""
    return await write_weekly(
        engine,
        config,
        directory,
        now,
        formats=connections.clarus_inbound,
        ims=connections.stock_channels[IMS_CHANNEL_NAME],
        ledger=connections.ims_ledger,
        start=start,
    )


async def run_report_job(
    job: str, engine: Engine, config: Config, connections: Connections, now: datetime
) -> Path | None:
    """Write the job's report into `reports.dir`; None (and a warning) without a `reports:` section
    (the job can still be asked for through `POST /admin/jobs/{job}`)."""
    if config.reports is None:
        log.warning("report not written: the configuration has no reports: section", job=job)
        return None
    if job == "report_daily":
        return await write_daily(engine, config, config.reports.dir, now)
    return await weekly_report(engine, config, connections, config.reports.dir, now)


def seconds_until_due(job: str, settings: ReportSettings, now: datetime) -> float:
    """How long after `now` the job is next due: the schedule's `every_s` for its next claim."""
    if job == "report_daily":
        due = next_daily(now, settings.at())
    else:
        due = next_weekly(now, settings.weekday(), settings.at())
    return (due - now).total_seconds()
