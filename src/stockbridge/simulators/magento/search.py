"""`searchCriteria`: read from the URL-decoded query string and applied to a list of records.

Magento's REST layer builds a `SearchCriteriaInterface` from query parameters such as
`searchCriteria[filter_groups][0][filters][0][field]=updated_at`; it accepts the snake_case names of
the interface's fields and their camelCase setters alike (`filterGroups`, `conditionType`,
`sortOrders`, `pageSize`, `currentPage`). Filters within a group are OR'ed, groups are AND'ed.
A search answers `{"items", "search_criteria", "total_count"}`; `total_count` counts every match,
not the page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import bad_request

_KEY = re.compile(r"^searchCriteria((?:\[[^\]]*\])*)$")
_PART = re.compile(r"\[([^\]]*)\]")
_ALIASES = {
    "filtergroups": "filter_groups",
    "filter_groups": "filter_groups",
    "sortorders": "sort_orders",
    "sort_orders": "sort_orders",
    "pagesize": "page_size",
    "page_size": "page_size",
    "currentpage": "current_page",
    "current_page": "current_page",
    "conditiontype": "condition_type",
    "condition_type": "condition_type",
    "field": "field",
    "value": "value",
    "filters": "filters",
    "direction": "direction",
}
CONDITIONS = frozenset(
    {"eq", "neq", "gt", "gteq", "lt", "lteq", "like", "nlike", "in", "nin", "null", "notnull", "finset"}
)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # how Magento shows and compares its *_at fields (UTC)


@dataclass(frozen=True)
class Filter:
    field: str
    value: str
    condition_type: str = "eq"

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "value": self.value, "condition_type": self.condition_type}


@dataclass(frozen=True)
class SearchCriteria:
    filter_groups: tuple[tuple[Filter, ...], ...] = ()
    sort_orders: tuple[tuple[str, str], ...] = ()
    page_size: int | None = None
    current_page: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """As Magento echoes it back in `search_criteria`."""
        echoed: dict[str, Any] = {
            "filter_groups": [{"filters": [f.as_dict() for f in group]} for group in self.filter_groups]
        }
        if self.sort_orders:
            echoed["sort_orders"] = [{"field": f, "direction": d} for f, d in self.sort_orders]
        if self.page_size is not None:
            echoed["page_size"] = self.page_size
        if self.current_page is not None:
            echoed["current_page"] = self.current_page
        return echoed


@dataclass
class _Raw:
    groups: dict[int, dict[int, dict[str, str]]] = field(default_factory=dict)
    sorts: dict[int, dict[str, str]] = field(default_factory=dict)
    scalars: dict[str, str] = field(default_factory=dict)


def parse(params: Iterable[tuple[str, str]]) -> SearchCriteria:
    """The criteria in a query string's (already URL-decoded) pairs; other parameters are ignored."""
    raw = _Raw()
    for key, value in params:
        match = _KEY.match(key)
        if match is None:
            continue
        parts = [_ALIASES.get(p.lower(), p) for p in _PART.findall(match.group(1))]
        _place(raw, parts, value, key)
    groups = tuple(
        tuple(_filter(raw.groups[g][f], g, f) for f in sorted(raw.groups[g])) for g in sorted(raw.groups)
    )
    sorts = tuple(_sort(raw.sorts[i]) for i in sorted(raw.sorts))
    return SearchCriteria(
        groups,
        sorts,
        _positive(raw.scalars.get("page_size"), "pageSize"),
        _positive(raw.scalars.get("current_page"), "currentPage"),
    )


def _place(raw: _Raw, parts: list[str], value: str, key: str) -> None:
    if len(parts) == 1 and parts[0] in ("page_size", "current_page"):
        raw.scalars[parts[0]] = value
    elif len(parts) == 5 and parts[0] == "filter_groups" and parts[2] == "filters":
        group, index = _index(parts[1], key), _index(parts[3], key)
        raw.groups.setdefault(group, {}).setdefault(index, {})[parts[4]] = value
    elif len(parts) == 3 and parts[0] == "sort_orders":
        raw.sorts.setdefault(_index(parts[1], key), {})[parts[2]] = value
    elif parts:  # `searchCriteria=` alone (an empty search) is allowed; a misspelt field is not
        raise bad_request('"%fieldName" is not recognized.', {"fieldName": key})


def _index(text: str, key: str) -> int:
    if not text.isdigit():
        raise bad_request('"%fieldName" is not recognized.', {"fieldName": key})
    return int(text)


def _filter(spec: dict[str, str], group: int, index: int) -> Filter:
    where = f"searchCriteria[filter_groups][{group}][filters][{index}]"
    if "field" not in spec:
        raise bad_request('"%fieldName" is required. Enter and try again.', {"fieldName": f"{where}[field]"})
    condition = spec.get("condition_type", "eq").lower()
    if condition not in CONDITIONS:
        raise bad_request('Invalid condition type "%1"', [condition])
    return Filter(spec["field"], spec.get("value", ""), condition)


def _sort(spec: dict[str, str]) -> tuple[str, str]:
    return spec.get("field", ""), spec.get("direction", "ASC").upper()


def _positive(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise bad_request('The "%1" value is invalid.', [name])  # UNCONFIRMED wording
    return int(text)


# --- applying ------------------------------------------------------------------------------------


def _comparable(value: Any, other: str) -> tuple[Any, Any]:
    """Both sides as what Magento's SQL would compare: numbers as numbers, times as times, else text."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int | float):
        try:
            return float(value), float(other)
        except ValueError:
            return str(value), other
    text = "" if value is None else str(value)
    left, right = _time(text), _time(other)
    if left is not None and right is not None:
        return left, right
    return text, other


def _time(text: str) -> datetime | None:
    for fmt in (TIME_FORMAT, "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text[:19], fmt)
        except ValueError:
            continue
    return None


def _like(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("%")) + "$", re.I | re.S)


def matches(record: Mapping[str, Any], rule: Filter) -> bool:
    value = record.get(rule.field)
    kind = rule.condition_type
    if kind == "null":
        return value is None
    if kind == "notnull":
        return value is not None
    if kind in ("in", "nin"):
        wanted = {v.strip() for v in rule.value.split(",")}
        found = value is not None and str(value) in wanted
        return found if kind == "in" else not found
    if kind in ("like", "nlike"):
        hit = value is not None and bool(_like(rule.value).match(str(value)))
        return hit if kind == "like" else not hit
    if kind == "finset":
        return rule.value in str(value or "").split(",")
    if value is None:
        return kind == "neq"
    left, right = _comparable(value, rule.value)
    if type(left) is not type(right):
        left, right = str(left), str(right)
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "eq": lambda a, b: a == b if not isinstance(a, str) else a.lower() == b.lower(),
        "neq": lambda a, b: a != b,
        "gt": lambda a, b: a > b,
        "gteq": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lteq": lambda a, b: a <= b,
    }
    return compare[kind](left, right)


def search(
    records: Sequence[Mapping[str, Any]], criteria: SearchCriteria, *, max_page_size: int | None = None
) -> tuple[list[Mapping[str, Any]], int]:
    """The page of matching records, and how many match in all.

    A `currentPage` past the last page answers the last page again (Magento's collections clamp
    the page), so a client that pages "until an empty page" never stops: page to `total_count`.
    """
    if max_page_size is not None and (criteria.page_size or 0) > max_page_size:
        raise bad_request("Maximum SearchCriteria pageSize is %max", {"max": max_page_size})
    found = [r for r in records if all(any(matches(r, f) for f in group) for group in criteria.filter_groups)]
    for sort_field, direction in reversed(criteria.sort_orders):
        found.sort(key=lambda r: _sort_key(r.get(sort_field)), reverse=direction == "DESC")
    total = len(found)
    if criteria.page_size is None:
        return found, total
    last_page = max(1, -(-total // criteria.page_size))
    page = min(criteria.current_page or 1, last_page)
    start = (page - 1) * criteria.page_size
    return found[start : start + criteria.page_size], total


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, float(value))
    return (2, str(value))
