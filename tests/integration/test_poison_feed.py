"""Events from the Clarus events feed are validated as webhooks are: one the hub cannot use is kept as
rejected with an owner, the feed cursor moves past it and the events behind it are folded."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine, select
from tests.clarus_support import clarus_client
from tests.factories import T0, config

from stockbridge.config import IMS_CHANNEL_NAME as IMS_CHANNEL
from stockbridge.connectors.clarus.client import ClarusClient
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.connectors.clarus.stock import ClarusStock
from stockbridge.engine.clock import FakeClock
from stockbridge.flows.fold import fold_inbox
from stockbridge.flows.stock_sync import poll_events
from stockbridge.store import inbox_repo, targets_repo
from stockbridge.store.bookkeeping import get_cursor, list_exceptions, read_counters, set_cursor
from stockbridge.store.schema import inbox

CONFIG = config()
KINDS = ("malformed_json", "schema_invalid", "out_of_range")


def _poll(engine: Engine, base_url: str) -> int:
    async def go() -> int:
        client = ClarusClient(base_url, "clarus-dev-key")
        try:
            return await poll_events(engine, ClarusStock(client), "WH1", CONFIG, FakeClock(T0))
        finally:
            await client.aclose()

    return asyncio.run(go())


def _fold_all(engine: Engine) -> None:
    for _ in range(50):
        with engine.begin() as c:
            entries = inbox_repo.claim_pending(c, 100)
            if not entries:
                return
            fold_inbox(c, entries, CONFIG, T0, formats=ClarusInbound())
    raise AssertionError("the inbox never emptied")


def _receipt(sku: str, quantity: int) -> dict[str, object]:
    return {"warehouse_id": "WH1", "movement_type": "receipt", "sku": sku, "quantity": quantity}


def test_poison_in_the_events_feed_is_refused_and_the_feed_moves_on(engine: Engine) -> None:
    with clarus_client() as clarus:
        clarus.post("/_control/movements", json={"movements": [_receipt("GOOD-1", 4)]}).raise_for_status()
        poison = [clarus.post("/_control/poison", json={"kind": kind}).json() for kind in KINDS]
        clarus.post("/_control/movements", json={"movements": [_receipt("GOOD-2", 6)]}).raise_for_status()
        recovered = _poll(engine, str(clarus.base_url))
        _fold_all(engine)
        # Read the feed again from the start: the refused events are known, nothing is raised twice.
        with engine.begin() as c:
            set_cursor(c, "clarus.events.WH1", "0")
        clarus.post("/_control/movements", json={"movements": [_receipt("GOOD-3", 2)]}).raise_for_status()
        again = _poll(engine, str(clarus.base_url))
        _fold_all(engine)

    assert (recovered, again) == (2, 1)
    with engine.connect() as c:
        assert get_cursor(c, "clarus.events.WH1") == "6"
        figures = targets_repo.pushed_figures(c, IMS_CHANNEL)
        rows = {r.event_id: (r.state, r.error) for r in c.execute(select(inbox))}
        problems = [(e.type, e.entity, e.owner, e.count) for e in list_exceptions(c)]
        counters = read_counters(c)
    assert {sku: figures[(sku, "6")][0] for sku in ("GOOD-1", "GOOD-2", "GOOD-3")} == {
        "GOOD-1": 4,
        "GOOD-2": 6,
        "GOOD-3": 2,
    }
    rejected = {event_id: error for event_id, (state, error) in rows.items() if state == "rejected"}
    assert len(rejected) == 3
    # The two that carry their id are kept under it; the one that is not an event object under its hash.
    assert {p["id"] for p in poison[1:]} <= set(rejected)
    assert any(event_id.startswith("unusable:") for event_id in rejected)
    assert "data.sequence" in rejected[poison[1]["id"]]
    assert "less than or equal to" in rejected[poison[2]["id"]]
    assert sorted(p[0] for p in problems) == ["bad_feed_event"] * 3
    assert {(p[2], p[3]) for p in problems} == {("integration", 1)}
    assert counters["inbox.rejected"] == 3
