"""The order pipeline and state machine, each step and transition on its own (no I/O)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockbridge.domain.bundles import KitError, KitMember, dekit
from stockbridge.domain.order_state import (
    CommandKind,
    Decision,
    OrderState,
    Outcome,
    after_command,
    after_warehouse_status,
    decide,
)
from stockbridge.domain.orders import (
    HoldReason,
    ItemInfo,
    OrderContext,
    OrderLine,
    SalesOrder,
    WmsOrder,
    prepare,
)
from stockbridge.domain.shipping import Address, address_problems, map_ship_method
from stockbridge.domain.skus import SkuRules, collisions, normalise, wms_sku_problem

ADDRESS = Address("Ada Lovelace", "1 Analytical St", "", "London", "", "N1 9GU", "GB")
RULES = SkuRules(strip_characters=" ./#", case="upper", aliases={"old-widget": "WIDGET-2"})


# --- SKU rules -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "rules", "expected"),
    [
        ("  abc-1 ", SkuRules(case="upper"), "ABC-1"),
        ("ab.c/1#", SkuRules(strip_characters="./#"), "abc1"),
        ("0012", SkuRules(), "0012"),
        ("0012", SkuRules(leading_zeros="strip"), "12"),
        ("12", SkuRules(leading_zeros="pad", pad_width=6), "000012"),
        ("A12", SkuRules(leading_zeros="pad", pad_width=6), "A12"),
        ("000", SkuRules(leading_zeros="strip"), "0"),
        ("OLD-Widget", RULES, "WIDGET-2"),
    ],
)
def test_normalise(raw: str, rules: SkuRules, expected: str) -> None:
    assert normalise(raw, rules) == expected


def test_characters_the_warehouse_refuses_are_reported() -> None:
    assert wms_sku_problem("ABC-1_2") is None
    problem = wms_sku_problem("ABC+1")
    assert problem is not None
    assert "+" in problem
    assert wms_sku_problem("") is not None
    assert wms_sku_problem("X" * 51) is not None


def test_collisions_name_every_source_sku() -> None:
    found = collisions(["ab-1", "AB-1", "AB.1", "cd-2"], SkuRules(strip_characters=".", case="upper"))
    assert found == {"AB-1": ["AB-1", "ab-1"]}


@given(st.text(alphabet="abcXYZ019-_. /#", max_size=20))
def test_normalising_twice_changes_nothing_more(raw: str) -> None:
    rules = SkuRules(strip_characters=" ./#", case="upper", leading_zeros="pad", pad_width=8)
    once = normalise(raw, rules)
    assert normalise(once, rules) == once


# --- bundles ---------------------------------------------------------------------------------------

KITS = {
    "GIFT-BOX": [KitMember("MUG", 2), KitMember("TEA", 1)],
    "MEGA-BOX": [KitMember("GIFT-BOX", 3), KitMember("TEA", 2)],
    "LOOP-A": [KitMember("LOOP-B", 1)],
    "LOOP-B": [KitMember("LOOP-A", 1)],
}


def test_dekit_multiplies_quantities() -> None:
    assert dekit("GIFT-BOX", 2, KITS) == [("MUG", 4), ("TEA", 2)]


def test_bundle_of_bundles_is_flattened() -> None:
    assert dekit("MEGA-BOX", 1, KITS) == [("MUG", 6), ("TEA", 5)]


def test_kit_cycle_is_refused() -> None:
    with pytest.raises(KitError, match="contains itself"):
        dekit("LOOP-A", 1, KITS)


def test_plain_item_is_its_own_component() -> None:
    assert dekit("MUG", 3, KITS) == [("MUG", 3)]


# --- shipping and addresses ------------------------------------------------------------------------


def test_ship_method_mapping_ignores_case_and_spacing_and_never_guesses() -> None:
    table = {"UPS Ground": "STD", "UPS Next Day Air": "NDAY"}
    assert map_ship_method("ups  ground", table) == "STD"
    assert map_ship_method("UPS Next Day", table) is None
    assert map_ship_method(None, table) is None


def test_address_problems() -> None:
    assert address_problems(ADDRESS) == []
    assert address_problems(None) == ["no shipping address"]
    bad = Address("A", "1 St", "", "", "", "XYZ", "GB")
    problems = address_problems(bad)
    assert "city is missing" in problems
    assert any("postcode" in p for p in problems)
    assert "state is missing" in address_problems(Address("A", "1 St", "", "NYC", "", "10001", "US"))


# --- the pipeline ----------------------------------------------------------------------------------


def _ctx(**overrides: object) -> OrderContext:
    values: dict[str, object] = {
        "warehouse_id": "WH1",
        "ims_items": {
            "mug": ItemInfo(True),
            "TEA": ItemInfo(True),
            "GIFT-BOX": ItemInfo(True, is_kit=True),
            "OLD-1": ItemInfo(False),
            "ODD+SKU": ItemInfo(True),
            "NEW-1": ItemInfo(True),
        },
        "wms_items": {"MUG": True, "TEA": True, "ODDSKU": True},
        "kits": {"GIFT-BOX": [KitMember("mug", 2), KitMember("TEA", 1)]},
        "sku_rules": RULES,
        "ship_methods": {"UPS Ground": "STD"},
    }
    values.update(overrides)
    return OrderContext(**values)  # type: ignore[arg-type]


def _order(*lines: OrderLine, ship: str | None = "UPS Ground", status: str = "B") -> SalesOrder:
    return SalesOrder("101", "SO1", status, ship, ADDRESS, lines, "2026-11-26T09:00:00Z")


def test_valid_order_becomes_a_warehouse_order_with_components_linked_to_their_bundle_line() -> None:
    result = prepare(_order(OrderLine(1, "mug", 1), OrderLine(2, "GIFT-BOX", 2)), _ctx())
    assert isinstance(result, WmsOrder)
    assert result.ship_method == "STD"
    assert [(w.line_ref, w.sku, w.quantity, w.parent_line) for w in result.lines] == [
        ("1", "MUG", 1, 1),
        ("2.1", "MUG", 4, 2),
        ("2.2", "TEA", 2, 2),
    ]


def test_every_reason_is_reported_at_once() -> None:
    order = _order(OrderLine(1, "OLD-1", 1), OrderLine(2, "NEW-1", 1), OrderLine(3, "NOPE", 1), ship="Pigeon")
    result = prepare(order, _ctx())
    assert isinstance(result, list)
    assert {h.code for h in result} == {
        "inactive_item",
        "unknown_in_wms",
        "unknown_item",
        "unmapped_ship_method",
    }


def test_colliding_skus_hold_the_order_as_a_collision_naming_both() -> None:
    items = {"00123": ItemInfo(True), "123": ItemInfo(True), "MUG": ItemInfo(True)}
    ctx = _ctx(
        ims_items=items, wms_items={"123": True, "MUG": True}, sku_rules=SkuRules(leading_zeros="strip")
    )
    for sku in ("00123", "123"):
        result = prepare(_order(OrderLine(1, sku, 1), OrderLine(2, "MUG", 1)), ctx)
        assert result == [
            HoldReason("sku_collision", "IMS SKUs 00123 and 123 both become 123 in the warehouse: rename one")
        ]
    # Unknown to the warehouse too (the product sync creates neither): still a collision, not a wait.
    result = prepare(_order(OrderLine(1, "00123", 1)), replace(ctx, wms_items={"MUG": True}))
    assert isinstance(result, list)
    assert [h.code for h in result] == ["sku_collision"]


def test_sku_the_warehouse_cannot_take_holds_the_order() -> None:
    result = prepare(_order(OrderLine(1, "ODD+SKU", 1)), _ctx(sku_rules=SkuRules()))
    assert isinstance(result, list)
    assert [h.code for h in result] == ["invalid_sku"]
    # Stripping the character in the SKU rules makes it valid and known.
    assert isinstance(
        prepare(_order(OrderLine(1, "ODD+SKU", 1)), _ctx(sku_rules=SkuRules(strip_characters="+"))), WmsOrder
    )


def test_manually_fulfilled_and_closed_lines_reduce_the_request() -> None:
    order = _order(OrderLine(1, "mug", 5, quantity_fulfilled=2), OrderLine(2, "TEA", 1, is_closed=True))
    result = prepare(order, _ctx())
    assert isinstance(result, WmsOrder)
    assert [(w.sku, w.quantity) for w in result.lines] == [("MUG", 3)]


def test_unmapped_ship_method_is_held_then_released_once_mapped() -> None:
    order = _order(OrderLine(1, "mug", 1), ship="DHL Express")
    held = prepare(order, _ctx())
    assert isinstance(held, list)
    assert held[0].code == "unmapped_ship_method"
    assert isinstance(prepare(order, _ctx(ship_methods={"DHL Express": "EXP"})), WmsOrder)


# --- the state machine -----------------------------------------------------------------------------

RELEASE = frozenset({"B"})


def test_order_below_release_status_waits() -> None:
    order = _order(OrderLine(1, "mug", 1), status="A")
    assert (
        decide(OrderState.WAITING, order, prepare(order, _ctx()), None, RELEASE).state == OrderState.WAITING
    )


def test_valid_order_at_release_status_is_created_once() -> None:
    order = _order(OrderLine(1, "mug", 1))
    decision = decide(OrderState.WAITING, order, prepare(order, _ctx()), None, RELEASE)
    assert decision == decide(OrderState.HELD, order, prepare(order, _ctx()), None, RELEASE)
    assert (decision.state, decision.command) == (OrderState.RELEASE_PENDING, CommandKind.CREATE)


def test_invalid_order_is_held_with_reasons() -> None:
    order = _order(OrderLine(1, "mug", 1), ship=None)
    decision = decide(OrderState.WAITING, order, prepare(order, _ctx()), None, RELEASE)
    assert decision.state == OrderState.HELD
    assert decision.command is None
    assert [h.code for h in decision.holds] == ["unmapped_ship_method"]


def test_pending_and_final_states_wait_for_their_command() -> None:
    order = _order(OrderLine(1, "mug", 2))
    for state in (
        OrderState.RELEASE_PENDING,
        OrderState.AMEND_PENDING,
        OrderState.CANCEL_PENDING,
        OrderState.CANCELLED,
    ):
        assert decide(state, order, prepare(order, _ctx()), None, RELEASE) == decide(
            state, order, [], None, RELEASE
        )
        assert decide(state, order, prepare(order, _ctx()), None, RELEASE).command is None


def test_edit_before_pick_amends_and_an_unchanged_version_does_nothing() -> None:
    before = _order(OrderLine(1, "mug", 1))
    sent = prepare(before, _ctx())
    assert isinstance(sent, WmsOrder)
    assert decide(OrderState.RELEASED, before, sent, sent, RELEASE).command is None
    after = _order(OrderLine(1, "mug", 3))
    decision = decide(OrderState.RELEASED, after, prepare(after, _ctx()), sent, RELEASE)
    assert (decision.state, decision.command) == (OrderState.AMEND_PENDING, CommandKind.AMEND)


def test_edit_after_pick_is_raised_not_sent() -> None:
    before = _order(OrderLine(1, "mug", 1))
    sent = prepare(before, _ctx())
    assert isinstance(sent, WmsOrder)
    after = _order(OrderLine(1, "mug", 3))
    decision = decide(OrderState.LOCKED, after, prepare(after, _ctx()), sent, RELEASE)
    assert decision.command is None
    assert decision.problem is not None
    assert decision.problem.code == "edit_after_pick"


def test_cancellation_before_and_after_release_and_after_pick() -> None:
    order = _order(OrderLine(1, "mug", 1), status="C")
    assert decide(OrderState.HELD, order, [], None, RELEASE).state == OrderState.CANCELLED
    released = decide(OrderState.RELEASED, order, [], None, RELEASE)
    assert (released.state, released.command) == (OrderState.CANCEL_PENDING, CommandKind.CANCEL)
    locked = decide(OrderState.LOCKED, order, [], None, RELEASE)
    assert locked.command is None
    assert locked.problem is not None


def test_order_fulfilled_by_hand_before_release_is_complete() -> None:
    order = _order(OrderLine(1, "mug", 1, quantity_fulfilled=1))
    assert (
        decide(OrderState.WAITING, order, prepare(order, _ctx()), None, RELEASE).state == OrderState.COMPLETE
    )


def test_warehouse_statuses_lock_and_cancel() -> None:
    assert after_warehouse_status(OrderState.RELEASED, "allocated") == OrderState.RELEASED
    assert after_warehouse_status(OrderState.RELEASED, "picking") == OrderState.LOCKED
    assert after_warehouse_status(OrderState.CANCEL_PENDING, "cancelled") == OrderState.CANCELLED
    assert after_warehouse_status(OrderState.HELD, "cancelled") == OrderState.HELD
    assert after_warehouse_status(OrderState.LOCKED, "despatched") == OrderState.COMPLETE


def test_despatched_though_cancelled_in_the_ims_is_not_complete() -> None:
    despatched = OrderState.DESPATCHED_CANCELLED
    assert after_warehouse_status(OrderState.LOCKED, "despatched", ims_cancelled=True) == despatched
    assert (
        after_warehouse_status(OrderState.RELEASED, "partially_despatched", ims_cancelled=True) == despatched
    )
    assert after_warehouse_status(despatched, "despatched", ims_cancelled=True) == despatched
    assert after_warehouse_status(OrderState.HELD, "despatched", ims_cancelled=True) == OrderState.HELD
    # Cancel command outstanding: its answer decides first.
    assert after_warehouse_status(OrderState.CANCEL_PENDING, "despatched", True) == OrderState.CANCEL_PENDING
    order = _order(OrderLine(1, "mug", 1, is_closed=True), status="C")
    for state in (OrderState.COMPLETE, OrderState.LOCKED, OrderState.RELEASED):
        decision = decide(state, order, [], None, RELEASE, wms_status="despatched")
        assert decision.state == despatched
        assert decision.problem is not None
        assert decision.problem.code == "cancelled_after_despatch"
    assert decide(despatched, order, [], None, RELEASE, wms_status="despatched") == Decision(despatched)
    assert decide(OrderState.LOCKED, order, [], None, RELEASE, wms_status="packed").state == OrderState.LOCKED
    assert decide(OrderState.COMPLETE, order, [], None, RELEASE).state == OrderState.COMPLETE


@pytest.mark.parametrize(
    ("kind", "outcome", "state", "problem"),
    [
        (CommandKind.CREATE, Outcome.DONE, OrderState.RELEASED, None),
        (CommandKind.CREATE, Outcome.REJECTED, OrderState.HELD, None),
        (CommandKind.AMEND, Outcome.DONE, OrderState.RELEASED, None),
        (CommandKind.AMEND, Outcome.LOCKED, OrderState.LOCKED, "edit_after_pick"),
        (CommandKind.AMEND, Outcome.REJECTED, OrderState.RELEASED, "edit_invalid"),
        (CommandKind.CANCEL, Outcome.DONE, OrderState.CANCELLED, None),
        (CommandKind.CANCEL, Outcome.LOCKED, OrderState.LOCKED, "edit_after_pick"),
    ],
)
def test_command_outcomes(
    kind: CommandKind, outcome: Outcome, state: OrderState, problem: str | None
) -> None:
    decision = after_command(kind, outcome, "unknown_sku: X")
    assert decision.state == state
    assert (decision.problem.code if decision.problem else None) == problem
    if (kind, outcome) == (CommandKind.CREATE, Outcome.REJECTED):
        assert decision.holds == (HoldReason("rejected_by_wms", "unknown_sku: X"),)


# --- product master --------------------------------------------------------------------------------

from stockbridge.domain.product_master import CatalogItem, audit, plan_sync  # noqa: E402


def test_product_sync_creates_active_updates_flags_and_skips_kits_collisions_and_invalid() -> None:
    ims = [
        CatalogItem("mug", True),
        CatalogItem("tea", False),  # inactive and unknown to the warehouse: nothing to do
        CatalogItem("old", False),  # inactive in the IMS, active in the warehouse: deactivate
        CatalogItem("ab-1", True),
        CatalogItem("AB-.1", True),  # collides with ab-1 once normalised
        CatalogItem("bad+sku", True),
        CatalogItem("GIFT-BOX", True, is_kit=True),
    ]
    plan = plan_sync(ims, {"OLD": True, "MUG": True}, SkuRules(strip_characters=".", case="upper"))
    assert plan.puts == [("OLD", False, "old")]
    assert plan.collisions == {"AB-1": ["AB-.1", "ab-1"]}
    assert list(plan.invalid) == ["bad+sku"]
    assert plan_sync([CatalogItem("new", True)], {}, SkuRules(case="upper")).puts == [("NEW", True, "new")]


def test_sku_audit_reports_each_kind_of_difference() -> None:
    ims = [CatalogItem("A", True), CatalogItem("B", True), CatalogItem("C", False), CatalogItem("d", True)]
    found = audit(ims, {"B": True, "C": True, "X": True}, SkuRules(case="upper"))
    assert found.missing_in_wms == ["A", "d"]
    assert found.extra_in_wms == ["X"]
    assert found.inactive_mismatch == [{"sku": "C", "ims_sku": "C", "ims_active": False, "wms_active": True}]
    assert found.collisions == []
