"""Calls to one far system counted as they happen: totals since start and a sliding window, for the
connector's error rate and throttled share (monitor/connector_health.py, /metrics).

A `RestClient` given a `CallStats` counts every attempt it sends: answered (2xx, or a refusal of the
request's content: the far end works), *failed* (transport error, timeout, 5xx, credentials refused)
or *throttled* (429: refused for load). A 503 is a failure even with `Retry-After`: a system down
for maintenance says when to come back too, and an outage must not read as throttling. A system
that says "throttled" inside a 200 (Shopify's GraphQL `THROTTLED`) tells its stats itself.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from stockbridge.connectors.errors import (
    AuthenticationError,
    ConnectorError,
    RateLimitedError,
    RetriableError,
)


@dataclass(frozen=True, slots=True)
class Window:
    calls: int
    failures: int
    throttled: int

    @property
    def error_rate(self) -> float:
        return self.failures / self.calls if self.calls else 0.0

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.calls if self.calls else 0.0


class CallStats:
    def __init__(
        self, system: str, window_s: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.system = system
        self.window_s = window_s
        self._clock = clock
        self.calls = 0
        self.failures = 0
        self.throttled = 0
        # One [second, calls, failures, throttled] per second that had calls, oldest first.
        self._seconds: deque[list[int]] = deque()

    def answered(self) -> None:
        self._count(1, 0, 0)

    def failed(self) -> None:
        self._count(1, 1, 0)

    def throttled_call(self) -> None:
        self._count(1, 0, 1)

    def throttled_answer(self) -> None:
        """An answered call that said "throttled" in its body (counted as a call already)."""
        self._count(0, 0, 1)

    def error(self, error: ConnectorError) -> None:
        """Count an attempt that raised `error`."""
        if isinstance(error, RateLimitedError) or (isinstance(error, RetriableError) and error.status == 429):
            self.throttled_call()
        elif isinstance(error, RetriableError | AuthenticationError):
            self.failed()
        else:
            self.answered()  # the far end refused the request's content: it is up and working

    def window(self) -> Window:
        self._prune(math.floor(self._clock()))
        calls = failures = throttled = 0
        for _, c, f, t in self._seconds:
            calls, failures, throttled = calls + c, failures + f, throttled + t
        return Window(calls, failures, throttled)

    def _count(self, calls: int, failures: int, throttled: int) -> None:
        self.calls += calls
        self.failures += failures
        self.throttled += throttled
        second = math.floor(self._clock())
        if self._seconds and self._seconds[-1][0] == second:
            bucket = self._seconds[-1]
            bucket[1] += calls
            bucket[2] += failures
            bucket[3] += throttled
        else:
            self._seconds.append([second, calls, failures, throttled])
        self._prune(second)

    def _prune(self, now: int) -> None:
        while self._seconds and self._seconds[0][0] <= now - self.window_s:
            self._seconds.popleft()
