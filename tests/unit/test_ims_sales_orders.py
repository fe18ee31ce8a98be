"""IMS simulator: the sales order status rules and the Oracle date functions used to poll orders."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from stockbridge.simulators.ims.oracle import _to_date, _to_timestamp
from stockbridge.simulators.ims.sales_orders import derive_status
from stockbridge.simulators.ims.store import ImsStore
from stockbridge.simulators.ims.suiteql import SuiteQLError


def _line(quantity: float, shipped: float = 0, closed: bool = False, billed: float = 0) -> dict[str, Any]:
    return {
        "quantity": quantity,
        "quantityshiprecv": shipped,
        "quantitybilled": billed,
        "isclosed": "T" if closed else "F",
    }


@pytest.mark.parametrize(
    ("current", "lines", "expected"),
    [
        ("B", [_line(2), _line(1)], "B"),
        ("B", [_line(2, 1), _line(1)], "D"),
        ("D", [_line(2, 2), _line(1, 1)], "F"),
        ("D", [_line(2, 2), _line(1, closed=True)], "F"),  # rest closed: bill what shipped
        ("D", [_line(2, 1, closed=True), _line(1, closed=True)], "F"),
        ("B", [_line(2, closed=True), _line(1, closed=True)], "H"),  # nothing to bill
        ("F", [_line(2, 2), _line(1)], "D"),  # a new open line
        ("A", [_line(2, closed=True)], "A"),  # not approved: unchanged
        ("C", [_line(2)], "C"),
        ("G", [_line(2, 2), _line(1)], "G"),
        ("H", [_line(2)], "H"),
        ("D", [_line(2, 1, billed=1), _line(1)], "D"),  # billed, but still short: D
        ("F", [_line(2, 2, billed=1), _line(1, 1)], "F"),  # fulfilled, partly billed: F
        ("F", [_line(2, 2, billed=2), _line(1, 1, billed=1)], "G"),  # everything billed
        ("D", [_line(2, 1, closed=True, billed=1), _line(1, closed=True)], "G"),  # the rest closed
    ],
)
def test_derive_status(current: str, lines: list[dict[str, Any]], expected: str) -> None:
    assert derive_status(current, lines) == expected


@pytest.mark.parametrize(
    ("function", "args", "stored"),
    [
        (_to_date, ("2026-11-26 09:00:00", "YYYY-MM-DD HH24:MI:SS"), "2026-11-26 09:00:00"),
        (_to_date, ("2026-11-26", "YYYY-MM-DD"), "2026-11-26"),
        (_to_date, ("26/11/2026", "DD/MM/YYYY"), "2026-11-26"),
        (_to_date, ("2026-11-26T09:00:00", 'YYYY-MM-DD"T"HH24:MI:SS'), "2026-11-26 09:00:00"),
        (_to_timestamp, ("2026-11-26 09:00:00", "YYYY-MM-DD HH24:MI:SS"), "2026-11-26 09:00:00"),
        (_to_timestamp, ("2026-11-26", "YYYY-MM-DD"), "2026-11-26 00:00:00"),
        (_to_timestamp, ("2026-11-26 09:00:00",), "2026-11-26 09:00:00"),
        (_to_timestamp, ("2026-11-26",), "2026-11-26 00:00:00"),
        (_to_date, (None,), None),
    ],
)
def test_date_literals_give_the_stored_format(
    function: Any, args: tuple[Any, ...], stored: str | None
) -> None:
    assert function(*args) == stored


def test_bad_date_literal_is_a_search_error() -> None:
    store = ImsStore()
    store.control_items([{"itemId": "SKU-1"}])
    with pytest.raises(SuiteQLError) as caught:
        store.suiteql("SELECT id FROM item WHERE lastmodifieddate > TO_TIMESTAMP('26.11.2026')", 10, 0)
    assert caught.value.code == "INVALID_PARAMETER"


def test_injected_clock_is_stored_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    store = ImsStore(clock=lambda: datetime(2026, 11, 26, 11, 0, 0, tzinfo=plus_two))
    store.control_items([{"itemId": "SKU-1"}])
    rows = store.suiteql("SELECT lastmodifieddate FROM item", 10, 0).items
    assert rows == [{"lastmodifieddate": "2026-11-26 09:00:00"}]
    since = "TO_DATE('2026-11-26 09:00:00', 'YYYY-MM-DD HH24:MI:SS')"
    q = f"SELECT COUNT(*) AS n FROM item WHERE lastmodifieddate >= {since}"
    assert store.suiteql(q, 10, 0).items == [{"n": "1"}]
    later = since.replace("09:00:00", "09:00:01")
    assert store.suiteql(q.replace(since, later), 10, 0).items == [{"n": "0"}]
