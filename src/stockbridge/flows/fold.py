"""One fold for the whole inbox: each entry goes to the flow that owns its kind.

One entry the fold cannot use must never stop the entries behind it (they are claimed oldest first,
so a row that fails every time would otherwise hold back everything that arrives after it). Each
entry is parsed first and an unusable one is set aside (`flows/poison.py`). The rest are folded in a
SAVEPOINT per flow; if the database refuses something in it (a value out of a column's range, a
constraint), the savepoint is rolled back and the entries are folded again in halves, each in its
own savepoint, until the entries that fail alone are found and set aside; everything else commits.
An error that is not the entries' fault (the database unreachable, locked, restarted) rolls the
whole batch back as before, to be folded again later: setting entries aside for it would be wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from stockbridge.config import Config
from stockbridge.domain.inbound import ORDER_KINDS, STOCK_KINDS, STOREFRONT_KINDS, UnusableEvent
from stockbridge.flows.edge_ports import InboundFormats, StorefrontFormats
from stockbridge.flows.inventory import StockEntry, fold_stock, parse_stock_entry, rederive_targets
from stockbridge.flows.orders import OrderEntry, fold_orders, parse_order_entry
from stockbridge.flows.poison import set_aside
from stockbridge.flows.storefront_orders import (
    StorefrontEntry,
    fold_storefront_orders,
    parse_storefront_entry,
)
from stockbridge.store import inbox_repo
from stockbridge.store.inbox_repo import InboxEntry

T = TypeVar("T")
Failures = list[tuple[InboxEntry, str]]

# What an entry's content can make the fold raise: the database refusing its values (SQLite's driver
# raises OverflowError for an integer past 64 bits before the statement runs; PostgreSQL answers
# DataError), or domain code choking on it. OperationalError and the like are not the entry's fault.
_CONTENT_ERRORS = (StatementError, ArithmeticError, ValueError, TypeError, LookupError)


@dataclass(frozen=True, slots=True)
class FoldReport:
    folded: int
    set_aside: int


def fold_inbox(
    connection: Connection,
    entries: Sequence[InboxEntry],
    config: Config,
    now: datetime,
    *,
    formats: InboundFormats,
    storefronts: Mapping[str, StorefrontFormats] | None = None,
) -> FoldReport:
    """Fold claimed entries; those that cannot be folded are set aside. Caller owns the transaction.

    `formats` is the warehouse connector's reader of what it sent (the inbox keeps payloads raw);
    `storefronts` each storefront connector's, by channel name (an entry's source)."""
    stock: list[tuple[InboxEntry, StockEntry]] = []
    orders: list[tuple[InboxEntry, OrderEntry]] = []
    store_orders: list[tuple[InboxEntry, StorefrontEntry]] = []
    failures: Failures = []
    for entry in entries:
        try:
            if entry.kind in STOCK_KINDS:
                stock.append((entry, parse_stock_entry(entry, formats)))
            elif entry.kind in ORDER_KINDS:
                orders.append((entry, parse_order_entry(entry.kind, entry.payload, formats)))
            elif entry.kind in STOREFRONT_KINDS:
                store_orders.append((entry, parse_storefront_entry(entry, storefronts or {})))
            else:
                failures.append((entry, f"no flow folds inbox entries of kind {entry.kind!r}"))
        except UnusableEvent as exc:
            failures.append((entry, str(exc)))

    # Orders first: the (SKU, warehouse) pairs whose open demand they move are re-derived with the
    # stock's, under one sorted lock of their targets (docs/decisions/0022).
    moved: set[tuple[str, str]] = set()

    def fold_order_group(c: Connection, group: Sequence[tuple[InboxEntry, OrderEntry]]) -> None:
        moved.update(fold_orders(c, [parsed for _, parsed in group], config, now, rederive=False))
        inbox_repo.mark_processed(c, [entry.id for entry, _ in group], now)

    def fold_storefront_group(c: Connection, group: Sequence[tuple[InboxEntry, StorefrontEntry]]) -> None:
        moved.update(fold_storefront_orders(c, [parsed for _, parsed in group], config, now, rederive=False))
        inbox_repo.mark_processed(c, [entry.id for entry, _ in group], now)

    def fold_stock_group(c: Connection, group: Sequence[tuple[InboxEntry, StockEntry]]) -> None:
        fold_stock(c, [parsed for _, parsed in group], config, now, also=moved)

    failures += fold_isolating(connection, orders, fold_order_group)
    failures += fold_isolating(connection, store_orders, fold_storefront_group)
    stock_failures = fold_isolating(connection, stock, fold_stock_group)
    if moved and len(stock_failures) == len(stock):  # no stock fold went through to carry them
        rederive_targets(connection, config, moved, now)
    failures += stock_failures
    set_aside(connection, config, now, failures)
    return FoldReport(folded=len(entries) - len(failures), set_aside=len(failures))


def fold_isolating(
    connection: Connection,
    group: Sequence[tuple[InboxEntry, T]],
    fold: Callable[[Connection, Sequence[tuple[InboxEntry, T]]], object],
) -> Failures:
    """Fold `group` in a savepoint; on a content error, fold its halves apart (bisecting down to the
    culprits). Returns the entries that failed alone, with the error; all others are folded."""
    if not group:
        return []
    try:
        with connection.begin_nested():
            fold(connection, group)
    except _CONTENT_ERRORS as exc:
        if not _caused_by_content(exc):
            raise
        if len(group) == 1:
            return [(group[0][0], _describe(exc))]
        middle = len(group) // 2
        return fold_isolating(connection, group[:middle], fold) + fold_isolating(
            connection, group[middle:], fold
        )
    return []


def _caused_by_content(exc: Exception) -> bool:
    if isinstance(exc, DBAPIError):
        return isinstance(exc, DataError | IntegrityError) and not exc.connection_invalidated
    return True


def _describe(exc: Exception) -> str:
    cause = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{type(cause).__name__}: {first_line}"
