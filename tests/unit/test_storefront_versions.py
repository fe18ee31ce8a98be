"""The storefront order version rule (domain/storefront_routing.compare_versions, decision 0024):
Shopify stamps to the second, so within one second arrival order says nothing; a read from the
store after that second does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from stockbridge.domain.storefront_orders import StorefrontLine, StorefrontOrder
from stockbridge.domain.storefront_routing import (
    STAMP_SETTLED,
    OrderVersion,
    Verdict,
    compare_versions,
    read_version,
    same_content,
    storefront_version,
)

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _order(quantity: int, second: int = 0, **kw: Any) -> StorefrontOrder:
    values: dict[str, Any] = {
        "channel": "shopify",
        "order_id": "gid://shopify/Order/5001",
        "name": "#1001",
        "email": "ada@example.com",
        "financial_status": "paid",
        "ship_method": "Standard Delivery",
        "address": None,
        "lines": (StorefrontLine("gid://shopify/LineItem/1", "MUG-1", quantity, quantity),),
        "updated_at": T0 + timedelta(seconds=second),
    }
    values.update(kw)
    return StorefrontOrder(**values)


def test_a_later_second_wins_and_an_earlier_never_does_however_each_was_obtained() -> None:
    late = storefront_version(_order(1, second=1))
    early_read = storefront_version(_order(2), read_at=T0 + timedelta(hours=1))
    assert compare_versions(late, early_read) == Verdict.NEWER
    assert compare_versions(early_read, late) == Verdict.KEEP


def test_two_webhook_copies_of_one_second_that_differ_tie_whichever_came_first() -> None:
    a, b = storefront_version(_order(1)), storefront_version(_order(2))
    assert compare_versions(a, b) == compare_versions(b, a) == Verdict.TIE
    assert compare_versions(a, a) == Verdict.KEEP  # a duplicate is no tie


def test_a_read_after_the_second_beats_a_webhook_copy_of_that_second_and_a_later_read_an_earlier() -> None:
    webhook = storefront_version(_order(1))
    first = storefront_version(_order(2), read_at=T0 + STAMP_SETTLED)
    later = storefront_version(_order(3), read_at=T0 + STAMP_SETTLED + timedelta(microseconds=1))
    assert compare_versions(first, webhook) == Verdict.NEWER
    assert compare_versions(webhook, first) == Verdict.KEEP
    assert compare_versions(later, first) == Verdict.NEWER
    assert compare_versions(first, later) == Verdict.KEEP
    # The same content read from the store confirms a webhook copy (kept, marked as read) once.
    confirmed = storefront_version(_order(1), read_at=T0 + STAMP_SETTLED)
    assert compare_versions(confirmed, webhook) == Verdict.CONFIRMED
    assert compare_versions(webhook, confirmed) == Verdict.KEEP
    assert same_content(confirmed, webhook)
    assert not same_content(confirmed, first)
    assert not same_content(webhook, None)


def test_a_read_inside_the_stamps_second_proves_nothing() -> None:
    just_before = T0 + STAMP_SETTLED - timedelta(microseconds=1)
    assert storefront_version(_order(1), read_at=just_before) == storefront_version(_order(1))
    assert read_version("v#d", T0, None) == "v#d"
    marked = OrderVersion.parse(read_version("v#d", T0, T0 + STAMP_SETTLED))
    assert (marked.stamp, marked.digest, marked.read) == ("v", "d", "20261130T090002.000000Z")
    assert str(marked) == "v#d#20261130T090002.000000Z"
    assert compare_versions(
        storefront_version(_order(2), read_at=just_before), storefront_version(_order(1))
    ) == (Verdict.TIE)


def test_a_stamp_in_another_offset_is_the_same_instant() -> None:
    other = _order(1, updated_at=T0.astimezone(datetime.now().astimezone().tzinfo))
    assert (
        OrderVersion.parse(storefront_version(other)).stamp
        == OrderVersion.parse(storefront_version(_order(1))).stamp
    )


# A store's history of one order: each change (a quantity) at a second no earlier than the one before.
_history = st.lists(st.tuples(st.integers(0, 2), st.integers(1, 4)), min_size=1, max_size=6).map(
    lambda steps: _changes(steps)
)


def _changes(steps: list[tuple[int, int]]) -> list[StorefrontOrder]:
    second, changes = 0, list[StorefrontOrder]()
    for gap, quantity in steps:
        second += gap
        if not changes or changes[-1].lines[0].quantity != quantity:
            changes.append(_order(quantity, second))
    return changes


@given(history=_history, data=st.data())
def test_every_arrival_order_converges_on_the_stores_current_version(
    history: list[StorefrontOrder], data: st.DataObject
) -> None:
    """Each change's webhook arrives at least once, in any order; each tie asks for one read of the
    store as it is now (after the last change's second), served at any point. Once everything has
    arrived and every asked read is served, the hub holds the store's last version."""
    copies = [storefront_version(o) for o in history]
    arrivals = data.draw(st.permutations(copies + data.draw(st.lists(st.sampled_from(copies), max_size=4))))
    truth = history[-1]
    reads = 0
    held: str | None = None
    asked = 0

    def fold(version: str) -> None:
        nonlocal held, asked
        verdict = Verdict.NEWER if held is None else compare_versions(version, held)
        if verdict in (Verdict.NEWER, Verdict.CONFIRMED):
            held = version
        elif verdict == Verdict.TIE:
            asked = 1  # one request per order, however many ties

    def serve_read() -> None:
        nonlocal asked, reads
        asked, reads = 0, reads + 1
        fold(storefront_version(truth, read_at=truth.updated_at + STAMP_SETTLED + timedelta(seconds=reads)))

    for version in arrivals:
        fold(version)
        if asked and data.draw(st.booleans()):
            serve_read()
    while asked:
        serve_read()
    assert held is not None
    assert same_content(held, storefront_version(truth))
    assert reads <= len(arrivals)  # one read per tie at most
