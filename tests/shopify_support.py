"""A scripted Shopify GraphQL endpoint (httpx.MockTransport) and a clock that sleeps by moving on."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from stockbridge.connectors.shopify.client import ShopifyClient

BASE = "https://example.myshopify.com"
VERSION = "2026-04"
TOKEN = "shpat_test"


@dataclass
class FakeClock:
    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def cost(
    requested: float = 10, available: float = 990, maximum: float = 1000, rate: float = 100
) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested,
            "throttleStatus": {
                "maximumAvailable": maximum,
                "currentlyAvailable": available,
                "restoreRate": rate,
            },
        }
    }


def ok(data: dict[str, Any], **kw: float) -> httpx.Response:
    return httpx.Response(200, json={"data": data, "extensions": cost(**kw)})


def throttled(requested: float = 10, available: float = 0, rate: float = 100) -> httpx.Response:
    body = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": cost(requested=requested, available=available, rate=rate),
    }
    return httpx.Response(200, json=body)


@dataclass
class Endpoint:
    """Answers each POST with `answer(operation name, variables)`; keeps what was asked."""

    answer: Callable[[str, dict[str, Any]], httpx.Response]
    requests: list[httpx.Request] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content)
        self.bodies.append(body)
        query: str = body["query"]
        words = query.replace("(", " ").replace("{", " ").split()
        operation = words[1] if words and words[0] in ("query", "mutation") else "?"
        return self.answer(operation, body.get("variables") or {})

    def client(self, clock: FakeClock | None = None) -> ShopifyClient:
        clock = clock or FakeClock()
        return ShopifyClient(
            BASE, VERSION, TOKEN, clock=clock, sleep=clock.sleep, transport=httpx.MockTransport(self.handle)
        )
