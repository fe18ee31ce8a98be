"""Retry with the configured settings: when outboxed writes try again (or are dead-lettered), and a
wrapper that retries reads in place."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from stockbridge.config import EngineSettings
from stockbridge.connectors.errors import RetriableError
from stockbridge.domain.retry import RetryPolicy, backoff_seconds, next_retry_at

T = TypeVar("T")


def retry_policy(settings: EngineSettings) -> RetryPolicy:
    return RetryPolicy(
        base_s=settings.backoff_base_s,
        cap_s=settings.backoff_cap_s,
        retry_for_s=settings.retry_for_s,
        min_attempts=settings.max_attempts,
    )


def next_attempt_at(
    settings: EngineSettings,
    attempt: int,
    now: datetime,
    *,
    failing_since: datetime,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try outboxed work again after failed attempt number `attempt` (1-based), or None
    once both `retry_for_s` since `failing_since` (its first failure) and `max_attempts` are spent
    and the work is dead-lettered."""
    draw = (rng or random).random()
    return next_retry_at(
        retry_policy(settings), attempt, failing_since, now, draw=draw, retry_after=retry_after
    )


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
