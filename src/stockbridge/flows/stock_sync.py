"""Scheduled repairs from the warehouse: the full stock snapshot and the events feed.

Both go through the inbox like a webhook does, so they are folded by version with everything else:
a snapshot row older than what a webhook already told us changes nothing, and a feed event that a
webhook already delivered is recognised by its id and ignored.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection, Engine

from stockbridge.config import Config
from stockbridge.connectors.clarus.client import ClarusClient, FeedItem
from stockbridge.connectors.clarus.wire import FEED_EVENTS, SNAPSHOT_KIND, SOURCE, UnusableEvent, parse_event
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import with_retries
from stockbridge.flows.poison import BAD_FEED_EVENT, reject_unusable
from stockbridge.store import inbox_repo
from stockbridge.store.bookkeeping import bump, get_cursor, set_cursor
from stockbridge.store.inbox_repo import InboundEvent
from stockbridge.store.states import InboxState


def _feed_cursor(warehouse_id: str) -> str:
    return f"clarus.events.{warehouse_id}"


async def full_sync(
    engine: Engine, clarus: ClarusClient, warehouse_id: str, clock: Clock, page_size: int = 1000
) -> int:
    """Store every page of the warehouse's stock snapshot in the inbox; returns the rows stored."""
    rows = 0
    run = clock.now().strftime("%Y%m%dT%H%M%S%f")
    cursor: str | None = None
    page_no = 0
    while True:
        page = await with_retries(lambda: clarus.snapshot_page(warehouse_id, cursor, page_size))
        payload = json.dumps([r.model_dump() for r in page.data], separators=(",", ":"))
        event = InboundEvent(SOURCE, f"snapshot:{warehouse_id}:{run}:{page_no}", SNAPSHOT_KIND, payload)
        as_of = page.as_of_sequence

        def store(connection: Connection) -> None:
            _store(connection, [event], clock)
            # A first snapshot is where the events feed starts: what came before is in it.
            if as_of is not None and get_cursor(connection, _feed_cursor(warehouse_id)) is None:
                set_cursor(connection, _feed_cursor(warehouse_id), str(as_of))

        await in_transaction(engine, store)
        rows += len(page.data)
        page_no += 1
        cursor = page.next_cursor
        if not cursor:
            break
    await in_transaction(engine, lambda c: bump(c, "sync.snapshot_rows", rows))
    return rows


async def poll_events(
    engine: Engine, clarus: ClarusClient, warehouse_id: str, config: Config, clock: Clock
) -> int:
    """Store events from the feed after our cursor (what webhooks missed while we or they were down).

    Each event is validated as a webhook is; one that is unusable is kept as rejected with an
    exception (`bad_feed_event`) and the cursor moves on."""
    cursor_name = _feed_cursor(warehouse_id)
    stored = await in_transaction(engine, lambda c: get_cursor(c, cursor_name))
    after = int(stored) if stored is not None else 0
    recovered = 0
    while True:
        items, next_after, has_more = await with_retries(lambda: clarus.events_after(warehouse_id, after))
        inbound, unusable = _validate(items)

        def store(
            connection: Connection,
            batch: list[InboundEvent] = inbound,
            refused: list[tuple[FeedItem, str]] = unusable,
            position: int = next_after,
        ) -> int:
            inserted = _store(connection, batch, clock)
            bump(connection, "sync.feed_recovered", inserted)
            for item, reason in refused:
                reject_unusable(
                    connection,
                    config,
                    clock.now(),
                    source=SOURCE,
                    claimed_id=item.event_id,
                    body=item.raw,
                    reason=reason,
                    exception_type=BAD_FEED_EVENT,
                )
            # The cursor moves past refused events too: they are kept (rejected) and owned, and
            # reading them again would only refuse them again while everything behind them waits.
            set_cursor(connection, cursor_name, str(position))
            return inserted

        recovered += await in_transaction(engine, store)
        after = next_after
        if not has_more or not items:
            return recovered


def _validate(items: list[FeedItem]) -> tuple[list[InboundEvent], list[tuple[FeedItem, str]]]:
    """Feed events through the webhook's parse: the usable ones to store, the others with the reason.
    Types the hub does not fold are skipped, as a webhook subscription would not deliver them."""
    usable: list[InboundEvent] = []
    unusable: list[tuple[FeedItem, str]] = []
    for item in items:
        if item.type is not None and item.type not in FEED_EVENTS:
            continue
        try:
            event = parse_event(item.raw)
        except UnusableEvent as exc:
            unusable.append((item, str(exc)))
            continue
        usable.append(InboundEvent(SOURCE, event.id, event.type, item.raw.decode()))
    return usable, unusable


def _store(connection: Connection, events: list[InboundEvent], clock: Clock) -> int:
    return inbox_repo.insert_events(connection, events, clock.now(), InboxState.PENDING)
