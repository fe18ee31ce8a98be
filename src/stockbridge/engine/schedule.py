"""Scheduled jobs that run once across every worker process: a conditional UPDATE claims each run."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, select, update

from stockbridge.store.bookkeeping import bump, set_cursor
from stockbridge.store.schema import cursors
from stockbridge.store.sql import insert_for

SCHEDULED_JOBS = frozenset(
    {
        "storefront_orders_poll",
        "storefront_order_rereads",
        "item_refresh",
        "blocked_refresh",
        "storefront_refresh",
        "full_sync",
        "events_poll",
        "drift_check",
        "slo_check",
        "product_sync",
        "orders_poll",
        "revalidate_held",
        "order_checks",
        "fulfilment_checks",
        "fulfilment_verify",
        "subscriptions_check",
        "velocity_reclassify",
        "finance_batch",
        "report_daily",
        "report_weekly",
        "alerts_check",
    }
)


def _name(job: str) -> str:
    return f"schedule.{job}"


def claim_run(connection: Connection, job: str, now: datetime, every_s: float) -> bool:
    """True for exactly one caller per due run of `job`; that caller moves the next run on."""
    name = _name(job)
    stamp = now.isoformat()
    connection.execute(
        insert_for(connection, cursors).values(name=name, value=stamp).on_conflict_do_nothing()
    )
    # ISO-8601 stamps of one UTC offset compare correctly as strings.
    won = connection.execute(
        update(cursors)
        .where(cursors.c.name == name, cursors.c.value <= stamp)
        .values(value=(now + timedelta(seconds=every_s)).isoformat())
    ).rowcount
    return bool(won)


def due_jobs(connection: Connection, jobs: Sequence[str], now: datetime) -> set[str]:
    """Of `jobs`, those whose next run is due at `now` (or never claimed): one read for all of them.
    Each must still be claimed (`claim_run`) before it runs: another worker may claim it first."""
    names = {_name(job): job for job in jobs}
    scheduled = {
        row.name: row.value
        for row in connection.execute(select(cursors).where(cursors.c.name.in_(list(names))))
    }
    stamp = now.isoformat()
    return {job for name, job in names.items() if name not in scheduled or scheduled[name] <= stamp}


def run_soon(connection: Connection, job: str, now: datetime) -> None:
    """Make `job` due now (an operator asked for it, or startup needs it), and each of its parts
    that keeps a schedule of its own (`<job>.<part>`: one store's share of the orders poll)."""
    stmt = insert_for(connection, cursors).values(name=_name(job), value=now.isoformat())
    connection.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"value": now.isoformat()}))
    parts = cursors.c.name.startswith(_name(job) + ".", autoescape=True)
    connection.execute(
        update(cursors).where(parts, cursors.c.value > now.isoformat()).values(value=now.isoformat())
    )


def run_at(connection: Connection, job: str, at: datetime) -> None:
    """Make `job` due at `at` at the latest (a run already due sooner stays sooner)."""
    name, value = _name(job), at.astimezone(UTC).isoformat()
    connection.execute(
        insert_for(connection, cursors).values(name=name, value=value).on_conflict_do_nothing()
    )
    connection.execute(
        update(cursors).where(cursors.c.name == name, cursors.c.value > value).values(value=value)
    )


def record_run(connection: Connection, job: str, started: datetime) -> None:
    """A run of `job` that started at `started` has finished (what "run it now and wait" waits for)."""
    bump(connection, f"jobs.{job}")
    set_cursor(connection, f"job_done.{job}", started.isoformat())


def last_runs(connection: Connection) -> dict[str, str]:
    """Job → start time of its last finished run."""
    query = select(cursors).where(cursors.c.name.like("job_done.%"))
    return {row.name.removeprefix("job_done."): row.value for row in connection.execute(query)}
