"""The finance batch's rules (domain/finance.py): which units, which batches, the hold on the IMS
figure, and the read-back against the control total."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from stockbridge.connectors.clarus.wire import finance_reason
from stockbridge.domain.ats import AtsRule, available_to_sell
from stockbridge.domain.finance import (
    COUNT,
    DAMAGE,
    WRITE_OFF,
    FinanceBatch,
    FinanceLine,
    FinancialMovement,
    PostedAdjustment,
    add_back,
    batch_id,
    business_date,
    closing_through,
    counted_change,
    pending_by_pair,
    plan_batches,
    read_back_problem,
)

IMS = frozenset({"available", "allocated", "picked"})
DAY = date(2026, 11, 26)
ACCOUNTS = {DAMAGE: "5100", WRITE_OFF: "5100", COUNT: "5200"}


def _m(
    event: str, sku: str, units: int, reason: str, location: str = "6", day: date = DAY
) -> FinancialMovement:
    return FinancialMovement(event, sku, "WH1" if location == "6" else "WH2", location, reason, units, day)


def test_units_are_what_the_movement_changed_in_the_ims_figure() -> None:
    assert counted_change(3, "available", "damaged", IMS) == -3  # damaged off a counted status
    assert counted_change(3, "damaged", "available", IMS) == 3  # repaired back
    assert counted_change(3, "damaged", None, IMS) == 0  # write-off of damaged stock: never in the IMS
    assert counted_change(3, "available", None, IMS) == -3  # write-off straight from available
    assert counted_change(-2, None, "available", IMS) == -2  # a count that found 2 fewer
    assert counted_change(0, None, "available", IMS) == 0
    assert counted_change(4, "quarantine", "damaged", IMS) == 0


def test_clarus_movements_read_as_reasons() -> None:
    assert finance_reason("status_change", "available", "damaged") == DAMAGE
    assert finance_reason("status_change", "damaged", "available") == DAMAGE
    assert finance_reason("write_off", "damaged", None) == WRITE_OFF
    assert finance_reason("count", None, "available") == COUNT
    assert finance_reason("status_change", "available", "quarantine") is None
    assert finance_reason("despatch", "picked", None) is None
    assert finance_reason("receipt", None, "available") is None


def test_one_batch_per_location_day_and_account_with_its_control_total() -> None:
    movements = [
        _m("e1", "MUG", -3, DAMAGE),
        _m("e2", "MUG", -1, WRITE_OFF),
        _m("e3", "CUP", 2, COUNT),
        _m("e4", "CUP", -2, COUNT),  # nets to 0 with e3: no line (NetSuite refuses a zero line)
        _m("e5", "MUG", -5, COUNT),
        _m("e6", "MUG", -4, DAMAGE, location="7"),
        _m("e7", "MUG", -9, DAMAGE, day=date(2026, 11, 27)),  # tomorrow: not closed yet
    ]
    planned, unposted = plan_batches(movements, ACCOUNTS, DAY)
    assert unposted == []
    got = {p.batch.id: (p.batch.lines, p.batch.control_units, p.event_ids) for p in planned}
    assert got == {
        "FIN-6-20261126-5100": (
            (FinanceLine("MUG", DAMAGE, -3), FinanceLine("MUG", WRITE_OFF, -1)),
            -4,
            ("e1", "e2"),
        ),
        "FIN-6-20261126-5200": ((FinanceLine("MUG", COUNT, -5),), -5, ("e3", "e4", "e5")),
        "FIN-7-20261126-5100": ((FinanceLine("MUG", DAMAGE, -4),), -4, ("e6",)),
    }
    first = next(p.batch for p in planned if p.batch.id == "FIN-6-20261126-5100")
    assert first.memo == "stockbridge finance 2026-11-26 DAMAGE,WRITE_OFF: control -4 units in 2 lines"
    assert first.moved_by() == {"MUG": -4}


def test_a_late_movement_of_a_closed_day_makes_the_next_batch_of_that_day() -> None:
    made = {("6", DAY, "5100"): 1}
    planned, _ = plan_batches([_m("e9", "MUG", -1, DAMAGE)], ACCOUNTS, DAY, made)
    assert [p.batch.id for p in planned] == ["FIN-6-20261126-5100-2"]
    assert batch_id("6", DAY, "5100") == "FIN-6-20261126-5100"


def test_a_reason_without_an_account_is_not_posted() -> None:
    planned, unposted = plan_batches(
        [_m("e1", "MUG", -1, DAMAGE), _m("e2", "MUG", -1, COUNT)], {DAMAGE: "1"}, DAY
    )
    assert [p.batch.id for p in planned] == ["FIN-6-20261126-1"]
    assert unposted == ["e2"]


def test_the_day_closes_once_post_at_has_passed_in_the_finance_zone() -> None:
    london = ZoneInfo("Europe/London")
    assert closing_through(datetime(2026, 11, 26, 23, 29, tzinfo=UTC), time(23, 30), UTC) == date(
        2026, 11, 25
    )
    assert closing_through(datetime(2026, 11, 26, 23, 30, tzinfo=UTC), time(23, 30), UTC) == DAY
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (summer time): 1 July has not closed.
    assert closing_through(datetime(2026, 6, 30, 23, 30, tzinfo=UTC), time(23, 30), london) == date(
        2026, 6, 30
    )
    assert business_date(datetime(2026, 6, 30, 23, 30, tzinfo=UTC), london) == date(2026, 7, 1)


def test_the_read_back_must_show_the_batch() -> None:
    batch = FinanceBatch("FIN-6-20261126-5100", "6", DAY, "5100", (FinanceLine("MUG", DAMAGE, -3),))
    shown = PostedAdjustment(batch.id, "5100", batch.memo, (("MUG", -3),))
    assert read_back_problem(batch, shown) is None
    assert "not in the IMS" in (read_back_problem(batch, None) or "")
    assert "account" in (
        read_back_problem(batch, PostedAdjustment(batch.id, "1", batch.memo, (("MUG", -3),))) or ""
    )
    doubled = PostedAdjustment(batch.id, "5100", batch.memo, (("MUG", -3), ("MUG", -3)))
    assert "control total -3 units in 1 lines" in (read_back_problem(batch, doubled) or "")
    other = PostedAdjustment(batch.id, "5100", batch.memo, (("CUP", -3),))
    assert "other lines" in (read_back_problem(batch, other) or "")
    assert "memo" in (read_back_problem(batch, PostedAdjustment(batch.id, "5100", "", (("MUG", -3),))) or "")


# --- the hold, over random days of movements ----------------------------------------------------

STATUSES = ("available", "allocated", "picked", "quarantine", "damaged")
Move = tuple[str, str | None, str | None, int]  # (movement type, from, to, quantity)

moves = st.one_of(
    st.tuples(st.just("receipt"), st.none(), st.sampled_from(STATUSES), st.integers(1, 20)),
    st.tuples(
        st.just("status_change"), st.sampled_from(STATUSES), st.sampled_from(STATUSES), st.integers(1, 20)
    ).filter(lambda m: m[1] != m[2]),
    st.tuples(st.just("despatch"), st.just("picked"), st.none(), st.integers(1, 20)),
    st.tuples(st.just("write_off"), st.sampled_from(STATUSES), st.none(), st.integers(1, 20)),
    st.tuples(st.just("count"), st.none(), st.sampled_from(STATUSES), st.integers(0, 40)),
)


def _apply(stock: dict[str, int], move: Move) -> Move | None:
    """The Clarus rule: a movement that would make a quantity negative is refused. A count's quantity
    is the counted figure here; the movement returned carries the signed adjustment, as the event."""
    kind, source, dest, quantity = move
    if kind == "count":
        assert dest is not None
        change = quantity - stock[dest]
        stock[dest] = quantity
        return (kind, None, dest, change)
    if source is not None:
        if stock[source] < quantity:
            return None
        stock[source] -= quantity
    if dest is not None:
        stock[dest] += quantity
    return move


@given(st.lists(moves, max_size=40), st.integers(0, 3))
def test_the_ims_figure_moves_by_the_batch_and_never_by_the_sync(history: list[Move], buffer: int) -> None:
    rule = AtsRule(IMS, buffer)
    stock = dict.fromkeys(STATUSES, 0)
    pending: list[int] = []
    figure = 0  # what the IMS is told: the sync's target, holding back pending financial units
    for move in history:
        applied = _apply(stock, move)
        if applied is None:
            continue
        kind, source, dest, quantity = applied
        units = counted_change(quantity, source, dest, IMS)
        financial = finance_reason(kind, source, dest) is not None and units != 0
        if financial:
            pending.append(units)
        held = add_back(pending)
        before, figure = figure, available_to_sell(stock, rule, "SKU", add_back=held)
        assert figure >= 0
        if financial:
            assert figure == before  # no dip: a damage does not move the IMS until its batch posts
    # The batch posts: one adjustment line per reason, moving the IMS by the pending units.
    movements = [_m(f"e{i}", "SKU", u, DAMAGE) for i, u in enumerate(pending)]
    planned, _ = plan_batches(movements, ACCOUNTS, DAY)
    moved = sum(p.batch.moved_by().get("SKU", 0) for p in planned)
    assert moved == sum(pending)
    alone = available_to_sell(stock, rule, "SKU")  # what the sync alone would show
    # Where neither figure is clamped (at 0, under the buffer), the batch lands the IMS exactly on it.
    without = sum(stock[s] for s in IMS) - sum(pending)
    if without - buffer >= 0 and sum(stock[s] for s in IMS) - buffer >= 0:
        assert figure + moved == alone


@given(st.lists(st.tuples(st.sampled_from(["A", "B"]), st.integers(-20, 0)), max_size=30))
def test_the_add_back_of_units_taken_off_is_never_negative(takes: list[tuple[str, int]]) -> None:
    movements = [_m(f"e{i}", sku, units, DAMAGE) for i, (sku, units) in enumerate(takes)]
    held = pending_by_pair(movements)
    assert all(value >= 0 for value in held.values())
    assert sum(held.values()) == -sum(units for _, units in takes)
