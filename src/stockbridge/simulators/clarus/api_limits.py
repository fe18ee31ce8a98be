"""The real API's call rate limit and call counts (`/_control/limits`, `/_control/stats`).

Off by default. With `calls_per_second` set, a token bucket refilled at that rate and holding one
second's worth of calls (at least 1) admits calls; a call over the limit is answered
`429 rate_limited` with `Retry-After` (seconds until a token). Every real call is counted, and every
429, so a test can measure what a client did from the simulator's side.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from typing import Any


def format_retry_after(seconds: float) -> str:
    """Seconds rounded up to the millisecond, at least 0.001, as a short decimal ("0.25", "2")."""
    millis = max(1, math.ceil(seconds * 1000 - 1e-6))
    return f"{millis / 1000:.3f}".rstrip("0").rstrip(".")


class ApiLimits:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.calls_per_second: float | None = None
        self._tokens = 0.0
        self._at = clock()
        self.calls = 0
        self.throttled_429 = 0
        self.calls_by_route: Counter[str] = Counter()

    def configure(self, calls_per_second: float | None) -> None:
        if calls_per_second is not None and (
            isinstance(calls_per_second, bool)
            or not isinstance(calls_per_second, int | float)
            or not 0 < calls_per_second < math.inf
        ):
            raise ValueError("calls_per_second must be a number > 0, or null")
        self.calls_per_second = None if calls_per_second is None else float(calls_per_second)
        self._tokens, self._at = self._burst(), self._clock()  # a new, full bucket

    def _burst(self) -> float:
        return max(1.0, self.calls_per_second or 0.0)

    def admit(self, route: str) -> float:
        """Count a call; 0.0 when it may proceed, else the seconds until it could (it is refused)."""
        self.calls += 1
        self.calls_by_route[route] += 1
        rate = self.calls_per_second
        if rate is None:
            return 0.0
        now = self._clock()
        self._tokens = min(self._burst(), self._tokens + (now - self._at) * rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        self.throttled_429 += 1
        return (1.0 - self._tokens) / rate

    def reset_counts(self) -> None:
        self.calls = self.throttled_429 = 0
        self.calls_by_route.clear()

    def limits(self) -> dict[str, Any]:
        return {"calls_per_second": self.calls_per_second}

    def stats(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "throttled_429": self.throttled_429,
            "calls_by_route": dict(sorted(self.calls_by_route.items())),
        }
