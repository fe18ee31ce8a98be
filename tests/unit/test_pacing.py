"""The adaptive call rate (domain/pacing.py) and the limiter that applies it (connectors/http.py)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockbridge.connectors.errors import RateLimitedError, RejectedError, RetriableError
from stockbridge.connectors.http import RateLimiter
from stockbridge.domain.pacing import (
    Pace,
    PaceLimits,
    refused,
    start,
    succeeded,
    succeeded_times,
    successes_to_recover,
    take,
    take_up_to,
    wait_for,
)

LIMITS = PaceLimits(ceiling=10.0, floor=0.5, recovery_step=1.0)


def _spend(pace: Pace, now: float) -> Pace:
    pace, wait = take(pace, now)
    assert wait == 0.0
    return pace


def test_starts_at_the_ceiling_with_one_seconds_burst() -> None:
    pace = start(LIMITS, 0.0)
    for _ in range(10):
        pace = _spend(pace, 0.0)
    pace, wait = take(pace, 0.0)
    assert wait == pytest.approx(0.1)
    assert take(pace, 0.1)[1] == 0.0


@given(
    spent=st.integers(min_value=0, max_value=10),
    calls=st.integers(min_value=1, max_value=12),
    later=st.floats(min_value=0.0, max_value=2.0),
    paused=st.floats(min_value=0.0, max_value=1.0),
)
def test_after_waiting_for_n_calls_they_all_start_back_to_back(
    spent: int, calls: int, later: float, paused: float
) -> None:
    """`wait_for` takes nothing; once its wait has passed, that many calls (at most a full bucket)
    start at once, and one fewer token would not do (the wait is the least)."""
    pace = start(LIMITS, 0.0)
    for _ in range(spent):
        pace = _spend(pace, 0.0)
    if paused:
        pace = refused(LIMITS, pace, 0.0, started=-1.0, retry_after=paused)
    now = later
    wait = wait_for(pace, now, calls)
    assert wait_for(pace, now, calls) == wait  # asking takes nothing
    assert wait_for(pace, now, 1) == pytest.approx(max(0.0, take(pace, now)[1]))
    ready = now + wait
    for _ in range(min(calls, int(pace.capacity))):
        pace, waited = take(pace, ready)
        assert waited == 0.0
    if wait > 1e-6 and ready - 1e-3 >= pace.paused_until:
        fresh = start(LIMITS, 0.0)
        for _ in range(spent):
            fresh = _spend(fresh, 0.0)
        if paused:
            fresh = refused(LIMITS, fresh, 0.0, started=-1.0, retry_after=paused)
        early = ready - 1e-3
        starts = 0
        while take(fresh, early)[1] == 0.0 and starts < calls:
            fresh, _ = take(fresh, early)
            starts += 1
        assert starts < min(calls, int(fresh.capacity))


def test_refusal_halves_the_rate_and_pauses_every_call_until_retry_after() -> None:
    pace = refused(LIMITS, start(LIMITS, 0.0), 1.0, started=0.9, retry_after=2.0)
    assert (pace.rate, pace.refusals) == (5.0, 1)
    assert take(pace, 1.0)[1] == pytest.approx(2.0)
    assert take(pace, 2.5)[1] == pytest.approx(0.5)
    pace = _spend(pace, 3.0)  # one call when the pause ends, not a burst
    assert take(pace, 3.0)[1] == pytest.approx(1 / 5.0)


def test_refusals_of_calls_already_in_flight_cut_once() -> None:
    pace = start(LIMITS, 0.0)
    for _ in range(4):  # four calls sent together at t=0, all refused
        pace = refused(LIMITS, pace, 0.5, started=0.0, retry_after=None)
    assert (pace.rate, pace.refusals) == (5.0, 4)
    pace = refused(LIMITS, pace, 1.0, started=0.6, retry_after=None)  # sent after the cut
    assert pace.rate == 2.5


def test_rate_never_goes_below_the_floor() -> None:
    pace = start(LIMITS, 0.0)
    for second in range(20):
        pace = refused(LIMITS, pace, float(second), started=float(second), retry_after=None)
    assert pace.rate == LIMITS.floor


def test_successes_climb_about_recovery_step_per_second() -> None:
    pace = refused(LIMITS, start(LIMITS, 0.0), 0.0, started=0.0, retry_after=None)
    # One second of calls at 5/s, each answered: about +1 call per second.
    for _ in range(5):
        pace = succeeded(LIMITS, pace)
    assert 5.9 < pace.rate < 6.1


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="floor"):
        PaceLimits(ceiling=1.0, floor=2.0, recovery_step=1.0)
    with pytest.raises(ValueError, match="recovery_step"):
        PaceLimits(ceiling=1.0, floor=1.0, recovery_step=0.0)


# --- properties ------------------------------------------------------------------------------------

limits_strategy = st.builds(
    lambda ceiling, floor_share, step, cut: PaceLimits(ceiling, ceiling * floor_share, step, cut),
    st.floats(0.1, 50),
    st.floats(0.001, 1.0),
    st.floats(0.5, 50),
    st.floats(0.05, 0.95),
)
# Each event: (kind, seconds since the last event, how long ago the call started, Retry-After).
events_strategy = st.lists(
    st.tuples(
        st.sampled_from(["take", "refused", "succeeded"]),
        st.floats(0, 5),
        st.floats(0, 5),
        st.none() | st.floats(0, 30),
    ),
    max_size=60,
)


@given(limits_strategy, events_strategy)
def test_rate_stays_between_floor_and_ceiling_and_a_refusal_never_raises_it(
    limits: PaceLimits, events: list[tuple[str, float, float, float | None]]
) -> None:
    now = 0.0
    pace = start(limits, now)
    for kind, step, age, retry_after in events:
        now += step
        before = pace
        if kind == "take":
            pace, wait = take(pace, now)
            assert wait >= 0.0
        elif kind == "refused":
            pace = refused(limits, pace, now, started=now - age, retry_after=retry_after)
            assert pace.rate <= before.rate
            assert pace.refusals == before.refusals + 1
            if retry_after:
                assert take(pace, now)[1] >= retry_after - 1e-9
        else:
            pace = succeeded(limits, pace)
            assert pace.rate >= before.rate
        assert limits.floor <= pace.rate <= limits.ceiling
        assert 0.0 <= pace.tokens <= pace.capacity + 1e-9


@given(limits_strategy, st.integers(0, 30))
def test_enough_successes_recover_the_ceiling(limits: PaceLimits, refusals: int) -> None:
    pace = start(limits, 0.0)
    for second in range(refusals):
        pace = refused(limits, pace, float(second), started=float(second), retry_after=1.0)
    for _ in range(successes_to_recover(limits, pace.rate)):
        pace = succeeded(limits, pace)
    assert pace.rate == limits.ceiling


@given(limits_strategy, st.lists(st.floats(0, 2), max_size=200))
def test_calls_never_start_faster_than_the_rate_allows(limits: PaceLimits, gaps: list[float]) -> None:
    """Over any run, calls started <= the burst + rate x elapsed (the rate only falls here)."""
    now, started = 0.0, 0
    pace = start(limits, now)
    for gap in gaps:
        now += gap
        pace, wait = take(pace, now)
        if wait == 0.0:
            started += 1
    assert started <= max(1.0, limits.ceiling) + limits.ceiling * now + 1e-6


# --- the limiter -----------------------------------------------------------------------------------


class FakeTime:
    """A monotonic clock and a sleep that moves it: the limiter's waits take no real time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _limiter(time: FakeTime, floor: float = 0.5, step: float = 1.0) -> RateLimiter:
    return RateLimiter(
        4.0, 2, time.clock, sleep=time.sleep, min_calls_per_second=floor, recovery_step=step, system="ims"
    )


async def _ok() -> str:
    return "ok"


def _raising(error: Exception):  # type: ignore[no-untyped-def]
    async def call() -> str:
        raise error

    return call


def test_limiter_sees_a_429_slows_down_and_waits_out_retry_after() -> None:
    time = FakeTime()
    limiter = _limiter(time)

    async def scenario() -> None:
        assert await limiter.run(_ok) == "ok"
        with pytest.raises(RateLimitedError):
            await limiter.run(_raising(RateLimitedError("ims", "429", status=429, retry_after=3.0)))
        assert (limiter.rate, limiter.refusals) == (2.0, 1)
        await limiter.run(_ok)
        assert time.now == pytest.approx(3.0)  # every call waits for the Retry-After

    asyncio.run(scenario())


def test_limiter_grows_back_to_the_ceiling_after_successes() -> None:
    time = FakeTime()
    limiter = _limiter(time, floor=0.5, step=1.0)

    async def scenario() -> None:
        for _ in range(3):
            with pytest.raises(RateLimitedError):
                await limiter.run(_raising(RateLimitedError("ims", "429", status=429)))
            time.now += 0.01  # the next call starts after the cut
        assert limiter.rate == 0.5
        for _ in range(40):
            await limiter.run(_ok)
        assert limiter.rate == 4.0

    asyncio.run(scenario())


def test_other_failures_neither_slow_down_nor_speed_up() -> None:
    time = FakeTime()
    limiter = _limiter(time)

    async def scenario() -> None:
        with pytest.raises(RetriableError):
            await limiter.run(_raising(RetriableError("ims", "500", status=500)))
        with pytest.raises(RejectedError):
            await limiter.run(_raising(RejectedError("ims", "400", status=400)))
        assert (limiter.rate, limiter.refusals) == (4.0, 0)
        # A 503 with Retry-After is the far end asking for a pause too.
        with pytest.raises(RetriableError):
            await limiter.run(_raising(RetriableError("ims", "503", status=503, retry_after=1.0)))
        assert (limiter.rate, limiter.refusals) == (2.0, 1)

    asyncio.run(scenario())


def test_rate_and_refusals_are_exposed_as_metrics() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from stockbridge.monitor.connector_health import LimiterMetrics

    time = FakeTime()
    limiter = _limiter(time)
    registry = CollectorRegistry()
    registry.register(LimiterMetrics({"ims": limiter}))

    async def refused_once() -> None:
        with pytest.raises(RateLimitedError):
            await limiter.run(_raising(RateLimitedError("ims", "429", status=429, retry_after=1.0)))

    asyncio.run(refused_once())
    text = generate_latest(registry).decode()
    assert 'stockbridge_far_api_rate{system="ims"} 2.0' in text
    assert 'stockbridge_far_api_refusals_total{system="ims"} 1.0' in text
    assert 'stockbridge_far_api_calls_total{system="ims"} 1.0' in text


# --- runs that nest (a client limiting its own requests, wrapped by a caller that limits too) -----


def test_a_call_inside_a_run_uses_the_outer_slot_even_with_one_slot() -> None:
    time = FakeTime()
    limiter = RateLimiter(4.0, 1, time.clock, sleep=time.sleep, system="ims")

    async def outer() -> str:
        return await limiter.run(_ok)

    async def scenario() -> None:
        # With concurrency 1 a second slot never comes: the inner call must not wait for one.
        assert await asyncio.wait_for(limiter.run(outer), 1.0) == "ok"

    asyncio.run(scenario())
    assert limiter.calls == 1  # the inner call spent the outer run's token


def test_calls_inside_a_run_are_paced_and_their_refusals_counted_once() -> None:
    time = FakeTime()
    limiter = RateLimiter(4.0, 1, time.clock, sleep=time.sleep, system="ims")
    refusal = RateLimitedError("ims", "429", status=429, retry_after=2.0)

    async def three_calls_then_refused() -> None:
        for _ in range(3):
            await limiter.run(_ok)
        await limiter.run(_raising(refusal))

    async def scenario() -> None:
        with pytest.raises(RateLimitedError):
            await limiter.run(three_calls_then_refused)

    asyncio.run(scenario())
    assert limiter.calls == 4  # one token per call made, the outer run's spent by the first
    assert (limiter.refusals, limiter.rate) == (1, 2.0)  # cut once, by the inner call only


def test_runs_in_other_tasks_do_not_share_a_slot() -> None:
    time = FakeTime()
    limiter = RateLimiter(100.0, 1, time.clock, sleep=time.sleep, system="ims")
    inside = 0
    most = 0

    async def hold() -> None:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        inside -= 1

    async def scenario() -> None:
        await asyncio.gather(*(limiter.run(hold) for _ in range(5)))

    asyncio.run(scenario())
    assert most == 1


def test_a_task_started_inside_a_run_that_outlives_it_waits_for_a_slot_again() -> None:
    time = FakeTime()
    limiter = RateLimiter(100.0, 1, time.clock, sleep=time.sleep, system="ims")
    release = asyncio.Event()
    late: list[asyncio.Task[str]] = []

    async def start_a_task() -> None:
        async def later() -> str:
            await release.wait()
            return await limiter.run(_ok)

        late.append(asyncio.create_task(later()))

    async def hold_the_slot() -> None:
        release.set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not late[0].done()  # the late task's call waits for the slot held here

    async def scenario() -> None:
        await limiter.run(start_a_task)
        await limiter.run(hold_the_slot)
        assert await late[0] == "ok"


def test_limiter_says_how_long_until_several_calls_could_start_back_to_back() -> None:
    time = FakeTime()
    limiter = _limiter(time)  # 4 calls/s, a burst of one second's worth

    async def scenario() -> None:
        for _ in range(3):
            await limiter.run(_ok)
        assert limiter.wait_s() == 0.0  # one token left
        assert limiter.wait_s(2) == pytest.approx(0.25)  # a second one in a quarter second
        assert limiter.wait_s(9) == pytest.approx(0.75)  # no more than a full bucket is waited for

    asyncio.run(scenario())


def test_limiter_says_how_long_until_a_call_could_start_without_taking_a_token() -> None:
    time = FakeTime()
    limiter = _limiter(time)  # 4 calls/s, a burst of one second's worth

    async def scenario() -> None:
        assert limiter.wait_s() == 0.0
        for _ in range(4):
            await limiter.run(_ok)
        assert limiter.wait_s() == pytest.approx(0.25)
        assert limiter.wait_s() == pytest.approx(0.25)  # asking takes nothing
        with pytest.raises(RateLimitedError):
            await limiter.run(_raising(RateLimitedError("ims", "429", status=429, retry_after=3.0)))
        assert limiter.wait_s() == pytest.approx(3.0, abs=0.3)
        time.now += 3.0
        assert limiter.wait_s() == 0.0

    asyncio.run(scenario())


@given(
    limits_strategy,
    st.lists(st.tuples(st.floats(0.0, 2.0), st.integers(0, 6)), max_size=40),
)
def test_granting_several_calls_at_once_grants_what_taking_them_one_by_one_would(
    limits: PaceLimits, asks: list[tuple[float, int]]
) -> None:
    """A shared budget grants a few calls per round trip (decision 0037): never faster than `take`."""
    batched = one_by_one = start(limits, 0.0)
    now = 0.0
    for gap, wanted in asks:
        now += gap
        batched, granted, wait = take_up_to(batched, now, wanted)
        taken = 0
        while taken < wanted:
            one_by_one, single_wait = take(one_by_one, now)
            if single_wait > 0:
                break
            taken += 1
        assert granted == taken
        assert granted <= wanted
        assert wait == pytest.approx(max(0.0, take(one_by_one, now)[1]), abs=1e-9)


def test_successes_reported_together_count_as_many_in_a_row() -> None:
    cut = refused(LIMITS, start(LIMITS, 0.0), 1.0, started=0.9, retry_after=None)
    one_by_one = cut
    for _ in range(7):
        one_by_one = succeeded(LIMITS, one_by_one)
    assert succeeded_times(LIMITS, cut, 7).rate == one_by_one.rate
    assert succeeded_times(LIMITS, cut, 10_000).rate == LIMITS.ceiling
