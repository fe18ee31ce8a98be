"""Circuit state and throttling rules (domain/circuit.py); per-call counts (connectors/rest/calls.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from stockbridge.connectors.errors import (
    AuthenticationError,
    RateLimitedError,
    RejectedError,
    RetriableError,
)
from stockbridge.connectors.rest import CallStats
from stockbridge.domain.circuit import (
    Circuit,
    CircuitState,
    ThrottleRule,
    failed,
    settled,
    succeeded,
    throttled_since,
    throttled_too_long,
)

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_closed_opens_after_failures_in_a_row() -> None:
    state = CircuitState()
    state = failed(state, 3)
    state = failed(state, 3)
    assert state == CircuitState(Circuit.CLOSED, 2)
    assert succeeded(state, T0, 15) == CircuitState()  # a success in between: counting starts again
    for _ in range(3):
        state = failed(state, 3)
    assert state.circuit is Circuit.OPEN


def test_open_goes_half_open_then_closes_after_a_stretch_without_failure() -> None:
    opened = CircuitState(Circuit.OPEN, 3)
    half = succeeded(opened, T0, 15)
    assert half == CircuitState(Circuit.HALF_OPEN, 0, T0)
    assert succeeded(half, T0 + timedelta(seconds=14), 15) == half  # not long enough yet
    assert settled(half, T0 + timedelta(seconds=14), 15) == half
    assert settled(half, T0 + timedelta(seconds=15), 15) == CircuitState()  # time alone closes it
    assert succeeded(half, T0 + timedelta(seconds=15), 15) == CircuitState()
    assert failed(half, 3).circuit is Circuit.OPEN  # refused: one failure half-open opens it again
    assert failed(opened, 3) == CircuitState(Circuit.OPEN, 4)  # open stays open, counting
    assert settled(opened, T0 + timedelta(days=1), 15) == opened  # time alone never closes an open one
    assert succeeded(opened, T0, 0) == CircuitState()  # close_after_s 0: straight back to closed


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 20)), max_size=40), st.integers(1, 5))
def test_open_exactly_after_enough_failures_and_closed_only_after_a_quiet_stretch(
    steps: list[tuple[bool, int]], open_after: int
) -> None:
    state, now, failures_in_a_row = CircuitState(), T0, 0
    last_failure: datetime | None = None
    for ok, seconds in steps:
        now += timedelta(seconds=seconds)
        before = state
        state = succeeded(state, now, 15) if ok else failed(state, open_after)
        failures_in_a_row = 0 if ok else failures_in_a_row + 1
        last_failure = last_failure if ok else now
        if failures_in_a_row >= open_after:
            assert state.circuit is Circuit.OPEN
        if state.circuit is Circuit.CLOSED and before.circuit is not Circuit.CLOSED:
            assert before.half_open_since is not None  # through half-open, never straight from open
            assert last_failure is not None
            assert now - last_failure >= timedelta(seconds=15)


RULE = ThrottleRule(share=0.5, for_s=60, min_calls=10)


def test_throttling_counts_only_when_it_lasts() -> None:
    assert throttled_since(RULE, None, T0, 9, 9) is None  # too few calls to judge
    assert throttled_since(RULE, None, T0, 10, 4) is None
    since = throttled_since(RULE, None, T0, 10, 5)
    assert since == T0
    later = T0 + timedelta(seconds=59)
    assert throttled_since(RULE, since, later, 20, 15) == T0  # the stretch goes on
    assert not throttled_too_long(RULE, since, later)
    assert throttled_too_long(RULE, since, T0 + timedelta(seconds=60))
    assert throttled_since(RULE, since, later, 20, 1) is None  # below: the stretch is over


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_call_stats_classify_and_slide() -> None:
    clock = _Clock()
    stats = CallStats("ims", window_s=60, clock=clock)
    stats.answered()
    stats.error(RetriableError("ims", "503"))
    stats.error(AuthenticationError("ims", "401"))
    stats.error(RateLimitedError("ims", "429"))
    stats.error(RetriableError("ims", "429 slow down", status=429, retry_after=5))  # refused for load
    stats.error(RetriableError("ims", "503 down", status=503, retry_after=1))  # down, not throttled
    stats.error(RejectedError("ims", "400 bad field"))  # the far end works; the request was wrong
    window = stats.window()
    assert (window.calls, window.failures, window.throttled) == (7, 3, 2)
    assert window.error_rate == 3 / 7
    stats.throttled_answer()  # a 200 that said THROTTLED: the call was counted already
    assert (stats.window().calls, stats.window().throttled) == (7, 3)
    clock.now += 30
    stats.answered()
    assert stats.window().calls == 8
    clock.now += 31  # the first second's calls leave the window
    assert (stats.window().calls, stats.window().failures) == (1, 0)
    assert (stats.calls, stats.failures, stats.throttled) == (8, 3, 3)  # totals keep everything
