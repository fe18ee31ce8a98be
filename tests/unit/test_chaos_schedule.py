"""The chaos fault schedule: a pure, seeded plan of which faults happen when."""

from __future__ import annotations

from collections import Counter

import pytest

from stockbridge.chaos.schedule import (
    BACKGROUND,
    FULL,
    POSTGRES_ONLY,
    QUICK,
    SQLITE_ONLY,
    FaultKind,
    Profile,
    last_fault_end,
    plan,
)


@pytest.mark.parametrize("profile", [QUICK, FULL])
def test_same_seed_same_schedule_other_seed_other_times(profile: Profile) -> None:
    assert plan(profile, "sqlite", 1, 5) == plan(profile, "sqlite", 1, 5)
    assert plan(profile, "sqlite", 1, 5) != plan(profile, "sqlite", 1, 6)


def test_postgres_faults_only_on_postgres_and_disk_full_only_on_sqlite() -> None:
    on_sqlite = {f.kind for f in plan(QUICK, "sqlite", 1, 1)}
    on_postgres = {f.kind for f in plan(QUICK, "postgresql", 2, 1)}
    assert not on_sqlite & POSTGRES_ONLY
    assert not on_postgres & SQLITE_ONLY
    assert on_sqlite == set(FaultKind) - POSTGRES_ONLY
    assert on_postgres == set(FaultKind) - SQLITE_ONLY


@pytest.mark.parametrize(("profile", "kills"), [(QUICK, 3), (FULL, 20)])
def test_kills_are_counted_and_spread_over_the_traffic(profile: Profile, kills: int) -> None:
    times = [f.at_s for f in plan(profile, "postgresql", 3, 9) if f.kind is FaultKind.KILL]
    assert len(times) == kills
    assert all(profile.day_s * 0.05 <= t < profile.day_s * 0.85 + 1 for t in times)
    assert len({int(t) for t in times}) == kills  # no two in the same second


@pytest.mark.parametrize("seed", range(20))
def test_every_fault_ends_inside_the_day(seed: int) -> None:
    for profile in (QUICK, FULL):
        faults = plan(profile, "postgresql", 2, seed)
        assert all(0 <= f.at_s <= f.end_s for f in faults)
        assert last_fault_end(faults) <= profile.day_s * 0.9
        windows = [f for f in faults if f.kind not in BACKGROUND and f.duration_s]
        assert all(f.end_s <= profile.day_s * 0.85 + 0.01 for f in windows)


def test_outages_last_as_long_as_the_profile_says() -> None:
    durations = {f.kind: f.duration_s for f in plan(FULL, "postgresql", 2, 1)}
    assert durations[FaultKind.PG_REFUSE] == 30
    assert durations[FaultKind.SMTP_DOWN] == FULL.smtp_down_s
    assert Counter(f.kind for f in plan(FULL, "sqlite", 1, 1))[FaultKind.SQLITE_FULL] == 1


@pytest.mark.parametrize("seed", range(1, 30))
def test_the_small_shopify_bucket_never_falls_inside_the_shopify_outage(seed: int) -> None:
    for profile in (QUICK, FULL):
        by_kind = {f.kind: f for f in plan(profile, "sqlite", 1, seed)}
        small, outage = by_kind[FaultKind.SHOPIFY_THROTTLE], by_kind[FaultKind.SHOPIFY_OUTAGE]
        assert small.end_s <= outage.at_s or outage.end_s <= small.at_s
