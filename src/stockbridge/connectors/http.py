"""What every connector shares: a rate limiter and the translation of transport errors."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

import httpx

from stockbridge.connectors.errors import RateLimitedError, RetriableError
from stockbridge.domain import pacing
from stockbridge.logs import get_logger

T = TypeVar("T")

log = get_logger(__name__)


class RateLimiter:
    """Calls per second (a token bucket with a burst of one second's worth) and concurrent calls,
    slowing down while the far end refuses for load and speeding up again as it answers.

    `calls_per_second` is the ceiling; a 429 (or any retriable error carrying `Retry-After`) pauses
    every call through this limiter until then and cuts the rate, down to `min_calls_per_second`;
    answered calls win it back at about `recovery_step` calls per second each second (the
    arithmetic is `stockbridge.domain.pacing`). Callers only wrap their calls in `run`.

    One instance per connector per process; the far API's limits are for the whole account, so with
    several worker processes each is configured with its share.

    Runs nest: a call made inside `run` (by the same task, or a task it starts) through the same
    limiter uses the outer run's slot instead of waiting for a second one (which with concurrency 1
    would never come), spends the outer run's token on its first call, and takes a token of its own
    for each call after that; the calls inside are counted and paced, and the outer run leaves the
    pace to them. So a client that limits its own requests can still be wrapped by a caller that
    limits a whole operation.
    """

    def __init__(
        self,
        calls_per_second: float,
        concurrency: int,
        clock: Callable[[], float] = time.monotonic,
        *,
        min_calls_per_second: float = 0.5,
        recovery_step: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        system: str = "far API",
    ):
        floor = min(min_calls_per_second, calls_per_second)
        self._limits = pacing.PaceLimits(calls_per_second, floor, recovery_step)
        self._clock = clock
        self._sleep = sleep
        self._system = system
        self._pace = pacing.start(self._limits, clock())
        self._lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(concurrency)
        self._held: ContextVar[_Held | None] = ContextVar(f"limiter-{id(self)}", default=None)
        self.calls = 0

    @property
    def rate(self) -> float:
        """Calls per second allowed now."""
        return self._pace.rate

    def wait_s(self, calls: int = 1) -> float:
        """Seconds until `calls` calls could start back to back (0.0: now); takes nothing, waits for
        nothing."""
        return max(0.0, pacing.wait_for(self._pace, self._clock(), calls))

    @property
    def refusals(self) -> int:
        """Calls the far end refused for load since this limiter was made."""
        return self._pace.refusals

    async def _take_token(self) -> float:
        """Wait for a token; returns when the call starts (on the limiter's clock)."""
        async with self._lock:
            while True:
                now = self._clock()
                self._pace, wait = pacing.take(self._pace, now)
                if wait <= 0:
                    self.calls += 1
                    return now
                await self._sleep(wait)

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        held = self._held.get()
        if held is not None and held.open:
            return await self._run_inside(held, call)
        async with self._slots:
            started = await self._take_token()
            held = _Held()
            context = self._held.set(held)
            try:
                result = await call()
            except RetriableError as exc:
                if not held.paced_inside:
                    self._failed(started, exc)
                raise
            finally:
                held.open = False  # a task started inside, still running, is on its own from now
                self._held.reset(context)
            if not held.paced_inside:
                self._succeeded()
            return result

    async def _run_inside(self, held: _Held, call: Callable[[], Awaitable[T]]) -> T:
        """A call inside a run of this limiter: the outer slot, the outer token first."""
        held.paced_inside = True
        if held.token_unspent:
            held.token_unspent = False
            started = self._clock()
        else:
            started = await self._take_token()
        try:
            result = await call()
        except RetriableError as exc:
            self._failed(started, exc)
            raise
        self._succeeded()
        return result

    def _failed(self, started: float, exc: RetriableError) -> None:
        if isinstance(exc, RateLimitedError) or exc.retry_after is not None:
            self._refused(started, exc)

    def _succeeded(self) -> None:
        before = self._pace.rate
        self._pace = pacing.succeeded(self._limits, self._pace)
        if before < self._limits.ceiling <= self._pace.rate:
            log.info("call rate recovered", system=self._system, calls_per_second=self._pace.rate)

    def _refused(self, started: float, error: RetriableError) -> None:
        before, now = self._pace.rate, self._clock()
        self._pace = pacing.refused(
            self._limits, self._pace, now, started=started, retry_after=error.retry_after
        )
        if self._pace.rate < before:  # one line per cut, not per refused call
            log.info(
                "call rate cut",
                system=self._system,
                calls_per_second=round(self._pace.rate, 3),
                was=round(before, 3),
                paused_s=round(max(0.0, self._pace.paused_until - now), 3),
                error=error.message,
            )


@dataclass(slots=True)
class _Held:
    """One run of a limiter, seen by the calls made inside it."""

    open: bool = True  # the run has not ended
    token_unspent: bool = True  # the run's token, not yet used by a call inside it
    paced_inside: bool = False  # calls inside paced themselves: the run leaves the pace alone


# A far end's `Retry-After` is obeyed up to this: `inf` or `1e308` must not park work for ever (or
# overflow a datetime); an hour is past any limit window NetSuite or a WMS documents.
MAX_RETRY_AFTER_S = 3600.0


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds form; HTTP dates are rare in APIs)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    if math.isnan(seconds):
        return None
    return min(MAX_RETRY_AFTER_S, max(0.0, seconds))


async def send(
    client: httpx.AsyncClient, system: str, request: httpx.Request, *, deadline_s: float | None = None
) -> httpx.Response:
    """Send a request, turning transport failures into `RetriableError`.

    httpx's timeout bounds each phase (connect, write, each read) on its own, so a slow far end can
    hold a call for several times it; `deadline_s` bounds the whole call, so that a call never
    outlives the lease of the work it belongs to.
    """
    try:
        async with asyncio.timeout(deadline_s):
            return await client.send(request)
    except (httpx.TimeoutException, TimeoutError) as exc:
        raise RetriableError(system, f"timeout on {request.method} {request.url.path}") from exc
    except httpx.TransportError as exc:
        raise RetriableError(
            system, f"{type(exc).__name__} on {request.method} {request.url.path}: {exc}"
        ) from exc
