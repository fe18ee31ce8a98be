"""The fold and the push outbox against a real database, SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import Engine
from tests.factories import T0, config, inbound, movement_event

from stockbridge.config import IMS_CHANNEL_NAME as IMS_CHANNEL
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.flows.inventory import fold_entries
from stockbridge.store import inbox_repo, outbox_repo, stock_repo, targets_repo
from stockbridge.store.bookkeeping import list_exceptions, read_counters
from stockbridge.store.outbox_repo import PushBatch, PushLine

CONFIG = config()


def _fold_all(engine: Engine) -> None:
    while True:
        with engine.begin() as c:
            entries = inbox_repo.claim_pending(c, 100)
            if not entries:
                return
            fold_entries(c, entries, CONFIG, T0, formats=ClarusInbound())


def test_out_of_order_and_duplicate_events_fold_to_the_newest(engine: Engine) -> None:
    events = [
        movement_event(1, "SKU-1", {"available": 10}),
        movement_event(2, "SKU-1", {"available": 7, "allocated": 3}, movement_type="allocate"),
        movement_event(3, "SKU-1", {"allocated": 1, "picked": 2}, movement_type="pick"),
        movement_event(4, "SKU-1", {"available": 5, "quarantine": 2}, movement_type="status_change"),
    ]
    shuffled = events + events[:2]  # duplicates
    random.Random(3).shuffle(shuffled)
    for event in shuffled:
        inbox_repo.store_events(engine, [inbound(event)], T0)
    _fold_all(engine)
    with engine.begin() as c:
        stock = stock_repo.observed_stock_by_warehouse(c, "WH1")["SKU-1"]
        figures = targets_repo.pushed_figures(c, IMS_CHANNEL)
        counters = read_counters(c)
    assert stock == {"available": 5, "allocated": 1, "picked": 2, "quarantine": 2}
    # IMS counts available + allocated + picked, never quarantine.
    assert figures[("SKU-1", "6")] == (8, None, True, "ok")
    assert counters["inbox.received"] == 6
    assert counters["inbox.duplicates"] == 2


def test_older_event_arriving_late_changes_nothing(engine: Engine) -> None:
    inbox_repo.store_events(engine, [inbound(movement_event(9, "SKU-2", {"available": 4}))], T0)
    _fold_all(engine)
    inbox_repo.store_events(engine, [inbound(movement_event(5, "SKU-2", {"available": 40}))], T0)
    _fold_all(engine)
    with engine.begin() as c:
        assert stock_repo.observed_stock_by_warehouse(c, "WH1")["SKU-2"] == {"available": 4}


def test_unmapped_status_and_warehouse_raise_exceptions(engine: Engine) -> None:
    inbox_repo.store_events(
        engine,
        [
            inbound(movement_event(1, "SKU-3", {"available": 2, "mystery": 5})),
            inbound(movement_event(1, "SKU-3", {"available": 2}, warehouse="WH9")),
        ],
        T0,
    )
    _fold_all(engine)
    with engine.begin() as c:
        found = {(e.type, e.entity, e.owner) for e in list_exceptions(c)}
        figures = targets_repo.pushed_figures(c, IMS_CHANNEL)
    assert ("unmapped_status", "status:mystery", "operations") in found
    assert ("unmapped_warehouse", "warehouse:WH9", "operations") in found
    assert figures[("SKU-3", "6")][0] == 2


def test_each_channel_gets_its_own_target_with_its_own_rule(engine: Engine) -> None:
    statuses = dict(CONFIG.model_dump()["inventory_statuses"])
    statuses["available"] = {"counts_for": ["ims", "shop"], "owner": "operations"}
    two = config(
        storefronts={
            "shop": {
                "shop_domain": "x.myshopify.com",
                "locations": {"WH1": "gid://shopify/Location/1"},
                "orders_route": "clarus",
            }
        },
        inventory_statuses={
            k: {"counts_for": sorted(v["counts_for"]), "owner": v["owner"]} for k, v in statuses.items()
        },
        targets={"shop": {"buffer": 1, "classes": {"mugs": {"buffer": 4, "skus": ["MUG-*"]}}}},
    )
    inbox_repo.store_events(
        engine,
        [
            inbound(movement_event(1, "MUG-1", {"available": 10, "allocated": 3})),
            inbound(movement_event(2, "TEA-2", {"available": 6, "picked": 1})),
        ],
        T0,
    )
    with engine.begin() as c:
        fold_entries(c, inbox_repo.claim_pending(c, 100), two, T0, formats=ClarusInbound())
        ims = targets_repo.pushed_figures(c, "ims")
        shop = targets_repo.pushed_figures(c, "shop")
    assert (ims[("MUG-1", "6")][0], ims[("TEA-2", "6")][0]) == (13, 7)  # allocated and picked count
    # The store counts only free stock, minus its class buffer or its own.
    assert shop == {
        ("MUG-1", "gid://shopify/Location/1"): (6, None, True, "ok"),
        ("TEA-2", "gid://shopify/Location/1"): (5, None, True, "ok"),
    }


def _dirty_target(engine: Engine, sku: str, qty: int) -> None:
    inbox_repo.store_events(engine, [inbound(movement_event(1, sku, {"available": qty}))], T0)
    _fold_all(engine)


def test_batch_lifecycle_and_lease_expiry(engine: Engine) -> None:
    _dirty_target(engine, "SKU-4", 6)
    lease = T0 + timedelta(seconds=60)
    with engine.begin() as c:
        claimed = targets_repo.claim_dirty(c, IMS_CHANNEL, "w1", T0, lease, 10)
        assert [r.sku for r in claimed] == ["SKU-4"]
        # A second worker sees nothing while the lease lives.
        assert targets_repo.claim_dirty(c, IMS_CHANNEL, "w2", T0, lease, 10) == []
        line = PushLine("SKU-4", 6, 0, claimed[0].desired_version, T0)
        outbox_repo.create_batches(c, [PushBatch("b-1", IMS_CHANNEL, "6", (line,), 0)], "w1", T0)
    # w1 dies holding the batch: after the lease, w2 takes it over with the same external id.
    with engine.begin() as c:
        assert [b.id for b in outbox_repo.claim_batches(c, IMS_CHANNEL, "w1", T0, lease, 5)] == ["b-1"]
        assert outbox_repo.claim_batches(c, IMS_CHANNEL, "w2", T0, lease, 5) == []
    later = lease + timedelta(seconds=1)
    with engine.begin() as c:
        taken = outbox_repo.claim_batches(c, IMS_CHANNEL, "w2", later, later + timedelta(seconds=60), 5)
        assert [b.id for b in taken] == ["b-1"]
        # The dead worker's late acknowledgement loses; the live one wins.
        assert not outbox_repo.batch_sent(c, taken[0], "w1", later)
        assert outbox_repo.batch_sent(c, taken[0], "w2", later)
        assert targets_repo.pushed_figures(c, IMS_CHANNEL)[("SKU-4", "6")] == (6, 6, False, "ok")
        assert targets_repo.dirty_count(c, IMS_CHANNEL) == 0


def test_a_batch_written_leased_is_its_planners_until_the_lease_ends(engine: Engine) -> None:
    """The push cycle writes the batches it will send at once leased to itself: no other worker
    claims them meanwhile, and the targets are handed from the planner's lease to the batch."""
    _dirty_target(engine, "SKU-6", 4)
    lease = T0 + timedelta(seconds=60)
    with engine.begin() as c:
        claimed = targets_repo.claim_dirty(c, IMS_CHANNEL, "w1", T0, lease, 10)
        line = PushLine("SKU-6", 4, 0, claimed[0].desired_version, T0)
        batch = PushBatch("b-3", IMS_CHANNEL, "6", (line,), 0)
        outbox_repo.create_batches(c, [batch], "w1", T0, lease_until=lease)
        assert outbox_repo.claim_batches(c, IMS_CHANNEL, "w2", T0, lease, 5) == []
        assert outbox_repo.in_flight(c, IMS_CHANNEL, T0)
        assert targets_repo.claim_dirty(c, IMS_CHANNEL, "w2", T0, lease, 10) == []  # held by the batch
        assert outbox_repo.batch_sent(c, batch, "w1", T0)  # sent as written, never claimed back
        assert targets_repo.pushed_figures(c, IMS_CHANNEL)[("SKU-6", "6")] == (4, 4, False, "ok")
    later = lease + timedelta(seconds=1)
    inbox_repo.store_events(engine, [inbound(movement_event(2, "SKU-7", {"available": 2}))], T0)
    _fold_all(engine)
    with engine.begin() as c:
        claimed = targets_repo.claim_dirty(c, IMS_CHANNEL, "w1", T0, lease, 10)
        line = PushLine("SKU-7", 2, 0, claimed[0].desired_version, T0)
        outbox_repo.create_batches(
            c, [PushBatch("b-4", IMS_CHANNEL, "6", (line,), 0)], "w1", T0, lease_until=lease
        )
    with engine.begin() as c:  # its planner died before sending it: another takes it after the lease
        taken = outbox_repo.claim_batches(c, IMS_CHANNEL, "w2", later, later + timedelta(seconds=60), 5)
        assert [b.id for b in taken] == ["b-4"]


def test_dead_batch_is_replayable(engine: Engine) -> None:
    _dirty_target(engine, "SKU-5", 3)
    lease = T0 + timedelta(seconds=60)
    with engine.begin() as c:
        claimed = targets_repo.claim_dirty(c, IMS_CHANNEL, "w1", T0, lease, 10)
        line = PushLine("SKU-5", 3, 0, claimed[0].desired_version, T0)
        outbox_repo.create_batches(c, [PushBatch("b-2", IMS_CHANNEL, "6", (line,), 0)], "w1", T0)
        batch = outbox_repo.claim_batches(c, IMS_CHANNEL, "w1", T0, lease, 5)[0]
        outbox_repo.batch_failed(c, batch, "w1", "boom", None, T0)
        assert outbox_repo.batches_by_state(c) == {"dead": 1}
        assert outbox_repo.replay_dead(c, T0) == 1
        assert [b.id for b in outbox_repo.claim_batches(c, IMS_CHANNEL, "w1", T0, lease, 5)] == ["b-2"]


def test_a_batch_written_before_the_channel_port_is_read_back_as_figures() -> None:
    old = {"sku": "SKU-6", "item_id": "103", "delta": -2, "desired": 5, "version": 9, "occurred_at": None}
    assert PushLine.from_json(old) == PushLine("SKU-6", 5, 7, 9, None)
    new = PushLine("SKU-6", 5, None, 9, T0)
    assert PushLine.from_json(new.as_json()) == new
