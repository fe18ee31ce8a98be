"""`stockbridge report daily|weekly`: write a report now (the worker also writes them on schedule)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from stockbridge.cli.base import DEFAULT_CONFIG, ConfigOption, app, console, engine_for, load
from stockbridge.config import Config

report_app = typer.Typer(help="Write the daily report or the weekly reconciliation (HTML and CSV).")
app.add_typer(report_app, name="report")

DirOption = Annotated[
    Path | None,
    typer.Option("--dir", help="Where to write it (default: reports.dir, else ./reports)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help='Print {"report": "<path>"}.')]


def _directory(config: Config, directory: Path | None) -> Path:
    if directory is not None:
        return directory
    return Path(config.reports.dir) if config.reports is not None else Path("reports")


def _written(path: Path, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"report": str(path)}))
    else:
        console.print(f"report written: {path}")


@report_app.command("daily")
def report_daily(
    config: ConfigOption = DEFAULT_CONFIG,
    directory: DirOption = None,
    hours: Annotated[float, typer.Option(help="How far back the day goes.", min=1)] = 24,
    as_json: JsonOption = False,
) -> None:
    """Backlog, latency against target, drift, held and stalled orders, shipments without
    fulfilments, unknown SKUs, connectors, and every open exception by owner (docs/operating.md)."""
    from stockbridge.engine.clock import SystemClock
    from stockbridge.reports import write_daily

    loaded = load(config)
    now = SystemClock().now()
    path = asyncio.run(
        write_daily(
            engine_for(loaded), loaded, _directory(loaded, directory), now, now - timedelta(hours=hours)
        )
    )
    _written(path, as_json)


@report_app.command("weekly")
def report_weekly(
    config: ConfigOption = DEFAULT_CONFIG,
    directory: DirOption = None,
    days: Annotated[float, typer.Option(help="How far back the week goes.", min=1)] = 7,
    as_json: JsonOption = False,
) -> None:
    """The reconciliation per SKU and location between Clarus and the IMS, every difference listed and
    explained where the hub knows why (docs/decisions/0028). Reads the IMS."""
    from stockbridge.engine.clock import SystemClock

    loaded = load(config, need_secrets=True)
    now = SystemClock().now()
    path = asyncio.run(_weekly(loaded, _directory(loaded, directory), now, days))
    _written(path, as_json)


async def _weekly(config: Config, directory: Path, now: datetime, days: float) -> Path:
    from stockbridge.engine.connect import connect
    from stockbridge.engine.ims_items import StoredImsItems
    from stockbridge.engine.report_jobs import weekly_report

    engine = engine_for(config)
    connections = connect(config, ims_items=StoredImsItems(engine))
    try:
        return await weekly_report(engine, config, connections, directory, now, now - timedelta(days=days))
    finally:
        await connections.aclose()
