"""Clarus WMS REST client: warehouses, the paged stock snapshot and the events feed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from stockbridge.connectors.clarus.wire import WireSnapshotPage
from stockbridge.connectors.errors import (
    AuthenticationError,
    RateLimitedError,
    RejectedError,
    RetriableError,
)
from stockbridge.connectors.http import RateLimiter, parse_retry_after, send
from stockbridge.connectors.shapes import expect_shape, json_object

SYSTEM = "clarus"


class ClarusClient:
    def __init__(
        self, base_url: str, api_key: str, *, timeout_s: float = 30.0, limiter: RateLimiter | None = None
    ) -> None:
        self._timeout_s = timeout_s
        self._limiter = limiter
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout_s,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request (through the limiter when there is one); a refusal raises."""
        if self._limiter is None:
            return await self._request(method, path, **kwargs)
        return await self._limiter.run(lambda: self._request(method, path, **kwargs))

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        request = self._client.build_request(method, path, **kwargs)
        response = await send(self._client, SYSTEM, request, deadline_s=self._timeout_s)
        if response.status_code < 300:
            return response
        raise translate_error(response)

    async def get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        return await self.request("GET", path, params=params)

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


def translate_error(response: httpx.Response) -> Exception:
    """A Clarus error body (`{"error": {"code", "message", "field"}}`) as one of our connector errors."""
    code: str | None = None
    field: str | None = None
    message = response.text[:200]
    existing: dict[str, Any] | None = None
    try:
        body = response.json()
        error = body.get("error", {})
        code, field, message = error.get("code"), error.get("field"), error.get("message", message)
        existing = body.get("order")
    except (ValueError, AttributeError):
        pass
    status = response.status_code
    detail = f"{status} {code or ''}: {message}"
    if status in (401, 403):
        return AuthenticationError(SYSTEM, detail, status=status)
    if status == 429:
        return RateLimitedError(
            SYSTEM, detail, status=429, retry_after=parse_retry_after(response.headers.get("retry-after"))
        )
    if status >= 500 or status == 408:
        return RetriableError(SYSTEM, detail, status=status)
    error_out = RejectedError(SYSTEM, detail, status=status, code=code, path=field)
    error_out.existing = existing
    return error_out
