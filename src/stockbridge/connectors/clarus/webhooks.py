"""Clarus webhook subscriptions (docs/simulators/clarus.md "Webhook subscriptions"), as domain types."""

from __future__ import annotations

import contextlib
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

from stockbridge.connectors.clarus.client import SYSTEM, ClarusClient
from stockbridge.connectors.clarus.wire import FEED_EVENTS
from stockbridge.connectors.errors import NotFoundError
from stockbridge.connectors.shapes import expect_shape
from stockbridge.domain.subscriptions import Subscription


class _WireSubscription(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")  # the create answer also holds the secret

    id: str
    url: str
    events: list[str]

    def domain(self) -> Subscription:
        return Subscription(self.id, self.url, frozenset(self.events))


class _WireList(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    data: list[_WireSubscription]


class ClarusWebhooks:
    # The event types the hub needs delivered: every one it folds.
    events: frozenset[str] = FEED_EVENTS

    def __init__(self, client: ClarusClient) -> None:
        self._client = client

    async def subscriptions(self) -> list[Subscription]:
        raw = (await self._client.get("/webhooks", {})).content
        return [s.domain() for s in _parse(_WireList, raw).data]

    async def subscribe(self, url: str, secret: str, events: frozenset[str]) -> Subscription:
        body = {"url": url, "secret": secret, "events": sorted(events)}
        raw = (await self._client.request("POST", "/webhooks", json=body)).content
        return _parse(_WireSubscription, raw).domain()

    async def unsubscribe(self, subscription_id: str) -> None:
        """Delete a subscription; one already gone counts as deleted."""
        with contextlib.suppress(NotFoundError):
            await self._client.request("DELETE", f"/webhooks/{subscription_id}")


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], raw: bytes) -> M:
    with expect_shape(SYSTEM, "webhooks"):
        return model.model_validate_json(raw)
