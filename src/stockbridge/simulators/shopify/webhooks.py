"""Signed webhook deliveries: at least once, retried on non-2xx or a slow answer, with faults.

Each change is one *event* (X-Shopify-Event-Id) and, per subscription, one *webhook*
(X-Shopify-Webhook-Id); a retry or a duplicate resends the same webhook id, as Shopify does. Faults
come from one seeded RNG: duplicate (sent twice), re-order (held back until the next delivery
starts), delay, loss (never sent: only a catch-up query finds the change).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import random
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from .settings import ShopifySettings, WebhookFaults

DEFAULT_VERSION = "2026-04"


def sign(secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256: base64 of the HMAC-SHA256 of the raw body with the app's secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Subscription:
    id: int
    address: str
    topics: list[str]
    api_version: str = DEFAULT_VERSION


@dataclass
class Delivery:
    webhook_id: str
    event_id: str
    topic: str
    address: str
    triggered_at: str
    body: bytes
    api_version: str
    attempts: list[int | str] = field(default_factory=list)  # HTTP status or "timeout"/"error"
    delivered: bool = False
    lost: bool = False
    duplicated: bool = False
    reordered: bool = False

    def record(self) -> dict[str, Any]:
        data = asdict(self)
        data["body"] = json.loads(self.body)
        return data


class WebhookSender:
    def __init__(self, settings: ShopifySettings) -> None:
        self.settings = settings
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.reset()

    def reset(self) -> None:
        for task in list(self._tasks):  # deliveries of the old state must not reach a new test
            task.cancel()
        self.subscriptions: list[Subscription] = []
        self.deliveries: list[Delivery] = []
        self._held: list[Delivery] = []
        self.configure_faults(asdict(self.settings.faults))

    def configure_faults(self, values: dict[str, Any]) -> None:
        current = asdict(getattr(self, "faults", self.settings.faults))
        unknown = set(values) - set(current)
        if unknown:
            raise ValueError(f"unknown webhook faults: {sorted(unknown)}")
        self.faults = WebhookFaults(**{**current, **values})
        self.rng = random.Random(self.faults.seed)

    def subscribe(self, address: str, topics: list[str], api_version: str = DEFAULT_VERSION) -> Subscription:
        subscription = Subscription(len(self.subscriptions) + 1, address, list(topics), api_version)
        self.subscriptions.append(subscription)
        return subscription

    def send(self, topic: str, body: dict[str, Any]) -> None:
        """One event: a delivery per subscription to `topic`, started on the running event loop."""
        raw = json.dumps(body, separators=(",", ":")).encode()
        event_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        triggered = self.settings.clock().isoformat().replace("+00:00", "Z")
        for sub in self.subscriptions:
            if topic not in sub.topics:
                continue
            webhook_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            delivery = Delivery(webhook_id, event_id, topic, sub.address, triggered, raw, sub.api_version)
            self.deliveries.append(delivery)
            self._dispatch(delivery)

    def _dispatch(self, delivery: Delivery) -> None:
        f = self.faults
        if self.rng.random() < f.loss_rate:
            delivery.lost = True
            return
        delivery.duplicated = self.rng.random() < f.duplicate_rate
        if self.rng.random() < f.reorder_rate:
            delivery.reordered = True
            self._held.append(delivery)  # goes out after the next delivery's first attempt, or in 1 s
            asyncio.get_running_loop().call_later(1.0, self.flush_held)
            return
        held, self._held = self._held, []
        self._start(delivery, held)

    def _start(self, delivery: Delivery, then: list[Delivery] | None = None) -> None:
        for copy in range(2 if delivery.duplicated else 1):
            task = asyncio.get_running_loop().create_task(
                self._deliver(delivery, then if copy == 0 else None)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def headers(self, delivery: Delivery) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": delivery.topic,
            "X-Shopify-Hmac-Sha256": sign(self.settings.api_secret, delivery.body),
            "X-Shopify-Shop-Domain": self.settings.shop_domain,
            "X-Shopify-Webhook-Id": delivery.webhook_id,
            "X-Shopify-Event-Id": delivery.event_id,
            "X-Shopify-Triggered-At": delivery.triggered_at,
            "X-Shopify-API-Version": delivery.api_version,
        }

    async def _deliver(self, delivery: Delivery, then: list[Delivery] | None = None) -> None:
        """Attempts until a 2xx or the retries run out; `then` (held back) starts after the first."""
        if self.faults.delay_ms:
            await asyncio.sleep(self.faults.delay_ms / 1000)
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.settings.webhook_timeout_s)
        delays = (0.0, *self.settings.webhook_retry_delays_s)
        for delay in delays:
            if delay:
                await asyncio.sleep(delay)
            delivery.attempts.append(await self._attempt(delivery))
            for late in then or ():
                self._start(late)
            then = None
            if delivery.attempts[-1] in range(200, 300):
                delivery.delivered = True
                return

    async def _attempt(self, delivery: Delivery) -> int | str:
        """One POST: its status, or "timeout" (slower than webhook_timeout_s) or "error"."""
        assert self._client is not None
        try:
            response = await self._client.post(
                delivery.address, content=delivery.body, headers=self.headers(delivery)
            )
        except httpx.TimeoutException:
            return "timeout"
        except httpx.TransportError:
            return "error"
        return response.status_code

    def flush_held(self) -> None:
        """Send whatever re-ordering still holds back (nothing came after it)."""
        held, self._held = self._held, []
        for late in held:
            self._start(late)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
