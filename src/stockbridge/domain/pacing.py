"""How fast to call a far API: a token bucket whose rate adapts to refusals (AIMD), as pure functions.

A far API that refuses for load (429) is saying the account's share is used up: by us, by other
integrations on the same account, or by a limit lowered meanwhile. Calling on at the configured
rate only earns more refusals, and each refused call still occupies the account's limits, which
other integrations share (NetSuite: 5 concurrent requests on a standard account for SOAP, REST and
RESTlets together, per Oracle's governance documentation). So, like TCP's congestion control, the rate
is cut by a factor on a refusal (multiplicative decrease, never below `floor`) and grows back as
calls are answered (additive increase, never above `ceiling`, the configured rate): each success
adds `recovery_step / rate`, so however fast calls go the rate climbs by about `recovery_step`
calls per second each second, as TCP's window grows by one segment per round trip. A
`Retry-After` pauses every call until it has passed.

Calls already in flight when the rate was cut were sent at the old rate; their refusals say nothing
new, so only a refusal of a call started after the last cut cuts again. Without that, four calls
refused together would cut the rate to a sixteenth, not a half.

Times are seconds on a monotonic clock, passed in by the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class PaceLimits:
    """`ceiling`: the configured calls per second; `floor`: the slowest the rate is cut to;
    `recovery_step`: calls per second regained per second of successes; `cut_factor`: the share of
    the rate kept on a refusal."""

    ceiling: float
    floor: float
    recovery_step: float
    cut_factor: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.floor <= self.ceiling:
            raise ValueError(f"need 0 < floor <= ceiling, got floor={self.floor}, ceiling={self.ceiling}")
        if self.recovery_step <= 0:
            raise ValueError(f"recovery_step must be > 0, got {self.recovery_step}")
        if not 0 < self.cut_factor < 1:
            raise ValueError(f"cut_factor must be between 0 and 1, got {self.cut_factor}")


@dataclass(frozen=True)
class Pace:
    rate: float  # calls per second now
    tokens: float  # calls that may start now (a fraction is a call on its way); at most `capacity`
    stamp: float  # when `tokens` was last brought up to date
    paused_until: float  # no call starts before this (the far end's Retry-After)
    last_cut: float  # when the rate was last cut
    refusals: int = 0  # refusals seen, for metrics

    @property
    def capacity(self) -> float:
        return max(1.0, self.rate)


def start(limits: PaceLimits, now: float) -> Pace:
    """Full speed, a full bucket."""
    return Pace(limits.ceiling, max(1.0, limits.ceiling), now, now, -math.inf)


# A call asked for at the end of a pause, computed as `now + wait`, may land a float's width short of it.
PAUSE_TOLERANCE_S = 1e-9


def _refill(pace: Pace, now: float) -> Pace:
    elapsed = max(0.0, now - pace.stamp)
    tokens = min(pace.capacity, pace.tokens + elapsed * pace.rate)
    return replace(pace, tokens=tokens, stamp=max(now, pace.stamp))


def take(pace: Pace, now: float) -> tuple[Pace, float]:
    """Try to start a call at `now`: (new pace, 0.0) when it may start, else (pace, seconds to wait)."""
    if now < pace.paused_until - PAUSE_TOLERANCE_S:
        return pace, pace.paused_until - now
    pace = _refill(pace, now)
    if pace.tokens >= 1.0 - 1e-9:  # tolerate float error in the refill
        return replace(pace, tokens=max(0.0, pace.tokens - 1.0)), 0.0
    return pace, (1.0 - pace.tokens) / pace.rate


def wait_for(pace: Pace, now: float, calls: int = 1) -> float:
    """Seconds from `now` until `calls` calls could start one after the other without waiting
    (0.0: now); takes nothing. More calls than the bucket holds count as a full bucket."""
    begin = max(now, pace.paused_until)
    pace = _refill(pace, begin)
    need = min(float(max(1, calls)), pace.capacity)
    if pace.tokens >= need - 1e-9:
        return begin - now
    return begin - now + (need - pace.tokens) / pace.rate


def refused(limits: PaceLimits, pace: Pace, now: float, *, started: float, retry_after: float | None) -> Pace:
    """A call started at `started` was refused for load at `now`, with the far end's `Retry-After`."""
    pace = _refill(pace, now)
    paused_until = pace.paused_until
    if retry_after is not None and retry_after > 0:
        paused_until = max(paused_until, now + retry_after)
    # At most one call may go at once (after the pause, if any), then calls follow at the rate: the
    # far end's own bucket is empty after a refusal, so a burst would only be refused again.
    tokens = 1.0 if paused_until > now else min(pace.tokens, 1.0)
    cut = started >= pace.last_cut  # a call sent before the last cut was already answered for
    return replace(
        pace,
        rate=max(limits.floor, pace.rate * limits.cut_factor) if cut else pace.rate,
        tokens=tokens,
        stamp=max(now, paused_until),
        paused_until=paused_until,
        last_cut=now if cut else pace.last_cut,
        refusals=pace.refusals + 1,
    )


def succeeded(limits: PaceLimits, pace: Pace) -> Pace:
    """A call was answered (not refused for load): grow the rate back a little."""
    rate = pace.rate + limits.recovery_step / pace.rate
    return replace(pace, rate=limits.ceiling if rate >= limits.ceiling - 1e-9 else rate)


def successes_to_recover(limits: PaceLimits, rate: float) -> int:
    """At most how many successes bring `rate` back to the ceiling (each adds >= step / ceiling)."""
    return max(0, math.ceil((limits.ceiling - rate) * limits.ceiling / limits.recovery_step))


def take_up_to(pace: Pace, now: float, wanted: int) -> tuple[Pace, int, float]:
    """Start up to `wanted` calls at `now`: (new pace, calls granted, seconds until the next could
    start). A shared budget grants a few calls at a time this way, so each grant costs one round
    trip to where the budget is kept; never more than the bucket holds, so never faster than `take`.
    """
    if now < pace.paused_until - PAUSE_TOLERANCE_S:
        return pace, 0, pace.paused_until - now
    pace = _refill(pace, now)
    granted = min(max(0, wanted), int(pace.tokens + 1e-9))
    pace = replace(pace, tokens=max(0.0, pace.tokens - granted))
    wait = 0.0 if pace.tokens >= 1.0 - 1e-9 else (1.0 - pace.tokens) / pace.rate
    return pace, granted, wait


def succeeded_times(limits: PaceLimits, pace: Pace, times: int) -> Pace:
    """`times` calls were answered: as many `succeeded` in a row (a shared budget hears of successes
    in batches, with the next grant)."""
    for _ in range(min(times, successes_to_recover(limits, pace.rate))):
        pace = succeeded(limits, pace)
    return pace
