"""The claims kept beside the orders always sum to the domain's open demand of those orders, whatever
sequence of versions, answers and warehouse statuses they go through (SQLite; hypothesis)."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from tests.factories import T0, config

from stockbridge.domain.bundles import KitMember
from stockbridge.domain.demand import OrderAtHub, open_demand
from stockbridge.domain.inbound import WarehouseOrderStatus
from stockbridge.domain.order_state import Outcome
from stockbridge.domain.orders import CANCELLED, OrderLine, SalesOrder
from stockbridge.domain.shipping import Address
from stockbridge.flows.orders import OrderFolder
from stockbridge.store import demand_repo, items_repo, orders_repo
from stockbridge.store.db import make_engine, upgrade
from stockbridge.store.items_repo import ImsItem
from stockbridge.store.schema import order_commands

ADDRESS = Address("Ada Lovelace", "1 Analytical St", "", "London", "", "N1 9GU", "GB")
CONFIG = config(
    orders={"ship_methods": {"UPS Ground": "STD"}},
    storefronts={
        "shop": {"shop_domain": "x.myshopify.com", "orders_route": "clarus", "locations": {"WH1": "L1"}}
    },
)
SKUS = ["A", "B", "KIT"]
STATUSES = ["received", "released", "allocated", "on_hold", "picking", "cancelled"]

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("version"),
            st.sampled_from(["1", "2"]),
            st.lists(st.tuples(st.sampled_from(SKUS), st.integers(0, 4)), min_size=1, max_size=3),
            st.booleans(),  # cancelled
        ),
        st.tuples(st.just("answer"), st.sampled_from([Outcome.DONE, Outcome.LOCKED, Outcome.REJECTED])),
        st.tuples(st.just("status"), st.sampled_from(["1", "2"]), st.sampled_from(STATUSES)),
    ),
    max_size=12,
)


def _catalog(engine: Engine) -> None:
    with engine.begin() as c:
        items_repo.upsert_items(
            c,
            [ImsItem("A", "1", False), ImsItem("B", "2", False), ImsItem("KIT", "3", False, item_type="Kit")],
        )
        items_repo.replace_kits(c, {"KIT": [KitMember("A", 2), KitMember("B", 1)]})
        items_repo.record_wms_items(c, {"A": (True, "A"), "B": (True, "B")}, T0)


def _expected(engine: Engine) -> dict[tuple[str, str], int]:
    """The domain rule over the orders as stored, with the outbox's newest create or amend."""
    with engine.connect() as c:
        pending = {}
        for r in c.execute(select(order_commands).order_by(order_commands.c.id)):
            if r.kind in ("create", "amend") and r.state in ("pending", "dead"):
                pending[r.ims_id] = orders_repo.wms_order_from_json(r.payload)
        return open_demand(
            OrderAtHub(r.state, r.wms_status, r.sent, pending.get(r.order.ims_id))
            for r in orders_repo.all_orders(c)
        )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
# Found in CI: a status arriving while the create is still queued released the claim, and a later
# status that claims again found nothing to restore (the claim is what the queued create carries).
@example([("version", "1", [("A", 0)], False), ("version", "2", [("A", 1)], False),
          ("status", "2", "allocated"), ("status", "2", "received")])  # fmt: skip
def test_stored_claims_are_the_domain_rule(plan: list[tuple[object, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'hub.db'}")
        upgrade(engine)
        _catalog(engine)
        stamps = {"1": 0, "2": 0}
        sequence = 0
        for step in plan:
            with engine.begin() as c:
                folder = OrderFolder(c, CONFIG, T0)
                if step[0] == "version":
                    _, ims_id, lines, cancelled = step
                    stamps[str(ims_id)] += 1
                    order = SalesOrder(
                        str(ims_id),
                        f"SO{ims_id}",
                        CANCELLED if cancelled else "B",
                        "UPS Ground",
                        ADDRESS,
                        tuple(OrderLine(i, sku, qty) for i, (sku, qty) in enumerate(lines, 1)),  # type: ignore[arg-type]
                        f"2026-11-26 09:00:{stamps[str(ims_id)]:02d}",
                    )
                    folder.fold_sales_order(order)
                elif step[0] == "answer":
                    commands = orders_repo.claim_commands(c, "w", T0, T0 + timedelta(minutes=1), 1)
                    for command in commands:
                        orders_repo.command_done(c, command, "w", T0)
                        folder.command_answered(command, step[1], "refused")  # type: ignore[arg-type]
                else:
                    sequence += 1
                    _, ims_id, status = step
                    folder.fold_warehouse_status(
                        WarehouseOrderStatus(f"SO{ims_id}", str(status), sequence, "WH1", T0)
                    )
            with engine.connect() as c:
                stored = demand_repo.demand_for(c, [(s, "WH1") for s in ["A", "B"]])
            assert stored == _expected(engine), step
        engine.dispose()
