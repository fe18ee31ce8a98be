"""Counters, poll cursors, latency samples and exceptions: the hub's own records of what it did."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, delete, func, select, text, update

from stockbridge.domain.exception_catalog import kind_of
from stockbridge.logs import get_logger
from stockbridge.store.schema import counters, cursors, exceptions, latency_buckets, latency_samples
from stockbridge.store.sql import chunks, insert_for, utc
from stockbridge.store.states import ExceptionState

log = get_logger(__name__)

# One textual statement, the same on SQLite and PostgreSQL: built and compiled once, because it runs
# inside every group commit of webhook ingest.
_BUMP = text(
    f"INSERT INTO {counters.name} (name, value) VALUES (:name, :by) "
    f"ON CONFLICT (name) DO UPDATE SET value = {counters.name}.value + excluded.value"
)


def bump(connection: Connection, name: str, by: int = 1) -> None:
    bump_many(connection, {name: by})


def bump_many(connection: Connection, increments: dict[str, int]) -> None:
    rows = [{"name": name, "by": by} for name, by in increments.items() if by]
    if rows:
        connection.execute(_BUMP, rows)


def read_counters(connection: Connection) -> dict[str, int]:
    return {row.name: int(row.value) for row in connection.execute(select(counters))}


def get_cursor(connection: Connection, name: str) -> str | None:
    return connection.execute(select(cursors.c.value).where(cursors.c.name == name)).scalar_one_or_none()


def set_cursor(connection: Connection, name: str, value: str) -> None:
    stmt = insert_for(connection, cursors).values(name=name, value=value)
    connection.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"value": value}))


@dataclass(frozen=True, slots=True)
class LatencySample:
    channel: str
    sku: str
    location: str
    occurred_at: datetime
    acked_at: datetime

    @property
    def latency_ms(self) -> int:
        return max(0, round((self.acked_at - self.occurred_at).total_seconds() * 1000))


# Upper bounds (ms) of the latency histogram's buckets: a push acknowledged within a second is the
# healthy case, tens of seconds a channel under load, minutes one that is stuck or throttled.
LATENCY_BUCKETS_MS = (100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000)
INF_BUCKET = "+Inf"

_ADD_TO_BUCKET = text(
    f"INSERT INTO {latency_buckets.name} (channel, le_ms, samples, sum_ms) "
    "VALUES (:channel, :le_ms, :samples, :sum_ms) "
    "ON CONFLICT (channel, le_ms) DO UPDATE SET "
    f"samples = {latency_buckets.name}.samples + excluded.samples, "
    f"sum_ms = {latency_buckets.name}.sum_ms + excluded.sum_ms"
)


def latency_bucket(latency_ms: int) -> str:
    """The histogram bucket a latency counts in: the smallest upper bound at or above it."""
    index = bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)
    return str(LATENCY_BUCKETS_MS[index]) if index < len(LATENCY_BUCKETS_MS) else INF_BUCKET


def record_latency(connection: Connection, samples: Sequence[LatencySample]) -> None:
    """Keep each sample (for percentiles and reports) and count it in its channel's histogram."""
    if samples:
        _add_to_histogram(connection, samples)
        connection.execute(
            latency_samples.insert(),
            [
                {
                    "channel": s.channel,
                    "sku": s.sku,
                    "location": s.location,
                    "occurred_at": s.occurred_at,
                    "acked_at": s.acked_at,
                    "latency_ms": s.latency_ms,
                }
                for s in samples
            ],
        )


def _add_to_histogram(connection: Connection, samples: Sequence[LatencySample]) -> None:
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for sample in samples:
        total = totals[(sample.channel, latency_bucket(sample.latency_ms))]
        total[0] += 1
        total[1] += sample.latency_ms
    # In key order: two workers acknowledging the same channel's pushes lock the rows in one order.
    connection.execute(
        _ADD_TO_BUCKET,
        [
            {"channel": channel, "le_ms": le_ms, "samples": count, "sum_ms": sum_ms}
            for (channel, le_ms), (count, sum_ms) in sorted(totals.items())
        ],
    )


@dataclass(frozen=True, slots=True)
class LatencyBucket:
    channel: str
    le_ms: float  # upper bound; math.inf for the last bucket
    samples: int  # in this bucket only (not cumulative)
    sum_ms: int


def latency_histogram(connection: Connection) -> list[LatencyBucket]:
    """Every channel's histogram counts since the hub started counting (they never go down)."""
    return [
        LatencyBucket(
            row.channel,
            float("inf") if row.le_ms == INF_BUCKET else float(row.le_ms),
            int(row.samples),
            int(row.sum_ms),
        )
        for row in connection.execute(select(latency_buckets))
    ]


def prune_latency(connection: Connection, channels: Sequence[str], before: datetime) -> int:
    """Delete the channels' latency samples acknowledged before `before` (the histogram keeps their
    counts). Channel by channel, so each delete walks the (channel, acked_at) index."""
    deleted = 0
    for channel in channels:
        query = delete(latency_samples).where(
            latency_samples.c.channel == channel, latency_samples.c.acked_at < before
        )
        deleted += int(connection.execute(query).rowcount)
    return deleted


def latencies_ms(connection: Connection, channel: str, since: datetime | None = None) -> list[int]:
    query = select(latency_samples.c.latency_ms).where(latency_samples.c.channel == channel)
    if since is not None:
        query = query.where(latency_samples.c.acked_at >= since)
    return [int(v) for v in connection.execute(query).scalars()]


@dataclass(frozen=True, slots=True)
class ExceptionRecord:
    id: int
    type: str
    entity: str
    owner: str
    state: ExceptionState
    detail: str
    retry_action: str | None
    count: int
    first_seen: datetime
    last_seen: datetime
    episode: int = 1  # raised after being resolved starts the next episode
    opened_at: datetime | None = None  # when this episode began
    episode_count: int = 1  # raises in this episode


def raise_exception(
    connection: Connection,
    *,
    type: str,
    entity: str,
    owner: str,
    detail: str,
    now: datetime,
    retry_action: str | None = None,
) -> None:
    """Open (or re-open and count again) the exception for (type, entity).

    Raised after it was resolved, it starts a new episode (its alerts start over: decision 0027);
    raised while acknowledged, it stays acknowledged (someone is on it) and is counted.

    `type` must be in the exception catalogue (`domain/exception_catalog.py`): the operating guide and
    the alert routing are built from it, so a kind missing there would reach nobody who knows it.
    """
    if kind_of(type) is None:
        raise ValueError(f"exception type {type!r} is not in domain/exception_catalog.py")
    before = connection.execute(
        select(exceptions.c.state).where(exceptions.c.type == type, exceptions.c.entity == entity)
    ).scalar_one_or_none()
    if before is None or before == ExceptionState.RESOLVED.value:
        log.warning("exception raised", type=type, entity=entity, owner=owner, detail=detail)
    else:
        log.debug("exception seen again", type=type, entity=entity)  # counted; its owner knows already
    stmt = insert_for(connection, exceptions).values(
        type=type,
        entity=entity,
        owner=owner,
        state=ExceptionState.OPEN,
        detail=detail,
        retry_action=retry_action,
        count=1,
        first_seen=now,
        last_seen=now,
        episode=1,
        opened_at=now,
        episode_count=1,
    )
    c = exceptions.c
    # Every SET expression reads the row as it was (SQL, on both backends).
    reopening = c.state == ExceptionState.RESOLVED.value
    acknowledged = c.state == ExceptionState.ACKNOWLEDGED.value
    connection.execute(
        stmt.on_conflict_do_update(
            index_elements=["type", "entity"],
            set_={
                "count": c.count + 1,
                "last_seen": now,
                "detail": detail,
                "owner": owner,
                "state": case(
                    (acknowledged, ExceptionState.ACKNOWLEDGED.value), else_=ExceptionState.OPEN.value
                ),
                "retry_action": retry_action,
                "episode": case((reopening, c.episode + 1), else_=c.episode),
                "opened_at": case((reopening, now), else_=c.opened_at),
                "episode_count": case((reopening, 1), else_=c.episode_count + 1),
            },
        )
    )


def resolve_exceptions(connection: Connection, type: str, entities: Sequence[str]) -> int:
    """Resolve the open or acknowledged exceptions of `type` for `entities`; returns how many."""
    resolved = 0
    for chunk in chunks(entities):
        result = connection.execute(
            update(exceptions)
            .where(
                exceptions.c.type == type,
                exceptions.c.entity.in_(chunk),
                exceptions.c.state != ExceptionState.RESOLVED.value,
            )
            .values(state=ExceptionState.RESOLVED.value)
        )
        resolved += int(result.rowcount)
    return resolved


def set_exception_state(connection: Connection, exception_id: int, state: ExceptionState) -> bool:
    result = connection.execute(
        update(exceptions).where(exceptions.c.id == exception_id).values(state=state.value)
    )
    return bool(result.rowcount)


def _record(row: Any) -> ExceptionRecord:
    return ExceptionRecord(
        id=int(row.id),
        type=row.type,
        entity=row.entity,
        owner=row.owner,
        state=ExceptionState(row.state),
        detail=row.detail,
        retry_action=row.retry_action,
        count=int(row.count),
        first_seen=utc(row.first_seen),
        last_seen=utc(row.last_seen),
        episode=int(row.episode),
        opened_at=utc(row.opened_at),
        episode_count=int(row.episode_count),
    )


def list_exceptions(
    connection: Connection, *, state: ExceptionState | None = None, owner: str | None = None
) -> list[ExceptionRecord]:
    query = select(exceptions).order_by(exceptions.c.last_seen.desc(), exceptions.c.id.desc())
    if state is not None:
        query = query.where(exceptions.c.state == state.value)
    if owner is not None:
        query = query.where(exceptions.c.owner == owner)
    return [_record(row) for row in connection.execute(query)]


def get_exception(connection: Connection, exception_id: int) -> ExceptionRecord | None:
    row = connection.execute(select(exceptions).where(exceptions.c.id == exception_id)).first()
    return _record(row) if row is not None else None


def count_open_exceptions(connection: Connection) -> dict[str, int]:
    query = (
        select(exceptions.c.type, func.count())
        .where(exceptions.c.state != ExceptionState.RESOLVED.value)
        .group_by(exceptions.c.type)
    )
    return {row[0]: int(row[1]) for row in connection.execute(query)}
