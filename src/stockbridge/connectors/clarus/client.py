"""Clarus WMS REST client: warehouses, the paged stock snapshot and the events feed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from stockbridge.connectors.clarus.wire import WireSnapshotPage
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.rest import (
    BearerAuth,
    CallStats,
    CursorPaging,
    ErrorBody,
    Page,
    PageRequest,
    RestClient,
)
from stockbridge.connectors.shapes import expect_shape, json_object

SYSTEM = "clarus"
# Listings (items, webhooks) page by an opaque cursor; a page names the next one until the last.
CURSOR_PAGING = CursorPaging(records_key="data", cursor_param="cursor", next_key="next_cursor")


class ClarusClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 30.0,
        limiter: RateLimiter | None = None,
        stats: CallStats | None = None,
    ) -> None:
        self._rest = RestClient(
            SYSTEM,
            base_url.rstrip("/") + "/api/v1",
            auth=BearerAuth(api_key),
            headers={"Accept": "application/json"},
            timeout_s=timeout_s,
            pacer=limiter,
            read_error=read_error,
            stats=stats,
        )

    async def aclose(self) -> None:
        await self._rest.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request (through the limiter when there is one); a refusal raises."""
        return await self._rest.request(method, path, **kwargs)

    async def get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        return await self.request("GET", path, params=params)

    async def listing(self, what: str, path: str, params: dict[str, Any]) -> AsyncIterator[Page]:
        """Every page of a cursor-paged listing (`/items`, ...), first to last."""
        async for page in self._rest.pages(what, CURSOR_PAGING, PageRequest("GET", path, params)):
            yield page

    async def warehouses(self) -> list[str]:
        body = json_object(SYSTEM, "warehouses", await self.get("/warehouses", {}))
        with expect_shape(SYSTEM, "warehouses"):
            return [str(w["id"]) for w in body["data"]]

    async def snapshot_page(
        self, warehouse_id: str, cursor: str | None, page_size: int = 1000
    ) -> WireSnapshotPage:
        """One page of the full stock snapshot, each row with its own movement sequence."""
        params: dict[str, Any] = {"warehouse_id": warehouse_id, "limit": page_size}
        if cursor:
            params["cursor"] = cursor
        response = await self.get("/stock", params)
        with expect_shape(SYSTEM, "stock snapshot"):
            return WireSnapshotPage.model_validate_json(response.content)

    async def events_after(
        self, warehouse_id: str, after_sequence: int, limit: int = 1000
    ) -> tuple[list[FeedItem], int, bool]:
        """One page of the events feed: its items, next_after_sequence, has_more.

        Items are handed on raw, like a webhook body, and validated where webhooks are: one item that
        is not a usable event must not make the page (and every page after it) unreadable.
        """
        params = {"warehouse_id": warehouse_id, "after_sequence": after_sequence, "limit": limit}
        body = json_object(SYSTEM, "events feed", await self.get("/events", params))
        with expect_shape(SYSTEM, "events feed"):
            items = body["data"]
            if not isinstance(items, list):
                raise TypeError("data is not a list")
            next_after = int(body.get("next_after_sequence", after_sequence))
            has_more = bool(body.get("has_more", False))
        return [_feed_item(item) for item in items], next_after, has_more


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One item of the events feed as received: its id and type when it has them, and its raw JSON."""

    event_id: str | None
    type: str | None
    raw: bytes


def _feed_item(item: Any) -> FeedItem:
    event_id = item.get("id") if isinstance(item, dict) else None
    event_type = item.get("type") if isinstance(item, dict) else None
    return FeedItem(
        event_id if isinstance(event_id, str) else None,
        event_type if isinstance(event_type, str) else None,
        json.dumps(item, separators=(",", ":")).encode(),
    )


def read_error(response: httpx.Response) -> ErrorBody:
    """A Clarus error body: `{"error": {"code", "message", "field"}}`, and the order on a 409."""
    body = response.json()
    error = body.get("error") or {}
    existing = body.get("order")
    return ErrorBody(
        str(error.get("message") or response.text[:200]),
        code=error.get("code"),
        path=error.get("field"),
        existing=existing if isinstance(existing, dict) else None,
    )
