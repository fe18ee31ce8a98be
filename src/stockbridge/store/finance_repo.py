"""Financial movements and their daily batches (docs/decisions/0030).

A movement is recorded once (by its warehouse event id) by the fold that reads it; it is held back
from the IMS target until `settled_at`. A batch is written, with its movements assigned to it, before
it is posted; every transition is a conditional UPDATE naming the state and lease it leaves from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from stockbridge.domain.finance import FinanceBatch, FinanceLine, FinancialMovement, PlannedBatch, add_back
from stockbridge.store import leased
from stockbridge.store.schema import finance_batches, financial_movements
from stockbridge.store.sql import as_utc, chunks, in_keys, insert_for, utc
from stockbridge.store.states import BatchState

Pair = tuple[str, str]  # (SKU, warehouse)


@dataclass(frozen=True, slots=True)
class StoredBatch:
    batch: FinanceBatch
    state: str
    attempts: int
    failing_since: datetime | None
    created_at: datetime
    done_at: datetime | None
    last_error: str | None


def record_movements(connection: Connection, movements: Sequence[FinancialMovement], now: datetime) -> None:
    """Keep each financial movement once, however often its event arrives (webhook, feed, replay)."""
    if not movements:
        return
    rows = [
        {
            "event_id": m.event_id,
            "sku": m.sku,
            "warehouse_id": m.warehouse_id,
            "location": m.location,
            "reason": m.reason,
            "units": m.units,
            "business_date": m.business_date.isoformat(),
            "recorded_at": now,
        }
        for m in movements
    ]
    connection.execute(insert_for(connection, financial_movements).on_conflict_do_nothing(), rows)


def add_back_for(connection: Connection, pairs: Iterable[Pair]) -> dict[Pair, int]:
    """(SKU, warehouse) -> units the IMS target adds back for movements whose batch has not posted."""
    wanted = sorted(set(pairs))
    fm = financial_movements.c
    found: dict[Pair, int] = {}
    for chunk in chunks(wanted):
        query = (
            select(fm.sku, fm.warehouse_id, func.sum(fm.units))
            .where(in_keys((fm.sku, fm.warehouse_id), chunk), fm.settled_at.is_(None))
            .group_by(fm.sku, fm.warehouse_id)
        )
        for sku, warehouse, units in connection.execute(query):
            if units:
                found[(sku, warehouse)] = add_back([int(units)])
    return found


def unbatched(connection: Connection, through: date) -> list[FinancialMovement]:
    """Movements of business days up to `through` that no batch has taken yet."""
    fm = financial_movements.c
    query = select(financial_movements).where(
        fm.batch_id.is_(None), fm.settled_at.is_(None), fm.business_date <= through.isoformat()
    )
    return [
        FinancialMovement(
            r.event_id,
            r.sku,
            r.warehouse_id,
            r.location,
            r.reason,
            int(r.units),
            date.fromisoformat(r.business_date),
        )
        for r in connection.execute(query)
    ]


def batches_made(connection: Connection) -> dict[tuple[str, date, str], int]:
    """(location, business day, account) -> batches already made for it."""
    fb = finance_batches.c
    query = select(fb.location, fb.business_date, fb.account, func.count()).group_by(
        fb.location, fb.business_date, fb.account
    )
    return {(r[0], date.fromisoformat(r[1]), r[2]): int(r[3]) for r in connection.execute(query)}


def create_batch(connection: Connection, planned: PlannedBatch, now: datetime) -> None:
    """Write the batch (due now) and hand its movements to it, in the caller's transaction."""
    batch = planned.batch
    connection.execute(
        finance_batches.insert().values(
            id=batch.id,
            location=batch.location,
            business_date=batch.business_date.isoformat(),
            account=batch.account,
            lines=[{"sku": ln.sku, "reason": ln.reason, "units": ln.units} for ln in batch.lines],
            control_units=batch.control_units,
            # A batch whose movements net to nothing has nothing to post: made posted.
            state=(BatchState.PENDING if batch.lines else BatchState.SENT).value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            done_at=None if batch.lines else now,
        )
    )
    for chunk in chunks(list(planned.event_ids)):
        connection.execute(
            update(financial_movements)
            .where(financial_movements.c.event_id.in_(chunk))
            .values(batch_id=batch.id)
        )


def settle(
    connection: Connection, now: datetime, *, batch_id: str | None = None, event_ids: Sequence[str] = ()
) -> list[Pair]:
    """End the hold of a batch's movements (or of these movements); returns their (SKU, warehouse)."""
    fm = financial_movements.c
    if batch_id is not None:
        conditions: list[Any] = [fm.batch_id == batch_id]
    else:
        conditions = [fm.event_id.in_(chunk) for chunk in chunks(list(event_ids))]
    pairs: set[Pair] = set()
    for condition in conditions:
        open_ = [condition, fm.settled_at.is_(None)]
        pairs.update(
            (r.sku, r.warehouse_id) for r in connection.execute(select(fm.sku, fm.warehouse_id).where(*open_))
        )
        connection.execute(update(financial_movements).where(*open_).values(settled_at=now))
    return sorted(pairs)


def claim_due(
    connection: Connection, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[StoredBatch]:
    return [_stored(r) for r in leased.claim_due(connection, finance_batches, owner, now, lease_until, limit)]


def posted(connection: Connection, batch_id: str, owner: str, now: datetime) -> bool:
    """The IMS shows the batch: mark it posted; False when another worker took it over meanwhile."""
    fb = finance_batches.c
    won = connection.execute(
        update(finance_batches)
        .where(fb.id == batch_id, fb.state == BatchState.PENDING.value, fb.lease_owner == owner)
        .values(state=BatchState.SENT.value, done_at=now, lease_owner=None, lease_until=None, last_error=None)
    ).rowcount
    return bool(won)


def failed(
    connection: Connection,
    batch_id: str,
    owner: str,
    error: str,
    retry_at: datetime | None,
    failing_since: datetime,
) -> None:
    """A failed attempt: retried whole at `retry_at`, or dead-lettered when it is None."""
    fb = finance_batches.c
    values = leased.failure_values(finance_batches, error, retry_at, failing_since)
    connection.execute(
        update(finance_batches)
        .where(fb.id == batch_id, fb.state == BatchState.PENDING.value, fb.lease_owner == owner)
        .values(**values)
    )


def defer(connection: Connection, batch_id: str, owner: str, until: datetime) -> None:
    """Not an attempt: the batch waits for its targets (a stock push holds one) until `until`."""
    fb = finance_batches.c
    connection.execute(
        update(finance_batches)
        .where(fb.id == batch_id, fb.state == BatchState.PENDING.value, fb.lease_owner == owner)
        .values(next_attempt_at=until, lease_owner=None, lease_until=None)
    )


def replay_dead(connection: Connection, now: datetime, ids: Sequence[str] | None = None) -> int:
    """Queue dead-lettered batches again under their own ids (their external ids in the IMS)."""
    return leased.replay_dead(connection, finance_batches, now, ids)


def list_batches(connection: Connection, limit: int = 100) -> list[StoredBatch]:
    """The newest batches first."""
    fb = finance_batches.c
    query = select(finance_batches).order_by(fb.business_date.desc(), fb.id).limit(limit)
    return [_stored(r) for r in connection.execute(query)]


def pending_units(connection: Connection) -> dict[tuple[str, str], int]:
    """(IMS location, SKU) -> net units of movements not yet posted (the oracle's check)."""
    fm = financial_movements.c
    totals: dict[tuple[str, str], int] = defaultdict(int)
    query = select(fm.location, fm.sku, fm.units).where(fm.settled_at.is_(None))
    for location, sku, units in connection.execute(query):
        totals[(location, sku)] += int(units)
    return dict(totals)


def _stored(r: Any) -> StoredBatch:
    lines = tuple(FinanceLine(str(ln["sku"]), str(ln["reason"]), int(ln["units"])) for ln in r.lines)
    batch = FinanceBatch(r.id, r.location, date.fromisoformat(r.business_date), r.account, lines)
    return StoredBatch(
        batch,
        r.state,
        int(r.attempts),
        as_utc(r.failing_since),
        utc(r.created_at),
        as_utc(r.done_at),
        r.last_error,
    )
