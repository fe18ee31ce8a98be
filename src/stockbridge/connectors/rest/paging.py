"""Paging strategies: where a page's token goes in the request, and where the next one comes from.

A listing is a request (`PageRequest`) sent once per page; the strategy puts the token of the page
wanted into it, takes the page's records out of the answer, and reads the next page's token (None
after the last page). The three shapes the hub meets:

- `CursorPaging`: an opaque cursor in a query parameter (Clarus `cursor`/`next_cursor`, and its
  events feed `after_sequence`/`next_after_sequence` with `has_more`);
- `OffsetPaging`: offset and limit, `hasMore` in the answer (NetSuite SuiteQL; its `links` "next"
  carries the same offset);
- `GraphQLCursorPaging`: a connection's `pageInfo {hasNextPage endCursor}`, the cursor passed as a
  variable (Shopify's Admin API).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

Token = str | int


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One request of a listing, before the page token is added."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Page:
    records: list[Any]
    next_token: Token | None  # None: this was the last page
    body: dict[str, Any]  # the whole answer, for what else a page carries


class Paging(Protocol):
    def request(self, base: PageRequest, token: Token | None) -> PageRequest:
        """The request for the page `token` names (None: the first page)."""
        ...

    def records(self, body: dict[str, Any]) -> list[Any]: ...

    def next_token(self, body: dict[str, Any], token: Token | None, records: Sequence[Any]) -> Token | None:
        """The next page's token, or None after the last page. Raises a shape error on a bad answer."""
        ...


def _list_at(body: dict[str, Any], key: str) -> list[Any]:
    found = body[key]
    if not isinstance(found, list):
        raise TypeError(f"{key} is a {type(found).__name__}, not a list")
    return found


@dataclass(frozen=True, slots=True)
class CursorPaging:
    records_key: str = "data"
    cursor_param: str = "cursor"
    next_key: str = "next_cursor"
    has_more_key: str | None = None  # when set, the next token counts only while this is true

    def request(self, base: PageRequest, token: Token | None) -> PageRequest:
        if token is None or token == "":
            return base
        return replace(base, params={**base.params, self.cursor_param: token})

    def records(self, body: dict[str, Any]) -> list[Any]:
        return _list_at(body, self.records_key)

    def next_token(self, body: dict[str, Any], token: Token | None, records: Sequence[Any]) -> Token | None:
        if self.has_more_key is not None and body.get(self.has_more_key) is not True:
            return None
        following = body.get(self.next_key)
        if following is None or following == "":
            return None
        if not isinstance(following, str | int) or isinstance(following, bool):
            raise TypeError(f"{self.next_key} is a {type(following).__name__}")
        if following == token:
            raise ValueError(f"{self.next_key} did not move: {following!r}")  # would page for ever
        return following


@dataclass(frozen=True, slots=True)
class OffsetPaging:
    limit: int
    records_key: str = "items"
    has_more_key: str = "hasMore"
    offset_param: str = "offset"
    limit_param: str = "limit"

    def request(self, base: PageRequest, token: Token | None) -> PageRequest:
        offset = int(token or 0)
        return replace(base, params={**base.params, self.limit_param: self.limit, self.offset_param: offset})

    def records(self, body: dict[str, Any]) -> list[Any]:
        return _list_at(body, self.records_key) if self.records_key in body else []

    def next_token(self, body: dict[str, Any], token: Token | None, records: Sequence[Any]) -> Token | None:
        if not body.get(self.has_more_key) or not records:
            return None
        return int(token or 0) + len(records)


@dataclass(frozen=True, slots=True)
class GraphQLCursorPaging:
    """A GraphQL connection at `connection` (e.g. `("data", "productVariants")`) in the answer; the
    query takes the cursor as variable `after_variable`. Records are the connection's `nodes`, or
    its `edges[].node`."""

    connection: tuple[str, ...]
    after_variable: str = "after"

    def request(self, base: PageRequest, token: Token | None) -> PageRequest:
        body = dict(base.json or {})
        variables = {**(body.get("variables") or {}), self.after_variable: token}
        return replace(base, json={**body, "variables": variables})

    def _connection(self, body: dict[str, Any]) -> dict[str, Any]:
        found: Any = body
        for key in self.connection:
            found = found[key]
        if not isinstance(found, dict):
            raise TypeError(f"{'.'.join(self.connection)} is not an object")
        return found

    def records(self, body: dict[str, Any]) -> list[Any]:
        connection = self._connection(body)
        if "nodes" in connection:
            return _list_at(connection, "nodes")
        return [edge["node"] for edge in _list_at(connection, "edges")]

    def next_token(self, body: dict[str, Any], token: Token | None, records: Sequence[Any]) -> Token | None:
        info = self._connection(body)["pageInfo"]
        if info["hasNextPage"] is not True:
            return None
        cursor = info["endCursor"]
        if not isinstance(cursor, str) or not cursor or cursor == token:
            raise ValueError(f"pageInfo.endCursor is not a new cursor: {cursor!r}")
        return cursor
