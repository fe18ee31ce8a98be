"""The Magento simulator's searchCriteria: read from query pairs and applied as Magento does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockbridge.simulators.magento.errors import MagentoError
from stockbridge.simulators.magento.search import Filter, SearchCriteria, matches, parse, search

ROWS = [
    {"entity_id": 1, "sku": "A", "updated_at": "2026-11-30 09:00:00", "status": "processing", "qty": 5},
    {"entity_id": 2, "sku": "B", "updated_at": "2026-11-30 10:00:00", "status": "pending", "qty": 12},
    {"entity_id": 3, "sku": "C,D", "updated_at": "2026-11-29 23:59:59", "status": "processing", "qty": 0},
]


def test_snake_and_camel_case_keys_read_the_same() -> None:
    snake = parse(
        [
            ("searchCriteria[filter_groups][0][filters][0][field]", "updated_at"),
            ("searchCriteria[filter_groups][0][filters][0][value]", "2026-11-30 09:00:00"),
            ("searchCriteria[filter_groups][0][filters][0][condition_type]", "gteq"),
            ("searchCriteria[page_size]", "2"),
        ]
    )
    camel = parse(
        [
            ("searchCriteria[filterGroups][0][filters][0][field]", "updated_at"),
            ("searchCriteria[filterGroups][0][filters][0][value]", "2026-11-30 09:00:00"),
            ("searchCriteria[filterGroups][0][filters][0][conditionType]", "gteq"),
            ("searchCriteria[pageSize]", "2"),
        ]
    )
    assert snake == camel
    assert snake.filter_groups == ((Filter("updated_at", "2026-11-30 09:00:00", "gteq"),),)


def test_filters_in_a_group_or_and_groups_and() -> None:
    criteria = SearchCriteria(
        ((Filter("sku", "A"), Filter("sku", "B")), (Filter("status", "processing"),)),
    )
    assert [r["entity_id"] for r in search(ROWS, criteria)[0]] == [1]


@pytest.mark.parametrize(
    ("rule", "ids"),
    [
        (Filter("updated_at", "2026-11-30 09:00:00", "gteq"), [1, 2]),
        (Filter("updated_at", "2026-11-30", "lt"), [3]),
        (Filter("qty", "5", "gt"), [2]),  # numbers as numbers: 12 > 5
        (Filter("sku", "A,B", "in"), [1, 2]),
        (Filter("sku", "A,B", "nin"), [3]),
        (Filter("sku", "c%", "like"), [3]),
        (Filter("status", "PENDING", "eq"), [2]),
        (Filter("missing", "", "null"), [1, 2, 3]),
    ],
)
def test_condition_types(rule: Filter, ids: list[int]) -> None:
    assert [r["entity_id"] for r in ROWS if matches(r, rule)] == ids


def test_sort_orders_apply_in_turn() -> None:
    criteria = parse(
        [
            ("searchCriteria[sortOrders][0][field]", "status"),
            ("searchCriteria[sortOrders][0][direction]", "DESC"),
            ("searchCriteria[sortOrders][1][field]", "qty"),
            ("searchCriteria[sortOrders][1][direction]", "ASC"),
        ]
    )
    assert [r["entity_id"] for r in search(ROWS, criteria)[0]] == [3, 1, 2]


@given(total=st.integers(0, 30), size=st.integers(1, 10), page=st.integers(1, 12))
def test_a_page_past_the_last_is_the_last_page_again(total: int, size: int, page: int) -> None:
    rows = [{"entity_id": n} for n in range(total)]
    found, count = search(rows, SearchCriteria(page_size=size, current_page=page))
    assert count == total
    last = max(1, -(-total // size))
    start = (min(page, last) - 1) * size
    assert [r["entity_id"] for r in found] == list(range(total))[start : start + size]


@pytest.mark.parametrize(
    "pairs",
    [
        [("searchCriteria[pageSise]", "2")],
        [("searchCriteria[pageSize]", "0")],
        [("searchCriteria[filter_groups][0][filters][0][value]", "x")],  # no field
        [
            ("searchCriteria[filter_groups][0][filters][0][field]", "a"),
            ("searchCriteria[filter_groups][0][filters][0][condition_type]", "near"),
        ],
    ],
)
def test_bad_criteria_are_refused_with_a_400(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(MagentoError) as refused:
        parse(pairs)
    assert refused.value.status == 400


def test_a_page_over_the_ceiling_is_refused() -> None:
    with pytest.raises(MagentoError, match="Maximum SearchCriteria pageSize"):
        search(ROWS, SearchCriteria(page_size=301), max_page_size=300)
