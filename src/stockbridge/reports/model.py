"""What a report is, whatever it reports: sections of tables and charts. Pure values.

The daily and weekly reports (`daily.py`, `weekly.py`) build these from facts read out of the
database; `render.py` turns one into HTML (one page) and CSV (one file per table) without knowing what
it says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

Cell = str | int | float | None


@dataclass(frozen=True, slots=True)
class Table:
    """A table of the report; `name` is its CSV file's name (`<name>.csv`), unique in the report."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    empty: str = "none"  # what the page says when there are no rows

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.name}: row {row!r} does not have {len(self.columns)} cells")


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a chart: a value (or None: no data) per point of the chart's x axis."""

    label: str
    values: tuple[float | None, ...]
    target: float | None = None  # drawn as a dashed line when set


@dataclass(frozen=True, slots=True)
class Chart:
    name: str
    title: str
    x_labels: tuple[str, ...]
    y_label: str
    series: tuple[Series, ...]
    kind: str = "line"  # "line": a line per series over the x axis; "bar": one bar per x label (first series)


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    kind: str  # "daily" | "weekly"
    title: str
    generated_at: datetime
    start: datetime
    end: datetime
    sections: tuple[Section, ...] = field(default_factory=tuple)

    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]

    def table(self, name: str) -> Table:
        return next(t for t in self.tables() if t.name == name)


def stamp(value: datetime | None) -> str | None:
    """A time as the reports print it: UTC, to the second."""
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def age_s(since: datetime | None, now: datetime) -> int | None:
    return None if since is None else max(0, round((now - since).total_seconds()))


def duration(seconds: int | None) -> str:
    """`3d 4h`, `2h 5m`, `4m 10s`, `12s`: how long something has been open, for a person."""
    if seconds is None:
        return ""
    d = timedelta(seconds=seconds)
    days, hours, minutes = d.days, d.seconds // 3600, d.seconds % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {d.seconds % 60}s"
    return f"{d.seconds}s"
