"""Retry as a wrapper around a connector call, for reads (writes retry through the outbox)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from stockbridge.config import EngineSettings
from stockbridge.connectors.errors import RetriableError
from stockbridge.domain.retry import backoff_seconds

T = TypeVar("T")


def next_attempt_at(
    settings: EngineSettings,
    attempt: int,
    now: datetime,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try outboxed work again after failed attempt number `attempt` (1-based), or None
    once `max_attempts` is spent and the work is dead-lettered."""
    if attempt >= settings.max_attempts:
        return None
    delay = backoff_seconds(
        attempt, base=settings.backoff_base_s, cap=settings.backoff_cap_s, retry_after=retry_after, rng=rng
    )
    return now + timedelta(seconds=delay)


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
