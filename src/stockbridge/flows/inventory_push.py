"""Inventory flow, push side: dirty IMS targets → idempotent inventory adjustments (DESIGN.md §2.4).

One cycle: finish due batches from the outbox (new ones, retries, ones a killed worker held), else
lease the most urgent dirty targets, read their current on-hand in one SuiteQL call per 1,000, write
the differences to the outbox as batches of at most `max_lines_per_call`, and send them. A batch's id
is its external id in the IMS, so sending it again after a crash or a timeout replaces it there
instead of applying it twice.
"""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, Engine

from stockbridge.config import IMS_CHANNEL_NAME as IMS_CHANNEL
from stockbridge.config import Config
from stockbridge.connectors.errors import ConnectorError, RejectedError, RetriableError
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.netsuite.client import AdjustmentLine, NetSuiteClient
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import next_attempt_at, with_retries
from stockbridge.logs import attempt_failed, get_logger
from stockbridge.store import items_repo, outbox_repo, targets_repo
from stockbridge.store.bookkeeping import (
    LatencySample,
    bump,
    raise_exception,
    record_latency,
    resolve_exceptions,
)
from stockbridge.store.dead_letters import PUSH_FAILED, Outbox, replay_action
from stockbridge.store.items_repo import ImsItem
from stockbridge.store.outbox_repo import PushBatch, PushLine
from stockbridge.store.targets_repo import TargetRow

log = get_logger(__name__)

_LINE_PATH = re.compile(r"inventory\.items\[(\d+)\]")
PUSH_CALLS = "push.ims.calls"
PUSH_LINES = "push.ims.lines"


@dataclass
class CycleResult:
    batches_sent: int = 0
    targets_claimed: int = 0
    in_sync: int = 0
    blocked: int = 0

    @property
    def did_work(self) -> bool:
        return bool(self.batches_sent or self.targets_claimed)


class ImsStockPusher:
    def __init__(
        self,
        *,
        engine: Engine,
        config: Config,
        client: NetSuiteClient,
        limiter: RateLimiter,
        clock: Clock,
        worker_id: str,
        rng: random.Random | None = None,
    ) -> None:
        self._engine = engine
        self._config = config
        self._client = client
        self._limiter = limiter
        self._clock = clock
        self._owner = worker_id
        self._rng = rng or random.Random()
        self._ims = config.connectors.ims
        self._lease = timedelta(seconds=config.engine.lease_s)

    async def run_cycle(self) -> CycleResult:
        result = CycleResult()
        batches = await self._claim_batches()
        if not batches:
            result.targets_claimed, result.in_sync, result.blocked = await self._plan_batches()
            batches = await self._claim_batches()
        if batches:
            sent = await asyncio.gather(*(self._send(b) for b in batches))
            result.batches_sent = sum(sent)
        return result

    async def _claim_batches(self) -> list[PushBatch]:
        now = self._clock.now()
        limit = max(1, self._ims.concurrency * 2)
        return await in_transaction(
            self._engine,
            lambda c: outbox_repo.claim_batches(c, IMS_CHANNEL, self._owner, now, now + self._lease, limit),
        )

    async def _plan_batches(self) -> tuple[int, int, int]:
        now = self._clock.now()
        limit = self._config.engine.claim_batch
        wait = timedelta(seconds=self._config.engine.push_delay_s)
        # A cycle costs one read for up to `claim_batch` targets plus one write per
        # `max_lines_per_call`; waiting for a full read page keeps reads a small share of calls.
        full = limit

        def claim(connection: Connection) -> tuple[list[TargetRow], dict[str, ImsItem]]:
            if not targets_repo.ready_to_push(connection, IMS_CHANNEL, now, full, wait):
                return [], {}
            rows = targets_repo.claim_dirty(
                connection, IMS_CHANNEL, self._owner, now, now + self._lease, limit
            )
            return rows, items_repo.items_for(connection, [r.sku for r in rows])

        rows, items = await in_transaction(self._engine, claim)
        if not rows:
            return 0, 0, 0
        pushable = [r for r in rows if r.sku in items and not items[r.sku].is_inactive]
        unusable = [r for r in rows if r not in pushable]
        by_location: dict[str, list[TargetRow]] = defaultdict(list)
        for row in pushable:
            by_location[row.location].append(row)
        on_hand: dict[tuple[str, str], int] = {}
        try:
            for location, located in by_location.items():
                figures = await with_retries(
                    lambda: self._limiter.run(
                        lambda: self._client.on_hand(location, [items[r.sku].item_id for r in located])
                    ),
                    rng=self._rng,
                )
                for r in located:
                    on_hand[(r.sku, location)] = figures[items[r.sku].item_id]
        except ConnectorError:
            # Could not read the IMS: give the leases back; the rows stay dirty for the next cycle.
            await in_transaction(
                self._engine,
                lambda c: targets_repo.release_leases(
                    c, [(r.channel, r.sku, r.location) for r in rows], self._owner
                ),
            )
            raise
        in_sync = [r for r in pushable if on_hand[(r.sku, r.location)] == r.desired]
        batches = self._batches(
            [r for r in pushable if on_hand[(r.sku, r.location)] != r.desired], items, on_hand
        )
        await in_transaction(self._engine, lambda c: self._record_plan(c, in_sync, unusable, items, batches))
        return len(rows), len(in_sync), len(unusable)

    def _batches(
        self, rows: list[TargetRow], items: dict[str, ImsItem], on_hand: dict[tuple[str, str], int]
    ) -> list[PushBatch]:
        by_location: dict[str, list[PushLine]] = defaultdict(list)
        for r in rows:
            by_location[r.location].append(
                PushLine(
                    r.sku,
                    items[r.sku].item_id,
                    r.desired - on_hand[(r.sku, r.location)],
                    r.desired,
                    r.desired_version,
                    r.source_occurred_at,
                )
            )
        size = self._ims.max_lines_per_call
        return [
            PushBatch(f"sb-inv-{uuid.uuid4().hex}", IMS_CHANNEL, location, tuple(lines[i : i + size]), 0)
            for location, lines in by_location.items()
            for i in range(0, len(lines), size)
        ]

    def _record_plan(
        self,
        connection: Connection,
        in_sync: list[TargetRow],
        unusable: list[TargetRow],
        items: dict[str, ImsItem],
        batches: list[PushBatch],
    ) -> None:
        now = self._clock.now()
        targets_repo.mark_in_sync(connection, in_sync, self._owner, now)
        outbox_repo.create_batches(connection, batches, self._owner, now)
        targets_repo.block_targets(
            connection, [(r.channel, r.sku, r.location) for r in unusable], self._owner
        )
        for r in unusable:
            kind = "inactive_sku" if r.sku in items else "unknown_sku"
            state = "inactive in" if r.sku in items else "not known to"
            raise_exception(
                connection,
                type=kind,
                entity=f"sku:{r.sku}",
                owner=self._config.owners.owner_of(kind),
                detail=f"SKU {r.sku} moved in Clarus but is {state} the IMS; its stock ({r.desired}) waits",
                now=now,
                retry_action="automatic once the item is active in the IMS",
            )

    async def _send(self, batch: PushBatch) -> bool:
        lines = [
            AdjustmentLine(line.item_id, line.delta, f"stockbridge ATS {line.desired} v{line.version}")
            for line in batch.lines
        ]
        failure: ConnectorError | None = None
        try:
            await self._limiter.run(
                lambda: self._client.upsert_inventory_adjustment(
                    batch.id,
                    account_id=self._ims.adjustment_account_id,
                    location_id=batch.location,
                    lines=lines,
                    memo=f"stockbridge stock sync ({len(lines)} items)",
                )
            )
        except ConnectorError as exc:
            failure = exc
        if failure is None:
            await in_transaction(self._engine, lambda c: self._sent(c, batch))
            return True
        await in_transaction(self._engine, lambda c: self._record_failure(c, batch, failure))
        return False

    def _record_failure(self, connection: Connection, batch: PushBatch, failure: ConnectorError) -> None:
        if isinstance(failure, RetriableError):
            self._failed(connection, batch, str(failure), failure.retry_after)
        elif isinstance(failure, RejectedError):
            self._rejected(connection, batch, failure)
        else:
            self._failed(connection, batch, str(failure), None)

    def _sent(self, connection: Connection, batch: PushBatch) -> None:
        now = self._clock.now()
        if not outbox_repo.batch_sent(connection, batch, self._owner, now):
            return
        record_latency(
            connection,
            [
                LatencySample(IMS_CHANNEL, line.sku, batch.location, line.occurred_at, now)
                for line in batch.lines
                if line.occurred_at is not None
            ],
        )
        bump(connection, PUSH_CALLS)
        bump(connection, PUSH_LINES, len(batch.lines))
        # A replayed dead letter went through: its exception is over.
        resolve_exceptions(connection, PUSH_FAILED, [f"batch:{batch.id}"])
        log.debug("push acknowledged", channel=batch.channel, batch=batch.id, lines=len(batch.lines))

    def _failed(
        self, connection: Connection, batch: PushBatch, error: str, retry_after: float | None
    ) -> None:
        now = self._clock.now()
        attempt = batch.attempts + 1
        since = batch.failing_since or now
        retry_at = next_attempt_at(
            self._config.engine, attempt, now, failing_since=since, retry_after=retry_after, rng=self._rng
        )
        outbox_repo.batch_failed(connection, batch, self._owner, error, retry_at, since)
        attempt_failed(log, work="push", entity=batch.id, attempt=attempt, error=error, retry_at=retry_at)
        if retry_at is None:
            raise_exception(
                connection,
                type=PUSH_FAILED,
                entity=f"batch:{batch.id}",
                owner=self._config.owners.owner_of(PUSH_FAILED),
                detail=f"dead-lettered after {attempt} attempts since {since:%Y-%m-%d %H:%M:%S} UTC: {error}",
                now=now,
                retry_action=replay_action(Outbox.PUSHES, batch.id),
            )

    def _rejected(self, connection: Connection, batch: PushBatch, exc: RejectedError) -> None:
        """A 4xx: NetSuite applies an adjustment whole or not at all, so nothing of it applied.

        When the error points at one line (an item deactivated since the item list was read), block
        that SKU and let the others go out in a new batch; otherwise a person must look.
        """
        match = _LINE_PATH.search(exc.path or "")
        if match is None or int(match.group(1)) >= len(batch.lines):
            self._failed_for_good(connection, batch, str(exc))
            return
        line = batch.lines[int(match.group(1))]
        now = self._clock.now()
        outbox_repo.discard_batch(connection, batch, self._owner)
        targets_repo.block_targets(connection, [(batch.channel, line.sku, batch.location)])
        items_repo.upsert_items(connection, [ImsItem(line.sku, line.item_id, True)])
        raise_exception(
            connection,
            type="inactive_sku",
            entity=f"sku:{line.sku}",
            owner=self._config.owners.owner_of("inactive_sku"),
            detail=f"the IMS refused SKU {line.sku}: {exc.message}",
            now=now,
            retry_action="automatic once the item is active in the IMS",
        )

    def _failed_for_good(self, connection: Connection, batch: PushBatch, error: str) -> None:
        now = self._clock.now()
        outbox_repo.batch_failed(connection, batch, self._owner, error, None, batch.failing_since or now)
        attempt_failed(
            log, work="push", entity=batch.id, attempt=batch.attempts + 1, error=error, retry_at=None
        )
        raise_exception(
            connection,
            type=PUSH_FAILED,
            entity=f"batch:{batch.id}",
            owner=self._config.owners.owner_of(PUSH_FAILED),
            detail=f"the IMS refused the adjustment: {error}",
            now=now,
            retry_action=replay_action(Outbox.PUSHES, batch.id),
        )


async def refresh_items(
    engine: Engine, client: NetSuiteClient, limiter: RateLimiter, skus: list[str] | None = None
) -> int:
    """Read the IMS item list (all, or the given SKUs), then unblock targets whose item is now active."""
    records = await with_retries(lambda: limiter.run(lambda: client.inventory_items(skus)))

    def store(connection: Connection) -> int:
        items_repo.upsert_items(
            connection,
            [ImsItem(r.sku, r.item_id, r.is_inactive, r.last_modified, r.item_type) for r in records],
        )
        active = [r.sku for r in records if not r.is_inactive]
        unblocked = targets_repo.unblock_skus(connection, IMS_CHANNEL, active)
        entities = [f"sku:{s}" for s in active]
        resolve_exceptions(connection, "unknown_sku", entities)
        resolve_exceptions(connection, "inactive_sku", entities)
        return unblocked

    return await in_transaction(engine, store)
