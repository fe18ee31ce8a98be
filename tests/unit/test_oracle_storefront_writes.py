"""The oracle's judge of a storefront's mutation log: sets applied twice, and older warehouse
figures written after newer ones (the chaos day's Shopify checks)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from stockbridge.oracle import doubled_sets, figure_history, stale_sets

LOCATION = "gid://shopify/Location/1"


def _set(sku: str, to: int, key: str = "k", batch: str = "b", item: str = "i1") -> dict[str, Any]:
    return {
        "sku": sku,
        "inventory_item_id": item,
        "location_id": LOCATION,
        "to": to,
        "at": "t",
        "idempotency_key": key,
        "reference_document_uri": batch,
    }


def test_a_key_or_a_batch_applied_twice_to_one_level_is_doubled() -> None:
    assert doubled_sets([_set("A", 1, "k1", "b1"), _set("A", 2, "k2", "b2")]) == []
    assert len(doubled_sets([_set("A", 1, "k1", "b1"), _set("A", 1, "k1", "b1")])) == 1
    assert len(doubled_sets([_set("A", 1, "k1", "b1"), _set("A", 1, "k2", "b1")])) == 1
    # One batch sets many levels once each.
    assert doubled_sets([_set("A", 1, "k1", "b1", "i1"), _set("B", 1, "k1", "b1", "i2")]) == []


def _movement(sequence: int, sku: str, **balances: int) -> dict[str, Any]:
    return {
        "type": "inventory.movement",
        "data": {
            "warehouse_id": "WH1",
            "sequence": sequence,
            "sku": sku,
            "balances": [{"status": s, "quantity": q} for s, q in balances.items()],
        },
    }


def test_history_is_the_figure_after_each_movement() -> None:
    events = [
        _movement(3, "B", allocated=2),  # not counted: the figure stays
        _movement(1, "B", available=5),
        _movement(2, "B", available=4, allocated=1),
        _movement(4, "X", available=1),
        "{not json",  # poison events, as the feed lists them
        {"type": "inventory.movement", "data": {"sequence": 5, "sku": "B"}},
        {"type": "inventory.movement", "data": "x"},
    ]
    history = figure_history(events, "WH1", frozenset({"available"}), lambda sku: 1)
    assert history["B"] == [(0, 0), (1, 4), (2, 3), (3, 3)]


HISTORY = {"A": [(0, 0), (1, 5), (2, 7), (3, 5), (4, 9)]}


def test_sets_in_warehouse_order_are_not_stale_even_when_a_figure_repeats() -> None:
    stale, unmatched = stale_sets(HISTORY, [_set("A", 5), _set("A", 7), _set("A", 5), _set("A", 9)])
    assert (stale, unmatched) == ([], 0)
    # Skipping versions (coalesced) is fine; 5 after 7 is v3's figure.
    assert stale_sets(HISTORY, [_set("A", 7), _set("A", 5)]) == ([], 0)


def test_an_older_figure_after_a_newer_one_is_stale() -> None:
    stale, _ = stale_sets(HISTORY, [_set("A", 9), _set("A", 7)])
    assert len(stale) == 1


def test_a_figure_the_warehouse_never_had_is_unmatched_not_stale() -> None:
    assert stale_sets(HISTORY, [_set("A", 42)]) == ([], 1)


@given(st.lists(st.integers(0, 4), max_size=12))
def test_any_writes_in_version_order_are_never_stale(versions: list[int]) -> None:
    figures = dict(HISTORY["A"])
    writes = [_set("A", figures[v]) for v in sorted(versions)]
    assert stale_sets(HISTORY, writes)[0] == []


def test_with_open_demand_taken_off_a_set_fits_any_version_at_or_above_it() -> None:
    # 4 is 5 (v1 or v3) less an order's 1: neither unmatched nor stale; 8 after 9 could be v4 less 1.
    assert stale_sets(HISTORY, [_set("A", 4), _set("A", 9), _set("A", 8)], less_demand=True) == ([], 0)
    # Above every figure the warehouse ever had: unmatched.
    assert stale_sets(HISTORY, [_set("A", 12)], less_demand=True) == ([], 1)
