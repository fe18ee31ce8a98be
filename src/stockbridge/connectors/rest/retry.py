"""Retries as a wrapper around a whole call (its pacing included), in one place.

The flows wrap reads in `with_retries` (re-exported by `engine/retry.py`); a `RestClient` given a
`Retries` wraps every request it sends. Writes usually retry through an outbox instead (the call is
tried again on the next lease, `engine.retry` `next_attempt_at`), so clients have none by default.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from stockbridge.connectors.errors import RetriableError
from stockbridge.domain.retry import backoff_seconds

T = TypeVar("T")


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    attempts: int = 6,
    base: float = 0.2,
    cap: float = 10.0,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Call, and on a retriable error wait (honouring `Retry-After`) and call again, up to `attempts`."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except RetriableError as exc:
            if attempt == attempts:
                raise
            await sleep(backoff_seconds(attempt, base=base, cap=cap, retry_after=exc.retry_after, rng=rng))
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Retries:
    """`with_retries` with its settings, as a strategy a `RestClient` applies to each request."""

    attempts: int = 6
    base: float = 0.2
    cap: float = 10.0
    rng: random.Random | None = None
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)

    async def __call__(self, call: Callable[[], Awaitable[T]]) -> T:
        return await with_retries(
            call, attempts=self.attempts, base=self.base, cap=self.cap, rng=self.rng, sleep=self.sleep
        )
