"""When the scheduled reports are next due (`reports.daily_at`, `reports.weekly_on`). Pure, UTC."""

from __future__ import annotations

from datetime import datetime, timedelta


def next_daily(now: datetime, at: tuple[int, int]) -> datetime:
    """The first `at` (hour, minute) strictly after `now`."""
    due = now.replace(hour=at[0], minute=at[1], second=0, microsecond=0)
    return due if due > now else due + timedelta(days=1)


def next_weekly(now: datetime, weekday: int, at: tuple[int, int]) -> datetime:
    """The first `weekday` (0 = Monday) at `at` strictly after `now`."""
    due = now.replace(hour=at[0], minute=at[1], second=0, microsecond=0)
    due += timedelta(days=(weekday - now.weekday()) % 7)
    return due if due > now else due + timedelta(days=7)
