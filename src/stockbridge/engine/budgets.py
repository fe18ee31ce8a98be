"""Far accounts' call budgets kept in the database, shared by every worker process (decision 0037).

`StoredBudget` is a `connectors.http.SharedBudget`: each grant is one short transaction that locks
the account's row, runs the pure pacing arithmetic (domain/pacing.py) on it and writes it back.
`StoredCostBucket` does the same for a Shopify store's cost bucket (connectors/shopify/bucket.py).
Both run the blocking store call on a thread, like every store call from the async workers.

Times are wall-clock seconds (`time.time`): the one clock every worker process reads alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from stockbridge.connectors.errors import RetriableError
from stockbridge.connectors.http import Grant
from stockbridge.connectors.shopify.bucket import CostBucket
from stockbridge.domain import pacing
from stockbridge.engine.db import in_transaction
from stockbridge.store import budget_repo
from stockbridge.store.db import is_sqlite

T = TypeVar("T")

SHARED_CLOCK: Callable[[], float] = time.time
# Points reserved by calls in flight are forgotten when the bucket has not been touched for this
# long: a worker that died between its reservation and the answer must not shrink the bucket for ever.
IN_FLIGHT_FORGET_S = 60.0


def shares_budgets(engine: Engine) -> bool:
    """Whether worker processes on this database share their far accounts' budgets (PostgreSQL;
    SQLite has one worker process, whose limiters keep their own)."""
    return not is_sqlite(engine)


def budget_key(system: str, base_url: str) -> str:
    """One far account: the system and the base URL its calls go to."""
    return f"{system} {base_url.rstrip('/')}"


class StoredBudget:
    def __init__(self, engine: Engine, key: str, system: str) -> None:
        self._engine, self.key, self._system = engine, key, system

    async def grant(self, limits: pacing.PaceLimits, wanted: int, now: float, successes: int) -> Grant:
        def work(c: Connection) -> Grant:
            pace, granted = budget_repo.lock_pace(c, self.key, pacing.start(limits, now))
            pace = pacing.succeeded_times(limits, _within(limits, pace), successes)
            pace, calls, wait = pacing.take_up_to(pace, now, wanted)
            budget_repo.save_pace(c, self.key, pace, granted + calls)
            return Grant(calls, wait, pace.rate)

        return await self._run(work)

    async def refused(
        self,
        limits: pacing.PaceLimits,
        now: float,
        *,
        started: float,
        retry_after: float | None,
        successes: int,
    ) -> Grant:
        def work(c: Connection) -> Grant:
            pace, granted = budget_repo.lock_pace(c, self.key, pacing.start(limits, now))
            pace = pacing.succeeded_times(limits, _within(limits, pace), successes)
            pace = pacing.refused(limits, pace, now, started=started, retry_after=retry_after)
            budget_repo.save_pace(c, self.key, pace, granted)
            _, wait = pacing.take(pace, now)
            return Grant(0, max(0.0, wait), pace.rate)

        return await self._run(work)

    async def _run(self, work: Callable[[Connection], Grant]) -> Grant:
        try:
            return await in_transaction(self._engine, work)
        except DBAPIError as exc:  # the database is where the work waits too: retry as for the far end
            raise RetriableError(self._system, f"rate budget unavailable: {type(exc).__name__}") from exc


def _within(limits: pacing.PaceLimits, pace: pacing.Pace) -> pacing.Pace:
    """The stored pace under this worker's limits (a configuration changed since the row was made)."""
    rate = min(limits.ceiling, max(limits.floor, pace.rate))
    return replace(pace, rate=rate, tokens=min(pace.tokens, max(1.0, rate)))


class StoredCostBucket:
    """A Shopify store's cost bucket shared by every worker: the points each reserves before a call,
    and the store's last throttleStatus whoever heard it."""

    def __init__(self, engine: Engine, key: str, system: str) -> None:
        self._engine, self.key, self._system = engine, key, system

    async def reserve(self, local: CostBucket, cost: float, now: float) -> float:
        """Reserve `cost` points when the shared bucket holds them (0.0), else the seconds to wait;
        `local` (the client's image) is brought up to date with the shared one either way."""

        def work(c: Connection) -> float:
            bucket = self._lock(c, local, now)
            at = max(now, bucket.as_of)  # see _lock
            wait = bucket.wait_for(cost, at)
            if wait <= 0:
                bucket.reserve(cost, at)
            self._save(c, bucket)
            _copy(bucket, local)
            return wait

        return await self._run(work)

    async def settle(
        self, local: CostBucket, cost: float, status: tuple[float, float, float] | None, now: float
    ) -> None:
        """The call that reserved `cost` was answered (with the store's throttleStatus) or failed."""

        def work(c: Connection) -> None:
            bucket = self._lock(c, local, now)
            bucket.release(cost)
            if status is not None:
                at = max(now, bucket.as_of)  # see _lock
                level = bucket.level(at)
                bucket.observe(*status, at)
                if now < at:
                    # Heard before the row's last change: another worker may have settled a call the
                    # store charged after this answer, and this older status would hand its points
                    # back. It may lower the level, never raise it.
                    bucket.available = min(bucket.available, level)
            self._save(c, bucket)
            _copy(bucket, local)

        await self._run(work)

    def _lock(self, c: Connection, local: CostBucket, now: float) -> CostBucket:
        """The shared bucket, locked. `now` was read before the row lock was had, so another worker
        may have written a later time since: the bucket's time never goes back (its level at an
        earlier time would count the refill between the two twice, and the store refuse the call)."""
        fresh = budget_repo.BucketRow(local.maximum, local.maximum, local.restore_rate, now, 0.0)
        row = budget_repo.lock_bucket(c, self.key, fresh)
        in_flight = 0.0 if now - row.as_of > IN_FLIGHT_FORGET_S else row.in_flight
        return CostBucket(row.maximum, row.available, row.restore_rate, row.as_of, in_flight)

    def _save(self, c: Connection, bucket: CostBucket) -> None:
        row = budget_repo.BucketRow(
            bucket.maximum, bucket.available, bucket.restore_rate, bucket.as_of, bucket.in_flight
        )
        budget_repo.save_bucket(c, self.key, row)

    async def _run(self, work: Callable[[Connection], T]) -> T:
        try:
            return await in_transaction(self._engine, work)
        except DBAPIError as exc:
            raise RetriableError(self._system, f"cost bucket unavailable: {type(exc).__name__}") from exc


def _copy(shared: CostBucket, local: CostBucket) -> None:
    """The client's image takes the shared level (every worker's reservations already taken out);
    its own `in_flight` stays its own calls'."""
    local.maximum, local.available = shared.maximum, shared.available
    local.restore_rate, local.as_of = shared.restore_rate, shared.as_of
