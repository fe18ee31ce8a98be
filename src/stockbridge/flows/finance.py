"""The daily finance batch (DESIGN.md §3, docs/decisions/0030): financial movements → one IMS
inventory adjustment per (location, business day, account), posted once.

The fold records each financial movement and holds its units back from the IMS target
(`flows/inventory.py`). Once a day's `finance.post_at` has passed, `close` groups the day's
movements into batches and writes them (the outbox: durable before any call). `send_due` posts each
due batch under its external id and reads it back by that id to check the control total; the
transaction that records the post ends the hold of its movements and moves the targets' pushed
figures by the batch, so the IMS figure moves by the batch and the stock sync has nothing to do.

While a batch is being posted it holds its SKUs' IMS targets (`targets.batch_id`), as a stock push
batch does, so no stock push reads or moves those figures half way; a batch whose targets a stock
push holds waits for it. A crash after the IMS took the post and before the hub recorded it leaves
the batch pending, its targets still held: it is posted again under the same external id, which
replaces itself in the IMS.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Connection, Engine

from stockbridge.config import IMS_CHANNEL_NAME, Config
from stockbridge.domain.errors import ConnectorError, RejectedError, RetriableError
from stockbridge.domain.finance import closing_through, plan_batches, read_back_problem
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import retry_at_after
from stockbridge.flows.edge_ports import FinancePosting
from stockbridge.flows.inventory import rederive_ims
from stockbridge.logs import attempt_failed, get_logger
from stockbridge.store import finance_repo, targets_repo
from stockbridge.store.bookkeeping import bump, raise_exception, resolve_exceptions
from stockbridge.store.dead_letters import FINANCE_BATCH_FAILED, Outbox, replay_action
from stockbridge.store.finance_repo import StoredBatch

log = get_logger(__name__)

WAIT_FOR_TARGETS_S = 2.0  # a stock push holds one of the batch's targets: look again after this
SEND_AT_ONCE = 20


def batch_entity(batch_id: str) -> str:
    return f"finance_batch:{batch_id}"


@dataclass
class FinanceRun:
    made: list[str] = field(default_factory=list)  # batch ids written
    posted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # a stock push held a target


class FinanceBatcher:
    def __init__(
        self,
        *,
        engine: Engine,
        config: Callable[[], Config],
        ims: FinancePosting,
        clock: Clock,
        worker_id: str,
        rng: random.Random | None = None,
    ) -> None:
        self._engine = engine
        self._config = config
        self._ims = ims
        self._clock = clock
        self._owner = worker_id
        self._rng = rng or random.Random()

    async def run(self, through: date | None = None) -> FinanceRun:
        """Close the days that are due (or every day up to `through`) and post the batches due."""
        result = FinanceRun()
        result.made = await self.close(through)
        await self.send_due(result)
        return result

    async def close(self, through: date | None = None) -> list[str]:
        """Write the batches of every business day up to `through` (default: the latest day whose
        `finance.post_at` has passed) from the movements no batch has taken. Returns their ids."""
        config = self._config()
        now = self._clock.now()
        if through is not None:
            day = through
        elif config.finance.reasons:
            day = closing_through(now, config.finance.post_at, config.finance.zone())
        else:  # batching was switched off: release every hold at once (the stock sync moves them)
            day = date.max

        def close(connection: Connection) -> list[str]:
            movements = finance_repo.unbatched(connection, day)
            if not movements:
                return []
            made = finance_repo.batches_made(connection)
            planned, unposted = plan_batches(movements, config.finance.accounts(), day, made)
            pairs: list[tuple[str, str]] = []
            for p in planned:
                finance_repo.create_batch(connection, p, now)
                if not p.batch.lines:  # its movements net to nothing: settled, nothing to post
                    pairs += finance_repo.settle(connection, now, batch_id=p.batch.id)
            if unposted:
                # Their reason lost its account (or batching was switched off): no batch takes
                # them, their hold ends and the stock sync moves them.
                pairs += finance_repo.settle(connection, now, event_ids=unposted)
            if pairs:
                rederive_ims(connection, config, pairs, now)
            return [p.batch.id for p in planned]

        made = await in_transaction(self._engine, close)
        if made:
            log.info("finance batches made", through=day.isoformat(), batches=made)
        return made

    async def send_due(self, result: FinanceRun | None = None) -> FinanceRun:
        result = result or FinanceRun()
        config = self._config()
        now = self._clock.now()
        lease = now + timedelta(seconds=config.engine.lease_s)
        due = await in_transaction(
            self._engine, lambda c: finance_repo.claim_due(c, self._owner, now, lease, SEND_AT_ONCE)
        )
        for stored in due:
            outcome = await self._send(stored)
            {"posted": result.posted, "failed": result.failed, "waiting": result.waiting}[outcome].append(
                stored.batch.id
            )
        return result

    async def _send(self, stored: StoredBatch) -> str:
        batch = stored.batch
        keys = [(IMS_CHANNEL_NAME, sku, batch.location) for sku in sorted(batch.moved_by())]
        now = self._clock.now()

        def hold(connection: Connection) -> bool:
            if targets_repo.hold(connection, keys, batch.id, now):
                return True
            finance_repo.defer(connection, batch.id, self._owner, now + timedelta(seconds=WAIT_FOR_TARGETS_S))
            return False

        if not await in_transaction(self._engine, hold):
            return "waiting"
        failure: ConnectorError | None = None
        try:
            await self._ims.post_adjustment(batch)
            problem = read_back_problem(batch, await self._ims.read_adjustment(batch))
            if problem is not None:
                # Posting again replaces the record with the batch (same external id).
                failure = RetriableError(IMS_CHANNEL_NAME, f"read-back: {problem}")
        except ConnectorError as exc:
            failure = exc
        if failure is not None:
            error = failure
            await in_transaction(self._engine, lambda c: self._failed(c, stored, error))
            return "failed"
        await in_transaction(self._engine, lambda c: self._posted(c, stored))
        return "posted"

    def _posted(self, connection: Connection, stored: StoredBatch) -> None:
        config = self._config()
        batch = stored.batch
        now = self._clock.now()
        if not finance_repo.posted(connection, batch.id, self._owner, now):
            return  # another worker took it over (and posts the same record)
        pairs = finance_repo.settle(connection, now, batch_id=batch.id)
        moved = {(IMS_CHANNEL_NAME, sku, batch.location): units for sku, units in batch.moved_by().items()}
        targets_repo.moved_by_holder(connection, batch.id, moved)
        rederive_ims(connection, config, pairs, now)
        bump(connection, "finance.batches")
        bump(connection, "finance.lines", len(batch.lines))
        resolve_exceptions(connection, FINANCE_BATCH_FAILED, [batch_entity(batch.id)])
        log.info(
            "finance batch posted", batch=batch.id, lines=len(batch.lines), control_units=batch.control_units
        )

    def _failed(self, connection: Connection, stored: StoredBatch, exc: ConnectorError) -> None:
        """Retried whole later; refused (or failing past the retry window), dead-lettered with an
        exception for finance.

        Only a refusal proves the IMS applied nothing (an adjustment applies whole or not at all):
        then the targets go back to the stock sync, hold intact. After a timeout or a 5xx the post
        may have been applied, so the batch keeps its targets until it is posted: were the sync to
        move them meanwhile, it would undo the batch, and the re-post (which replaces itself) would
        not move them again."""
        config = self._config()
        batch = stored.batch
        now = self._clock.now()
        attempt = stored.attempts + 1
        since = stored.failing_since or now
        retry_at = retry_at_after(config.engine, exc, attempt, now, failing_since=since, rng=self._rng)
        finance_repo.failed(connection, batch.id, self._owner, str(exc), retry_at, since)
        if isinstance(exc, RejectedError):
            targets_repo.release_hold(connection, batch.id)
        attempt_failed(
            log, work="finance_batch", entity=batch.id, attempt=attempt, error=str(exc), retry_at=retry_at
        )
        if retry_at is None:
            raise_exception(
                connection,
                type=FINANCE_BATCH_FAILED,
                entity=batch_entity(batch.id),
                owner=config.owners.owner_of(FINANCE_BATCH_FAILED),
                detail=(
                    f"adjustment {batch.id} ({batch.business_date.isoformat()}, location {batch.location}, "
                    f"account {batch.account}, control {batch.control_units} units in {len(batch.lines)} "
                    f"lines) not posted after {attempt} attempt(s): {exc}"
                ),
                now=now,
                retry_action=replay_action(Outbox.FINANCE, batch.id),
            )
