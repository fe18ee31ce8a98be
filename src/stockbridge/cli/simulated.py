"""The simulated world: run one simulator, the demo, the chaos day."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from stockbridge.cli.base import (
    LogFormatName,
    LogLevelName,
    app,
    console,
    err,
)

simulate_app = typer.Typer(help="Run a simulated external system on loopback.", no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")


@simulate_app.command("clarus")
def simulate_clarus(
    port: int = 8101,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    api_key: str = "clarus-dev-key",
) -> None:
    """Run the Clarus WMS simulator on 127.0.0.1 (docs/simulators/clarus.md)."""
    from stockbridge.simulators import clarus

    settings = clarus.ClarusSettings(api_key=api_key, webhook_url=webhook_url, webhook_secret=webhook_secret)
    clarus.serve(settings, "127.0.0.1", port)


@simulate_app.command("ims")
def simulate_ims(
    port: int = 8102, calls_per_second: float | None = None, token: str = "ims-dev-token"
) -> None:
    """Run the NetSuite-shaped IMS simulator on 127.0.0.1 (docs/simulators/ims.md)."""
    from stockbridge.simulators import ims

    settings = ims.ImsSettings(bearer_tokens=[token], calls_per_second=calls_per_second)
    ims.serve(settings, "127.0.0.1", port)


@simulate_app.command("shopify")
def simulate_shopify(port: int = 8103, bucket_size: int = 1000, restore_rate: float = 100.0) -> None:
    """Run the Shopify GraphQL Admin API simulator on 127.0.0.1 (docs/simulators/shopify.md).

    Its access token and webhook secret are SHOPIFY_ACCESS_TOKEN and SHOPIFY_WEBHOOK_SECRET when set.
    """
    from stockbridge.simulators.shopify.__main__ import main as run_shopify

    run_shopify(["--port", str(port), "--bucket-size", str(bucket_size), "--restore-rate", str(restore_rate)])


@app.command()
def demo(
    long: bool = typer.Option(
        False, "--long", help="The full day (500 SKUs, 5000 movements, 1000 orders: minutes, not one)."
    ),
    skus: int | None = typer.Option(None, help="SKUs in the warehouse (80; 500 with --long)."),
    movements: int | None = typer.Option(None, help="Stock movements to drive through Clarus (600; 5000)."),
    seed: int = typer.Option(7, help="Seed for the movement stream and the fault injection."),
    orders: int | None = typer.Option(None, help="Sales orders in the order day (80; 1000; 0 to skip it)."),
    shop_orders: int | None = typer.Option(None, help="Shopify orders in the order day (default orders/10)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    database_url: str | None = typer.Option(None, help="Default: a SQLite file in a temporary directory."),
    report_dir: str = typer.Option("demo-reports", help="Where the daily report is written at the end."),
    log_level: Annotated[
        LogLevelName, typer.Option("--log-level", help="The hub's log lines (warning: only problems).")
    ] = LogLevelName.warning,
    log_format: Annotated[LogFormatName, typer.Option("--log-format")] = LogFormatName.console,
) -> None:
    """Run simulated Clarus, IMS, Shopify and Magento, the hub against them, a day of movements, orders
    and despatches with faults; report per channel what the oracle and the simulators found. The
    short day (about a minute) shows every flow and fault; --long is the full day."""
    from stockbridge.demo import DemoOptions, run_demo, succeeded
    from stockbridge.logs import configure_logging

    # The demo narrates on stderr itself: the hub's own lines are for looking underneath.
    configure_logging(log_level.value, log_format.value)

    base = DemoOptions.long() if long else DemoOptions()
    summary = run_demo(
        base.with_changes(
            skus=skus,
            movements=movements,
            seed=seed,
            orders=orders,
            shop_orders=shop_orders,
            database_url=database_url,
            quiet=as_json,
            report_dir=report_dir,
        )
    )
    if as_json:
        print(json.dumps(summary))
    sys.exit(0 if succeeded(summary) else 1)


class ChaosDatabase(StrEnum):
    sqlite = "sqlite"
    postgresql = "postgresql"


@app.command()
def chaos(
    quick: bool = typer.Option(False, "--quick", help="The short day (under two minutes) CI runs."),
    db: Annotated[
        ChaosDatabase,
        typer.Option("--db", help="postgresql: a throwaway cluster (initdb), never a shared server."),
    ] = ChaosDatabase.sqlite,
    workers: int = typer.Option(1, min=1, help="Processes running workers; past 1 needs --db postgresql."),
    seed: int = typer.Option(1, help="Seed for the fault schedule, the traffic and the simulators."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
    keep_logs: Annotated[Path | None, typer.Option(help="Copy the hub processes' logs here.")] = None,
) -> None:
    """A scripted day on every channel while faults are injected on a schedule; then every simulator's
    end state is checked. Exit 1 if anything was lost, doubled, stale or drifted (docs/reliability.md)."""
    from stockbridge.chaos import FULL, QUICK, ChaosOptions, run_chaos
    from stockbridge.chaos.report import print_report, summary

    if workers > 1 and db is ChaosDatabase.sqlite:
        err.print("several worker processes need PostgreSQL: pass --db postgresql")
        raise typer.Exit(2)
    profile = QUICK if quick else FULL
    report = run_chaos(
        ChaosOptions(
            profile,
            database=db.value,
            workers=workers,
            seed=seed,
            converge_timeout_s=180 if quick else 600,
            settle_s=10 if quick else 45,
            quiet=as_json,
            keep_logs=keep_logs,
        )
    )
    if as_json:
        print(json.dumps(summary(report)))
    else:
        print_report(Console(width=max(console.width, 110)), report)
    sys.exit(0 if report.passed else 1)
