"""Scheduled repairs from the warehouse: the full stock snapshot and the events feed.

Both go through the inbox like a webhook does, so they are folded by version with everything else:
a snapshot row older than what a webhook already told us changes nothing, and a feed event that a
webhook already delivered is recognised by its id and ignored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from sqlalchemy import Connection, Engine

from stockbridge.config import Config
from stockbridge.domain.inbound import STOCK_SNAPSHOT, FeedItem, SnapshotPage
from stockbridge.engine.bounded import read_ahead
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import with_retries
from stockbridge.flows.edge_ports import WarehouseStock
from stockbridge.flows.poison import BAD_FEED_EVENT, reject_unusable
from stockbridge.store import inbox_repo
from stockbridge.store.bookkeeping import bump, get_cursor, set_cursor
from stockbridge.store.inbox_repo import InboundEvent
from stockbridge.store.states import InboxState


def _feed_cursor(source: str, warehouse_id: str) -> str:
    return f"{source}.events.{warehouse_id}"  # stored: "clarus.events.WH1"


async def full_sync(
    engine: Engine, stock: WarehouseStock, warehouse_id: str, clock: Clock, page_size: int = 1000
) -> int:
    """Store every page of the warehouse's stock snapshot in the inbox; returns the rows stored.

    The next page is read while a page is stored (and the fold loop folds what is stored). A page
    is stored once read, whatever befalls the page after it: a read that fails (after its retries)
    ends the sync with every page before it stored; a store that fails cancels the read ahead."""
    rows = 0
    feed_cursor = _feed_cursor(stock.source, warehouse_id)
    run = clock.now().strftime("%Y%m%dT%H%M%S%f")

    async def pages() -> AsyncIterator[SnapshotPage]:
        cursor: str | None = None
        while True:
            page = await with_retries(lambda: stock.snapshot_page(warehouse_id, cursor, page_size))
            yield page
            cursor = page.next_cursor
            if not cursor:
                return

    page_no = 0
    async with aclosing(read_ahead(pages())) as snapshot:
        async for page in snapshot:
            event_id = f"snapshot:{warehouse_id}:{run}:{page_no}"
            event = InboundEvent(stock.source, event_id, STOCK_SNAPSHOT, page.payload)
            as_of = page.as_of_sequence

            def store(connection: Connection, event: InboundEvent = event, as_of: int | None = as_of) -> None:
                _store(connection, [event], clock)
                # A first snapshot is where the events feed starts: what came before is in it.
                if as_of is not None and get_cursor(connection, feed_cursor) is None:
                    set_cursor(connection, feed_cursor, str(as_of))

            await in_transaction(engine, store)
            rows += page.rows
            page_no += 1
    await in_transaction(engine, lambda c: bump(c, "sync.snapshot_rows", rows))
    return rows


async def poll_events(
    engine: Engine, stock: WarehouseStock, warehouse_id: str, config: Config, clock: Clock
) -> int:
    """Store events from the feed after our cursor (what webhooks missed while we or they were down).

    Each event is validated as a webhook is; one that is unusable is kept as rejected with an
    exception (`bad_feed_event`) and the cursor moves on."""
    cursor_name = _feed_cursor(stock.source, warehouse_id)
    stored = await in_transaction(engine, lambda c: get_cursor(c, cursor_name))
    after = int(stored) if stored is not None else 0
    recovered = 0
    while True:
        items, next_after, has_more = await with_retries(lambda: stock.events_after(warehouse_id, after))
        inbound, unusable = _sort(stock.source, items)

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
                    source=stock.source,
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


def _sort(source: str, items: list[FeedItem]) -> tuple[list[InboundEvent], list[tuple[FeedItem, str]]]:
    """Feed items as the connector checked them (as it checks a webhook): the usable ones to store,
    the unusable ones with the reason. Types the hub does not fold are skipped, as a webhook
    subscription would not deliver them."""
    usable: list[InboundEvent] = []
    unusable: list[tuple[FeedItem, str]] = []
    for item in items:
        if item.problem is not None:
            unusable.append((item, item.problem))
        elif item.kind is not None and item.event_id is not None:
            usable.append(InboundEvent(source, item.event_id, item.kind, item.raw.decode()))
    return usable, unusable


def _store(connection: Connection, events: list[InboundEvent], clock: Clock) -> int:
    return inbox_repo.insert_events(connection, events, clock.now(), InboxState.PENDING)
