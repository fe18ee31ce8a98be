"""The IMS route's line arithmetic (connectors/netsuite/storefront_orders.py): whatever the IMS order
holds and whatever the hub knows of it, the patch leaves the IMS order's open lines exactly the
storefront order's wanted lines."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from stockbridge.connectors.netsuite.storefront_orders import _Line, _match, _patch
from stockbridge.domain.storefront_routing import ImsOrderLine, ImsOrderRequest

ITEMS = ["101", "102", "103"]


def _request(lines: list[ImsOrderLine]) -> ImsOrderRequest:
    return ImsOrderRequest("shop-order-1", "SHOP-1", "501", "B", None, None, "", tuple(lines), False)


def _apply(lines: list[_Line], patch: list[dict[str, Any]]) -> list[_Line]:
    """What the IMS does with a PATCH of the item sublist: update lines by number, add the others."""
    by_number = {line.line: line for line in lines}
    for change in patch:
        if "line" in change:
            old = by_number[change["line"]]
            by_number[old.line] = _Line(
                old.line,
                old.item_id,
                int(change.get("quantity", old.quantity)),
                bool(change.get("isClosed", old.closed)),
            )
        else:
            number = max(by_number, default=0) + 1
            by_number[number] = _Line(number, change["item"]["id"], int(change["quantity"]), False)
    return list(by_number.values())


def _open(lines: list[_Line]) -> Counter[tuple[str, int]]:
    return Counter((line.item_id, line.quantity) for line in lines if not line.closed and line.quantity > 0)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[_Line], list[ImsOrderLine]]:
    existing = [
        _Line(n, draw(st.sampled_from(ITEMS)), draw(st.integers(1, 4)), draw(st.booleans()))
        for n in range(1, draw(st.integers(0, 4)) + 1)
    ]
    wanted: list[ImsOrderLine] = []
    for line in existing:
        # The hub knows the line (recorded number), or lost the create's answer (no number), or the
        # customer removed it.
        known = draw(st.booleans())
        wanted.append(
            ImsOrderLine(
                f"li-{line.line}", line.line if known else None, line.item_id, draw(st.integers(0, 4))
            )
        )
    for extra in range(draw(st.integers(0, 3))):
        wanted.append(
            ImsOrderLine(f"new-{extra}", None, draw(st.sampled_from(ITEMS)), draw(st.integers(1, 4)))
        )
    return existing, wanted


@given(scenarios())
def test_the_patch_leaves_exactly_the_wanted_open_lines(
    scenario: tuple[list[_Line], list[ImsOrderLine]],
) -> None:
    existing, wanted = scenario
    request = _request(wanted)
    matched = _match(request, existing)
    after = _apply(existing, _patch(request, matched, {line.line: line for line in existing}))
    unmatched_existing = [line for line in existing if line.line not in matched.values() and not line.closed]
    expected = Counter((w.item_id, w.quantity) for w in wanted if w.quantity > 0)
    expected.update((line.item_id, line.quantity) for line in unmatched_existing)
    assert _open(after) == expected
    assert len(set(matched.values())) == len(matched)  # no IMS line stands for two storefront lines


def test_a_retried_create_changes_nothing() -> None:
    existing = [_Line(1, "101", 2, False), _Line(2, "102", 1, False)]
    wanted = [ImsOrderLine("a", None, "101", 2), ImsOrderLine("b", None, "102", 1)]
    request = _request(wanted)
    matched = _match(request, existing)
    assert matched == {"a": 1, "b": 2}
    assert _patch(request, matched, {line.line: line for line in existing}) == []
