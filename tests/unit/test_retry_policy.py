"""The outbox's retry schedule: hours of retries before a dead letter, each delay bounded."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from tests.factories import T0

from stockbridge.domain.retry import RetryPolicy, next_retry_at, retry_delay

draws = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)
policies = st.builds(
    RetryPolicy,
    base_s=st.floats(min_value=0.01, max_value=10.0),
    cap_s=st.floats(min_value=10.0, max_value=900.0),
    retry_for_s=st.floats(min_value=0.0, max_value=12 * 3600.0),
    min_attempts=st.integers(min_value=1, max_value=20),
)


def _schedule(policy: RetryPolicy, draws: list[float]) -> list[float]:
    """Delays the work waits, failing at every attempt, until it is dead-lettered."""
    delays: list[float] = []
    now = T0
    attempt = 1
    while True:
        retry_at = next_retry_at(policy, attempt, T0, now, draw=draws[attempt % len(draws)])
        if retry_at is None:
            return delays
        delays.append((retry_at - now).total_seconds())
        now = retry_at
        attempt += 1


@given(policies, st.lists(draws, min_size=1, max_size=20))
def test_work_is_retried_for_the_whole_window_and_the_attempt_floor(
    policy: RetryPolicy, jitter: list[float]
) -> None:
    delays = _schedule(policy, jitter)
    assert sum(delays) >= policy.retry_for_s
    assert len(delays) + 1 >= policy.min_attempts


@given(policies, st.integers(min_value=1, max_value=10_000), draws)
def test_each_delay_is_at_most_the_cap_and_at_least_half_its_ceiling(
    policy: RetryPolicy, attempt: int, draw: float
) -> None:
    delay = retry_delay(policy, attempt, draw)
    assert 0 < delay <= policy.cap_s
    assert delay >= min(policy.cap_s, policy.base_s * 2 ** min(attempt - 1, 62)) / 2


@given(policies, st.integers(min_value=1, max_value=200), draws)
def test_delays_never_shrink_as_attempts_grow(policy: RetryPolicy, attempt: int, draw: float) -> None:
    assert retry_delay(policy, attempt + 1, draw) >= retry_delay(policy, attempt, draw)


@given(policies, st.integers(min_value=1, max_value=200), draws, st.floats(min_value=0, max_value=86400))
def test_retry_after_is_a_floor_even_past_the_cap(
    policy: RetryPolicy, attempt: int, draw: float, retry_after: float
) -> None:
    assert retry_delay(policy, attempt, draw, retry_after) >= retry_after


def test_a_one_minute_outage_is_ridden_out_by_the_default_policy() -> None:
    policy = RetryPolicy()
    failing_since = T0
    now = T0 + timedelta(minutes=1)
    assert next_retry_at(policy, 8, failing_since, now, draw=0.5) is not None
    assert next_retry_at(policy, 500, failing_since, now, draw=0.5) is not None


def test_dead_letter_needs_both_the_window_and_the_attempts() -> None:
    policy = RetryPolicy(retry_for_s=3600, min_attempts=8)
    late = T0 + timedelta(hours=1)
    assert next_retry_at(policy, 7, T0, late, draw=0.0) is not None  # window spent, attempts not
    assert next_retry_at(policy, 8, T0, late - timedelta(seconds=1), draw=0.0) is not None
    assert next_retry_at(policy, 8, T0, late, draw=0.0) is None


def test_the_default_policy_retries_for_six_hours_at_most_five_minutes_apart() -> None:
    policy = RetryPolicy()
    delays = _schedule(policy, [0.0, 0.3, 0.99])
    assert 6 * 3600 <= sum(delays) <= 6 * 3600 + policy.cap_s
    assert max(delays) <= 300
