"""Set up, check and run the hub: init, check, serve, worker, sync, db upgrade, status."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from stockbridge.cli.base import (
    DEFAULT_CONFIG,
    ConfigOption,
    LogFormatOption,
    LogLevelOption,
    app,
    configure_logs,
    console,
    engine_for,
    err,
    load,
)
from stockbridge.config import EXAMPLE_CONFIG
from stockbridge.store import dead_letters, outbox_repo, targets_repo
from stockbridge.store.bookkeeping import (
    read_counters,
)

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command()
def init(path: Annotated[Path, typer.Argument()] = DEFAULT_CONFIG, force: bool = False) -> None:
    """Write a commented example configuration."""
    if path.exists() and not force:
        err.print(f"{path} exists; pass --force to overwrite")
        raise typer.Exit(1)
    shutil.copyfile(EXAMPLE_CONFIG, path)
    console.print(f"wrote {path}; edit it, set the *_env variables, then `stockbridge check --config {path}`")


@app.command()
def check(
    config: ConfigOption = DEFAULT_CONFIG,
    env: bool = typer.Option(True, help="Also require the secrets' environment variables."),
) -> None:
    """Validate a configuration file; exit 2 naming the file and key when it is wrong."""
    loaded = load(config, need_secrets=env)
    console.print(
        f"[green]ok[/green] {config}: {len(loaded.locations)} location(s), "
        f"{len(loaded.inventory_statuses)} inventory statuses, targets {sorted(loaded.targets)}"
    )


@app.command()
def serve(
    config: ConfigOption = DEFAULT_CONFIG,
    api: bool = typer.Option(True, help="Receive webhooks."),
    workers: bool = typer.Option(True, help="Fold, push and run schedules."),
    port: int | None = typer.Option(None, help="Override hub.port."),
    worker_id: str | None = typer.Option(None, help="Lease owner name (default host:pid)."),
    log_level: LogLevelOption = None,
    log_format: LogFormatOption = None,
) -> None:
    """Run the hub: webhook API and workers."""
    from stockbridge.engine.runtime import run, serve

    loaded = load(config, need_secrets=True)
    configure_logs(loaded, log_level, log_format)
    run(serve(loaded, api=api, workers=workers, port=port, worker_id=worker_id, config_path=config))


@app.command()
def worker(
    config: ConfigOption = DEFAULT_CONFIG,
    worker_id: str | None = None,
    log_level: LogLevelOption = None,
    log_format: LogFormatOption = None,
) -> None:
    """Run workers only (scale out on PostgreSQL by starting more)."""
    from stockbridge.engine.runtime import run, serve

    loaded = load(config, need_secrets=True)
    configure_logs(loaded, log_level, log_format)
    run(serve(loaded, api=False, workers=True, worker_id=worker_id, config_path=config))


@app.command()
def sync(
    job: Annotated[
        str,
        typer.Argument(help="full_sync | events_poll | item_refresh | storefront_refresh | drift_check ..."),
    ],
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Run one scheduled job now, in this process."""
    from stockbridge.engine.clock import SystemClock
    from stockbridge.engine.connect import connect
    from stockbridge.engine.ims_items import StoredImsItems
    from stockbridge.engine.worker import Worker

    loaded = load(config, need_secrets=True)

    async def run() -> None:
        engine = engine_for(loaded)
        connections = connect(loaded, ims_items=StoredImsItems(engine), engine=engine)
        try:
            await Worker(engine=engine, config=loaded, connections=connections, clock=SystemClock()).run_job(
                job
            )
        finally:
            await connections.aclose()

    asyncio.run(run())
    console.print(f"{job}: done")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Create or migrate the schema to the newest version."""
    loaded = load(config)
    engine_for(loaded)
    console.print("schema is up to date")


@app.command()
def status(config: ConfigOption = DEFAULT_CONFIG, as_json: bool = typer.Option(False, "--json")) -> None:
    """Counters, dirty targets, outbox and open exceptions."""
    from stockbridge.store.bookkeeping import count_open_exceptions
    from stockbridge.store.inbox_repo import count_in, pending_count
    from stockbridge.store.states import InboxState

    engine = engine_for(load(config))
    with engine.begin() as c:
        data = {
            "counters": read_counters(c),
            "inbox_pending": pending_count(c),
            "inbox_set_aside": count_in(c, InboxState.FAILED),
            "dirty_targets": targets_repo.dirty_count(c),
            "batches": outbox_repo.batches_by_state(c),
            "dead_letters": dead_letters.count_dead(c),
            "open_exceptions": count_open_exceptions(c),
        }
    if as_json:
        print(json.dumps(data))
        return
    table = Table("what", "value", title="stockbridge status")
    for key, value in data.items():
        table.add_row(key, json.dumps(value))
    console.print(table)
