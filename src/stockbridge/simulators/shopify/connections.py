"""Relay connections (edges/node, nodes, pageInfo) with opaque cursors, and Shopify's search syntax.

Search queries are a subset of Shopify's: terms `field:value`, `field:>value` (also `>=`, `<`, `<=`),
values optionally quoted, joined by whitespace or `AND`, alternatives joined by `OR`. Terms on fields a
caller does not know are ignored, as Shopify ignores unknown filters.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from graphql import GraphQLError

T = TypeVar("T")
MAX_PAGE = 250  # Shopify's largest `first`

_VALUE = r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s()]+"""
_TOKEN = re.compile(rf"(?P<field>\w+):(?P<op>>=|<=|>|<)?(?P<value>{_VALUE})|(?P<word>\S+)")


@dataclass(frozen=True)
class Term:
    field: str
    op: str  # "=", ">", ">=", "<", "<="
    value: str

    def holds(self, actual: Any) -> bool:
        if actual is None:
            return False
        left: Any = str(actual)
        right: Any = self.value
        if self.op == "=":
            return bool(left.lower() == right.lower())
        moments = _moment(left), _moment(right)
        if moments[0] is not None and moments[1] is not None:
            left, right = moments
        return bool({">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[self.op])


def _moment(text: str) -> datetime | None:
    """A timestamp or date as an aware datetime (UTC when it carries no offset), else None."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_search(query: str | None) -> list[list[Term]]:
    """Alternatives (OR) of conjunctions (AND) of terms; an empty list matches everything.

    Quoted values may escape a quote or a backslash with a backslash (`sku:"A \\"B\\""`).
    """
    alternatives: list[list[Term]] = [[]]
    for match in _TOKEN.finditer(query or ""):
        if match.group("field") is None:
            if match.group("word") == "OR":
                alternatives.append([])
            continue  # AND, and free text this subset does not search
        value = match.group("value")
        if value[:1] in "'\"" and len(value) >= 2 and value[-1] == value[0]:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        alternatives[-1].append(Term(match.group("field"), match.group("op") or "=", value))
    return [terms for terms in alternatives if terms]


def matches(search: list[list[Term]], fields: Callable[[str], Any], known: Sequence[str]) -> bool:
    if not search:
        return True
    return any(all(t.holds(fields(t.field)) for t in terms if t.field in known) for terms in search)


def _cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _after(cursor: str) -> list[Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor}") from None
    if not isinstance(key, list):
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor}")
    return key


def connection(
    items: Sequence[T],
    sort_key: Callable[[T], Sequence[Any]],
    first: int | None,
    after: str | None,
    wrap: Callable[[T], Any],
    reverse: bool = False,
) -> dict[str, Any]:
    """One page of `items` ordered by `sort_key` (which must be unique per item)."""
    if first is None:
        raise GraphQLError("you must provide one of first or last")
    if first < 0 or first > MAX_PAGE:
        raise GraphQLError(f"The `first` argument must be between 0 and {MAX_PAGE}.")
    ordered = sorted(items, key=lambda item: list(sort_key(item)), reverse=reverse)
    if after is not None:
        start = _after(after)
        ordered = [
            i for i in ordered if (list(sort_key(i)) < start if reverse else list(sort_key(i)) > start)
        ]
    page, more = ordered[:first], len(ordered) > first
    edges = [{"cursor": _cursor(sort_key(item)), "node": wrap(item)} for item in page]
    info = {
        "hasNextPage": more,
        "hasPreviousPage": after is not None,
        "startCursor": edges[0]["cursor"] if edges else None,
        "endCursor": edges[-1]["cursor"] if edges else None,
    }
    return {"edges": edges, "nodes": [edge["node"] for edge in edges], "pageInfo": info}
