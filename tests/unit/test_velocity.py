"""Velocity classes (domain/velocity.py): classification is monotone in sales, and its settings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.factories import config

from stockbridge.config import ConfigError
from stockbridge.domain.ats import AtsRule, BufferClass
from stockbridge.domain.velocity import VelocityClass, classify

WEEK_S = 7 * 86400.0
CLASSES = [VelocityClass("fast", 20, 5), VelocityClass("medium", 5, 2), VelocityClass("trickle", 0.5, 1)]


def _speed(found: VelocityClass | None) -> float:
    return -1.0 if found is None else found.min_per_day


@given(
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.floats(3600, 60 * 86400),
    st.lists(
        st.builds(VelocityClass, st.text(min_size=1, max_size=4), st.floats(0.01, 500), st.integers(0, 9)),
        min_size=1,
        max_size=5,
    ),
)
def test_more_sales_never_a_slower_class(
    sold: int, more: int, window_s: float, classes: list[VelocityClass]
) -> None:
    assert _speed(classify(sold + more, window_s, classes)) >= _speed(classify(sold, window_s, classes))


@given(st.integers(0, 10_000))
def test_the_class_is_the_fastest_threshold_reached(sold: int) -> None:
    rate = sold / 7
    found = classify(sold, WEEK_S, CLASSES)
    reached = [c for c in CLASSES if rate >= c.min_per_day]
    if not reached:
        assert found is None
    else:
        assert found is not None
        assert all(found.min_per_day >= c.min_per_day for c in reached)


def test_thresholds_are_per_day_over_the_window() -> None:
    assert classify(139, WEEK_S, CLASSES) == CLASSES[1]  # 19.86 a day
    assert classify(140, WEEK_S, CLASSES) == CLASSES[0]  # 20 a day
    assert classify(3, WEEK_S, CLASSES) is None


def test_a_velocity_buffer_raises_a_smaller_configured_buffer_never_an_own_one() -> None:
    rule = AtsRule(
        frozenset({"available"}),
        default_buffer=1,
        sku_buffers={"OWN": 0},
        classes=(BufferClass(8, ("BIG-*",), "big"),),
        velocity_buffers=True,
    )
    assert (rule.buffer("MUG", ("fast", 5)).units, rule.buffer("MUG", ("fast", 5)).source) == (
        5,
        "velocity fast",
    )
    assert rule.buffer("BIG-1", ("fast", 5)).source == "class big"
    assert rule.buffer("OWN", ("fast", 5)).source == "sku"
    assert rule.buffer("MUG").source == "default"
    opted_out = AtsRule(frozenset({"available"}), default_buffer=1)
    assert opted_out.buffer("MUG", ("fast", 5)).units == 1


def test_a_faster_class_with_a_smaller_buffer_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"velocity\.classes") as raised:
        config(
            velocity={
                "classes": {
                    "fast": {"min_per_day": 20, "buffer": 1},
                    "medium": {"min_per_day": 5, "buffer": 2},
                }
            }
        )
    assert "smaller buffer" in raised.value.message


def test_velocity_buffers_need_a_velocity_section() -> None:
    with pytest.raises(ConfigError, match="velocity_buffers"):
        config(targets={"ims": {"velocity_buffers": True}})
