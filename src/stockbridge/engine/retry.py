"""Retry as a wrapper around a connector call, for reads (writes retry through the outbox)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
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
