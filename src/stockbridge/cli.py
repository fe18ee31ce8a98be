"""The `stockbridge` command: set up, check, run, inspect and repair the hub."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from dataclasses import asdict
from datetime import datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from stockbridge.config import EXAMPLE_CONFIG, Config, ConfigError, check_environment, load_config
from stockbridge.store import dead_letters, outbox_repo, targets_repo
from stockbridge.store.bookkeeping import (
    ExceptionRecord,
    get_exception,
    list_exceptions,
    read_counters,
    set_exception_state,
)
from stockbridge.store.db import make_engine, upgrade
from stockbridge.store.dead_letters import Outbox
from stockbridge.store.states import ExceptionState
from stockbridge.store.tokens_repo import Role

app = typer.Typer(
    help="stockbridge: keeps Clarus WMS, the IMS and storefronts telling the same truth.",
    no_args_is_help=True,
)
exceptions_app = typer.Typer(
    help="Problems an owner must see: list, inspect, acknowledge, resolve.", no_args_is_help=True
)
simulate_app = typer.Typer(help="Run a simulated external system on loopback.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
orders_app = typer.Typer(help="Sales orders on their way to the warehouse.", no_args_is_help=True)
audit_app = typer.Typer(help="Compare the systems' lists.", no_args_is_help=True)
app.add_typer(orders_app, name="orders")
app.add_typer(audit_app, name="audit")
app.add_typer(exceptions_app, name="exceptions")
app.add_typer(simulate_app, name="simulate")
app.add_typer(db_app, name="db")
token_app = typer.Typer(help="Bearer tokens for the admin API (status, metrics, jobs).", no_args_is_help=True)
app.add_typer(token_app, name="token")

console = Console()
err = Console(stderr=True)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The YAML configuration file.")]
DEFAULT_CONFIG = Path("stockbridge.yaml")


class LogLevelName(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


class LogFormatName(StrEnum):
    console = "console"
    json = "json"


LogLevelOption = Annotated[
    LogLevelName | None, typer.Option("--log-level", help="Log level (default: hub.log_level).")
]
LogFormatOption = Annotated[
    LogFormatName | None,
    typer.Option("--log-format", help="Log lines as key=value text or JSON (default: hub.log_format)."),
]


def _configure_logs(config: Config, level: LogLevelName | None, fmt: LogFormatName | None) -> None:
    from stockbridge.logs import configure_logging

    configure_logging(
        level.value if level else config.hub.log_level, fmt.value if fmt else config.hub.log_format
    )


def _load(path: Path, *, need_secrets: bool = False) -> Config:
    try:
        config = load_config(path)
        if need_secrets:
            check_environment(config, str(path))
        return config
    except ConfigError as exc:
        err.print(f"[red]config error[/red] {exc.file}: [bold]{exc.key}[/bold]: {exc.message}")
        raise typer.Exit(2) from None


def _engine(config: Config) -> Engine:
    engine = make_engine(config.effective_database_url())
    upgrade(engine)
    return engine


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
    loaded = _load(config, need_secrets=env)
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

    loaded = _load(config, need_secrets=True)
    _configure_logs(loaded, log_level, log_format)
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

    loaded = _load(config, need_secrets=True)
    _configure_logs(loaded, log_level, log_format)
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

    loaded = _load(config, need_secrets=True)

    async def run() -> None:
        engine = _engine(loaded)
        connections = connect(loaded, ims_items=StoredImsItems(engine))
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
    loaded = _load(config)
    _engine(loaded)
    console.print("schema is up to date")


@app.command()
def status(config: ConfigOption = DEFAULT_CONFIG, as_json: bool = typer.Option(False, "--json")) -> None:
    """Counters, dirty targets, outbox and open exceptions."""
    from stockbridge.store.bookkeeping import count_open_exceptions
    from stockbridge.store.inbox_repo import count_in, pending_count
    from stockbridge.store.states import InboxState

    engine = _engine(_load(config))
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
    engine = _engine(_load(config))
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
    engine = _engine(_load(config))
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
    engine = _engine(_load(config))
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
    engine = _engine(_load(config))
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

    loaded = _load(config)
    engine = _engine(loaded)
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


@orders_app.command("list")
def orders_list(
    config: ConfigOption = DEFAULT_CONFIG,
    state: str | None = typer.Option(None, help="Only orders in this state (e.g. held)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Orders the hub holds, with their state and hold reasons."""
    from stockbridge.domain.order_state import OrderState
    from stockbridge.store import orders_repo

    engine = _engine(_load(config))
    with engine.begin() as c:
        records = orders_repo.orders_in(c, [OrderState(state)]) if state else orders_repo.all_orders(c)
    rows = [
        {
            "reference": r.order.reference,
            "state": r.state.value,
            "wms_status": r.wms_status,
            "since": r.state_since.isoformat(),
            "holds": [f"{h.code}: {h.detail}" for h in r.holds],
        }
        for r in records
    ]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("reference", "state", "warehouse", "since", "hold reasons", title="orders")
    for r in records:
        holds = "\n".join(f"{h.code}: {h.detail}" for h in r.holds)
        table.add_row(
            r.order.reference, r.state.value, r.wms_status or "", f"{r.state_since:%Y-%m-%d %H:%M}", holds
        )
    console.print(table)


@orders_app.command("show")
def orders_show(reference: str, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """One order: IMS version, state, what the warehouse holds."""
    from stockbridge.store import orders_repo

    engine = _engine(_load(config))
    with engine.begin() as c:
        record = orders_repo.get_order(c, reference=reference)
    if record is None:
        err.print(f"no order {reference}")
        raise typer.Exit(1)
    print(
        json.dumps(
            {
                "ims": orders_repo.sales_order_json(record.order),
                "state": record.state.value,
                "holds": [asdict(h) for h in record.holds],
                "sent": None if record.sent is None else orders_repo.wms_order_json(record.sent),
                "wms_status": record.wms_status,
            },
            indent=2,
        )
    )


@orders_app.command("release")
def orders_release(reference: str, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Validate a held order again now; it goes to the warehouse if nothing holds it any more."""
    from stockbridge.engine.clock import SystemClock
    from stockbridge.flows.orders import OrderFolder

    loaded = _load(config)
    engine = _engine(loaded)
    with engine.begin() as c:
        record = OrderFolder(c, loaded, SystemClock().now()).release(reference)
    if record is None:
        err.print(f"no order {reference}")
        raise typer.Exit(1)
    console.print(f"{reference}: {record.state.value}")
    for hold in record.holds:
        console.print(f"  held: {hold.code}: {hold.detail}")
    if record.holds:
        raise typer.Exit(1)


@audit_app.command("skus")
def audit_skus(
    config: ConfigOption = DEFAULT_CONFIG,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Also write the findings as CSV.")] = None,
) -> None:
    """Compare the IMS item list with Clarus's: missing, extra, active on one side only, collisions."""
    from stockbridge.engine.connect import connect
    from stockbridge.engine.runtime import run
    from stockbridge.flows.order_sync import read_sku_audit

    loaded = _load(config, need_secrets=True)

    async def go() -> dict[str, list[object]]:
        connections = connect(loaded)
        try:
            return await read_sku_audit(connections.ims_products, connections.clarus_orders, loaded)
        finally:
            await connections.aclose()

    report = run(go())
    if csv_path is not None:
        _write_audit_csv(csv_path, report)
    if as_json:
        print(json.dumps(report))
        return
    table = Table("finding", "SKU", "detail", title="SKU audit: IMS against Clarus")
    for sku in report["missing_in_wms"]:
        table.add_row("missing in WMS", str(sku), "active in the IMS, absent in Clarus")
    for sku in report["extra_in_wms"]:
        table.add_row("extra in WMS", str(sku), "in Clarus, no IMS item normalises to it")
    for item in report["inactive_mismatch"]:
        assert isinstance(item, dict)
        table.add_row(
            "active on one side",
            str(item["sku"]),
            f"IMS active={item['ims_active']}, WMS active={item['wms_active']}",
        )
    for item in report["collisions"]:
        assert isinstance(item, dict)
        table.add_row("collision", str(item["wms_sku"]), ", ".join(map(str, item["ims_skus"])))
    console.print(table)


def _write_audit_csv(path: Path, report: dict[str, list[object]]) -> None:
    import csv

    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["finding", "sku", "detail"])
        for sku in report["missing_in_wms"]:
            writer.writerow(["missing_in_wms", sku, ""])
        for sku in report["extra_in_wms"]:
            writer.writerow(["extra_in_wms", sku, ""])
        for item in report["inactive_mismatch"]:
            assert isinstance(item, dict)
            writer.writerow(
                [
                    "inactive_mismatch",
                    item["sku"],
                    f"ims_active={item['ims_active']} wms_active={item['wms_active']}",
                ]
            )
        for item in report["collisions"]:
            assert isinstance(item, dict)
            writer.writerow(["collision", item["wms_sku"], " ".join(map(str, item["ims_skus"]))])


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who or what holds it, e.g. ops-laptop.")],
    role: Annotated[Role, typer.Option(help="viewer: status, metrics; operator: also jobs; admin.")],
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Create a token and print it once: only its hash is kept, so it cannot be shown again."""
    from stockbridge.engine.clock import SystemClock
    from stockbridge.store import tokens_repo

    engine = _engine(_load(config))
    try:
        with engine.begin() as c:
            token = tokens_repo.create_token(c, name=name, role=role, now=SystemClock().now())
    except ValueError as exc:  # the name is taken, empty or too long
        err.print(str(exc))
        raise typer.Exit(1) from None
    err.print(f"token {name!r} ({role.value}); store it now, it is not shown again:")
    print(token)


@token_app.command("list")
def token_list(config: ConfigOption = DEFAULT_CONFIG, as_json: bool = typer.Option(False, "--json")) -> None:
    """Tokens by name and role (never the tokens themselves), revoked ones included."""
    from stockbridge.store import tokens_repo

    engine = _engine(_load(config))
    with engine.begin() as c:
        records = tokens_repo.list_tokens(c)
    rows = [
        {
            "name": r.name,
            "role": r.role.value,
            "key": r.key,
            "created_at": r.created_at.isoformat(),
            "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
        }
        for r in records
    ]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("name", "role", "key", "created", "revoked", title="admin tokens")
    for row in rows:
        table.add_row(*(str(row[k] or "") for k in ("name", "role", "key", "created_at", "revoked_at")))
    console.print(table)


@token_app.command("revoke")
def token_revoke(name: str, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Revoke the active token with this name; it is refused from the next request on."""
    from stockbridge.engine.clock import SystemClock
    from stockbridge.store import tokens_repo

    engine = _engine(_load(config))
    with engine.begin() as c:
        count = tokens_repo.revoke_token(c, name, SystemClock().now())
    if not count:
        err.print(f"no active token named {name!r}")
        raise typer.Exit(1)
    console.print(f"revoked {name!r}")


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
    skus: int = typer.Option(500, help="SKUs in the warehouse."),
    movements: int = typer.Option(5000, help="Stock movements to drive through Clarus."),
    seed: int = typer.Option(7, help="Seed for the movement stream and the fault injection."),
    orders: int = typer.Option(1000, help="Sales orders in the order day (0 to skip it)."),
    shop_orders: int | None = typer.Option(None, help="Shopify orders in the order day (default orders/10)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    database_url: str | None = typer.Option(None, help="Default: a SQLite file in a temporary directory."),
    log_level: Annotated[
        LogLevelName, typer.Option("--log-level", help="The hub's log lines (warning: only problems).")
    ] = LogLevelName.warning,
    log_format: Annotated[LogFormatName, typer.Option("--log-format")] = LogFormatName.console,
) -> None:
    """Run simulated Clarus, IMS and Shopify, the hub against them, a day of movements, orders and
    despatches; report per channel what the oracle and the simulators found."""
    from stockbridge.demo import DemoOptions, run_demo, succeeded
    from stockbridge.logs import configure_logging

    # The demo narrates on stderr itself: the hub's own lines are for looking underneath.
    configure_logging(log_level.value, log_format.value)

    summary = run_demo(
        DemoOptions(
            skus=skus,
            movements=movements,
            seed=seed,
            orders=orders,
            shop_orders=shop_orders,
            database_url=database_url,
            quiet=as_json,
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


if __name__ == "__main__":
    app()
