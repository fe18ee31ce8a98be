"""A 429 storm from the IMS simulator over real HTTP: the adaptive limiter backs off, a fixed one does not.

Both limiters are driven side by side against their own simulator with the same account limit,
and judged by the simulator's own count of refused calls, so the comparison is a ratio that the
machine's speed does not decide.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from typing import Any, Protocol, TypeVar

import httpx
import pytest

from stockbridge.connectors.errors import RateLimitedError
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.netsuite.auth import BearerAuth
from stockbridge.connectors.netsuite.client import NetSuiteClient
from stockbridge.servers import serve_in_thread
from stockbridge.simulators.ims import ImsSettings, create_app

T = TypeVar("T")
CONFIGURED_RATE = 20.0  # what the hub is configured for
ACCOUNT_RATE = 4.0  # what the far account really allows now
CALLERS = 4
WANTED = 30  # answered calls each side must make


class Limiter(Protocol):
    async def run(self, call: Callable[[], Awaitable[T]]) -> T: ...


class FixedRateLimiter:
    """The limiter before decision 0011: a token bucket at the configured rate, deaf to refusals."""

    def __init__(self, calls_per_second: float, concurrency: int) -> None:
        self._rate = calls_per_second
        self._tokens = max(1.0, calls_per_second)
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(concurrency)

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        async with self._slots:
            async with self._lock:
                while True:
                    now = time.monotonic()
                    self._tokens = min(
                        max(1.0, self._rate), self._tokens + (now - self._updated) * self._rate
                    )
                    self._updated = now
                    if self._tokens >= 1:
                        self._tokens -= 1
                        break
                    await asyncio.sleep((1 - self._tokens) / self._rate)
            return await call()


@pytest.fixture
def two_accounts() -> Iterator[tuple[str, str]]:
    with ExitStack() as stack:
        urls = [stack.enter_context(serve_in_thread(create_app(ImsSettings()))) for _ in range(2)]
        for url in urls:
            httpx.post(f"{url}/_control/items", json={"items": [{"itemId": "A-1"}]}).raise_for_status()
            httpx.put(
                f"{url}/_control/limits", json={"calls_per_second": ACCOUNT_RATE, "concurrency_limit": 50}
            ).raise_for_status()
        yield urls[0], urls[1]


def _stats(url: str) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{url}/_control/stats").json()
    return stats


async def _drive(url: str, limiter: Limiter) -> None:
    """CALLERS loops with work always waiting (like a push loop with a backlog), until WANTED answers."""
    client = NetSuiteClient(url, BearerAuth(ImsSettings().bearer_tokens[0]))
    answered = 0

    async def caller() -> None:
        nonlocal answered
        while answered < WANTED:
            try:
                await limiter.run(lambda: client.inventory_items(["A-1"]))
                answered += 1
            except RateLimitedError:
                pass  # the work stays due; the next loop takes it again

    try:
        await asyncio.wait_for(asyncio.gather(*(caller() for _ in range(CALLERS))), 90)
    finally:
        await client.aclose()


def _refused_share(url: str) -> float:
    stats = _stats(url)
    return float(stats["throttled_429"]) / float(stats["calls"])


def test_adaptive_limiter_is_refused_far_less_than_a_fixed_one_in_a_429_storm(
    two_accounts: tuple[str, str],
) -> None:
    adaptive_url, fixed_url = two_accounts
    adaptive = RateLimiter(CONFIGURED_RATE, CALLERS)

    async def side_by_side() -> None:
        await asyncio.gather(
            _drive(adaptive_url, adaptive), _drive(fixed_url, FixedRateLimiter(CONFIGURED_RATE, CALLERS))
        )

    asyncio.run(side_by_side())
    adaptive_share, fixed_share = _refused_share(adaptive_url), _refused_share(fixed_url)
    summary = f"refused: adaptive {adaptive_share:.0%}, fixed {fixed_share:.0%}"
    assert fixed_share > 0.5, summary  # the storm is real: the fixed limiter is mostly refused
    assert adaptive_share * 3 < fixed_share, summary
    assert adaptive.refusals == _stats(adaptive_url)["throttled_429"], summary
    assert adaptive.rate < CONFIGURED_RATE, summary  # still below the configured rate: it learned
