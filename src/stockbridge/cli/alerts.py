"""Alerts to the owning teams: what was sent (or is waiting, or dead), and a test of a team's route."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.table import Table

from stockbridge.cli.base import DEFAULT_CONFIG, ConfigOption, app, console, engine_for, err, load
from stockbridge.store.states import BatchState

alerts_app = typer.Typer(
    help="Alerts over open exceptions, routed by owner (docs/operating.md, Alerts).", no_args_is_help=True
)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("list")
def alerts_list(
    config: ConfigOption = DEFAULT_CONFIG,
    state: Annotated[BatchState | None, typer.Option(help="pending, sent or dead.")] = None,
    limit: Annotated[int, typer.Option(help="Newest this many.")] = 50,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Alert messages, newest first, one line per channel."""
    from stockbridge.store import alerts_repo

    engine = engine_for(load(config))
    with engine.begin() as c:
        deliveries = alerts_repo.list_alerts(c, state=state, limit=limit)
    rows = [
        {
            "id": d.id,
            "reference": d.reference,
            "kind": d.kind.value,
            "owner": d.owner,
            "level": d.level,
            "channel": d.channel.name,
            "state": d.state.value,
            "attempts": d.attempts,
            "created_at": d.created_at.isoformat(),
            "done_at": None if d.done_at is None else d.done_at.isoformat(),
            "title": d.title,
            "exceptions": list(d.exception_ids),
            "last_error": d.last_error,
        }
        for d in deliveries
    ]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(
        "id", "kind", "owner", "level", "channel", "state", "tries", "created", "title", title="alerts"
    )
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["kind"]),
            str(row["owner"]),
            str(row["level"]),
            str(row["channel"]),
            str(row["state"]),
            str(row["attempts"]),
            str(row["created_at"])[:19],
            str(row["title"]),
        )
    console.print(table)


@alerts_app.command("test")
def alerts_test(
    owner: Annotated[str, typer.Option(help="The team whose route to test (a key of alerts.routes).")],
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Send a test message to every channel of OWNER's route now; exit 1 if any refused it."""
    from stockbridge.connectors.alerting import alert_channels
    from stockbridge.flows.alerts import send_test_alert

    loaded = load(config)

    async def run() -> list[tuple[str, str | None]]:
        async with alert_channels(loaded.alerts) as channels:
            results = await send_test_alert(channels, loaded, owner)
        return [(channel.name, error) for channel, error in results]

    failed = 0
    for name, error in asyncio.run(run()):
        if error is None:
            console.print(f"{name}: sent")
        else:
            failed += 1
            err.print(f"{name}: [red]failed[/red] {error}")
    if failed:
        raise typer.Exit(1)
