"""Drift episodes and what the drift check reads of the targets (monitor/drift.py, decision 0025).

An episode is one stretch of time a (channel, SKU, location) differed from the warehouse over its
tolerance: opened when the check first sees it, updated each run it is seen again, cleared when a run
sees the channel right (or the target is no longer one the check compares). Kept after clearing: the
reports read how long each SKU differed and why.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select, tuple_, update

from stockbridge.domain.drift import Cause
from stockbridge.store.bookkeeping import get_cursor, set_cursor
from stockbridge.store.schema import drift_episodes, targets
from stockbridge.store.sql import as_utc, chunks, utc
from stockbridge.store.states import TargetState

Key = tuple[str, str]  # (sku, location) within one channel


@dataclass(frozen=True, slots=True)
class Compared:
    """A target as the drift check compares it: what the hub expects and last pushed, and whether a
    push of its own is due or under way (then the channel may rightly still show the old figure)."""

    sku: str
    location: str
    expected: int
    pushed: int
    pushed_at: datetime | None
    dirty: bool
    in_motion: bool  # in a batch, or leased by a pusher now

    @property
    def key(self) -> Key:
        return (self.sku, self.location)


@dataclass(frozen=True, slots=True)
class Episode:
    id: int
    channel: str
    sku: str
    location: str
    cause: Cause
    shown: int
    pushed: int
    expected: int
    units: int
    max_units: int
    repairs: int
    first_seen: datetime
    last_seen: datetime
    raised_at: datetime | None
    escalated_at: datetime | None
    cleared_at: datetime | None

    @property
    def key(self) -> Key:
        return (self.sku, self.location)

    def duration(self, now: datetime) -> timedelta:
        """How long the channel differed: to its clearing, or to `now` while open."""
        return (self.cleared_at or now) - self.first_seen


def _comparable() -> Any:
    return (targets.c.state == TargetState.OK.value, targets.c.pushed.is_not(None))


def comparable_keys(connection: Connection, channel: str) -> list[Key]:
    """(SKU, location) of every target of the channel the check can compare, sorted: pushed at
    least once and not blocked (a blocked SKU has its own exception)."""
    query = (
        select(targets.c.sku, targets.c.location)
        .where(targets.c.channel == channel, *_comparable())
        .order_by(targets.c.sku, targets.c.location)
    )
    return [(r.sku, r.location) for r in connection.execute(query)]


def comparable_keys_after(connection: Connection, channel: str, after: Key | None, limit: int) -> list[Key]:
    """The next `limit` comparable (SKU, location) pairs after `after`, in order: the catalogue a
    page at a time (docs/decisions/0044)."""
    query = select(targets.c.sku, targets.c.location).where(targets.c.channel == channel, *_comparable())
    if after is not None:
        sku, location = after
        query = query.where(
            or_(targets.c.sku > sku, and_(targets.c.sku == sku, targets.c.location > location))
        )
    query = query.order_by(targets.c.sku, targets.c.location).limit(limit)
    return [(r.sku, r.location) for r in connection.execute(query)]


def comparable_count(connection: Connection, channel: str) -> int:
    query = select(func.count()).select_from(targets).where(targets.c.channel == channel, *_comparable())
    return int(connection.execute(query).scalar_one())


def compared_targets(
    connection: Connection, channel: str, keys: Sequence[Key], now: datetime
) -> dict[Key, Compared]:
    found: dict[Key, Compared] = {}
    for chunk in chunks(keys):
        query = select(targets).where(
            targets.c.channel == channel,
            tuple_(targets.c.sku, targets.c.location).in_(list(chunk)),
            *_comparable(),
        )
        for r in connection.execute(query):
            leased = r.lease_until is not None and utc(r.lease_until) > now
            found[(r.sku, r.location)] = Compared(
                r.sku,
                r.location,
                int(r.desired),
                int(r.pushed),
                as_utc(r.pushed_at),
                bool(r.dirty),
                r.batch_id is not None or leased,
            )
    return found


def mark_for_repair(connection: Connection, channel: str, seen: Compared, shown: int, now: datetime) -> bool:
    """Record what the channel shows as the hub's last figure there and mark the target dirty, so the
    next push reads the channel afresh and sets the warehouse's figure. Only if the target is as the
    check read it (no push acknowledged or started since); whether it was.

    A target not already dirty had its last movement acknowledged (and its latency measured): the
    repair carries no movement, so it forgets the movement's time and adds no latency sample (else a
    hand edit in a channel would make that channel look slow). A dirty one keeps its movement's."""
    result = connection.execute(
        update(targets)
        .where(
            targets.c.channel == channel,
            targets.c.sku == seen.sku,
            targets.c.location == seen.location,
            targets.c.pushed == seen.pushed,
            targets.c.batch_id.is_(None),
        )
        .values(
            dirty=True,
            dirty_since=func.coalesce(targets.c.dirty_since, now),
            pushed=shown,
            source_occurred_at=case((targets.c.dirty, targets.c.source_occurred_at), else_=None),
        )
    )
    return bool(result.rowcount)


# --- episodes -------------------------------------------------------------------------------------


def _episode(r: Any) -> Episode:
    return Episode(
        int(r.id),
        r.channel,
        r.sku,
        r.location,
        Cause(r.cause),
        int(r.shown),
        int(r.pushed),
        int(r.expected),
        int(r.units),
        int(r.max_units),
        int(r.repairs),
        utc(r.first_seen),
        utc(r.last_seen),
        as_utc(r.raised_at),
        as_utc(r.escalated_at),
        as_utc(r.cleared_at),
    )


def open_episodes(connection: Connection, channel: str) -> dict[Key, Episode]:
    query = select(drift_episodes).where(
        drift_episodes.c.channel == channel, drift_episodes.c.cleared_at.is_(None)
    )
    return {(r.sku, r.location): _episode(r) for r in connection.execute(query)}


def open_episode(
    connection: Connection,
    channel: str,
    seen: Compared,
    *,
    cause: Cause,
    shown: int,
    now: datetime,
) -> Episode:
    units = abs(shown - seen.expected)
    values = {
        "channel": channel,
        "sku": seen.sku,
        "location": seen.location,
        "cause": cause.value,
        "shown": shown,
        "pushed": seen.pushed,
        "expected": seen.expected,
        "units": units,
        "max_units": units,
        "repairs": 0,
        "first_seen": now,
        "last_seen": now,
        "raised_at": None,
        "escalated_at": None,
        "cleared_at": None,
    }
    new_id = connection.execute(drift_episodes.insert().values(**values)).inserted_primary_key
    assert new_id is not None
    return _episode(connection.execute(select(drift_episodes).where(drift_episodes.c.id == new_id[0])).one())


def seen_again(
    connection: Connection,
    episode: Episode,
    seen: Compared,
    *,
    cause: Cause,
    shown: int,
    now: datetime,
    repaired: bool,
    raised: bool,
    escalated: bool,
) -> None:
    units = abs(shown - seen.expected)
    connection.execute(
        update(drift_episodes)
        .where(drift_episodes.c.id == episode.id)
        .values(
            cause=cause.value,
            shown=shown,
            pushed=seen.pushed,
            expected=seen.expected,
            units=units,
            max_units=max(episode.max_units, units),
            repairs=episode.repairs + int(repaired),
            last_seen=now,
            raised_at=episode.raised_at or (now if raised else None),
            escalated_at=episode.escalated_at or (now if escalated else None),
        )
    )


def clear_episodes(connection: Connection, ids: Sequence[int], now: datetime) -> None:
    for chunk in chunks(ids):
        connection.execute(
            update(drift_episodes)
            .where(drift_episodes.c.id.in_(list(chunk)), drift_episodes.c.cleared_at.is_(None))
            .values(cleared_at=now)
        )


def episodes_since(connection: Connection, since: datetime, channel: str | None = None) -> list[Episode]:
    """Every episode open at or after `since` (still open, or cleared since), oldest first: what a
    report lists as the SKUs that differed and for how long."""
    query = (
        select(drift_episodes)
        .where(
            (drift_episodes.c.cleared_at.is_(None)) | (drift_episodes.c.cleared_at >= since),
        )
        .order_by(drift_episodes.c.first_seen, drift_episodes.c.id)
    )
    if channel is not None:
        query = query.where(drift_episodes.c.channel == channel)
    return [_episode(r) for r in connection.execute(query)]


@dataclass(frozen=True, slots=True)
class ChannelDrift:
    skus: int  # (SKU, location) pairs differing now
    units: int  # their units off, summed
    unrepaired: int  # of them, escalated: repairs did not clear them


def drift_now(connection: Connection) -> dict[str, ChannelDrift]:
    """Open episodes per channel (the metrics' gauges)."""
    query = (
        select(
            drift_episodes.c.channel,
            func.count(),
            func.coalesce(func.sum(drift_episodes.c.units), 0),
            func.count(drift_episodes.c.escalated_at),
        )
        .where(drift_episodes.c.cleared_at.is_(None))
        .group_by(drift_episodes.c.channel)
    )
    return {r[0]: ChannelDrift(int(r[1]), int(r[2]), int(r[3])) for r in connection.execute(query)}


# --- the rotating sample's cursor -----------------------------------------------------------------


def _cursor_name(channel: str) -> str:
    return f"drift.sample.{channel}"


def sample_cursor(connection: Connection, channel: str) -> Key | None:
    raw = get_cursor(connection, _cursor_name(channel))
    if not raw:
        return None
    sku, location = json.loads(raw)
    return (str(sku), str(location))


def set_sample_cursor(connection: Connection, channel: str, cursor: Key | None) -> None:
    set_cursor(connection, _cursor_name(channel), "" if cursor is None else json.dumps(list(cursor)))
