"""The alert rules (domain/alerting.py): what is due, and how it is grouped into messages.

The property tests play a random life of exceptions (raised, raised again, acknowledged, resolved,
time passing, the check running) against a model of the store's marks, and assert the promises of
decision 0027: never two alerts for one level of one episode, an escalation only after its time and
never for an acknowledged exception, every due alert in exactly one message, few messages per owner.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.factories import T0

from stockbridge.domain.alerting import (
    AlertKind,
    AlertMessage,
    AlertPolicy,
    Channel,
    Due,
    OpenException,
    Routes,
    Severity,
    TypeRule,
    compose,
    due_alerts,
)


def _exc(id: int = 1, **fields: object) -> OpenException:
    base = OpenException(
        id=id,
        type="drift_unrepaired",
        entity=f"sku:S{id}@ims",
        owner="operations",
        acknowledged=False,
        episode=1,
        opened_at=T0,
        seen=1,
        detail="the IMS shows 4, Clarus 5",
    )
    return replace(base, **fields)  # type: ignore[arg-type]


POLICY = AlertPolicy(escalate_after_s=3600.0)


def test_a_new_open_exception_is_due_once_at_level_0() -> None:
    (due,) = due_alerts([_exc()], POLICY, T0)
    assert due.level == 0
    alerted = _exc(alerted_level=0, alerted_at=T0)
    assert due_alerts([alerted], POLICY, T0 + timedelta(seconds=3599)) == []


def test_an_acknowledged_or_muted_exception_is_not_alerted() -> None:
    assert due_alerts([_exc(acknowledged=True)], POLICY, T0) == []
    muted = AlertPolicy(rules={"drift_unrepaired": TypeRule(mute=True)})
    assert due_alerts([_exc()], muted, T0) == []


def test_min_count_and_min_age_hold_the_first_alert_back() -> None:
    policy = AlertPolicy(rules={"drift_unrepaired": TypeRule(min_count=3, min_age_s=600)})
    assert due_alerts([_exc(seen=2)], policy, T0 + timedelta(hours=1)) == []
    assert due_alerts([_exc(seen=3)], policy, T0 + timedelta(seconds=599)) == []
    assert [d.level for d in due_alerts([_exc(seen=3)], policy, T0 + timedelta(seconds=600))] == [0]


def test_escalation_comes_after_its_time_from_the_alert_and_only_once_per_level() -> None:
    policy = AlertPolicy(escalate_after_s=3600.0, escalation_levels=2)
    alerted = _exc(alerted_level=0, alerted_at=T0 + timedelta(minutes=5))
    assert due_alerts([alerted], policy, T0 + timedelta(minutes=64)) == []
    (first,) = due_alerts([alerted], policy, T0 + timedelta(minutes=65))
    assert first.level == 1
    assert due_alerts([replace(alerted, alerted_level=1)], policy, T0 + timedelta(minutes=124)) == []
    (second,) = due_alerts([replace(alerted, alerted_level=1)], policy, T0 + timedelta(minutes=125))
    assert second.level == 2
    assert due_alerts([replace(alerted, alerted_level=2)], policy, T0 + timedelta(days=9)) == []


def test_a_late_check_sends_the_highest_level_due_not_each_one_missed() -> None:
    policy = AlertPolicy(escalate_after_s=60.0, escalation_levels=3)
    (due,) = due_alerts([_exc(alerted_level=0, alerted_at=T0)], policy, T0 + timedelta(hours=5))
    assert due.level == 3


def test_escalation_time_by_type_then_owner_then_default() -> None:
    policy = AlertPolicy(
        rules={"unknown_sku": TypeRule(escalate_after_s=100.0)},
        escalate_after_s=1000.0,
        owner_escalate_after_s={"finance": 500.0},
    )
    assert policy.escalate_after("unknown_sku", "finance") == 100.0
    assert policy.escalate_after("drift", "finance") == 500.0
    assert policy.escalate_after("drift", "operations") == 1000.0
    assert AlertPolicy(escalate_after_s=None).escalate_after("drift", "operations") is None


def test_no_escalation_when_escalation_is_off() -> None:
    never = AlertPolicy(escalate_after_s=None)
    assert due_alerts([_exc(alerted_level=0, alerted_at=T0)], never, T0 + timedelta(days=30)) == []


def test_a_flood_of_one_type_is_one_digest_naming_some_and_counting_the_rest() -> None:
    due = [Due(_exc(i, type="unknown_sku", entity=f"sku:S{i:03}@ims"), 0) for i in range(1, 201)]
    (digest,) = compose(due, POLICY)
    assert digest.kind == AlertKind.DIGEST
    assert digest.title == "[warning] 200 new unknown_sku for operations"
    assert len(digest.exception_ids) == 200
    assert digest.lines[0].startswith("unknown_sku: sku:S001@ims (exception 1)")
    assert "... and 180 more" in digest.lines


def test_a_few_alerts_stay_one_message_each() -> None:
    due = [Due(_exc(i), 0) for i in range(1, 6)]
    messages = compose(due, POLICY)
    assert [m.kind for m in messages] == [AlertKind.ALERT] * 5
    assert messages[0].title == "[warning] drift_unrepaired: sku:S1@ims"
    assert "stockbridge exceptions ack 1" in messages[0].lines[-1]


def test_many_types_for_one_owner_fold_into_one_digest() -> None:
    due = [Due(_exc(i, type=f"type_{i % 12}"), 0) for i in range(1, 25)]
    (digest,) = compose(due, POLICY)
    assert digest.exception_type is None
    assert digest.title.startswith("[warning] 24 new exceptions (type_0 2, type_1 2,")


def test_an_escalation_is_critical_and_goes_to_the_escalation_route() -> None:
    (message,) = compose([Due(_exc(), 1)], POLICY)
    assert message.kind == AlertKind.ESCALATION
    assert message.severity == Severity.CRITICAL
    ops, duty = Channel("slack", "OPS"), Channel("email", to=("duty@example.com",))
    routes = Routes({"operations": (ops,)}, {"default": (duty,)})
    assert routes.for_message(message) == (duty,)
    assert routes.for_message(replace(message, level=0)) == (ops,)
    assert Routes({"operations": (ops,)}).for_message(message) == (ops,)  # no escalation route
    assert Routes({}).for_owner("finance") == (Channel("log"),)


# --- properties -------------------------------------------------------------------------------------


@dataclass
class _Row:
    """The model of one exception row, as store/bookkeeping keeps it."""

    id: int
    type: str
    owner: str
    state: str = "open"
    episode: int = 1
    opened_at: datetime = T0
    seen: int = 1


_steps = st.lists(
    st.one_of(
        st.tuples(st.just("raise"), st.integers(0, 5)),
        st.tuples(st.just("ack"), st.integers(0, 5)),
        st.tuples(st.just("resolve"), st.integers(0, 5)),
        st.tuples(st.just("wait"), st.integers(1, 5000)),
        st.tuples(st.just("check"), st.just(0)),
    ),
    max_size=60,
)
_policies = st.builds(
    AlertPolicy,
    rules=st.just({"t1": TypeRule(min_count=2), "t2": TypeRule(mute=True)}),
    escalate_after_s=st.sampled_from([None, 600.0, 3600.0]),
    escalation_levels=st.integers(1, 3),
    digest_over=st.integers(1, 4),
    max_messages_per_owner=st.integers(1, 4),
)


@settings(max_examples=300, deadline=None)
@given(_steps, _policies)
def test_alert_life_keeps_its_promises(steps: list[tuple[str, int]], policy: AlertPolicy) -> None:
    now = T0
    rows: dict[int, _Row] = {}
    marks: dict[tuple[int, int, int], datetime] = {}  # (id, episode, level) -> alerted at
    for action, arg in steps:
        row = rows.get(arg)
        if action == "raise":
            if row is None:
                rows[arg] = _Row(arg, f"t{arg % 3}", f"team{arg % 2}", opened_at=now)
            elif row.state == "resolved":
                row.state, row.episode, row.opened_at, row.seen = "open", row.episode + 1, now, 1
            else:
                row.seen += 1
        elif action == "ack" and row is not None and row.state == "open":
            row.state = "acknowledged"
        elif action == "resolve" and row is not None:
            row.state = "resolved"
        elif action == "wait":
            now += timedelta(seconds=arg)
        elif action == "check":
            seen = [_seen(r, marks) for r in rows.values() if r.state != "resolved"]
            due = due_alerts(seen, policy, now)
            messages = compose(due, policy)
            _check_messages(due, messages, policy)
            for item in due:
                exc = item.exception
                key = (exc.id, exc.episode, item.level)
                assert key not in marks, "two alerts for one level of one episode"
                assert not exc.acknowledged
                assert policy.rule(exc.type).mute is False
                if item.level == 0:
                    assert exc.seen >= policy.rule(exc.type).min_count
                else:
                    after = policy.escalate_after(exc.type, exc.owner)
                    alerted_at = marks[(exc.id, exc.episode, 0)]
                    assert after is not None
                    assert now - alerted_at >= timedelta(seconds=after * item.level)
                marks[key] = now
            # Liveness: after a check, every open, unmuted exception seen often enough has its alert.
            for r in rows.values():
                if r.state == "open" and r.type != "t2" and r.seen >= policy.rule(r.type).min_count:
                    assert (r.id, r.episode, 0) in marks


def _seen(row: _Row, marks: dict[tuple[int, int, int], datetime]) -> OpenException:
    levels = [lvl for (i, ep, lvl) in marks if i == row.id and ep == row.episode]
    return OpenException(
        id=row.id,
        type=row.type,
        entity=f"e{row.id}",
        owner=row.owner,
        acknowledged=row.state == "acknowledged",
        episode=row.episode,
        opened_at=row.opened_at,
        seen=row.seen,
        detail="",
        alerted_level=max(levels) if levels else None,
        alerted_at=marks.get((row.id, row.episode, 0)),
    )


def _check_messages(due: list[Due], messages: list[AlertMessage], policy: AlertPolicy) -> None:
    covered: list[tuple[int, int]] = []
    per_owner: dict[tuple[str, int], int] = {}
    for m in messages:
        covered += [(i, m.level) for i in m.exception_ids]
        per_owner[(m.owner, m.level)] = per_owner.get((m.owner, m.level), 0) + 1
    assert sorted(covered) == sorted((d.exception.id, d.level) for d in due)
    assert all(n <= policy.max_messages_per_owner for n in per_owner.values())
