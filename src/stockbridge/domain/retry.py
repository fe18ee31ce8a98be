"""Retry timing as pure functions: exponential backoff with full jitter, `Retry-After` honoured."""

from __future__ import annotations

import random


def backoff_seconds(
    attempt: int,
    *,
    base: float = 0.5,
    cap: float = 300.0,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Delay before retry number `attempt` (1-based).

    Full jitter (AWS architecture blog, "Exponential Backoff And Jitter") spreads retries of many
    workers; a server's `Retry-After` is a floor, never shortened by jitter.
    """
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    delay = (rng or random).uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
