"""The daily finance batch: list the batches, post a day now (docs/decisions/0030)."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from stockbridge.cli.base import DEFAULT_CONFIG, ConfigOption, app, console, engine_for, err, load

finance_app = typer.Typer(help="The daily batch of adjustments with financial effect.", no_args_is_help=True)
app.add_typer(finance_app, name="finance")


@finance_app.command("batches")
def finance_batches(
    config: ConfigOption = DEFAULT_CONFIG,
    limit: Annotated[int, typer.Option(help="The newest this many.")] = 50,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Batches, newest day first: external id, day, location, account, control total, state."""
    from stockbridge.store import finance_repo

    engine = engine_for(load(config))
    with engine.begin() as c:
        stored = finance_repo.list_batches(c, limit)
        pending = finance_repo.pending_units(c)
    rows = [
        {
            "id": s.batch.id,
            "business_date": s.batch.business_date.isoformat(),
            "location": s.batch.location,
            "account": s.batch.account,
            "lines": len(s.batch.lines),
            "control_units": s.batch.control_units,
            "state": "posted" if s.state == "sent" else s.state,
            "attempts": s.attempts,
            "posted_at": s.done_at.isoformat() if s.done_at else None,
            "last_error": s.last_error,
        }
        for s in stored
    ]
    if as_json:
        held = [{"location": loc, "sku": sku, "units": u} for (loc, sku), u in sorted(pending.items())]
        print(json.dumps({"batches": rows, "not_yet_posted": held}))
        return
    table = Table("external id", "day", "location", "account", "lines", "control", "state", "posted", "error")
    for r in rows:
        table.add_row(
            *(str(r[k] if r[k] is not None else "") for k in ("id", "business_date", "location", "account")),
            str(r["lines"]),
            str(r["control_units"]),
            str(r["state"]),
            str(r["posted_at"] or ""),
            str(r["last_error"] or "")[:60],
        )
    console.print(table)
    console.print(
        f"units not yet in a posted batch: {sum(pending.values())} over {len(pending)} SKU/location(s)"
    )


@finance_app.command("post")
def finance_post(
    config: ConfigOption = DEFAULT_CONFIG,
    day: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Close every business day up to this one (YYYY-MM-DD); default: "
            "the latest day whose finance.post_at has passed.",
        ),
    ] = None,
) -> None:
    """Make the batches of the days due and post every batch due now (retries and replays too)."""
    from stockbridge.engine.clock import SystemClock
    from stockbridge.engine.connect import connect
    from stockbridge.engine.ims_items import StoredImsItems
    from stockbridge.engine.worker import default_worker_id
    from stockbridge.flows.finance import FinanceBatcher, FinanceRun

    loaded = load(config, need_secrets=True)
    if not loaded.finance.reasons:
        err.print("finance.reasons is empty: no movement is batched (see docs/configuration.md)")
        raise typer.Exit(1)
    try:
        through = None if day is None else date.fromisoformat(day)
    except ValueError:
        err.print(f"--date {day!r} is not a YYYY-MM-DD date")
        raise typer.Exit(2) from None

    async def run() -> FinanceRun:
        engine = engine_for(loaded)
        connections = connect(loaded, ims_items=StoredImsItems(engine))
        try:
            batcher = FinanceBatcher(
                engine=engine,
                config=lambda: loaded,
                ims=connections.ims_finance,
                clock=SystemClock(),
                worker_id=default_worker_id(),
            )
            return await batcher.run(through)
        finally:
            await connections.aclose()

    result = asyncio.run(run())
    console.print(
        f"made {len(result.made)}, posted {len(result.posted)}, failed {len(result.failed)}, "
        f"waiting {len(result.waiting)}"
    )
    for name, ids in (("posted", result.posted), ("failed", result.failed), ("waiting", result.waiting)):
        for batch_id in ids:
            console.print(f"  {name}: {batch_id}")
    if result.failed:
        raise typer.Exit(1)
