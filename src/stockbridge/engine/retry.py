"""Retry with the configured settings: when outboxed writes try again (or are dead-lettered), and a
wrapper that retries reads in place (`with_retries`, which lives with the connectors' REST base so
that clients and flows share one)."""

from __future__ import annotations

import random
from datetime import datetime

from stockbridge.config import EngineSettings
from stockbridge.connectors.rest.retry import with_retries
from stockbridge.domain.errors import ConnectorError, RetriableError
from stockbridge.domain.retry import RetryPolicy, next_retry_at

__all__ = ["next_attempt_at", "retry_policy", "with_retries"]


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


def retry_at_after(
    settings: EngineSettings,
    failure: ConnectorError,
    attempt: int,
    now: datetime,
    *,
    failing_since: datetime,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try outboxed work again after `failure` ended attempt number `attempt`: only a
    `RetriableError` is tried again (at the far end's `Retry-After` if it gave one); anything else,
    or the retry window spent, is None and the work is dead-lettered."""
    if not isinstance(failure, RetriableError):
        return None
    return next_attempt_at(
        settings, attempt, now, failing_since=failing_since, retry_after=failure.retry_after, rng=rng
    )
