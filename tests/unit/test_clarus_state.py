"""The Clarus simulator's pure model: movement rules, events, snapshot paging, the events feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockbridge.simulators.clarus.settings import ClarusSettings, FaultSettings, SettingsError
from stockbridge.simulators.clarus.state import (
    MOVEMENT_RULES,
    MOVEMENT_TYPES,
    STATUSES,
    ClarusError,
    ClarusState,
    Event,
    parse_movement,
)

T0 = datetime(2026, 11, 26, 3, 30, tzinfo=UTC)


def make_state(*warehouses: str, retention: int = 1_000_000) -> ClarusState:
    ticks = iter(range(10**9))
    return ClarusState(warehouses or ("WH1",), lambda: T0 + timedelta(milliseconds=next(ticks)), retention)


def apply(state: ClarusState, **raw: Any) -> list[Event]:
    return state.apply(parse_movement({"warehouse_id": "WH1", "sku": "ABC-1", **raw}))


def stock(state: ClarusState, warehouse: str = "WH1", sku: str = "ABC-1") -> dict[str, int]:
    return dict(state.stock_view()["warehouses"][warehouse]["stock"].get(sku, {}))


def test_receipt_then_status_change_emits_event_with_absolute_balances() -> None:
    state = make_state()
    apply(state, movement_type="receipt", quantity=100)
    [event] = apply(
        state,
        movement_type="status_change",
        quantity=5,
        from_status="available",
        to_status="quarantine",
        reference="QC hold",
    )
    assert event.to_dict() == {
        "id": "evt_WH1_000000000002",
        "type": "inventory.movement",
        "created_at": "2026-11-26T03:30:00.001000Z",
        "data": {
            "warehouse_id": "WH1",
            "sequence": 2,
            "occurred_at": "2026-11-26T03:30:00.001000Z",
            "movement_type": "status_change",
            "sku": "ABC-1",
            "quantity": 5,
            "from_status": "available",
            "to_status": "quarantine",
            "counted_quantity": None,
            "from_warehouse_id": None,
            "to_warehouse_id": None,
            "reference": "QC hold",
            "balances": [{"status": "available", "quantity": 95}, {"status": "quarantine", "quantity": 5}],
        },
    }
    assert stock(state) == {"available": 95, "quarantine": 5}


def test_order_lifecycle_allocate_pick_despatch() -> None:
    state = make_state()
    apply(state, movement_type="receipt", quantity=10, to_status="inbound")
    apply(state, movement_type="putaway", quantity=10)
    apply(state, movement_type="allocate", quantity=4)
    apply(state, movement_type="deallocate", quantity=1)
    apply(state, movement_type="pick", quantity=3)
    [event] = apply(state, movement_type="despatch", quantity=2)
    assert (event.from_status, event.to_status, event.balances) == ("picked", None, (("picked", 1),))
    assert stock(state) == {"available": 7, "picked": 1}
    assert state.warehouses["WH1"].sequence == 6


def test_refused_movement_changes_nothing() -> None:
    state = make_state()
    apply(state, movement_type="receipt", quantity=3)
    with pytest.raises(ClarusError) as refused:
        apply(state, movement_type="allocate", quantity=4)
    assert refused.value.code == "insufficient_stock"
    assert "only 3" in refused.value.message
    assert state.warehouses["WH1"].sequence == 1
    assert stock(state) == {"available": 3}
    assert len(state.warehouses["WH1"].events) == 1


def test_count_sets_absolute_quantity_and_reports_signed_adjustment() -> None:
    state = make_state()
    apply(state, movement_type="receipt", quantity=10)
    [event] = apply(state, movement_type="count", counted_quantity=7)
    assert (event.quantity, event.counted_quantity, event.balances) == (-3, 7, (("available", 7),))
    [event] = apply(state, movement_type="count", counted_quantity=0, to_status="damaged")
    assert event.balances == (("damaged", 0),)
    rows = state.stock_page("WH1", 10).rows
    assert [(r["status"], r["quantity"]) for r in rows] == [("available", 7), ("damaged", 0)]


def test_transfer_moves_stock_between_warehouses_with_own_sequences() -> None:
    state = make_state("WH1", "WH2")
    apply(state, movement_type="receipt", quantity=10)
    apply(state, movement_type="transfer_out", quantity=4, to_warehouse_id="WH2")
    out, arrived = apply(state, movement_type="transfer_in", quantity=4, to_warehouse_id="WH2")
    assert (out.warehouse_id, out.sequence, out.balances) == ("WH1", 3, (("in_transfer", 0),))
    assert (arrived.warehouse_id, arrived.sequence, arrived.balances) == ("WH2", 1, (("available", 4),))
    assert (arrived.from_warehouse_id, arrived.to_warehouse_id) == ("WH1", "WH2")
    assert stock(state) == {"available": 6}
    assert stock(state, "WH2") == {"available": 4}


def test_write_off_defaults_to_damaged() -> None:
    state = make_state()
    apply(state, movement_type="receipt", quantity=5, to_status="damaged")
    [event] = apply(state, movement_type="write_off", quantity=5)
    assert event.balances == (("damaged", 0),)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"movement_type": "teleport", "quantity": 1}, "movement_type"),
        ({"movement_type": "receipt", "quantity": 0}, "quantity"),
        ({"movement_type": "receipt", "quantity": True}, "quantity"),
        ({"movement_type": "receipt", "quantity": 1, "from_status": "available"}, "from_status"),
        ({"movement_type": "allocate", "quantity": 1, "to_status": "picked"}, "to_status"),
        ({"movement_type": "status_change", "quantity": 1, "from_status": "available"}, "to_status"),
        (
            {
                "movement_type": "status_change",
                "quantity": 1,
                "from_status": "damaged",
                "to_status": "damaged",
            },
            "to_status",
        ),
        ({"movement_type": "receipt", "quantity": 1, "to_status": "lost"}, "to_status"),
        ({"movement_type": "count", "quantity": 1}, "counted_quantity"),
        ({"movement_type": "transfer_in", "quantity": 1}, "to_warehouse_id"),
        ({"movement_type": "receipt", "quantity": 1, "to_warehouse_id": "WH2"}, "to_warehouse_id"),
        ({"movement_type": "receipt", "quantity": 1, "colour": "red"}, "colour"),
        ({"movement_type": "receipt", "quantity": 1, "sku": "bad sku!"}, "sku"),
    ],
)
def test_invalid_movements_name_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(ClarusError) as refused:
        parse_movement({"warehouse_id": "WH1", "sku": "ABC-1", **raw})
    assert refused.value.field == field


def test_unknown_warehouse_is_refused() -> None:
    with pytest.raises(ClarusError) as refused:
        make_state().apply(
            parse_movement({"warehouse_id": "WH9", "sku": "A", "movement_type": "receipt", "quantity": 1})
        )
    assert refused.value.code == "unknown_warehouse"


def test_stock_pages_follow_sku_then_status_order_and_resume_from_cursor() -> None:
    state = make_state()
    for sku in ["C", "A", "B"]:
        apply(state, sku=sku, movement_type="receipt", quantity=5)
        apply(state, sku=sku, movement_type="allocate", quantity=2)
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        page = state.stock_page("WH1", 4, cursor)
        seen += [(r["sku"], r["status"]) for r in page.rows]
        assert page.as_of_sequence == 6
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [(s, st_) for s in "ABC" for st_ in ("available", "allocated")]
    assert [r["status"] for r in state.stock_page("WH1", 10, sku="B").rows] == ["available", "allocated"]
    assert state.stock_page("WH1", 10, sku="Z").rows == []
    with pytest.raises(ClarusError, match="cursor"):
        state.stock_page("WH1", 4, "not-a-cursor")


def test_events_feed_pages_and_reports_retention_and_resets() -> None:
    state = make_state(retention=4)
    for _ in range(10):
        apply(state, movement_type="receipt", quantity=1)
    warehouse = state.warehouses["WH1"]
    assert len(warehouse.events) <= 4 + 1
    page = state.events_after("WH1", 8, 1)
    assert ([e.sequence for e in page.events], page.has_more, page.next_after_sequence) == ([9], True, 9)
    page = state.events_after("WH1", 10, 100)
    assert (page.events, page.has_more, page.next_after_sequence) == ([], False, 10)
    with pytest.raises(ClarusError) as expired:
        state.events_after("WH1", 0, 10)
    assert (expired.value.code, expired.value.status) == ("events_expired", 410)
    with pytest.raises(ClarusError) as ahead:
        state.events_after("WH1", 11, 10)
    assert ahead.value.code == "sequence_ahead"


def test_subscriptions_validate_and_number() -> None:
    state = make_state()
    first = state.add_subscription("http://hub.local/hooks/clarus", "s3cret")
    assert (first.id, first.events) == ("wh_1", ("inventory.movement",))
    with pytest.raises(ClarusError):
        state.add_subscription("ftp://x", "s")
    with pytest.raises(ClarusError):
        state.add_subscription("http://x", "s", ["order.created"])
    state.delete_subscription("wh_1")
    assert state.add_subscription("http://x", "s").id == "wh_2"


def test_settings_validate_and_update() -> None:
    settings = ClarusSettings(warehouses=["WH1", "WH2"])  # type: ignore[arg-type]
    assert settings.warehouses == ("WH1", "WH2")
    updated = settings.updated({"seed": 7, "faults": {"drop_rate": 0.5, "delay_ms": [1, 5]}})
    assert (updated.seed, updated.faults.drop_rate, updated.faults.delay_ms) == (7, 0.5, (1, 5))
    with pytest.raises(SettingsError):
        FaultSettings(duplicate_rate=1.5)
    with pytest.raises(SettingsError):
        settings.updated({"clock": None})
    with pytest.raises(SettingsError):
        ClarusSettings(webhook_url="http://x")


# --- property: no negative quantity, and events folded in any order rebuild the stock -----------------

SKUS = ["A-1", "B-2"]


@st.composite
def movements(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly valid movements (statuses chosen by each type's rules) plus some that break them."""
    kind = draw(st.sampled_from(MOVEMENT_TYPES))
    warehouse, other = draw(st.sampled_from([("WH1", "WH2")] * 3 + [("WH2", "WH1")]))
    raw: dict[str, Any] = {
        "warehouse_id": warehouse,
        "movement_type": kind,
        "sku": draw(st.sampled_from(SKUS)),
    }
    if kind == "count":
        raw["counted_quantity"] = draw(st.integers(0, 30))
    else:
        raw["quantity"] = draw(st.integers(1, 8))
    for field, (_default, overridable, required) in zip(
        ("from_status", "to_status"), MOVEMENT_RULES[kind], strict=True
    ):
        if field not in raw and (required or (overridable and draw(st.booleans()))):
            raw[field] = draw(st.sampled_from(STATUSES))
    if kind == "transfer_in" or (kind == "transfer_out" and draw(st.booleans())):
        raw["to_warehouse_id"] = other
    if draw(st.integers(0, 19)) == 0:
        raw["from_status"] = draw(st.sampled_from(STATUSES))
    return raw


@st.composite
def opening_stock(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Receipts into every (warehouse, sku, status), so that most later movements have stock to move."""
    return [
        {"warehouse_id": w, "movement_type": "receipt", "sku": sku, "to_status": status, "quantity": q}
        for w in ("WH1", "WH2")
        for sku in SKUS
        for status in STATUSES
        if (q := draw(st.integers(0, 12)))
    ]


@settings(max_examples=300, deadline=None)
@given(opening_stock(), st.lists(movements(), max_size=80), st.randoms(use_true_random=False))
def test_events_folded_in_any_order_reproduce_stock(
    opening: list[dict[str, Any]], raws: list[dict[str, Any]], rnd: Any
) -> None:
    state = make_state("WH1", "WH2")
    events: list[Event] = []
    for raw in opening + raws:
        before = state.stock_view()
        try:
            events += state.apply(parse_movement(raw))
        except ClarusError:
            assert state.stock_view() == before
        for warehouse in state.warehouses.values():
            assert all(row.quantity >= 0 for rows in warehouse.stock.values() for row in rows.values())

    for warehouse in state.warehouses.values():
        sequences = [e.sequence for e in events if e.warehouse_id == warehouse.id]
        assert sequences == list(range(1, warehouse.sequence + 1))

    rnd.shuffle(events)
    folded: dict[tuple[str, str, str], tuple[int, int]] = {}
    for event in events:
        for status, quantity in event.balances:
            key = (event.warehouse_id, event.sku, status)
            if key not in folded or folded[key][0] < event.sequence:
                folded[key] = (event.sequence, quantity)

    actual = {
        (w.id, sku, status): (row.sequence, row.quantity)
        for w in state.warehouses.values()
        for sku, rows in w.stock.items()
        for status, row in rows.items()
    }
    assert folded == actual
