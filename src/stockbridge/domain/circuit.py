"""A connector's circuit state as its calls succeed and fail, and when throttling becomes a problem:
pure rules with the time passed in (monitor/connector_health.py, docs/decisions/0025).

The hub does not cut a failing system off (its outbox backoff, the rate limiter's pause on
`Retry-After` and the loops' error pause already keep it from hammering one); the circuit states
what the hub sees of a connector, in a breaker's words: *closed* (working), *open* (failing
`open_after` times in a row: `connector_failing`), *half-open* (a call succeeded again after it was
open; closed, and the exception resolved, once `close_after_s` pass without a failure; a failure
meanwhile opens it again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum


class Circuit(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass(frozen=True, slots=True)
class CircuitState:
    circuit: Circuit = Circuit.CLOSED
    failures: int = 0  # in a row
    half_open_since: datetime | None = None  # the first success after it was open


def failed(state: CircuitState, open_after: int) -> CircuitState:
    """One more failure: open at `open_after` in a row, and at once again from half-open."""
    failures = state.failures + 1
    if state.circuit is not Circuit.CLOSED or failures >= open_after:
        return CircuitState(Circuit.OPEN, failures)
    return CircuitState(Circuit.CLOSED, failures)


def succeeded(state: CircuitState, now: datetime, close_after_s: float) -> CircuitState:
    """One more success: a closed circuit forgets its failures; an open one turns half-open, and a
    half-open one closes once it has gone `close_after_s` without a failure."""
    if state.circuit is Circuit.OPEN:
        return settled(CircuitState(Circuit.HALF_OPEN, 0, now), now, close_after_s)
    return settled(state, now, close_after_s) if state.circuit is Circuit.HALF_OPEN else CircuitState()


def settled(state: CircuitState, now: datetime, close_after_s: float) -> CircuitState:
    """A half-open circuit with no failure for `close_after_s` closes (checked as time passes too:
    a quiet system may make no further call to prove itself)."""
    since = state.half_open_since
    quiet = since is not None and now - since >= timedelta(seconds=close_after_s)
    if state.circuit is Circuit.HALF_OPEN and quiet:
        return CircuitState()
    return state


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    share: float  # the throttled share of calls that counts as throttled
    for_s: float  # how long it must last to raise connector_throttled
    min_calls: int  # fewer calls in the window say nothing


def throttled_since(
    rule: ThrottleRule, since: datetime | None, now: datetime, calls: int, throttled: int
) -> datetime | None:
    """When the current stretch of throttling began (None: not throttled now), given the window's
    calls and throttled calls."""
    if calls < rule.min_calls or throttled / calls < rule.share:
        return None
    return since or now


def throttled_too_long(rule: ThrottleRule, since: datetime | None, now: datetime) -> bool:
    return since is not None and now - since >= timedelta(seconds=rule.for_s)
