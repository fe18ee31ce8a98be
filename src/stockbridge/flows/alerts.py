"""Alerts, I/O side: queue the alerts the rules find due (one transaction), then send the queued
messages, each channel on its own, with retry, backoff and dead letter (docs/decisions/0027).

Queueing marks each (exception, episode, level) it alerts in the same transaction as the messages it
writes, so a crash queues both or neither, and a second evaluation (another worker, a re-run) finds
the mark and queues nothing. Sending is at least once: a crash between a channel's answer and its
row's acknowledgement sends that message again once its lease has passed; every message carries its
reference (e-mail Message-ID) so a person can tell the resend.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Unpack

from sqlalchemy import Connection, Engine

from stockbridge.config import Config
from stockbridge.domain.alerting import Channel, Due, compose, due_alerts, trial_message
from stockbridge.domain.errors import ConnectorError
from stockbridge.engine.bounded import Slots
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.flows.edge_ports import AlertChannels
from stockbridge.flows.outbox_sender import OutboxSender, Sending
from stockbridge.logs import get_logger
from stockbridge.store import alerts_repo
from stockbridge.store.alerts_repo import AlertDelivery
from stockbridge.store.dead_letters import ALERT_FAILED, Outbox

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


class AlertSender(OutboxSender[AlertDelivery, None]):
    """Sends the queued alert rows that are due (`OutboxSender`), up to `limit` at once, each on its
    own: each call is bounded by its channel's timeout (shorter than the lease, config checks it), so
    no row is still being sent when its lease ends. A channel that fails retries alone; it holds back
    no other channel or alert."""

    outbox = Outbox.ALERTS

    def __init__(self, *, channels: AlertChannels, limit: int = 100, **sending: Unpack[Sending]) -> None:
        super().__init__(
            lanes=[(Slots(limit, "alert messages"), alerts_repo.claim)],
            finish=alerts_repo.done,
            record_failure=alerts_repo.failed,
            **sending,
        )
        self._channels = channels

    async def send_due(self) -> int:
        """Send every due row (up to `limit`) and wait for their answers; returns how many were tried.
        One that crashes (a bug, not the channel) keeps its lease and is tried again after it."""
        started = await self.run_cycle()
        await self.drain()
        return started

    async def send(self, command: AlertDelivery) -> None:
        await self._channels.deliver(command.channel, command.message, command.reference)

    def answered(self, connection: Connection, command: AlertDelivery, answer: None, now: datetime) -> None:
        """Nothing follows from a message delivered (a replayed dead letter's exception is resolved
        by the base: the channel works again)."""

    def exception_of(self, command: AlertDelivery) -> tuple[str, str]:
        return ALERT_FAILED, channel_entity(command)

    def work_of(self, command: AlertDelivery) -> tuple[str, str]:
        return "alert", f"{command.reference} to {command.channel.name}"

    def dead_letter_detail(
        self, command: AlertDelivery, attempts: int, since: datetime, failure: ConnectorError
    ) -> str:
        return (
            f"alert {command.reference} ({command.title}) dead-lettered after {attempts} "
            f"attempts since {since:%Y-%m-%d %H:%M:%S} UTC: {failure}"
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
