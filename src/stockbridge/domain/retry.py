"""Retry timing as pure functions: exponential backoff with jitter, `Retry-After` honoured.

Two uses. Reads retry in place, briefly (`backoff_seconds`, full jitter). Outboxed writes retry for
hours (`next_retry_at`): the far ends we deal with are down for minutes at a time (a mail relay
restarting, an IMS maintenance window), and real senders keep trying for that long; Shopify retries
a webhook 8 times over 4 hours before it gives up (Shopify's webhook documentation, "retry
frequency").
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

# 2 ** 62 seconds outlasts any cap; a larger exponent would only overflow the float arithmetic.
_MAX_EXPONENT = 62


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


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How outboxed work is retried, and when it is given up (dead-lettered).

    Work is dead-lettered only when both budgets are spent: `retry_for_s` since its first failure
    AND `min_attempts` attempts. The time window is what matches an outage; the attempt floor keeps
    a few tries when the window is short or one `Retry-After` outlasts it (docs/decisions/0010).
    """

    base_s: float = 0.5
    cap_s: float = 300.0
    retry_for_s: float = 6 * 3600.0
    min_attempts: int = 8
    # Share of each delay that is random ("equal jitter" at 0.5): spreads the retries of many rows
    # that failed together, while every delay stays at least half its ceiling, so retries make
    # progress through the window instead of bunching near zero as full jitter may.
    jitter: float = 0.5


def retry_delay(policy: RetryPolicy, attempt: int, draw: float, retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based); `draw` in [0, 1) is the jitter.

    The ceiling doubles from `base_s` up to `cap_s`; a server's `Retry-After` is a floor that may
    exceed the cap (the server knows when it will be back).
    """
    exponent = min(max(0, attempt - 1), _MAX_EXPONENT)
    ceiling = min(policy.cap_s, policy.base_s * 2.0**exponent)
    delay = ceiling * (1.0 - policy.jitter * draw)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def next_retry_at(
    policy: RetryPolicy,
    attempt: int,
    failing_since: datetime,
    now: datetime,
    *,
    draw: float,
    retry_after: float | None = None,
) -> datetime | None:
    """When to try again after failed attempt number `attempt`, or None to dead-letter the work.

    `failing_since` is the time of the work's first failure (the window restarts on replay).
    """
    spent_attempts = attempt >= policy.min_attempts
    spent_window = (now - failing_since).total_seconds() >= policy.retry_for_s
    if spent_attempts and spent_window:
        return None
    return now + timedelta(seconds=retry_delay(policy, attempt, draw, retry_after))
