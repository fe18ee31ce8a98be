"""The chaos verdict: what counts as still on its way (convergence) and what counts as failed."""

from __future__ import annotations

from stockbridge.chaos.checks import ChannelResult


def test_drift_and_missing_items_are_waited_for() -> None:
    assert ChannelResult("ims: stock", 40, drift=3).waiting == 3
    assert ChannelResult("ims: item fulfilments", 9, lost=2).waiting == 2


def test_written_history_is_not_waited_for_but_fails_the_verdict() -> None:
    doubled = ChannelResult("ims: stock", 40, doubled=1, stale=2)
    assert doubled.waiting == 0
    assert not doubled.clean


def test_a_stale_end_state_that_may_settle_is_waited_for() -> None:
    assert ChannelResult("clarus: orders", 40, stale=1, stale_may_settle=True).waiting == 1
    assert ChannelResult("clarus: orders", 40).clean
