"""Reading a written report back: its HTML tables and charts (html.parser) and its CSV files."""

from __future__ import annotations

import csv
from html.parser import HTMLParser
from pathlib import Path


class Tables(HTMLParser):
    """Every <table data-name=...> of a page as its rows of cell texts; <svg> names too."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.svgs: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs).get("data-name")
        if tag == "table" and named:
            self._table = named
            self.tables[named] = []
        elif tag == "svg" and named:
            self.svgs.append(named)
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None


def report_csv(page: Path, name: str) -> list[dict[str, str]]:
    """The rows of the CSV `name` written beside the report page."""
    with (page.parent / f"{name}.csv").open(newline="") as f:
        return list(csv.DictReader(f))
