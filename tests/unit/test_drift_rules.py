"""The drift rules (domain/drift.py): why a channel differs, when to act, which SKUs a run reads."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockbridge.config import DriftChannel, DriftSettings
from stockbridge.domain.drift import Cause, DriftRule, Step, classify, next_step, rotate

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("shown", "pushed", "expected", "pending", "cause"),
    [
        (5, 5, 5, False, None),  # all agree
        (7, 5, 5, False, Cause.MANUAL_EDIT),  # set by someone else after the hub's write
        (7, 5, 5, True, Cause.MANUAL_EDIT),  # a hand edit is one even while a push is due
        (5, 5, 8, False, Cause.BEHIND),  # the hub's last word is not the warehouse's, nothing due
        (5, 5, 8, True, None),  # the newer figure is on its way
        (9, 5, 8, False, Cause.BOTH),
        (9, 5, 8, True, Cause.MANUAL_EDIT),
        (8, 5, 8, False, None),  # edited, but to the warehouse's figure: the channel is right
    ],
)
def test_classify(shown: int, pushed: int, expected: int, pending: bool, cause: Cause | None) -> None:
    assert classify(shown, pushed, expected, pending=pending) is cause


def test_within_tolerance_is_no_drift() -> None:
    assert classify(7, 5, 5, pending=False, tolerance=2) is None
    assert classify(8, 5, 5, pending=False, tolerance=2) is Cause.MANUAL_EDIT


@given(
    shown=st.integers(-50, 50),
    pushed=st.integers(-50, 50),
    expected=st.integers(-50, 50),
    pending=st.booleans(),
    tolerance=st.integers(0, 10),
)
def test_a_cause_only_when_the_channel_is_off_by_more_than_the_tolerance(
    shown: int, pushed: int, expected: int, pending: bool, tolerance: int
) -> None:
    cause = classify(shown, pushed, expected, pending=pending, tolerance=tolerance)
    if abs(shown - expected) <= tolerance:
        assert cause is None
    if cause is not None:
        assert cause.edited == (shown != pushed)
    if not pending and abs(shown - expected) > tolerance:
        assert cause is not None  # with nothing on its way, a difference always has a cause


RULE = DriftRule(grace_s=60, escalate_after_repairs=2, escalate_after_s=600)


def test_steps() -> None:
    def step(seen_for_s: float, raised_for_s: float | None, repairs: int) -> Step:
        now = T0 + timedelta(seconds=seen_for_s)
        raised = None if raised_for_s is None else now - timedelta(seconds=raised_for_s)
        return next_step(RULE, now, first_seen=T0, raised_at=raised, repairs=repairs)

    assert step(59, None, 0) is Step.WATCH  # shorter than the grace time
    assert step(60, None, 0) is Step.REPAIR
    assert step(120, 60, 1) is Step.REPAIR  # one repair has not had its chance yet
    assert step(180, 120, 2) is Step.ESCALATE  # two repairs did not clear it
    assert step(700, 600, 0) is Step.ESCALATE  # raised this long ago, however few repairs
    assert next_step(DriftRule(), T0, first_seen=T0, raised_at=None, repairs=0) is Step.REPAIR  # no grace


def test_rotate_wraps_and_moves_on() -> None:
    keys = [(f"S{i}", "L") for i in range(5)]
    assert rotate(keys, None, None) == (keys, None)
    assert rotate(keys, None, 9) == (keys, None)
    assert rotate(keys, None, 2) == (keys[:2], keys[1])
    assert rotate(keys, keys[1], 2) == (keys[2:4], keys[3])
    assert rotate(keys, keys[3], 2) == ([keys[4], keys[0]], keys[0])
    # A cursor whose key has gone since still places the window.
    assert rotate([k for k in keys if k != keys[1]], keys[1], 1) == ([keys[2]], keys[2])


@given(
    skus=st.sets(st.text("ABC123", min_size=1, max_size=4), min_size=1, max_size=40),
    size=st.integers(1, 12),
    start=st.one_of(st.none(), st.tuples(st.text("ABC123", max_size=4), st.just("L"))),
)
def test_a_rotating_sample_covers_the_whole_catalogue(
    skus: set[str], size: int, start: tuple[str, str] | None
) -> None:
    keys = sorted((sku, "L") for sku in skus)
    seen: list[tuple[str, str]] = []
    cursor = start
    for _ in range(math.ceil(len(keys) / size)):
        taken, cursor = rotate(keys, cursor, size)
        assert len(taken) == min(size, len(keys))
        assert len(set(taken)) == len(taken)
        seen += taken
    assert set(seen) == set(keys)


def test_a_channel_overrides_only_the_keys_it_sets() -> None:
    drift = DriftSettings(
        tolerance_units=2, grace_s=30, channels={"shopify": DriftChannel(grace_s=0, sample_size=50)}
    )
    assert drift.rule("ims") == DriftRule(tolerance_units=2, grace_s=30)
    assert drift.rule("shopify") == DriftRule(tolerance_units=2, grace_s=0, sample_size=50)
