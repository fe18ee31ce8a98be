"""Alerts, I/O side: queue the alerts the rules find due (one transaction), then send the queued
messages, each channel on its own, with retry, backoff and dead letter (docs/decisions/0027).

Queueing marks each (exception, episode, level) it alerts in the same transaction as the messages it
writes, so a crash queues both or neither, and a second evaluation (another worker, a re-run) finds
the mark and queues nothing. Sending is at least once: a crash between a channel's answer and its
row's acknowledgement sends that message again once its lease has passed; every message carries its
reference (e-mail Message-ID) so a person can tell the resend.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from stockbridge.config import Config
from stockbridge.domain.alerting import Channel, Due, compose, due_alerts, trial_message
from stockbridge.domain.errors import ConnectorError, RetriableError
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import next_attempt_at
from stockbridge.flows.edge_ports import AlertChannels
from stockbridge.logs import attempt_failed, get_logger
from stockbridge.store import alerts_repo
from stockbridge.store.alerts_repo import AlertDelivery
from stockbridge.store.bookkeeping import raise_exception, resolve_exceptions
from stockbridge.store.dead_letters import ALERT_FAILED, Outbox, replay_action

log = get_logger(__name__)


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True, slots=True)
class Queued:
    alerts: int  # messages
    rows: int  # messages × channels
    exceptions: int  # exception levels they carry


def queue_due_alerts(connection: Connection, config: Config, now: datetime, run: str | None = None) -> Queued:
    """Queue the alerts due now over every open exception, grouped per owner (digests)."""
    settings = config.alerts
    policy = settings.policy()
    run = run or new_run_id()
    won: list[Due] = [
        due
        for due in due_alerts(alerts_repo.open_exceptions(connection), policy, now)
        if alerts_repo.mark(connection, due.exception, due.level, run, now)
    ]
    routes = settings.routes_of()
    messages = compose(won, policy)
    rows = 0
    for number, message in enumerate(messages, start=1):
        rows += alerts_repo.enqueue(connection, f"{run}-{number}", message, routes.for_message(message), now)
    if messages:
        log.info("alerts queued", run=run, messages=len(messages), rows=rows, exceptions=len(won))
    return Queued(len(messages), rows, len(won))


async def send_test_alert(
    channels: AlertChannels, config: Config, owner: str
) -> list[tuple[Channel, str | None]]:
    """Send a test message to each channel of `owner`'s route now, not through the outbox (a person
    is waiting for the answer); returns each channel with its error, None when it took the message."""
    message = trial_message(owner)
    reference = f"alert-test-{new_run_id()}"
    results: list[tuple[Channel, str | None]] = []
    for channel in config.alerts.routes_of().for_owner(owner):
        try:
            await channels.deliver(channel, message, reference)
        except ConnectorError as exc:
            results.append((channel, str(exc)))
        else:
            results.append((channel, None))
    return results


class AlertSender:
    """Sends the queued alert rows that are due, all at once: each call is bounded by its channel's
    timeout (shorter than the lease, config checks it), so no row is still being sent when its lease
    ends. A channel that fails retries alone; it holds back no other channel or alert."""

    def __init__(
        self,
        *,
        engine: Engine,
        config: Callable[[], Config],
        channels: AlertChannels,
        clock: Clock,
        worker_id: str,
        limit: int = 100,
        rng: random.Random | None = None,
    ) -> None:
        self._engine = engine
        self._config = config
        self._channels = channels
        self._clock = clock
        self._owner = worker_id
        self._limit = limit
        self._rng = rng or random.Random()

    async def send_due(self) -> int:
        """Send every due row (up to `limit`); returns how many were tried."""
        now = self._clock.now()
        lease = now + timedelta(seconds=self._config().engine.lease_s)
        claimed = await in_transaction(
            self._engine, lambda c: alerts_repo.claim(c, self._owner, now, lease, self._limit)
        )
        outcomes = await asyncio.gather(*(self._send(d) for d in claimed), return_exceptions=True)
        for delivery, outcome in zip(claimed, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                # A bug, not the channel: the row keeps its lease and is tried again after it.
                log.error("alert send crashed", alert=delivery.reference, error=repr(outcome))
        return len(claimed)

    async def _send(self, delivery: AlertDelivery) -> None:
        try:
            await self._channels.deliver(delivery.channel, delivery.message, delivery.reference)
        except ConnectorError as exc:
            failure = exc
            await in_transaction(self._engine, lambda c: self._failed(c, delivery, failure))
            return
        await in_transaction(self._engine, lambda c: self._sent(c, delivery))

    def _sent(self, connection: Connection, delivery: AlertDelivery) -> None:
        if alerts_repo.done(connection, delivery, self._owner, self._clock.now()):
            # A replayed dead letter went through: the channel works again.
            resolve_exceptions(connection, ALERT_FAILED, [channel_entity(delivery)])

    def _failed(self, connection: Connection, delivery: AlertDelivery, failure: ConnectorError) -> None:
        config = self._config()
        now = self._clock.now()
        attempt = delivery.attempts + 1
        since = delivery.failing_since or now
        retry_at = (
            next_attempt_at(
                config.engine,
                attempt,
                now,
                failing_since=since,
                retry_after=failure.retry_after,
                rng=self._rng,
            )
            if isinstance(failure, RetriableError)
            else None
        )
        alerts_repo.failed(connection, delivery, self._owner, str(failure), retry_at, since)
        attempt_failed(
            log,
            work="alert",
            entity=f"{delivery.reference} to {delivery.channel.name}",
            attempt=attempt,
            error=str(failure),
            retry_at=retry_at,
        )
        if retry_at is None:
            raise_exception(
                connection,
                type=ALERT_FAILED,
                entity=channel_entity(delivery),
                owner=config.owners.owner_of(ALERT_FAILED),
                detail=f"alert {delivery.reference} ({delivery.title}) dead-lettered after {attempt} "
                f"attempts since {since:%Y-%m-%d %H:%M:%S} UTC: {failure}",
                now=now,
                retry_action=replay_action(Outbox.ALERTS, delivery.id),
            )


def channel_entity(delivery: AlertDelivery) -> str:
    return f"channel:{delivery.channel.name}"


async def check_alerts(engine: Engine, config: Config, sender: AlertSender, clock: Clock) -> Queued:
    """The scheduled job: queue what the rules find due, then send every due row (new ones and
    retries whose time has come)."""
    now = clock.now()
    queued = await in_transaction(engine, lambda c: queue_due_alerts(c, config, now))
    await sender.send_due()
    return queued
