"""Drift: what a channel shows against what the hub last pushed and what the warehouse says, as pure rules.

Three figures meet for one (channel, SKU, location): what the channel *shows* when read back, what the
hub last *pushed* there (acknowledged), and what the warehouse's stock makes of it now by the hub's own
rules (the target's *expected* figure). The channel differs from the warehouse (drift) by
|shown − expected| units; why it differs says who should look (docs/decisions/0025):

- shown ≠ pushed: something other than the hub set the channel's figure after the hub's last
  acknowledged write, a person in the admin or another app (`Cause.MANUAL_EDIT`);
- shown = pushed ≠ expected with no push due: the hub's last word is not the warehouse's figure and
  nothing is on its way, the hub is behind or stuck (`Cause.BEHIND`);
- both at once (`Cause.BOTH`).

A drift is watched for `grace_s` before it counts (a figure in motion is not a problem), then repaired
(the target marked dirty) each run it is still seen, and escalated once `escalate_after_repairs`
repairs or `escalate_after_s` have not cleared it. Times are passed in; nothing here does I/O.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

K = TypeVar("K", bound=tuple[str, str])


class Cause(StrEnum):
    MANUAL_EDIT = "manual_edit"  # the channel's figure was set by someone else after the hub's write
    BEHIND = "behind"  # the channel shows the hub's last figure, which is not the warehouse's
    BOTH = "manual_edit_and_behind"

    @property
    def edited(self) -> bool:
        return self is not Cause.BEHIND


class Step(StrEnum):
    WATCH = "watch"  # within the grace time: recorded, nothing raised, nothing repaired
    REPAIR = "repair"  # raise the drift exception and mark the target dirty
    ESCALATE = "escalate"  # repair again, and raise the escalation: repairs did not clear it


@dataclass(frozen=True, slots=True)
class DriftRule:
    """One channel's drift settings (config `drift:`)."""

    tolerance_units: int = 0
    grace_s: float = 0.0
    escalate_after_repairs: int = 3
    escalate_after_s: float = 3600.0
    sample_size: int | None = None  # None: the whole catalogue every run


def differs(shown: int, expected: int, tolerance: int = 0) -> bool:
    """Whether the channel differs from the warehouse by more than `tolerance` units."""
    return abs(shown - expected) > tolerance


def classify(shown: int, pushed: int, expected: int, *, pending: bool, tolerance: int = 0) -> Cause | None:
    """Why the channel differs from the warehouse, or None when it does not (within `tolerance`
    units) or the difference is only a newer figure on its way (`pending`: the target is dirty; it
    is neither drift nor right yet, so the caller leaves its record as it is)."""
    if not differs(shown, expected, tolerance):
        return None
    edited = shown != pushed
    behind = pushed != expected and not pending
    if edited and behind:
        return Cause.BOTH
    if edited:
        return Cause.MANUAL_EDIT
    if behind:
        return Cause.BEHIND
    return None


def next_step(
    rule: DriftRule, now: datetime, *, first_seen: datetime, raised_at: datetime | None, repairs: int
) -> Step:
    """What to do about a drift seen again at `now`, first seen at `first_seen`; `raised_at` is when
    it became an exception (None: not yet) and `repairs` how often the target was marked dirty since."""
    if now - first_seen < timedelta(seconds=rule.grace_s):
        return Step.WATCH
    if raised_at is not None and (
        repairs >= rule.escalate_after_repairs or now - raised_at >= timedelta(seconds=rule.escalate_after_s)
    ):
        return Step.ESCALATE
    return Step.REPAIR


def rotate(keys: Sequence[K], after: K | None, size: int | None) -> tuple[list[K], K | None]:
    """The next `size` of the sorted `keys` after the cursor `after`, wrapping to the start, and the
    cursor to keep for the next run (None: the whole catalogue was taken). Run after run the window
    moves on, so every key present throughout is checked within ⌈len(keys) / size⌉ runs."""
    if size is None or size >= len(keys):
        return list(keys), None
    start = 0 if after is None else bisect_right(keys, after)
    taken = [*keys[start:], *keys[:start]][:size]
    return taken, taken[-1]
