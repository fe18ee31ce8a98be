"""Clarus WMS REST client: warehouses, the paged stock snapshot and the events feed."""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import ValidationError

from stockbridge.connectors.clarus.wire import WireSnapshotPage
from stockbridge.connectors.errors import (
    AuthenticationError,
    RateLimitedError,
    RejectedError,
    RetriableError,
)
from stockbridge.connectors.http import parse_retry_after, send

SYSTEM = "clarus"


class ClarusClient:
    def __init__(self, base_url: str, api_key: str, *, timeout_s: float = 30.0) -> None:
        self._timeout_s = timeout_s
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout_s,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        request = self._client.build_request(method, path, **kwargs)
        response = await send(self._client, SYSTEM, request, deadline_s=self._timeout_s)
        if response.status_code < 300:
            return response
        raise translate_error(response)

    async def get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        return await self.request("GET", path, params=params)

    async def warehouses(self) -> list[str]:
        body = (await self.get("/warehouses", {})).json()
        return [str(w["id"]) for w in body["data"]]

    async def snapshot_page(
        self, warehouse_id: str, cursor: str | None, page_size: int = 1000
    ) -> WireSnapshotPage:
        """One page of the full stock snapshot, each row with its own movement sequence."""
        params: dict[str, Any] = {"warehouse_id": warehouse_id, "limit": page_size}
        if cursor:
            params["cursor"] = cursor
        return _parse(WireSnapshotPage, (await self.get("/stock", params)).content)

    async def events_after(
        self, warehouse_id: str, after_sequence: int, limit: int = 1000
    ) -> tuple[list[tuple[str, str, bytes]], int, bool]:
        """One page of the events feed: ((id, type, raw JSON) of each event, next_after_sequence, has_more).

        Events are handed on raw, like a webhook body, and validated where webhooks are.
        """
        params = {"warehouse_id": warehouse_id, "after_sequence": after_sequence, "limit": limit}
        body = (await self.get("/events", params)).json()
        try:
            events = [(str(e["id"]), str(e["type"]), json.dumps(e).encode()) for e in body["data"]]
        except (KeyError, TypeError) as exc:
            raise RejectedError(SYSTEM, f"events feed answered an unexpected shape: {exc}") from None
        return events, int(body.get("next_after_sequence", after_sequence)), bool(body.get("has_more", False))


def _parse(model: type[WireSnapshotPage], raw: bytes) -> WireSnapshotPage:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RejectedError(SYSTEM, f"unexpected response shape: {exc.errors()[0]['msg']}") from None


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
