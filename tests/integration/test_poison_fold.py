"""Inbox rows the fold cannot use are set aside with an owner and never hold back the rows behind them,
on SQLite and PostgreSQL (issue 8, defect 1)."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import pytest
import yaml
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError
from tests.factories import T0, config, inbound, movement_event
from typer.testing import CliRunner

from stockbridge.cli import app
from stockbridge.config import EXAMPLE_CONFIG
from stockbridge.config import IMS_CHANNEL_NAME as IMS_CHANNEL
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.flows.fold import fold_inbox
from stockbridge.flows.poison import requeue
from stockbridge.store import inbox_repo, targets_repo
from stockbridge.store.bookkeeping import list_exceptions, read_counters
from stockbridge.store.inbox_repo import InboundEvent
from stockbridge.store.schema import inbox
from stockbridge.store.states import ExceptionState

CONFIG = config()
REFUSED_SKU = "SKU-REFUSED"


def _fold_all(engine: Engine) -> None:
    for _ in range(50):  # a fold that never empties the inbox is the defect itself: fail, do not hang
        with engine.begin() as c:
            entries = inbox_repo.claim_pending(c, 100)
            if not entries:
                return
            fold_inbox(c, entries, CONFIG, T0, formats=ClarusInbound())
    raise AssertionError("the inbox never emptied")


def _raw(event_id: str, kind: str, payload: str) -> InboundEvent:
    return InboundEvent("clarus", event_id, kind, payload)


def _states(engine: Engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as c:
        return {r.event_id: (r.state, r.error) for r in c.execute(select(inbox))}


def _figure(engine: Engine, sku: str) -> int | None:
    with engine.connect() as c:
        found = targets_repo.pushed_figures(c, IMS_CHANNEL).get((sku, "6"))
    return None if found is None else found[0]


def _poison_exceptions(engine: Engine) -> dict[str, tuple[str, ExceptionState, int]]:
    with engine.connect() as c:
        return {e.entity: (e.owner, e.state, e.count) for e in list_exceptions(c) if e.type == "poison_event"}


def test_unfoldable_rows_at_the_head_are_set_aside_and_the_rows_behind_them_fold(engine: Engine) -> None:
    huge = movement_event(1, "SKU-HUGE", {"available": 10**20})  # a signed webhook the wire once took
    status = {"id": "evt_WH1_000000000002", "type": "order.status_changed", "data": {"warehouse_id": "WH1"}}
    poison = [
        inbound(huge),
        _raw("evt_broken", "inventory.movement", '{"id": "evt_broken", "type": "inventory.mov'),
        _raw(status["id"], "order.status_changed", json.dumps(status)),
        _raw("snapshot:WH1:1:0", "clarus.stock_snapshot", '[{"sku": "X"}]'),
        _raw("evt_future", "clarus.item_updated", "{}"),
    ]
    good = [
        inbound(movement_event(3, "SKU-1", {"available": 5})),
        inbound(movement_event(4, "SKU-2", {"available": 7, "quarantine": 1})),
    ]
    inbox_repo.store_events(engine, poison + good, T0)

    _fold_all(engine)

    assert _figure(engine, "SKU-1") == 5
    assert _figure(engine, "SKU-2") == 7
    states = _states(engine)
    assert {e.event_id: states[e.event_id][0] for e in good} == {e.event_id: "done" for e in good}
    for event in poison:
        state, error = states[event.event_id]
        assert state == "failed", event.event_id
        assert error, event.event_id  # the reason is kept with the body
    assert "data.balances.0.quantity" in (states[huge["id"]][1] or "")
    assert "clarus.item_updated" in (states["evt_future"][1] or "")
    found = _poison_exceptions(engine)
    assert set(found) == {f"clarus:{e.event_id}" for e in poison}
    assert {owner for owner, _, _ in found.values()} == {"integration"}
    with engine.connect() as c:
        assert read_counters(c)["inbox.set_aside"] == len(poison)
        assert inbox_repo.pending_count(c) == 0
        assert json.loads(
            c.execute(select(inbox.c.payload).where(inbox.c.event_id == huge["id"])).scalar_one()
        )


def _refuse_in_database(engine: Engine, sku: str) -> None:
    """Make the database itself refuse stock rows of one SKU: a fault the wire checks cannot see."""
    with engine.begin() as c:
        if engine.dialect.name == "postgresql":
            c.execute(
                text(
                    "CREATE FUNCTION refuse_sku() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.sku = '{sku}' THEN "
                    "RAISE EXCEPTION 'refused by the test' USING ERRCODE = '22003'; "  # out of range
                    "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            c.execute(
                text(
                    "CREATE TRIGGER refuse_sku BEFORE INSERT ON observed_stock "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_sku()"
                )
            )
        else:
            c.execute(
                text(
                    "CREATE TRIGGER refuse_sku BEFORE INSERT ON observed_stock "
                    f"WHEN NEW.sku = '{sku}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )


def _accept_in_database(engine: Engine) -> None:
    with engine.begin() as c:
        c.execute(
            text(
                "DROP TRIGGER refuse_sku" + (" ON observed_stock" if engine.dialect.name != "sqlite" else "")
            )
        )


def test_rows_the_database_refuses_are_found_and_set_aside_the_others_commit(engine: Engine) -> None:
    _refuse_in_database(engine, REFUSED_SKU)
    events = [movement_event(1, REFUSED_SKU, {"available": 3})]
    events += [movement_event(i, f"SKU-{i}", {"available": i}) for i in range(2, 12)]
    events += [movement_event(12, REFUSED_SKU, {"available": 4})]
    events += [movement_event(i, f"SKU-{i}", {"available": i}) for i in range(13, 20)]
    inbox_repo.store_events(engine, [inbound(e) for e in events], T0)

    _fold_all(engine)

    for i in [*range(2, 12), *range(13, 20)]:
        assert _figure(engine, f"SKU-{i}") == i
    assert _figure(engine, REFUSED_SKU) is None
    states = _states(engine)
    refused = [events[0]["id"], events[11]["id"]]
    assert [states[i][0] for i in refused] == ["failed", "failed"]
    assert all("refused by the test" in (states[i][1] or "") for i in refused)
    assert set(_poison_exceptions(engine)) == {f"clarus:{i}" for i in refused}


def test_exceptions_retry_puts_a_set_aside_row_back_once_the_cause_is_fixed(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    _refuse_in_database(engine, REFUSED_SKU)
    event = movement_event(1, REFUSED_SKU, {"available": 6})
    inbox_repo.store_events(engine, [inbound(event)], T0)
    _fold_all(engine)
    assert _states(engine)[event["id"]][0] == "failed"
    with engine.connect() as c:
        [exception] = [e for e in list_exceptions(c) if e.type == "poison_event"]

    _accept_in_database(engine)  # the cause is fixed
    data = yaml.safe_load(Path(EXAMPLE_CONFIG).read_text())
    data["database_url"] = db_url
    path = tmp_path / "stockbridge.yaml"
    path.write_text(yaml.safe_dump(data))
    before = json.loads(CliRunner().invoke(app, ["status", "--config", str(path), "--json"]).output)
    assert (before["inbox_set_aside"], before["counters"]["inbox.set_aside"]) == (1, 1)
    result = CliRunner().invoke(app, ["exceptions", "retry", str(exception.id), "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "queued again" in result.output

    assert _states(engine)[event["id"]] == ("pending", None)
    assert _poison_exceptions(engine)[f"clarus:{event['id']}"][1] == ExceptionState.RESOLVED
    _fold_all(engine)
    assert _states(engine)[event["id"]][0] == "done"
    assert _figure(engine, REFUSED_SKU) == 6
    status = CliRunner().invoke(app, ["status", "--config", str(path), "--json"])
    assert json.loads(status.output)["inbox_set_aside"] == 0


def test_a_row_that_fails_again_after_a_requeue_is_set_aside_again_and_counted(engine: Engine) -> None:
    event = movement_event(1, "SKU-HUGE", {"available": 10**20})
    inbox_repo.store_events(engine, [inbound(event)], T0)
    _fold_all(engine)
    with engine.begin() as c:
        assert requeue(c) == 1  # what a configuration reload does
        assert requeue(c) == 0
    _fold_all(engine)
    assert _states(engine)[event["id"]][0] == "failed"
    assert _poison_exceptions(engine)[f"clarus:{event['id']}"][1:] == (ExceptionState.OPEN, 2)


def test_an_unreachable_database_sets_nothing_aside(engine: Engine) -> None:
    """A failure that is not the rows' fault rolls the batch back to be folded later, as before."""
    inbox_repo.store_events(engine, [inbound(movement_event(1, "SKU-1", {"available": 2}))], T0)
    lost = OperationalError("UPDATE targets", {}, Exception("server closed the connection unexpectedly"))
    with (
        mock.patch("stockbridge.flows.inventory.targets_repo.set_desired", side_effect=lost),
        pytest.raises(OperationalError),
        engine.begin() as c,
    ):
        fold_inbox(c, inbox_repo.claim_pending(c, 10), CONFIG, T0, formats=ClarusInbound())
    assert _states(engine)["evt_WH1_000000000001"] == ("pending", None)
    _fold_all(engine)
    assert _figure(engine, "SKU-1") == 2


def test_a_row_with_the_longest_id_the_inbox_holds_can_still_be_set_aside(engine: Engine) -> None:
    longest = "evt_" + "x" * 196  # inbox.event_id holds 200; with its source the entity would not fit
    inbox_repo.store_events(engine, [_raw(longest, "clarus.item_updated", "{}")], T0)
    inbox_repo.store_events(engine, [inbound(movement_event(1, "SKU-1", {"available": 2}))], T0)
    _fold_all(engine)
    assert _states(engine)[longest][0] == "failed"
    assert [len(e) for e in _poison_exceptions(engine)] == [200]
    assert _figure(engine, "SKU-1") == 2
