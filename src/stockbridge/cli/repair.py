"""Inspect and repair: dead letters (replay) and exceptions (list, show, ack, resolve, retry)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from stockbridge.cli.base import (
    DEFAULT_CONFIG,
    ConfigOption,
    app,
    console,
    engine_for,
    err,
    load,
)
from stockbridge.store import dead_letters
from stockbridge.store.bookkeeping import (
    ExceptionRecord,
    get_exception,
    list_exceptions,
    set_exception_state,
)
from stockbridge.store.dead_letters import Outbox
from stockbridge.store.states import ExceptionState

exceptions_app = typer.Typer(
    help="Problems an owner must see: list, inspect, acknowledge, resolve.", no_args_is_help=True
)
app.add_typer(exceptions_app, name="exceptions")


@app.command()
def replay(
    config: ConfigOption = DEFAULT_CONFIG,
    outbox: Annotated[
        Outbox | None, typer.Option(help="Only this outbox (default: all of them).", case_sensitive=False)
    ] = None,
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="Only these dead letters (needs --outbox).")
    ] = None,
    batch: Annotated[
        list[str] | None, typer.Option("--batch", help="Only these push batches (= --outbox pushes --id).")
    ] = None,
    list_only: bool = typer.Option(False, "--list", help="List the dead letters; queue nothing."),
    as_json: bool = typer.Option(False, "--json", help="With --list: print one JSON array."),
) -> None:
    """Send dead-lettered work again, with a fresh retry window: stock pushes, order commands to the
    warehouse, fulfilment commands (Item Fulfilments, invoices, customer notices).

    Replaying is idempotent at the far end: a push batch keeps its id, which is its external id in
    the IMS (sent twice, it replaces itself); Item Fulfilments and invoices keep their external ids
    (sb-if-, sb-inv- and the shipment id); the warehouse keys orders by reference. A customer notice
    keeps its Message-ID, so a notice that did reach the customer before its failure shows as the
    same message, not a new one. Fix the cause first (see docs/operating.md, "Dead letters").
    """
    from stockbridge.engine.clock import SystemClock

    if batch:
        if outbox not in (None, Outbox.PUSHES) or ids:
            err.print("--batch names push batches: use it without --outbox and --id")
            raise typer.Exit(2)
        outbox, ids = Outbox.PUSHES, batch
    if ids and outbox is None:
        err.print("--id needs --outbox (ids are per outbox)")
        raise typer.Exit(2)
    chosen = [outbox] if outbox else list(Outbox)
    engine = engine_for(load(config))
    if list_only:
        with engine.begin() as c:
            letters = dead_letters.list_dead(c, chosen)
        _print_dead_letters(letters, as_json)
        return
    now = SystemClock().now()
    with engine.begin() as c:
        for each in chosen:
            try:
                count = dead_letters.replay(c, each, now, ids or None)
            except ValueError:
                err.print(f"--id: {each.value} dead letters have numeric ids")
                raise typer.Exit(2) from None
            console.print(f"{each.value}: {count} dead letter(s) queued again")


def _print_dead_letters(letters: list[dead_letters.DeadLetter], as_json: bool) -> None:
    rows = [
        {
            "outbox": d.outbox.value,
            "id": d.id,
            "what": d.subject,
            "attempts": d.attempts,
            "failing_since": None if d.failing_since is None else d.failing_since.isoformat(),
            "created_at": d.created_at.isoformat(),
            "last_error": d.last_error,
        }
        for d in letters
    ]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("outbox", "id", "what", "attempts", "failing since", "last error", title="dead letters")
    for row in rows:
        table.add_row(
            str(row["outbox"]),
            str(row["id"]),
            str(row["what"]),
            str(row["attempts"]),
            str(row["failing_since"] or ""),
            str(row["last_error"] or ""),
        )
    console.print(table)


@exceptions_app.command("list")
def exceptions_list(
    config: ConfigOption = DEFAULT_CONFIG,
    state: Annotated[ExceptionState | None, typer.Option()] = None,
    owner: str | None = None,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Exceptions, newest first."""
    engine = engine_for(load(config))
    with engine.begin() as c:
        records = list_exceptions(c, state=state, owner=owner)
    if as_json:
        print(json.dumps([_as_dict(r) for r in records]))
        return
    table = Table(
        "id", "type", "entity", "owner", "state", "count", "last seen", "detail", title="exceptions"
    )
    for r in records:
        table.add_row(
            str(r.id),
            r.type,
            r.entity,
            r.owner,
            r.state.value,
            str(r.count),
            r.last_seen.strftime("%Y-%m-%d %H:%M:%S"),
            r.detail,
        )
    console.print(table)


def _as_dict(record: ExceptionRecord) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in asdict(record).items():
        out[key] = (
            value.isoformat()
            if isinstance(value, datetime)
            else value.value
            if isinstance(value, Enum)
            else value
        )
    return out


@exceptions_app.command("show")
def exceptions_show(exception_id: int, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """One exception in full."""
    engine = engine_for(load(config))
    with engine.begin() as c:
        record = get_exception(c, exception_id)
    if record is None:
        err.print(f"no exception {exception_id}")
        raise typer.Exit(1)
    print(json.dumps(_as_dict(record), indent=2))


@exceptions_app.command("ack")
def exceptions_ack(exception_id: int, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Acknowledge: an owner is on it."""
    _set_state(config, exception_id, ExceptionState.ACKNOWLEDGED)


@exceptions_app.command("resolve")
def exceptions_resolve(exception_id: int, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Mark resolved (it re-opens if the problem happens again)."""
    _set_state(config, exception_id, ExceptionState.RESOLVED)


def _set_state(config: Path, exception_id: int, state: ExceptionState) -> None:
    engine = engine_for(load(config))
    with engine.begin() as c:
        if not set_exception_state(c, exception_id, state):
            err.print(f"no exception {exception_id}")
            raise typer.Exit(1)
    console.print(f"exception {exception_id}: {state.value}")


@exceptions_app.command("retry")
def exceptions_retry(exception_id: int, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Run an exception's retry action now: re-send the dead-lettered work behind push_failed,
    order_command_failed, fulfilment_command_failed and notification_failed (idempotent at the far
    end, as `stockbridge replay`), put a set-aside poison_event row back to pending, or re-check a held
    order."""
    from stockbridge.engine.clock import SystemClock
    from stockbridge.flows.orders import OrderFolder
    from stockbridge.flows.poison import POISON_EVENT, parse_entity, requeue
    from stockbridge.store import orders_repo

    loaded = load(config)
    engine = engine_for(loaded)
    with engine.begin() as c:
        record = get_exception(c, exception_id)
        if record is None:
            err.print(f"no exception {exception_id}")
            raise typer.Exit(1)
        now = SystemClock().now()
        replayed = dead_letters.replay_for_exception(c, record.type, record.entity, now)
        if replayed is not None:
            console.print(f"{record.entity}: {replayed} dead letter(s) queued again")
        elif record.entity.startswith("order:"):
            reference = record.entity.removeprefix("order:")
            released = OrderFolder(c, loaded, now).release(reference)
            console.print(f"{record.entity}: {released.state.value if released else 'unknown order'}")
            # Before decision 0010 a dead-lettered order command raised order_stalled, not
            # order_command_failed: re-send those too.
            resent = orders_repo.replay_dead_commands(c, now, reference=reference)
            if resent:
                console.print(f"{record.entity}: {resent} dead-lettered command(s) queued again")
        elif record.type == POISON_EVENT:
            source, event_id = parse_entity(record.entity)
            outcome = "queued again" if requeue(c, source, event_id) else "not set aside: nothing to retry"
            console.print(f"{record.entity}: {outcome}")
        else:
            console.print(
                f"nothing to run for {record.type}: {record.retry_action or 'see docs/operating.md'}"
            )
