"""Clarus WMS REST client: warehouses, the paged stock snapshot and the events feed."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ValidationError

from stockbridge.connectors.clarus.wire import WireEvent, WireSnapshotPage
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
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout_s,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        response = await send(self._client, SYSTEM, self._client.build_request("GET", path, params=params))
        if response.status_code == 200:
            return response
        detail = _error_message(response)
        if response.status_code in (401, 403):
            raise AuthenticationError(SYSTEM, detail, status=response.status_code)
        if response.status_code == 429:
            raise RateLimitedError(
                SYSTEM, detail, status=429, retry_after=parse_retry_after(response.headers.get("retry-after"))
            )
        if response.status_code >= 500 or response.status_code == 408:
            raise RetriableError(SYSTEM, detail, status=response.status_code)
        raise RejectedError(SYSTEM, detail, status=response.status_code)

    async def warehouses(self) -> list[str]:
        body = (await self._get("/warehouses", {})).json()
        return [str(w["id"]) for w in body["data"]]

    async def snapshot_page(
        self, warehouse_id: str, cursor: str | None, page_size: int = 1000
    ) -> WireSnapshotPage:
        """One page of the full stock snapshot, each row with its own movement sequence."""
        params: dict[str, Any] = {"warehouse_id": warehouse_id, "limit": page_size}
        if cursor:
            params["cursor"] = cursor
        return _parse(WireSnapshotPage, (await self._get("/stock", params)).content)

    async def events_after(
        self, warehouse_id: str, after_sequence: int, limit: int = 1000
    ) -> tuple[list[WireEvent], int, bool]:
        """One page of the events feed: (events, next_after_sequence, has_more)."""
        params = {"warehouse_id": warehouse_id, "after_sequence": after_sequence, "limit": limit}
        body = (await self._get("/events", params)).json()
        try:
            events = [WireEvent.model_validate(e) for e in body["data"]]
        except (ValidationError, KeyError) as exc:
            raise RejectedError(SYSTEM, f"events feed answered an unexpected shape: {exc}") from None
        return events, int(body.get("next_after_sequence", after_sequence)), bool(body.get("has_more", False))


def _parse(model: type[WireSnapshotPage], raw: bytes) -> WireSnapshotPage:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RejectedError(SYSTEM, f"unexpected response shape: {exc.errors()[0]['msg']}") from None


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
        return f"{response.status_code} {error.get('code', '')}: {error.get('message', response.text[:200])}"
    except ValueError:
        return f"{response.status_code}: {response.text[:200]}"
