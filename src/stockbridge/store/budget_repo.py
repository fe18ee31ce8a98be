"""Shared rate budgets (docs/decisions/0037): each far account's adaptive token bucket and each
Shopify store's cost bucket, one row each, read and written under a row lock in one short transaction.

The arithmetic is the caller's (pure functions of the row): these functions only make the row when it
is missing, lock it, and write back what the caller computed. On PostgreSQL `FOR UPDATE` serialises
the workers on the row for the few milliseconds between the read and the write; on SQLite (one worker
process) the in-process limiter is used instead and these tables stay empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from stockbridge.domain.pacing import Pace
from stockbridge.store.schema import cost_buckets, rate_budgets
from stockbridge.store.sql import insert_for


def lock_pace(connection: Connection, key: str, fresh: Pace) -> tuple[Pace, int]:
    """The budget's pace (made from `fresh` when the budget has no row yet), locked until the
    transaction ends; and the calls it has granted so far."""
    connection.execute(
        insert_for(connection, rate_budgets).on_conflict_do_nothing(),
        {**_pace_row(fresh), "key": key, "granted": 0},
    )
    row = connection.execute(select(rate_budgets).where(rate_budgets.c.key == key).with_for_update()).one()
    pace = Pace(
        rate=row.rate,
        tokens=row.tokens,
        stamp=row.stamp,
        paused_until=row.paused_until,
        last_cut=-math.inf if row.last_cut is None else row.last_cut,
        refusals=int(row.refusals),
    )
    return pace, int(row.granted)


def save_pace(connection: Connection, key: str, pace: Pace, granted: int) -> None:
    connection.execute(
        update(rate_budgets).where(rate_budgets.c.key == key).values(**_pace_row(pace), granted=granted)
    )


def _pace_row(pace: Pace) -> dict[str, float | int | None]:
    return {
        "rate": pace.rate,
        "tokens": pace.tokens,
        "stamp": pace.stamp,
        "paused_until": pace.paused_until,
        "last_cut": None if math.isinf(pace.last_cut) else pace.last_cut,
        "refusals": pace.refusals,
    }


@dataclass(slots=True)
class BucketRow:
    maximum: float
    available: float
    restore_rate: float
    as_of: float
    in_flight: float


def lock_bucket(connection: Connection, key: str, fresh: BucketRow) -> BucketRow:
    """The store's cost bucket as last seen (made from `fresh` when missing), locked until commit."""
    connection.execute(
        insert_for(connection, cost_buckets).on_conflict_do_nothing(), {**_bucket_row(fresh), "key": key}
    )
    row = connection.execute(select(cost_buckets).where(cost_buckets.c.key == key).with_for_update()).one()
    return BucketRow(row.maximum, row.available, row.restore_rate, row.as_of, row.in_flight)


def save_bucket(connection: Connection, key: str, bucket: BucketRow) -> None:
    connection.execute(update(cost_buckets).where(cost_buckets.c.key == key).values(**_bucket_row(bucket)))


def _bucket_row(bucket: BucketRow) -> dict[str, float]:
    return {
        "maximum": bucket.maximum,
        "available": bucket.available,
        "restore_rate": bucket.restore_rate,
        "as_of": bucket.as_of,
        "in_flight": bucket.in_flight,
    }
