"""Governance (concurrency and calls per second), fault injection and call statistics."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .auth import Authenticator, signed_url
from .errors import (
    ImsError,
    concurrency_exceeded,
    invalid_login,
    request_limit_exceeded,
    service_unavailable,
    unexpected_error,
)

Handler = Callable[[Request], Awaitable[Response]]
_log = logging.getLogger(__name__)


def format_retry_after(seconds: float) -> str:
    """Seconds as a short decimal string ("0.1", "0.25", "2"), rounded up to the millisecond, >= 0.001."""
    millis = max(1, math.ceil(seconds * 1000 - 1e-6))
    text = f"{millis / 1000:.3f}".rstrip("0").rstrip(".")
    return text


class TokenBucket:
    """`rate` tokens a second, holding at most `capacity`; starts full."""

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be > 0 and capacity >= 1")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._stamp = clock()

    def try_take(self) -> float:
        """Take one token: 0.0 on success, else the seconds until one will be available."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0 - 1e-9:  # tolerate float error in the refill
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate


class Limiter:
    """NetSuite-like account governance for the record and query APIs.

    * concurrency: at most `concurrency_limit` requests in flight; one more is refused at once.
    * frequency: when `calls_per_second` is set, a token bucket refilled at that rate whose
      capacity (the burst) is one second's worth of calls, at least 1.
    """

    def __init__(
        self,
        concurrency_limit: int,
        calls_per_second: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.in_flight = 0
        self.concurrency_limit = concurrency_limit
        self.calls_per_second: float | None = None
        self._bucket: TokenBucket | None = None
        self.configure(concurrency_limit, calls_per_second)

    def configure(self, concurrency_limit: int, calls_per_second: float | None) -> None:
        if concurrency_limit < 1:
            raise ValueError("concurrency_limit must be >= 1")
        if calls_per_second is not None and calls_per_second <= 0:
            raise ValueError("calls_per_second must be > 0 or null")
        self.concurrency_limit = concurrency_limit
        self.calls_per_second = calls_per_second  # a new, full bucket
        rate = calls_per_second
        self._bucket = TokenBucket(rate, max(1.0, rate), self._clock) if rate is not None else None

    def take_call(self) -> float:
        """0.0 when the call may proceed, else the seconds to wait (frequency limit)."""
        return self._bucket.try_take() if self._bucket is not None else 0.0

    def try_enter(self) -> bool:
        if self.in_flight >= self.concurrency_limit:
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight = max(0, self.in_flight - 1)


@dataclass
class Faults:
    """Injected faults; decisions come from one RNG seeded with `seed`, so a run is repeatable."""

    fail_rate: float = 0.0
    outage: bool = False
    latency_ms: float = 0.0
    fail_after_commit_rate: float = 0.0
    fail_after_commit_next: int = 0  # the next n successful writes are applied, then answered 500
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self.reseed(self.seed)

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(seed)

    def update(self, values: dict[str, Any]) -> None:
        for name in ("fail_rate", "fail_after_commit_rate"):
            if name in values:
                rate = float(values[name])
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"{name} must be between 0 and 1")
                setattr(self, name, rate)
        if "latency_ms" in values:
            latency = float(values["latency_ms"])
            if latency < 0:
                raise ValueError("latency_ms must be >= 0")
            self.latency_ms = latency
        if "fail_after_commit_next" in values:
            count = values["fail_after_commit_next"]
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError("fail_after_commit_next must be an integer >= 0")
            self.fail_after_commit_next = count
        if "outage" in values:
            self.outage = bool(values["outage"])
        if "seed" in values:
            self.reseed(int(values["seed"]))

    def fail_now(self) -> bool:
        return self.fail_rate > 0 and self._rng.random() < self.fail_rate

    def fail_after_commit_now(self, write: bool) -> bool:
        """Whether this successful call is answered 500: drawn from the RNG with the rate (any call),
        or forced by `fail_after_commit_next` (writes only; it never touches the RNG sequence)."""
        drawn = self.fail_after_commit_rate > 0 and self._rng.random() < self.fail_after_commit_rate
        forced = write and self.fail_after_commit_next > 0
        if forced:
            self.fail_after_commit_next -= 1
        return drawn or forced

    def error_id(self) -> str:
        return "".join(self._rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(20))

    def as_dict(self) -> dict[str, Any]:
        return {
            "fail_rate": self.fail_rate,
            "outage": self.outage,
            "latency_ms": self.latency_ms,
            "fail_after_commit_rate": self.fail_after_commit_rate,
            "fail_after_commit_next": self.fail_after_commit_next,
            "seed": self.seed,
        }


@dataclass
class Stats:
    calls: int = 0
    calls_by_route: Counter[str] = field(default_factory=Counter)
    throttled_429: int = 0
    errors_5xx: int = 0
    # Adjustments upserted under an external id the account already held: the same push sent again
    # (a retry after a lost answer, or two workers sending one batch). Benchmarks count doubles here.
    adjustments_replaced: int = 0

    def reset(self) -> None:
        self.calls, self.throttled_429, self.errors_5xx = 0, 0, 0
        self.adjustments_replaced = 0
        self.calls_by_route.clear()

    def record_call(self, route: str) -> None:
        self.calls += 1
        self.calls_by_route[route] += 1

    def record_status(self, status: int) -> None:
        if status == 429:
            self.throttled_429 += 1
        elif status >= 500:
            self.errors_5xx += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "calls_by_route": dict(sorted(self.calls_by_route.items())),
            "throttled_429": self.throttled_429,
            "errors_5xx": self.errors_5xx,
            "adjustments_replaced": self.adjustments_replaced,
        }


class Gate:
    """The pipeline of every real (non-control) call, in order: outage (503), authentication (401),
    calls per second (429 + Retry-After), concurrency (429), latency, fail_rate (500), the handler,
    fail_after_commit_rate / fail_after_commit_next (500 after the handler's work is applied)."""

    def __init__(self, auth: Authenticator, limiter: Limiter, faults: Faults, stats: Stats) -> None:
        self.auth, self.limiter, self.faults, self.stats = auth, limiter, faults, stats

    def wrap(self, label: str, handler: Handler, *, governed: bool = True) -> Handler:
        async def endpoint(request: Request) -> Response:
            key = request.path_params.get("key", "")
            route = label.replace("{key}", "eid:{externalId}" if key.startswith("eid:") else "{id}")
            self.stats.record_call(f"{request.method} {route}")
            try:
                response = await self._run(request, handler, governed, label != "suiteql")
            except ImsError as error:
                response = error.response()
            except Exception as exc:  # a simulator bug: still answer in NetSuite's shape
                _log.exception("IMS simulator: unhandled error on %s %s", request.method, request.url.path)
                response = unexpected_error(f"simulator-{type(exc).__name__}").response()
            self.stats.record_status(response.status_code)
            return response

        return endpoint

    async def _run(self, request: Request, handler: Handler, governed: bool, may_write: bool) -> Response:
        if self.faults.outage:
            raise service_unavailable()
        if not governed:
            return await handler(request)
        body = (await request.body()).decode("utf-8", "replace")
        if not self.auth.check(request.method, signed_url(request), request.headers, body):
            raise invalid_login()
        wait = self.limiter.take_call()
        if wait > 0:
            raise request_limit_exceeded(format_retry_after(wait))
        if not self.limiter.try_enter():
            raise concurrency_exceeded()
        try:
            if self.faults.latency_ms > 0:
                await asyncio.sleep(self.faults.latency_ms / 1000)
            if self.faults.fail_now():
                raise unexpected_error(self.faults.error_id())
            try:
                response = await handler(request)
            except ImsError as error:
                response = error.response()
            write = may_write and request.method != "GET"
            if 200 <= response.status_code < 300 and self.faults.fail_after_commit_now(write):
                raise unexpected_error(self.faults.error_id())  # applied, but the client hears 500
            return response
        finally:
            self.limiter.leave()
