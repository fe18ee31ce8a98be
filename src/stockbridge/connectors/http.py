"""What every connector shares: a rate limiter and the translation of transport errors."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

from stockbridge.connectors.errors import RetriableError

T = TypeVar("T")


class RateLimiter:
    """Calls per second (a token bucket with a burst of one second's worth) and concurrent calls.

    One instance per connector per process; the far API's limits are for the whole account, so with
    several worker processes each is configured with its share.
    """

    def __init__(
        self, calls_per_second: float, concurrency: int, clock: Callable[[], float] = time.monotonic
    ):
        self._rate = calls_per_second
        self._capacity = max(1.0, calls_per_second)
        self._tokens = self._capacity
        self._clock = clock
        self._updated = clock()
        self._lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(concurrency)
        self.calls = 0

    async def _take_token(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    self.calls += 1
                    return
                await asyncio.sleep((1 - self._tokens) / self._rate)

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        async with self._slots:
            await self._take_token()
            return await call()


# A far end's `Retry-After` is obeyed up to this: `inf` or `1e308` must not park work for ever (or
# overflow a datetime); an hour is past any limit window NetSuite or a WMS documents.
MAX_RETRY_AFTER_S = 3600.0


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds form; HTTP dates are rare in APIs)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    if math.isnan(seconds):
        return None
    return min(MAX_RETRY_AFTER_S, max(0.0, seconds))


async def send(client: httpx.AsyncClient, system: str, request: httpx.Request) -> httpx.Response:
    """Send a request, turning transport failures into `RetriableError`."""
    try:
        return await client.send(request)
    except httpx.TimeoutException as exc:
        raise RetriableError(system, f"timeout on {request.method} {request.url.path}") from exc
    except httpx.TransportError as exc:
        raise RetriableError(
            system, f"{type(exc).__name__} on {request.method} {request.url.path}: {exc}"
        ) from exc
