from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockbridge.domain.fulfilment import (
    RollupError,
    Shipment,
    ShippedLine,
    fulfilled_per_order_line,
    to_fulfil_now,
)
from stockbridge.domain.orders import WmsLine, WmsOrder
from stockbridge.domain.shipping import Address

# Line 1: 3 mugs. Line 2: 2 gift boxes, each 2 MUG + 1 TEA (de-kitted as 2.1 and 2.2).
ORDER = WmsOrder(
    "SO1",
    "WH1",
    "STD",
    Address("A", "1 St", "", "London", "", "N1 9GU", "GB"),
    (WmsLine("1", "MUG", 3, 1), WmsLine("2.1", "MUG", 4, 2), WmsLine("2.2", "TEA", 2, 2)),
)
PER_BUNDLE = {2: {"MUG": 2, "TEA": 1}}


def _shipment(sid: str, *lines: tuple[str, str, int]) -> Shipment:
    return Shipment(sid, "SO1", "UPS", "STD", ("1Z1",), tuple(ShippedLine(*line) for line in lines))


def test_plain_lines_are_fulfilled_as_shipped() -> None:
    assert to_fulfil_now(ORDER, [], _shipment("S1", ("1", "MUG", 2)), PER_BUNDLE) == {1: 2}


def test_a_bundle_shipped_in_two_parcels_counts_when_whole() -> None:
    first = _shipment("S1", ("2.1", "MUG", 3))  # one and a half boxes of mugs, no tea yet
    assert to_fulfil_now(ORDER, [], first, PER_BUNDLE) == {}
    second = _shipment("S2", ("2.2", "TEA", 1))  # now one whole box
    assert to_fulfil_now(ORDER, [first], second, PER_BUNDLE) == {2: 1}
    third = _shipment("S3", ("2.1", "MUG", 1), ("2.2", "TEA", 1), ("1", "MUG", 3))
    assert to_fulfil_now(ORDER, [first, second], third, PER_BUNDLE) == {1: 3, 2: 1}


def test_unknown_line_is_refused() -> None:
    with pytest.raises(RollupError):
        fulfilled_per_order_line(ORDER, [_shipment("S1", ("9", "X", 1))], PER_BUNDLE)


@given(
    st.permutations(
        [("1", "MUG", 1), ("1", "MUG", 2), ("2.1", "MUG", 1), ("2.1", "MUG", 3), ("2.2", "TEA", 2)]
    )
)
def test_reported_totals_never_exceed_and_end_at_the_order(parcels: list[tuple[str, str, int]]) -> None:
    shipments = [_shipment(f"S{i}", parcel) for i, parcel in enumerate(parcels)]
    reported: dict[int, int] = {}
    for i, shipment in enumerate(shipments):
        for line, qty in to_fulfil_now(ORDER, shipments[:i], shipment, PER_BUNDLE).items():
            reported[line] = reported.get(line, 0) + qty
        assert reported.get(1, 0) <= 3
        assert reported.get(2, 0) <= 2
    assert reported == {1: 3, 2: 2}
