"""The push outbox: batches written before they are sent; their ids are external ids at the far end."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, or_, select, update

from stockbridge.store import leased, targets_repo
from stockbridge.store.schema import push_batches, targets
from stockbridge.store.sql import as_utc
from stockbridge.store.states import BatchState


@dataclass(frozen=True, slots=True)
class PushLine:
    """One figure of a batch, in any channel: set `sku` to `quantity` where it showed `expected`."""

    sku: str
    quantity: int  # the target's desired figure at planning time
    expected: int | None  # what the channel showed when read; None: not read
    version: int  # the target's desired version
    occurred_at: datetime | None  # newest movement folded into it (latency)

    def as_json(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "quantity": self.quantity,
            "expected": self.expected,
            "version": self.version,
            "occurred_at": None if self.occurred_at is None else self.occurred_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PushLine:
        occurred = data.get("occurred_at")
        if "quantity" in data:
            quantity = int(data["quantity"])
            expected = None if data.get("expected") is None else int(data["expected"])
        else:  # written before issue 9: an IMS adjustment line (item_id, delta = desired - on hand)
            quantity = int(data["desired"])
            expected = quantity - int(data["delta"])
        return cls(
            data["sku"],
            quantity,
            expected,
            int(data["version"]),
            None if occurred is None else datetime.fromisoformat(occurred),
        )


@dataclass(frozen=True, slots=True)
class PushBatch:
    id: str
    channel: str
    location: str
    lines: tuple[PushLine, ...]
    attempts: int
    failing_since: datetime | None = None  # first failure of the current run of attempts


_HAND_OVER = (
    update(targets)
    .where(
        targets.c.channel == bindparam("k_channel"),
        targets.c.sku == bindparam("k_sku"),
        targets.c.location == bindparam("k_location"),
        targets.c.lease_owner == bindparam("owner"),
    )
    .values(batch_id=bindparam("batch"), lease_owner=None, lease_until=None)
)


def create_batches(
    connection: Connection,
    batches: Sequence[PushBatch],
    owner: str,
    now: datetime,
    *,
    lease_until: datetime | None = None,
) -> None:
    """Write batches to the outbox and hand their targets over from the lease to the batch. With
    `lease_until`, the batches are written leased to `owner` (as `claim_batches` would lease them):
    the planner sends them itself, without reading back what it just wrote."""
    for batch in batches:
        connection.execute(
            push_batches.insert().values(
                id=batch.id,
                channel=batch.channel,
                location=batch.location,
                lines=[line.as_json() for line in batch.lines],
                state=BatchState.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                lease_owner=None if lease_until is None else owner,
                lease_until=lease_until,
            )
        )
        if batch.lines:
            # One statement run for each line (executemany): a tuple IN of a hundred keys costs
            # more to render than the update does to run.
            connection.execute(
                _HAND_OVER,
                [
                    {
                        "k_channel": batch.channel,
                        "k_sku": line.sku,
                        "k_location": batch.location,
                        "owner": owner,
                        "batch": batch.id,
                    }
                    for line in batch.lines
                ],
            )


def claim_batches(
    connection: Connection, channel: str, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[PushBatch]:
    """Lease due pending batches (new ones, retries, and those a dead worker held)."""
    query = (
        select(push_batches)
        .where(
            push_batches.c.channel == channel,
            push_batches.c.state == BatchState.PENDING.value,
            push_batches.c.next_attempt_at <= now,
            or_(push_batches.c.lease_until.is_(None), push_batches.c.lease_until < now),
        )
        .order_by(push_batches.c.next_attempt_at, push_batches.c.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(connection.execute(query))
    claimed: list[PushBatch] = []
    for r in rows:
        won = connection.execute(
            update(push_batches)
            .where(
                push_batches.c.id == r.id,
                push_batches.c.state == BatchState.PENDING.value,
                or_(push_batches.c.lease_until.is_(None), push_batches.c.lease_until < now),
            )
            .values(lease_owner=owner, lease_until=lease_until)
        ).rowcount
        if won:
            lines = tuple(PushLine.from_json(line) for line in r.lines)
            since = as_utc(r.failing_since)
            claimed.append(PushBatch(r.id, r.channel, r.location, lines, int(r.attempts), since))
    return claimed


def in_flight(connection: Connection, channel: str, now: datetime) -> bool:
    """Whether a batch of the channel is being sent, or is due to be: written and not yet answered.

    The push scheduler plans no new batch while one is (docs/decisions/0016), in every worker, since
    the outbox is shared. A batch backing off after a failure is not in flight until it is due again.
    """
    query = (
        select(push_batches.c.id)
        .where(
            push_batches.c.channel == channel,
            push_batches.c.state == BatchState.PENDING.value,
            or_(push_batches.c.next_attempt_at <= now, push_batches.c.lease_until >= now),
        )
        .limit(1)
    )
    return connection.execute(query).first() is not None


def batch_sent(connection: Connection, batch: PushBatch, owner: str, now: datetime) -> bool:
    """The far end acknowledged the batch: record its figures as pushed on its targets."""
    won = connection.execute(
        update(push_batches)
        .where(
            push_batches.c.id == batch.id,
            push_batches.c.state == BatchState.PENDING.value,
            push_batches.c.lease_owner == owner,
        )
        .values(
            state=BatchState.SENT.value,
            sent_at=now,
            sent_by=owner,
            lease_owner=None,
            lease_until=None,
            last_error=None,
        )
    ).rowcount
    if not won:
        return False
    targets_repo.acknowledge(
        connection,
        [(batch.channel, line.sku, batch.location, line.quantity, line.version) for line in batch.lines],
        now,
        batch_id=batch.id,
    )
    return True


def batch_failed(
    connection: Connection,
    batch: PushBatch,
    owner: str,
    error: str,
    retry_at: datetime | None,
    failing_since: datetime,
) -> None:
    """A failed attempt: retry at `retry_at`, or dead-letter the batch when it is None."""
    values = leased.failure_values(push_batches, error, retry_at, failing_since)
    connection.execute(
        update(push_batches)
        .where(
            push_batches.c.id == batch.id,
            push_batches.c.state == BatchState.PENDING.value,
            push_batches.c.lease_owner == owner,
        )
        .values(**values)
    )


def discard_batch(connection: Connection, batch: PushBatch, owner: str) -> None:
    """Drop a batch the far end refused as a whole (so it never applied) and free its targets."""
    connection.execute(
        delete(push_batches).where(push_batches.c.id == batch.id, push_batches.c.lease_owner == owner)
    )
    connection.execute(update(targets).where(targets.c.batch_id == batch.id).values(batch_id=None))


def replay_dead(connection: Connection, now: datetime, batch_ids: Sequence[str] | None = None) -> int:
    """Queue dead-lettered batches again under their own ids (= their external ids at the far end)."""
    return leased.replay_dead(connection, push_batches, now, batch_ids)


def batches_by_state(connection: Connection) -> dict[str, int]:
    query = select(push_batches.c.state, func.count()).group_by(push_batches.c.state)
    return {row[0]: int(row[1]) for row in connection.execute(query)}


def senders(connection: Connection) -> dict[str, int]:
    """Batches sent per worker (lease owner at the time of sending)."""
    query = (
        select(push_batches.c.sent_by, func.count())
        .where(push_batches.c.state == BatchState.SENT.value)
        .group_by(push_batches.c.sent_by)
    )
    return {row[0]: int(row[1]) for row in connection.execute(query)}
