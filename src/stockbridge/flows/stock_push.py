"""Stock flow, push side: one channel's dirty targets → idempotent batches of figures (DESIGN.md §2.4).

One cycle, only when the channel has budget (else nothing is leased or read: decision 0035): finish
the channel's due batches from the outbox (new ones, retries, ones a killed worker held); else, when
no batch of its own is in flight (docs/decisions/0016), lease its most urgent dirty targets, read
what the channel shows for them, write the differences to the outbox as batches of at most
`max_lines_per_call` and send them. A batch's id is its idempotency key at the far end, so sending it
again after a crash or a timeout applies it once.

A channel that checks each line's expected figure itself (`compare_and_set`, Shopify) is not read
for targets the hub has pushed before: the figure it last pushed is the expected one. A stale answer
makes the hub forget those figures, so the next cycle reads exactly those (docs/decisions/0036).

The channel is any `StockChannel` (flows/ports.py); nothing here knows which system it is.
"""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import timedelta

from sqlalchemy import Connection, Engine

from stockbridge.config import Config
from stockbridge.domain.errors import ConnectorError, RejectedError, RetriableError, StaleFigureError
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import next_attempt_at, with_retries
from stockbridge.flows.ports import ChannelFigure, FigureLine, StockChannel
from stockbridge.logs import attempt_failed, get_logger
from stockbridge.store import outbox_repo, targets_repo
from stockbridge.store.bookkeeping import (
    LatencySample,
    bump,
    raise_exception,
    record_latency,
    resolve_exceptions,
)
from stockbridge.store.dead_letters import PUSH_FAILED, Outbox, replay_action
from stockbridge.store.outbox_repo import PushBatch, PushLine
from stockbridge.store.targets_repo import TargetRow

log = get_logger(__name__)

# A refusal's `.path` names the line by its index in the batch: the first `[i]` (NetSuite
# `inventory.items[3].item`, the Shopify connector `lines[3]`).
_LINE_INDEX = re.compile(r"\[(\d+)\]")
UNKNOWN_SKU_CODE = "UNKNOWN_SKU"  # a connector's code for a line whose SKU the channel does not know
SEND_AT_ONCE = 8  # batches claimed per cycle; the channel's own limiter bounds the calls in flight


def sku_entity(channel: str, sku: str) -> str:
    """The entity of a SKU's exception in one channel (unknown or inactive there)."""
    return f"sku:{sku}@{channel}"


def push_counter(channel: str, what: str) -> str:
    return f"push.{channel}.{what}"


@dataclass
class CycleResult:
    batches_sent: int = 0
    targets_claimed: int = 0
    in_sync: int = 0
    blocked: int = 0
    # Calls the channel failed for a reason of its own (unreachable, overloaded, credentials), not a
    # refusal of the batch's content: what connector health counts against the channel.
    failures: list[ConnectorError] = field(default_factory=list)

    @property
    def did_work(self) -> bool:
        return bool(self.batches_sent or self.targets_claimed)


@dataclass
class _Plan:
    in_sync: list[TargetRow]
    unknown: list[TargetRow]
    inactive: list[TargetRow]
    batches: list[PushBatch]

    @property
    def targets(self) -> int:
        return (
            len(self.in_sync)
            + len(self.unknown)
            + len(self.inactive)
            + sum(len(b.lines) for b in self.batches)
        )


def _held_part(plan: _Plan, held: set[tuple[str, str, str]]) -> _Plan:
    """The part of `plan` on targets in `held`."""

    def rows(part: list[TargetRow]) -> list[TargetRow]:
        return [r for r in part if (r.channel, r.sku, r.location) in held]

    batches = [
        replace(batch, lines=lines)
        for batch in plan.batches
        if (lines := tuple(ln for ln in batch.lines if (batch.channel, ln.sku, batch.location) in held))
    ]
    return _Plan(rows(plan.in_sync), rows(plan.unknown), rows(plan.inactive), batches)


class StockPusher:
    def __init__(
        self,
        *,
        engine: Engine,
        config: Config,
        channel: StockChannel,
        clock: Clock,
        worker_id: str,
        rng: random.Random | None = None,
        send_at_once: int = SEND_AT_ONCE,
    ) -> None:
        self._engine = engine
        self._config = config
        self._channel = channel
        self._name = channel.name
        self._clock = clock
        self._owner = worker_id
        self._rng = rng or random.Random()
        self._send_at_once = send_at_once
        self._lease = timedelta(seconds=config.engine.lease_s)
        # Targets claimed per cycle: `engine.claim_batch`, halved each time a cycle's read outlasted
        # its lease (other workers claimed the targets meanwhile), doubled back after one that did not.
        self._claim_size = config.engine.claim_batch

    def budget_wait(self) -> float:
        """Seconds until the channel has the budget for a cycle (0.0: now)."""
        return self._channel.budget_wait()

    async def run_cycle(self) -> CycleResult:
        result = CycleResult()
        if self._channel.budget_wait() > 0:
            # Out of budget: no batch, due or new, could go now. Nothing is leased or read meanwhile;
            # the push loop runs again when the budget returns (changes coalesce until then).
            return result
        batches, rows = await self._claim()
        if rows:
            batches = await self._plan_batches(rows, result)
        if batches:
            failures = await asyncio.gather(*(self._send(b) for b in batches))
            result.batches_sent = sum(1 for f in failures if f is None)
            result.failures = [f for f in failures if f is not None and not isinstance(f, RejectedError)]
        return result

    async def _claim(self) -> tuple[list[PushBatch], list[TargetRow]]:
        """In one transaction: the channel's due batches (new, retried, or a dead worker's); else,
        when none is in flight, its most urgent dirty targets to plan new ones from."""
        now = self._clock.now()
        min_wait = timedelta(seconds=self._config.engine.push_delay_s)

        def claim(connection: Connection) -> tuple[list[PushBatch], list[TargetRow]]:
            batches = outbox_repo.claim_batches(
                connection, self._name, self._owner, now, now + self._lease, self._send_at_once
            )
            # Changes coalesce while a batch of this channel is in flight, in any worker: they stay
            # dirty and go out together once it is answered (docs/decisions/0016).
            if batches or outbox_repo.in_flight(connection, self._name, now):
                return batches, []
            if not targets_repo.ready_to_push(connection, self._name, now, min_wait):
                return [], []
            rows = targets_repo.claim_dirty(
                connection, self._name, self._owner, now, now + self._lease, self._claim_size
            )
            return [], rows

        return await in_transaction(self._engine, claim)

    async def _plan_batches(self, rows: list[TargetRow], result: CycleResult) -> list[PushBatch]:
        """Read what the channel shows for the leased `rows`, record the plan, and return its
        batches, written leased to this worker: the cycle sends them at once."""
        known = self._last_pushed(rows)
        try:
            figures = known | await self._read([r for r in rows if (r.sku, r.location) not in known])
        except ConnectorError:
            # Could not read the channel: give the leases back; the rows stay dirty for the next cycle.
            await in_transaction(self._engine, lambda c: self._release(c, rows))
            raise
        plan = await in_transaction(self._engine, lambda c: self._record_plan(c, self._plan(rows, figures)))
        lost = len(rows) - plan.targets
        if lost:
            # The read outlasted the lease (a budget every worker spends paces it): claim fewer, so
            # that a cycle's read fits in its lease again instead of every worker reading the same
            # targets in turn and none keeping them (decision 0037).
            self._claim_size = max(1, self._claim_size // 2)
            log.info(
                "leases lost while reading: claiming fewer",
                channel=self._name,
                lost=lost,
                claimed=len(rows),
                claim_size=self._claim_size,
            )
        else:
            self._claim_size = min(self._config.engine.claim_batch, self._claim_size * 2)
        result.targets_claimed = plan.targets
        result.in_sync = len(plan.in_sync)
        result.blocked = len(plan.unknown) + len(plan.inactive)
        return plan.batches[: self._send_at_once]  # the rest are due in the outbox: the next cycle

    def _last_pushed(self, rows: list[TargetRow]) -> dict[tuple[str, str], ChannelFigure]:
        """What a compare-and-set channel shows as far as the hub knows: the figure it last pushed
        there. The channel refuses a line if that is no longer so, and the stale path reads it."""
        if not self._channel.compare_and_set:
            return {}
        return {(r.sku, r.location): ChannelFigure(r.pushed) for r in rows if r.pushed is not None}

    async def _read(self, rows: list[TargetRow]) -> dict[tuple[str, str], ChannelFigure]:
        by_location: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            by_location[row.location].append(row.sku)
        figures: dict[tuple[str, str], ChannelFigure] = {}
        for location, skus in by_location.items():
            read = await with_retries(lambda: self._channel.read_figures(location, skus), rng=self._rng)
            figures.update({(sku, location): figure for sku, figure in read.items()})
        return figures

    def _plan(self, rows: list[TargetRow], figures: dict[tuple[str, str], ChannelFigure]) -> _Plan:
        plan = _Plan([], [], [], [])
        by_location: dict[str, list[PushLine]] = defaultdict(list)
        for r in rows:
            figure = figures.get((r.sku, r.location))
            if figure is None:
                plan.unknown.append(r)
            elif not figure.pushable:
                plan.inactive.append(r)
            elif figure.quantity == r.desired:
                plan.in_sync.append(r)
            else:
                line = PushLine(r.sku, r.desired, figure.quantity, r.desired_version, r.source_occurred_at)
                by_location[r.location].append(line)
        size = self._channel.max_lines_per_call
        plan.batches = [
            PushBatch(f"sb-inv-{uuid.uuid4().hex}", self._name, location, tuple(lines[i : i + size]), 0)
            for location, lines in by_location.items()
            for i in range(0, len(lines), size)
        ]
        return plan

    def _release(self, connection: Connection, rows: list[TargetRow]) -> None:
        keys = [(r.channel, r.sku, r.location) for r in rows]
        targets_repo.lock_keys(connection, keys)
        targets_repo.release_leases(connection, keys, self._owner)

    def _record_plan(self, connection: Connection, planned: _Plan) -> _Plan:
        """Record the plan for the targets this worker still holds, and return what was recorded. A
        target whose lease ran out during the read and that another worker claimed is that worker's
        now: a batch for it here would be pushed and never acknowledged on it (its batch is the
        other's), and the other's push would then meet the figure this one set, stale."""
        keys = [
            (r.channel, r.sku, r.location) for r in (*planned.in_sync, *planned.unknown, *planned.inactive)
        ]
        keys += [key for batch in planned.batches for key in _keys(batch)]
        # Every target the plan changes, locked first in key order (the fold's): no deadlock with a
        # worker folding movements of the same SKUs.
        targets_repo.lock_keys(connection, keys)
        held = targets_repo.held_by(connection, keys, self._owner)
        plan = _held_part(planned, held)
        now = self._clock.now()
        targets_repo.mark_in_sync(connection, plan.in_sync, self._owner, now)
        # Leased to this worker as written: the cycle sends them without claiming them back. The
        # ones past `send_at_once` are written unleased, due: the next cycle claims them.
        leased, due = plan.batches[: self._send_at_once], plan.batches[self._send_at_once :]
        outbox_repo.create_batches(connection, leased, self._owner, now, lease_until=now + self._lease)
        outbox_repo.create_batches(connection, due, self._owner, now)
        unusable = plan.unknown + plan.inactive
        targets_repo.block_targets(
            connection, [(r.channel, r.sku, r.location) for r in unusable], self._owner
        )
        for kind, rows, state in (
            ("unknown_sku", plan.unknown, "not known to"),
            ("inactive_sku", plan.inactive, "inactive in"),
        ):
            for r in rows:
                self._sku_exception(
                    connection,
                    kind,
                    r.sku,
                    f"SKU {r.sku} moved in Clarus but is {state} channel {self._name}; "
                    f"its stock ({r.desired}) waits",
                )
        return plan

    def _sku_exception(self, connection: Connection, kind: str, sku: str, detail: str) -> None:
        raise_exception(
            connection,
            type=kind,
            entity=sku_entity(self._name, sku),
            owner=self._config.owners.owner_of(kind),
            detail=detail,
            now=self._clock.now(),
            retry_action=f"automatic once the item is active in {self._name}",
        )

    async def _send(self, batch: PushBatch) -> ConnectorError | None:
        """Send one batch and record the answer; the failure, if any."""
        lines = [FigureLine(ln.sku, ln.quantity, ln.expected, ln.version) for ln in batch.lines]
        failure: ConnectorError | None = None
        try:
            await self._channel.push_figures(batch.id, batch.location, lines)
        except ConnectorError as exc:
            failure = exc
        if failure is None:
            await in_transaction(self._engine, lambda c: self._sent(c, batch))
            return None
        await in_transaction(self._engine, lambda c: self._record_failure(c, batch, failure))
        return failure

    def _record_failure(self, connection: Connection, batch: PushBatch, failure: ConnectorError) -> None:
        if isinstance(failure, StaleFigureError):
            self._stale(connection, batch, failure)
        elif isinstance(failure, RetriableError):
            self._failed(connection, batch, str(failure), failure.retry_after)
        elif isinstance(failure, RejectedError):
            self._rejected(connection, batch, failure)
        else:
            self._failed(connection, batch, str(failure), None)

    def _sent(self, connection: Connection, batch: PushBatch) -> None:
        targets_repo.lock_keys(connection, _keys(batch))  # in the fold's order, before any change
        now = self._clock.now()
        if not outbox_repo.batch_sent(connection, batch, self._owner, now):
            return
        record_latency(
            connection,
            [
                LatencySample(self._name, line.sku, batch.location, line.occurred_at, now)
                for line in batch.lines
                if line.occurred_at is not None
            ],
        )
        bump(connection, push_counter(self._name, "calls"))
        bump(connection, push_counter(self._name, "lines"), len(batch.lines))
        # A replayed dead letter went through: its exception is over.
        resolve_exceptions(connection, PUSH_FAILED, [f"batch:{batch.id}"])
        log.debug("push acknowledged", channel=batch.channel, batch=batch.id, lines=len(batch.lines))

    def _stale(self, connection: Connection, batch: PushBatch, exc: StaleFigureError) -> None:
        """The channel's figure moved since it was read or last pushed (compare-and-set refused):
        nothing applied. The batch is dropped, the hub forgets what it last pushed for the stale
        SKUs, and its targets, still dirty, are planned again next cycle: the stale ones read first."""
        targets_repo.lock_keys(connection, _keys(batch))  # in the fold's order, before any change
        outbox_repo.discard_batch(connection, batch, self._owner)
        targets_repo.forget_pushed(connection, [(self._name, sku, batch.location) for sku in exc.skus])
        bump(connection, push_counter(self._name, "stale"))
        bump(connection, push_counter(self._name, "stale_lines"), len(exc.skus))
        log.info("stale figures: reading again", channel=self._name, batch=batch.id, skus=list(exc.skus))

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
        """Bad input: the channel applied nothing of the batch (an IMS adjustment and a Shopify
        `inventorySetQuantities` apply whole or not at all).

        When the refusal points at one line (an item deactivated or removed since it was read),
        block that SKU in this channel and let the others be planned again; otherwise a person must look.
        """
        match = _LINE_INDEX.search(exc.path or "")
        if match is None or int(match.group(1)) >= len(batch.lines):
            self._failed_for_good(connection, batch, str(exc))
            return
        line = batch.lines[int(match.group(1))]
        targets_repo.lock_keys(connection, _keys(batch))  # in the fold's order, before any change
        outbox_repo.discard_batch(connection, batch, self._owner)
        targets_repo.block_targets(connection, [(batch.channel, line.sku, batch.location)])
        kind = "unknown_sku" if exc.code == UNKNOWN_SKU_CODE else "inactive_sku"
        self._sku_exception(
            connection, kind, line.sku, f"channel {self._name} refused SKU {line.sku}: {exc.message}"
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
            detail=f"channel {self._name} refused the batch: {error}",
            now=now,
            retry_action=replay_action(Outbox.PUSHES, batch.id),
        )


def _keys(batch: PushBatch) -> list[tuple[str, str, str]]:
    """The targets a batch carries."""
    return [(batch.channel, line.sku, batch.location) for line in batch.lines]
