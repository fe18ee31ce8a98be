"""Migration 0007 backfills the claims of orders already between the hub and allocation (both DBs)."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, select
from tests.factories import T0

from stockbridge.domain.order_state import CommandKind, OrderState
from stockbridge.domain.orders import OrderLine, SalesOrder, WmsLine, WmsOrder
from stockbridge.domain.shipping import Address
from stockbridge.store import demand_repo, orders_repo
from stockbridge.store.db import alembic_config, upgrade
from stockbridge.store.orders_repo import OrderRecord
from stockbridge.store.schema import order_claims

ADDRESS = Address("Ada Lovelace", "1 Analytical St", "", "London", "", "N1 9GU", "GB")


def _wms(reference: str, *lines: tuple[str, int]) -> WmsOrder:
    wms_lines = tuple(WmsLine(str(i), sku, qty, i) for i, (sku, qty) in enumerate(lines, 1))
    return WmsOrder(reference, "WH1", "STD", ADDRESS, wms_lines)


def _save(
    engine: Engine, ims_id: str, state: OrderState, wms_status: str | None, sent: WmsOrder | None
) -> None:
    order = SalesOrder(ims_id, f"SO{ims_id}", "B", "UPS Ground", ADDRESS, (OrderLine(1, "A", 1),), "s")
    record = OrderRecord(order, "v", state, (), sent, wms_status, None, T0)
    with engine.begin() as c:
        orders_repo.save_order(c, record, T0)


def test_upgrade_backfills_claims_of_orders_on_their_way(engine: Engine) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        before = ScriptDirectory.from_config(cfg).get_revision("0007").down_revision
        assert isinstance(before, str)
        command.downgrade(cfg, before)
    _save(engine, "1", OrderState.RELEASED, "received", _wms("SO1", ("A", 2), ("A", 1), ("B", 1)))
    _save(engine, "2", OrderState.RELEASED, "allocated", _wms("SO2", ("A", 5)))
    _save(engine, "3", OrderState.AMEND_PENDING, "released", _wms("SO3", ("A", 9)))
    _save(engine, "4", OrderState.HELD, None, None)
    with engine.begin() as c:
        orders_repo.add_command(c, "3", CommandKind.AMEND, _wms("SO3", ("B", 4)), "SO3", T0)
    upgrade(engine)
    with engine.connect() as c:
        rows = sorted(tuple(r) for r in c.execute(select(order_claims)))
        assert demand_repo.demand_for(c, [("A", "WH1"), ("B", "WH1"), ("C", "WH1")]) == {
            ("A", "WH1"): 3,
            ("B", "WH1"): 5,
        }
    assert rows == [("1", "A", "WH1", 3), ("1", "B", "WH1", 1), ("3", "B", "WH1", 4)]
