"""A worker process's loops: fold the inbox, push dirty targets, run scheduled jobs.

Any number of workers may share one PostgreSQL database: folding locks inbox rows with SKIP LOCKED
and target rows in key order, pushing leases targets and batches, and each scheduled run is claimed
by one worker. Nothing is held only in memory, so a worker killed at any point loses nothing: its
leases expire and another worker (or its own restart) carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from sqlalchemy import Connection, Engine

from stockbridge.config import Config
from stockbridge.connectors.errors import ConnectorError
from stockbridge.connectors.notify import make_notifier
from stockbridge.domain.inbound import STOCK_KINDS
from stockbridge.engine.clock import Clock
from stockbridge.engine.config_source import ConfigSource
from stockbridge.engine.connect import Connections
from stockbridge.engine.db import in_transaction
from stockbridge.engine.jobs import JOBS, JobRun
from stockbridge.engine.report_jobs import REPORT_JOBS, seconds_until_due
from stockbridge.engine.schedule import claim_run, due_jobs, record_run, run_soon
from stockbridge.flows.finance import FinanceBatcher
from stockbridge.flows.fold import fold_inbox
from stockbridge.flows.fulfilment_sync import FulfilmentSender
from stockbridge.flows.order_sync import OrderCommandSender
from stockbridge.flows.poison import requeue
from stockbridge.flows.stock_push import StockPusher
from stockbridge.flows.storefront_sync import StorefrontOrderSender
from stockbridge.logs import get_logger
from stockbridge.monitor.connector_health import ConnectorHealth
from stockbridge.store import inbox_repo

log = get_logger(__name__)

BLOCKED_REFRESH_S = 5.0
# The tie re-reads' own schedule, a safety net: a tie makes the job due when its read is
# (decision 0024), and a run that leaves requests makes it due again for the earliest.
TIE_REREADS_S = 30.0
ORDER_CHECKS_S = 60.0
_ERROR_PAUSE_S = 1.0


class IdlePoll:
    """A wait that grows while nothing changes: `first`, doubled after each use, up to `longest`;
    `first` again after `reset`. How long an idle loop waits before it looks for work again (reset
    once there was work), and how long the fold lets a stream gather (reset by a trickle)."""

    def __init__(self, first: float, longest: float) -> None:
        self._first, self._longest = first, max(first, longest)
        self._next = first

    def next(self) -> float:
        wait, self._next = self._next, min(self._longest, self._next * 2)
        return wait

    def reset(self) -> None:
        self._next = self._first


class _Reported(Exception):
    """A loop step's connector failure, already counted by connector health."""

    def __init__(self, error: ConnectorError) -> None:
        super().__init__(str(error))
        self.error = error


async def _first_of(*events: asyncio.Event, longest_s: float) -> None:
    """Until any of `events` is set, or `longest_s` seconds."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=longest_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(
        self,
        *,
        engine: Engine,
        config: Config | ConfigSource,
        connections: Connections,
        clock: Clock,
        worker_id: str | None = None,
        rng: random.Random | None = None,
        webhook_base: str | None = None,
    ) -> None:
        self.engine = engine
        self.source = config if isinstance(config, ConfigSource) else ConfigSource(config)
        self._generation = self.source.generation
        config = self.source.current()
        self.connections = connections
        self.clock = clock
        self.worker_id = worker_id or default_worker_id()
        self.webhook_base = webhook_base  # the hub's URL for Clarus; None: config.hub.webhook_base()
        self.health = ConnectorHealth(engine, config, clock, stats=connections.call_stats)
        self.fold_wake = asyncio.Event()
        self._gather = IdlePoll(config.engine.fold_gather_s, config.engine.fold_gather_max_s)
        # One push loop per stock channel, each woken on its own: a channel out of budget or with a
        # batch in flight does not hold the others back.
        self.push_wakes = {name: asyncio.Event() for name in connections.stock_channels}
        self.command_wake = asyncio.Event()
        # A job asked for through this process's admin API: the scheduler looks at once.
        self.schedule_wake = asyncio.Event()
        self.storefront_wake = asyncio.Event()
        self.fulfilment_wake = asyncio.Event()
        self.fulfilments = FulfilmentSender(
            engine=engine,
            config=lambda: self.config,
            ims=connections.ims_fulfilments,
            notifier=make_notifier(config.fulfilment.notifier),
            clock=clock,
            worker_id=self.worker_id,
            rng=rng,
            on_follow_ons=self.fulfilment_wake.set,
            storefronts=connections.storefront_fulfilments,
        )
        self.commands = OrderCommandSender(
            engine=engine,
            config=lambda: self.config,
            clarus=connections.clarus_orders,
            clock=clock,
            worker_id=self.worker_id,
            rng=rng,
            # A created order may release parked shipments.
            on_answered=self.fulfilment_wake.set,
        )
        self.storefront_orders = StorefrontOrderSender(
            engine=engine,
            config=lambda: self.config,
            ims=connections.ims_storefront_orders,
            clock=clock,
            worker_id=self.worker_id,
            rng=rng,
        )
        self.finance = FinanceBatcher(
            engine=engine,
            config=lambda: self.config,
            ims=connections.ims_finance,
            clock=clock,
            worker_id=self.worker_id,
            rng=rng,
        )
        self.pushers = {
            name: StockPusher(
                engine=engine,
                config=config,
                channel=channel,
                clock=clock,
                worker_id=self.worker_id,
                rng=rng,
            )
            for name, channel in connections.stock_channels.items()
        }

    @property
    def config(self) -> Config:
        return self.source.current()

    def wake(self) -> None:
        """Called when new inbox entries were stored by this process."""
        self.fold_wake.set()

    async def fold_once(self) -> int:
        now = self.clock.now()
        limit = self.config.engine.fold_batch

        def fold(connection: Connection) -> tuple[int, bool]:
            entries = inbox_repo.claim_pending(connection, limit, self.config.engine.fold_batch_bytes)
            if entries:
                fold_inbox(
                    connection,
                    entries,
                    self.config,
                    now,
                    formats=self.connections.clarus_inbound,
                    storefronts=self.connections.storefront_inbound,
                )
            return len(entries), any(e.kind not in STOCK_KINDS for e in entries)

        folded, orders = await in_transaction(self.engine, fold)
        if folded:
            self._wake_pushers()
        if orders:
            # Stock entries make no order, storefront or fulfilment commands: only other kinds wake
            # those senders (a burst of movements would otherwise wake three idle loops a fold).
            self.command_wake.set()
            self.storefront_wake.set()
            self.fulfilment_wake.set()
        if folded < self.config.engine.fold_gather_min:
            self._gather.reset()  # a trickle: folded as it arrives
        elif folded < limit:
            # Events are coming in a stream: let the next group gather, longer each fold while the
            # stream lasts (up to fold_gather_max_s). One fold of many events costs far less than
            # many folds of few (a fold has a fixed cost of some milliseconds), and each fold takes
            # the write lock that webhook ingest also needs.
            await asyncio.sleep(self._gather.next())
        return folded

    async def run(self, stop: asyncio.Event) -> None:
        # Only the fold polls at `idle_poll_s` however long it finds nothing: its work (the inbox) is
        # written by other processes too (`serve --no-workers`). Every other loop's work is made by
        # this process's fold, which wakes it, or falls due with time (retries), so an idle one polls
        # ever less often, up to `idle_poll_max_s` (an idle hub then costs little CPU).
        loops = [
            self._loop("fold", self.fold_once, self.fold_wake, stop, backs_off=False),
            *(self._push_loop(name, stop) for name in self.pushers),
            self._loop("commands", self.commands.run_cycle, self.command_wake, stop),
            self._loop("storefront_orders", self.storefront_orders.run_cycle, self.storefront_wake, stop),
            self._loop("fulfilment", self.fulfilments.run_cycle, self.fulfilment_wake, stop),
            self._schedule_loop(stop),
        ]
        tasks = [asyncio.create_task(loop) for loop in loops]
        await stop.wait()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.commands.aclose()
        await self.storefront_orders.aclose()
        await self.fulfilments.aclose()

    def _wake_pushers(self) -> None:
        for wake in self.push_wakes.values():
            wake.set()

    def _push_loop(self, name: str, stop: asyncio.Event) -> Coroutine[Any, Any, None]:
        """One stock channel's push loop: woken by folds, and by its budget returning while it
        was held back (not only at the next idle poll)."""
        step, wake = self._push_step(name), self.push_wakes[name]
        return self._loop(f"push.{name}", step, wake, stop, ready_in=self.pushers[name].budget_wait)

    def _push_step(self, name: str) -> Callable[[], Awaitable[int]]:
        pusher = self.pushers[name]

        async def step() -> int:
            # Failures and successes of a channel's calls both count under the channel's name.
            try:
                result = await pusher.run_cycle()
            except ConnectorError as exc:
                await self.health.failed(exc, system=name)
                raise _Reported(exc) from exc
            for failure in result.failures:
                await self.health.failed(failure, system=name)
            if result.did_work and not result.failures:
                await self.health.succeeded(name)
            return int(result.did_work)

        return step

    async def _loop(
        self,
        name: str,
        step: Callable[[], Awaitable[int]],
        wake: asyncio.Event,
        stop: asyncio.Event,
        *,
        ready_in: Callable[[], float] | None = None,
        backs_off: bool = True,
    ) -> None:
        """Run `step` while it works; then wait for `wake` (new work in this process), at most the
        idle poll (work written by other processes, or due by now), or, with `ready_in`, until the
        step could go on: a push loop held back by its channel's budget runs again when the budget
        returns, not at the next poll. The idle poll is `engine.idle_poll_s`; with `backs_off` it
        doubles after each idle poll that found nothing, up to `engine.idle_poll_max_s`, and is
        `idle_poll_s` again after a wake or a step that worked."""
        engine = self.config.engine
        poll = IdlePoll(engine.idle_poll_s, engine.idle_poll_max_s if backs_off else engine.idle_poll_s)
        while not stop.is_set():
            try:
                worked = await step()
            except _Reported as reported:
                log.warning("loop step failed", loop=name, error=str(reported.error))
                worked = 0
                await asyncio.sleep(_ERROR_PAUSE_S)
            except ConnectorError as exc:
                log.warning("loop step failed", loop=name, error=str(exc))
                await self.health.failed(exc)
                worked = 0
                await asyncio.sleep(_ERROR_PAUSE_S)
            except Exception:
                log.exception("loop step crashed; retrying", loop=name)
                worked = 0
                await asyncio.sleep(_ERROR_PAUSE_S)
            if worked:
                poll.reset()
                continue
            wake.clear()
            timeout = poll.next()
            if ready_in is not None and 0 < (ready := ready_in()) < timeout:
                timeout = ready
            try:
                await asyncio.wait_for(wake.wait(), timeout)
            except TimeoutError:
                continue
            poll.reset()  # woken: there is work again in this process

    async def run_job(self, job: str, *, scheduled: bool = False) -> None:
        """Run one scheduled job now, in this worker (also used by `stockbridge sync`). `scheduled`:
        the scheduler claimed it, and a job with parts on their own schedules runs only the parts
        that are due (the orders poll: each store on its `orders_poll_s`)."""
        if job not in JOBS:
            raise ValueError(f"unknown job {job!r}")
        started = self.clock.now()
        await JOBS[job].run(self, JobRun(job, started, scheduled))
        await in_transaction(self.engine, lambda c: record_run(c, job, started))
        log.debug("scheduled job ran", job=job)
        self.fold_wake.set()
        self._wake_pushers()
        self.command_wake.set()
        self.storefront_wake.set()
        self.fulfilment_wake.set()

    def _jobs(self) -> list[tuple[str, float]]:
        s, o = self.config.schedules, self.config.orders
        return [
            ("item_refresh", s.item_refresh_s),
            ("blocked_refresh", BLOCKED_REFRESH_S),
            # Storefront SKUs blocked as unknown or unusable, read again (each read costs the
            # store's budget, so at the item refresh's pace, not the IMS's 5 s).
            *([("storefront_refresh", s.item_refresh_s)] if self.config.storefronts else []),
            ("full_sync", s.full_sync_s),
            ("events_poll", s.events_poll_s),
            ("drift_check", s.drift_check_s),
            ("slo_check", s.slo_check_s),
            ("alerts_check", s.alerts_check_s),
            ("product_sync", o.product_sync_s),
            ("orders_poll", o.poll_s),
            ("revalidate_held", o.revalidate_s),
            ("order_checks", ORDER_CHECKS_S),
            ("fulfilment_checks", self.config.fulfilment.checks_s),
            ("fulfilment_verify", self.config.fulfilment.verify_s),
            *(
                [
                    (
                        "storefront_orders_poll",
                        min(st.orders_poll_s for st in self.config.storefronts.values()),
                    ),
                    ("storefront_order_rereads", TIE_REREADS_S),
                ]
                if self.config.storefronts
                else []
            ),
            # The daily finance batch: made once its day's post_at has passed, retried whole when due;
            # without finance.reasons it only releases movements held under an earlier configuration.
            ("finance_batch", s.finance_batch_s),
            # Due at reports.daily_at (the weekly on reports.weekly_on): the claim moves the next run there.
            *(
                [
                    (job, seconds_until_due(job, self.config.reports, self.clock.now()))
                    for job in REPORT_JOBS
                    if job == "report_daily" or self.config.reports.weekly
                ]
                if self.config.reports is not None
                else []
            ),
            *(
                [("velocity_reclassify", self.config.velocity.reclassify_s)]
                if self.config.velocity is not None
                else []
            ),
            *(
                [("subscriptions_check", s.subscriptions_check_s)]
                if self.config.hub.register_webhooks
                else []
            ),
        ]

    async def _configuration_changed(self) -> None:
        """New mappings or rules: orders they held may go now, and inbox entries set aside because
        they could not be folded are tried again (those that still fail are set aside again)."""
        now = self.clock.now()

        def react(connection: Connection) -> int:
            run_soon(connection, "revalidate_held", now)
            return requeue(connection)

        requeued = await in_transaction(self.engine, react)
        if requeued:
            log.info("set-aside inbox entries queued again after a configuration change", entries=requeued)
            self.fold_wake.set()

    async def _schedule_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.source.generation != self._generation:
                self._generation = self.source.generation
                await self._configuration_changed()
            try:
                await self.health.review()  # throttling per connector, judged each tick
            except Exception:
                log.exception("connector health review crashed")
            self.schedule_wake.clear()  # before the read: a job asked for during the tick wakes the next
            jobs = self._jobs()
            names = [job for job, _ in jobs]
            now = self.clock.now()
            try:
                # One read a tick finds the jobs that may be due; only those are claimed, each just
                # before it runs (a write each), so another worker may take the next while one runs.
                candidates = await in_transaction(self.engine, lambda c: due_jobs(c, names, now))
            except Exception:
                log.exception("reading the schedule crashed")
                candidates = set()
            for job, every in jobs:
                if job not in candidates:
                    continue
                now = self.clock.now()
                try:
                    due = await in_transaction(self.engine, lambda c: claim_run(c, job, now, every))
                    if due:
                        await self.run_job(job, scheduled=True)
                        await self.health.succeeded(JOBS[job].system)
                except ConnectorError as exc:
                    log.warning("scheduled job failed", job=job, error=str(exc))
                    await self.health.failed(exc)
                except Exception:
                    log.exception("scheduled job crashed", job=job)
            await _first_of(stop, self.schedule_wake, longest_s=1.0)
