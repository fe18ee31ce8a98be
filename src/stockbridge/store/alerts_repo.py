"""Alerts: the exceptions as the alert rules see them, the marks that make each alert happen once,
and the outbox of alert messages (one row per channel), worked through by leases (`leased.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from stockbridge.domain.alerting import AlertKind, AlertMessage, Channel, OpenException, Severity
from stockbridge.store import leased
from stockbridge.store.schema import alert_marks, alerts, exceptions
from stockbridge.store.sql import as_utc, chunks, insert_for, utc
from stockbridge.store.states import BatchState, ExceptionState


def open_exceptions(connection: Connection) -> list[OpenException]:
    """Every exception not resolved, with what its current episode has been alerted so far."""
    rows = list(
        connection.execute(
            select(exceptions)
            .where(exceptions.c.state != ExceptionState.RESOLVED.value)
            .order_by(exceptions.c.id)
        )
    )
    marks: dict[tuple[int, int], tuple[int, datetime | None]] = {}
    for chunk in chunks([int(r.id) for r in rows]):
        query = select(alert_marks).where(alert_marks.c.exception_id.in_(chunk))
        for m in connection.execute(query):
            key = (int(m.exception_id), int(m.episode))
            level, first_at = marks.get(key, (-1, None))
            marks[key] = (max(level, int(m.level)), utc(m.alerted_at) if m.level == 0 else first_at)
    found: list[OpenException] = []
    for r in rows:
        alerted = marks.get((int(r.id), int(r.episode)))
        found.append(
            OpenException(
                id=int(r.id),
                type=r.type,
                entity=r.entity,
                owner=r.owner,
                acknowledged=r.state == ExceptionState.ACKNOWLEDGED.value,
                episode=int(r.episode),
                opened_at=utc(r.opened_at),
                seen=int(r.episode_count),
                detail=r.detail,
                alerted_level=None if alerted is None else alerted[0],
                alerted_at=None if alerted is None else alerted[1],
            )
        )
    return found


def mark(connection: Connection, exception: OpenException, level: int, run: str, now: datetime) -> bool:
    """Record that evaluation `run` alerts this level of the exception's episode; False when another
    run already did (the caller must then not alert it)."""
    stmt = (
        insert_for(connection, alert_marks)
        .values(
            exception_id=exception.id,
            episode=exception.episode,
            level=level,
            run=run,
            alerted_at=now,
        )
        .on_conflict_do_nothing()
        .returning(alert_marks.c.level)
    )
    return connection.execute(stmt).first() is not None


def channel_json(channel: Channel) -> dict[str, Any]:
    return {"kind": channel.kind, "url_env": channel.url_env, "to": list(channel.to)}


def channel_from_json(data: dict[str, Any]) -> Channel:
    return Channel(str(data["kind"]), data.get("url_env"), tuple(data.get("to") or ()))


def enqueue(
    connection: Connection, alert: str, message: AlertMessage, channels: Sequence[Channel], now: datetime
) -> int:
    """Queue `message` once per channel; returns how many rows."""
    rows = [
        {
            "alert": alert,
            "kind": message.kind.value,
            "owner": message.owner,
            "level": message.level,
            "severity": message.severity.value,
            "exception_type": message.exception_type,
            "title": message.title,
            "body": "\n".join(message.lines),
            "exception_ids": list(message.exception_ids),
            "channel": channel_json(channel),
            "state": BatchState.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for channel in channels
    ]
    if rows:
        connection.execute(alerts.insert(), rows)
    return len(rows)


@dataclass(frozen=True, slots=True)
class AlertDelivery:
    """One alert message for one channel, as queued."""

    id: int
    alert: str
    kind: AlertKind
    owner: str
    level: int
    severity: Severity
    exception_type: str | None
    title: str
    lines: tuple[str, ...]
    exception_ids: tuple[int, ...]
    channel: Channel
    state: BatchState
    attempts: int
    created_at: datetime
    failing_since: datetime | None = None
    last_error: str | None = None
    done_at: datetime | None = None

    @property
    def message(self) -> AlertMessage:
        return AlertMessage(
            self.kind,
            self.owner,
            self.level,
            self.severity,
            self.title,
            self.lines,
            self.exception_ids,
            self.exception_type,
        )

    @property
    def reference(self) -> str:
        """This message on this channel: the e-mail's Message-ID, shown in every text."""
        return f"alert-{self.alert}-{self.id}"


def _delivery(r: Any) -> AlertDelivery:
    return AlertDelivery(
        id=int(r.id),
        alert=r.alert,
        kind=AlertKind(r.kind),
        owner=r.owner,
        level=int(r.level),
        severity=Severity(r.severity),
        exception_type=r.exception_type,
        title=r.title,
        lines=tuple(r.body.split("\n")) if r.body else (),
        exception_ids=tuple(int(i) for i in r.exception_ids),
        channel=channel_from_json(r.channel),
        state=BatchState(r.state),
        attempts=int(r.attempts),
        created_at=utc(r.created_at),
        failing_since=as_utc(r.failing_since),
        last_error=r.last_error,
        done_at=as_utc(r.done_at),
    )


def claim(
    connection: Connection, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[AlertDelivery]:
    return [_delivery(r) for r in leased.claim_due(connection, alerts, owner, now, lease_until, limit)]


def done(connection: Connection, delivery: AlertDelivery, owner: str, now: datetime) -> bool:
    return leased.finish(connection, alerts, delivery.id, owner, now)


def failed(
    connection: Connection,
    delivery: AlertDelivery,
    owner: str,
    error: str,
    retry_at: datetime | None,
    failing_since: datetime,
) -> None:
    leased.fail(connection, alerts, delivery.id, owner, error, retry_at, failing_since)


def replay_dead(connection: Connection, now: datetime, ids: Sequence[int] | None = None) -> int:
    return leased.replay_dead(connection, alerts, now, ids)


def replay_dead_to(connection: Connection, now: datetime, channel_name: str) -> int:
    """Queue again the dead-lettered rows for one channel (by `Channel.name`)."""
    query = select(alerts.c.id, alerts.c.channel).where(alerts.c.state == BatchState.DEAD.value)
    ids = [int(r.id) for r in connection.execute(query) if channel_from_json(r.channel).name == channel_name]
    return leased.replay_dead(connection, alerts, now, ids) if ids else 0


def list_alerts(
    connection: Connection, *, state: BatchState | None = None, limit: int = 100
) -> list[AlertDelivery]:
    """The newest alert rows first."""
    query = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
    if state is not None:
        query = query.where(alerts.c.state == state.value)
    return [_delivery(r) for r in connection.execute(query)]


def count_by_state(connection: Connection) -> dict[str, int]:
    return leased.count_by_state(connection, alerts)
