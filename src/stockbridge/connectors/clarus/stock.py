"""Clarus as the hub's source of stock: the paged full snapshot and the events feed, in domain types.

Implements `flows.edge_ports.WarehouseStock`. A snapshot page is handed on as the payload the inbox
stores (parsed again by `ClarusInbound.snapshot` when folded); each feed item is checked the way a
webhook body is (`wire.parse_event`), so one unusable item never makes a page unreadable.
"""

from __future__ import annotations

import json

from stockbridge.connectors.clarus.client import ClarusClient
from stockbridge.connectors.clarus.client import FeedItem as RawFeedItem
from stockbridge.connectors.clarus.wire import FEED_EVENTS, INBOX_KIND, SOURCE, parse_event
from stockbridge.domain.inbound import FeedItem, SnapshotPage, UnusableEvent


class ClarusStock:
    source = SOURCE

    def __init__(self, client: ClarusClient) -> None:
        self._client = client

    async def snapshot_page(
        self, warehouse_id: str, cursor: str | None, page_size: int = 1000
    ) -> SnapshotPage:
        page = await self._client.snapshot_page(warehouse_id, cursor, page_size)
        payload = json.dumps([row.model_dump() for row in page.data], separators=(",", ":"))
        return SnapshotPage(payload, len(page.data), page.next_cursor, page.as_of_sequence)

    async def events_after(
        self, warehouse_id: str, after_sequence: int, limit: int = 1000
    ) -> tuple[list[FeedItem], int, bool]:
        """One page of the events feed: its items (checked), next_after_sequence, has_more."""
        items, next_after, has_more = await self._client.events_after(warehouse_id, after_sequence, limit)
        return [checked(item) for item in items], next_after, has_more


def checked(item: RawFeedItem) -> FeedItem:
    """A feed item as the hub would have taken it by webhook: usable, unusable, or not folded."""
    if item.type is not None and item.type not in FEED_EVENTS:
        return FeedItem(item.event_id, None, item.raw)
    try:
        event = parse_event(item.raw)
    except UnusableEvent as exc:
        return FeedItem(item.event_id, None, item.raw, str(exc))
    return FeedItem(event.id, INBOX_KIND[event.type], item.raw)
