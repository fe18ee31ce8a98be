"""Finance batches and the reconciliation reports' schedule."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    field_validator,
)

from stockbridge.config.base import _Frozen
from stockbridge.domain.finance import REASONS as FINANCE_REASONS


class FinanceReason(_Frozen):
    """Where adjustments of one reason are booked: the IMS account (internal id) of the adjustment."""

    account: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_]+$")]


class FinanceSettings(_Frozen):
    """The daily batch of adjustments with financial effect (docs/decisions/0030). No reasons: no
    batch, and every movement reaches the IMS through the stock sync as before."""

    reasons: dict[str, FinanceReason] = {}
    post_at: time = time(23, 30)  # each day's batch is made and posted once this time has passed
    timezone: str = "UTC"  # the finance team's day: a movement's business date, and post_at

    @field_validator("reasons")
    @classmethod
    def _known_reasons(cls, reasons: dict[str, FinanceReason]) -> dict[str, FinanceReason]:
        for name in reasons:
            if name not in FINANCE_REASONS:
                raise ValueError(
                    f"reasons.{name}: not a financial reason; the reasons are {', '.join(FINANCE_REASONS)}"
                )
        return reasons

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (an IANA name such as Europe/London)") from None
        return name

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def accounts(self) -> dict[str, str]:
        """Reason -> IMS account."""
        return {reason: r.account for reason, r in self.reasons.items()}


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_WEEKDAYS: tuple[str, ...] = get_args(Weekday)


class ReportSettings(_Frozen):
    """Reports written on schedule (docs/operating.md "Reports"): the daily report every day at
    `daily_at` (UTC), the weekly reconciliation on `weekly_on` at the same time, into `dir`."""

    dir: Annotated[str, Field(min_length=1)]
    daily_at: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "06:00"
    weekly_on: Weekday = "monday"
    # The weekly reconciliation also reads the IMS (on hand and its adjustments); false leaves it out.
    weekly: bool = True

    def weekday(self) -> int:
        return _WEEKDAYS.index(self.weekly_on)

    def at(self) -> tuple[int, int]:
        hours, minutes = self.daily_at.split(":")
        return int(hours), int(minutes)
