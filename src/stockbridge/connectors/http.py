"""What every connector shares: a rate limiter and the translation of transport errors."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

import httpx

from stockbridge.connectors.errors import RateLimitedError, RetriableError
from stockbridge.domain import pacing
from stockbridge.logs import get_logger

T = TypeVar("T")

log = get_logger(__name__)

# Calls granted by a shared budget and not started within this long are given up: a process must not
# hold calls back and spend them later on top of what the budget grants others meanwhile.
GRANT_HOLD_S = 1.0


@dataclass(frozen=True, slots=True)
class Grant:
    """A shared budget's answer: `calls` that may start now, seconds until the next could
    (`wait_s`), and the account's rate now."""

    calls: int
    wait_s: float
    rate: float


class SharedBudget(Protocol):
    """One far account's adaptive token bucket, shared by every process that calls it. Times are
    on a clock every process shares (the limiter's clock must be it)."""

    async def grant(self, limits: pacing.PaceLimits, wanted: int, now: float, successes: int) -> Grant:
        """Up to `wanted` calls, after counting `successes` answered calls since the last grant."""
        ...

    async def refused(
        self,
        limits: pacing.PaceLimits,
        now: float,
        *,
        started: float,
        retry_after: float | None,
        successes: int,
    ) -> Grant:
        """A call started at `started` was refused for load: cut the rate for everyone."""
        ...


class RateLimiter:
    """Calls per second (a token bucket with a burst of one second's worth) and concurrent calls,
    slowing down while the far end refuses for load and speeding up again as it answers.

    `calls_per_second` is the ceiling; a 429 (or any retriable error carrying `Retry-After`) pauses
    every call through this limiter until then and cuts the rate, down to `min_calls_per_second`;
    answered calls win it back at about `recovery_step` calls per second each second (the
    arithmetic is `stockbridge.domain.pacing`). Callers only wrap their calls in `run`.

    One instance per connector per process. The far API's limits are for the whole account: with
    several worker processes (PostgreSQL) each limiter is given the account's `SharedBudget`, kept in
    the database, and takes its calls from it a few at a time; a refusal seen by one process cuts
    the rate every process gets (docs/decisions/0037). Without one (SQLite: one worker process) the
    bucket is this instance's own.

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
        budget: SharedBudget | None = None,
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
        # With a shared budget: calls granted and not yet started, until when they may start, the
        # successes not yet reported, the account's rate at the last grant, when the next could start.
        self._budget = budget
        self._granted = 0
        self._granted_until = -math.inf
        self._successes = 0
        self._waiting = 0
        self._shared_rate = calls_per_second
        self._next_at = -math.inf

    @property
    def shared(self) -> bool:
        return self._budget is not None

    @property
    def rate(self) -> float:
        """Calls per second allowed now (the account's, with a shared budget, as last heard)."""
        return self._shared_rate if self._budget is not None else self._pace.rate

    def wait_s(self, calls: int = 1) -> float:
        """Seconds until `calls` calls could start back to back (0.0: now); takes nothing, waits for
        nothing."""
        now = self._clock()
        if self._budget is not None:
            if self._granted >= calls and now < self._granted_until:
                return 0.0
            return max(0.0, self._next_at - now)
        return max(0.0, pacing.wait_for(self._pace, now, calls))

    @property
    def refusals(self) -> int:
        """Calls the far end refused for load since this limiter was made."""
        return self._pace.refusals

    async def _take_token(self) -> float:
        """Wait for a token; returns when the call starts (on the limiter's clock)."""
        if self._budget is not None:
            return await self._take_shared(self._budget)
        async with self._lock:
            while True:
                now = self._clock()
                self._pace, wait = pacing.take(self._pace, now)
                if wait <= 0:
                    self.calls += 1
                    return now
                await self._sleep(wait)

    async def _take_shared(self, budget: SharedBudget) -> float:
        """A token from the account's shared budget: asked for as many calls as are waiting here, so
        that one round trip serves them all."""
        self._waiting += 1
        try:
            async with self._lock:
                while True:
                    now = self._clock()
                    if self._granted > 0 and now < self._granted_until:
                        self._granted -= 1
                        self.calls += 1
                        return now
                    successes, self._successes = self._successes, 0
                    grant = await budget.grant(self._limits, self._waiting, now, successes)
                    self._heard(grant, now)
                    if grant.calls > 0:
                        self._granted, self._granted_until = grant.calls, now + GRANT_HOLD_S
                        continue
                    self._granted = 0
                    await self._sleep(max(grant.wait_s, 0.001))
        finally:
            self._waiting -= 1

    def _heard(self, grant: Grant, now: float) -> None:
        before = self._shared_rate
        self._shared_rate, self._next_at = grant.rate, now + grant.wait_s
        if before < self._limits.ceiling <= grant.rate:
            log.info("call rate recovered", system=self._system, calls_per_second=grant.rate)

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
                    await self._failed(started, exc)
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
            await self._failed(started, exc)
            raise
        self._succeeded()
        return result

    async def _failed(self, started: float, exc: RetriableError) -> None:
        if isinstance(exc, RateLimitedError) or exc.retry_after is not None:
            if self._budget is not None:
                await self._refused_shared(self._budget, started, exc)
            else:
                self._refused(started, exc)

    async def _refused_shared(self, budget: SharedBudget, started: float, error: RetriableError) -> None:
        """Cut the account's rate for every process; calls granted here and not started are given up
        (they were granted at the old rate)."""
        now = self._clock()
        self._pace = replace(self._pace, refusals=self._pace.refusals + 1)  # this process's count
        successes, self._successes = self._successes, 0
        self._granted = 0
        before = self._shared_rate
        grant = await budget.refused(
            self._limits, now, started=started, retry_after=error.retry_after, successes=successes
        )
        self._shared_rate, self._next_at = grant.rate, now + grant.wait_s
        if grant.rate < before:
            log.info(
                "call rate cut",
                system=self._system,
                calls_per_second=round(grant.rate, 3),
                was=round(before, 3),
                paused_s=round(grant.wait_s, 3),
                error=error.message,
                shared=True,
            )

    def _succeeded(self) -> None:
        if self._budget is not None:
            self._successes += 1  # reported with the next grant
            return
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
