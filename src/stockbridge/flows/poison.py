"""Inbound events the hub cannot use, kept and owned instead of lost or blocking.

Two places turn one away, and both keep its body and raise an exception with an owner:

- at the door (a webhook, or an event read from the events feed) when it does not parse: the row is
  stored `rejected` and the sender is told (422 for a webhook); it is never folded;
- in the fold, when an accepted row turns out not to be foldable (it no longer parses, the database
  refuses its values, no flow folds its kind): the row is set aside as `failed` so the rows behind
  it fold and commit, and `requeue` puts it back to pending once the cause is fixed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from stockbridge.config import Config
from stockbridge.logs import get_logger
from stockbridge.store import inbox_repo
from stockbridge.store.bookkeeping import bump, raise_exception, resolve_exceptions
from stockbridge.store.inbox_repo import InboundEvent, InboxEntry
from stockbridge.store.states import InboxState

log = get_logger("stockbridge.inbox")

BAD_WEBHOOK = "bad_webhook"  # a signed webhook refused at the door
BAD_FEED_EVENT = "bad_feed_event"  # an events-feed event refused at the door
POISON_EVENT = "poison_event"  # an accepted inbox row the fold could not use, set aside

UNUSABLE_KIND = "unusable"
REJECTED_COUNTER = "inbox.rejected"
SET_ASIDE_COUNTER = "inbox.set_aside"
REQUEUED_COUNTER = "inbox.requeued"

_ENTITY_WIDTH = 200  # exceptions.entity and inbox.event_id are String(200)
_ERROR_WIDTH = 1000


def entity(source: str, event_id: str) -> str:
    # Cut to the column so that raising the exception can never be what fails; ids are far shorter
    # (the wire allows 160 characters), a longer one only costs its retry by name.
    return f"{source}:{event_id}"[:_ENTITY_WIDTH]


def parse_entity(value: str) -> tuple[str, str]:
    """(source, event id) of an inbox row's exception entity; event ids may contain ':', sources do not."""
    source, _, event_id = value.partition(":")
    return source, event_id


def reject_unusable(
    connection: Connection,
    config: Config,
    now: datetime,
    *,
    source: str,
    claimed_id: str | None,
    body: bytes,
    reason: str,
    exception_type: str,
) -> str:
    """Keep an event refused at the door (state `rejected`) and raise its exception; returns the id it
    was kept under. An event already kept under that id raises nothing again, so the same unusable
    event seen by webhook and again in the feed is one exception."""
    event_id = _usable_id(source, claimed_id, body)
    stored = inbox_repo.insert_events(
        connection,
        [InboundEvent(source, event_id, UNUSABLE_KIND, _storable(body.decode(errors="replace")))],
        now,
        InboxState.REJECTED,
        error=_storable(reason)[:_ERROR_WIDTH],
    )
    if stored:
        bump(connection, REJECTED_COUNTER)
        raise_exception(
            connection,
            type=exception_type,
            entity=entity(source, event_id),
            owner=config.owners.owner_of(exception_type),
            detail=_storable(reason),
            now=now,
            retry_action="inspect the stored body in the inbox (state rejected); the sender must fix it",
        )
    log.warning("event refused", source=source, event_id=event_id, reason=reason)
    return event_id


def _storable(text: str) -> str:
    """Whatever arrived, in a form both backends keep: PostgreSQL's text cannot hold NUL."""
    return text.replace("\x00", "\ufffd")


def _usable_id(source: str, claimed: str | None, body: bytes) -> str:
    # The id the sender claims, if it fits the columns (with its source, in the exception's entity);
    # else one derived from the body, the same for the same body, so a re-sent copy is recognised.
    if claimed and len(source) + 1 + len(claimed) <= _ENTITY_WIDTH and "\x00" not in claimed:
        return claimed
    return f"{UNUSABLE_KIND}:{hashlib.sha256(body).hexdigest()[:40]}"


def set_aside(
    connection: Connection, config: Config, now: datetime, failures: Sequence[tuple[InboxEntry, str]]
) -> None:
    """Set claimed rows aside as `failed` with their reason, one `poison_event` exception each."""
    if not failures:
        return
    inbox_repo.set_aside(connection, [(entry.id, reason[:_ERROR_WIDTH]) for entry, reason in failures], now)
    bump(connection, SET_ASIDE_COUNTER, len(failures))
    owner = config.owners.owner_of(POISON_EVENT)
    for entry, reason in failures:
        log.warning(
            "inbox entry set aside", id=entry.id, kind=entry.kind, event_id=entry.event_id, reason=reason
        )
        raise_exception(
            connection,
            type=POISON_EVENT,
            entity=entity(entry.source, entry.event_id),
            owner=owner,
            detail=f"{entry.kind} could not be folded: {reason}",
            now=now,
            retry_action="fix the cause, then `stockbridge exceptions retry <id>` (body kept, state failed)",
        )


def requeue(connection: Connection, source: str | None = None, event_id: str | None = None) -> int:
    """Put set-aside rows (all, or the one named) back to pending and resolve their exceptions; a row
    that fails again is set aside again and its exception re-opens, counted once more."""
    requeued = inbox_repo.requeue_failed(connection, source, event_id)
    if requeued:
        resolve_exceptions(connection, POISON_EVENT, [entity(s, e) for s, e in requeued])
        bump(connection, REQUEUED_COUNTER, len(requeued))
    return len(requeued)
