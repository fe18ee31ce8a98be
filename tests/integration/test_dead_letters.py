"""Outbound work rides out outages of minutes; past the retry window it is dead-lettered with an
owner, and an operator re-sends it (`stockbridge replay`, `stockbridge exceptions retry`).

Each sender runs against a real far end (a local SMTP server, the Clarus and IMS simulators) on
loopback, with a fake clock moved to each retry's due time. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import email
import json
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, Table, func, select
from tests.factories import T0, config
from tests.servers import run_app
from typer.testing import CliRunner

from stockbridge.cli import app
from stockbridge.config import EXAMPLE_CONFIG, Config
from stockbridge.config import IMS_CHANNEL_NAME as IMS_CHANNEL
from stockbridge.connectors.notify import make_notifier
from stockbridge.domain.bundles import KitMember
from stockbridge.domain.fulfilment import Shipment, ShippedLine
from stockbridge.domain.order_state import Outcome
from stockbridge.domain.orders import OrderLine, SalesOrder
from stockbridge.domain.shipping import Address
from stockbridge.engine.clock import FakeClock
from stockbridge.engine.connect import Connections, connect
from stockbridge.flows.fulfilment import FulfilmentFolder
from stockbridge.flows.fulfilment_sync import FulfilmentSender
from stockbridge.flows.order_sync import OrderCommandSender
from stockbridge.flows.orders import OrderFolder
from stockbridge.flows.stock_push import StockPusher
from stockbridge.servers import free_port
from stockbridge.simulators import clarus, ims
from stockbridge.store import fulfilment_repo, items_repo, orders_repo, outbox_repo
from stockbridge.store.bookkeeping import ExceptionRecord, list_exceptions
from stockbridge.store.items_repo import ImsItem
from stockbridge.store.outbox_repo import PushBatch, PushLine
from stockbridge.store.schema import fulfilment_commands, order_commands, push_batches
from stockbridge.store.sql import utc
from stockbridge.store.states import BatchState, ExceptionState

SECRETS = {"CLARUS_API_KEY": "clarus-dev-key", "CLARUS_WEBHOOK_SECRET": "s", "IMS_TOKEN": "ims-dev-token"}
ADDRESS = Address("Ada Lovelace", "1 Analytical St", "", "London", "", "N1 9GU", "GB")
ORDER = SalesOrder(
    "601", "SO601", "B", "UPS Ground", ADDRESS, (OrderLine(1, "MUG", 3),), "s1", email="ada@example.com"
)
SHIPMENT = Shipment("SHP-1", "SO601", "UPS", "STD", ("1ZSHP1",), (ShippedLine("1", "MUG", 3),), 1)
WINDOW_S = 900.0  # a short retry window, for the tests that let work be dead-lettered


@dataclass(frozen=True)
class FarEnds:
    """Loopback ports of the far ends; nothing listens on one until a test starts it."""

    smtp: int
    clarus: int
    ims: int

    def config(self, **engine: float) -> Config:
        return config(
            orders={"ship_methods": {"UPS Ground": "STD"}},
            fulfilment={
                "bill_on_fulfilment": False,
                "notifier": {"kind": "smtp", "smtp_host": "127.0.0.1", "smtp_port": self.smtp},
            },
            connectors__clarus__base_url=f"http://127.0.0.1:{self.clarus}",
            connectors__ims__base_url=f"http://127.0.0.1:{self.ims}",
            **{f"engine__{key}": value for key, value in engine.items()},
        )


@pytest.fixture
def far() -> FarEnds:
    return FarEnds(free_port(), free_port(), free_port())


@pytest.fixture
def store(engine: Engine) -> Engine:
    with engine.begin() as c:
        items_repo.upsert_items(c, [ImsItem("MUG", "1", False), ImsItem("TEA", "2", False)])
        items_repo.replace_kits(c, {"BOX": [KitMember("MUG", 1)]})
        items_repo.record_wms_items(c, {"MUG": (True, "MUG"), "TEA": (True, "TEA")}, T0)
    return engine


class Inbox:
    """An aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@contextmanager
def mail_server(port: int) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def _clock() -> FakeClock:
    # The CLI queues replayed work at the wall clock's now; the fake clock starts there and only
    # moves forward, so replayed work is due at once.
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


def _release_order(engine: Engine, cfg: Config) -> None:
    with engine.begin() as c:
        OrderFolder(c, cfg, T0).fold_sales_order(ORDER)
        (command,) = orders_repo.claim_commands(c, "w", T0, T0 + timedelta(minutes=1), 5)
        orders_repo.command_done(c, command, "w", T0)
        OrderFolder(c, cfg, T0).command_answered(command, Outcome.DONE, "")


def _notice_pending(engine: Engine, cfg: Config) -> None:
    """An order released, its shipment's Item Fulfilment created: the customer's notice is due."""
    _release_order(engine, cfg)
    with engine.begin() as c:
        FulfilmentFolder(c, cfg, T0).fold_shipment(SHIPMENT)
        (task,) = fulfilment_repo.claim(c, "w", T0, T0 + timedelta(minutes=1), 5)
        fulfilment_repo.done(c, task, "w", T0)
        FulfilmentFolder(c, cfg, T0).item_fulfilment_answered(SHIPMENT.shipment_id, True)


def _rows(engine: Engine, table: Table) -> list[Any]:
    with engine.connect() as c:
        return list(c.execute(select(table).order_by(table.c.id)))


def _next_due(engine: Engine, table: Table) -> datetime | None:
    query = select(func.min(table.c.next_attempt_at)).where(table.c.state == BatchState.PENDING.value)
    with engine.connect() as c:
        due = c.execute(query).scalar_one_or_none()
    return None if due is None else utc(due)


async def _drive(
    cycle: Callable[[], Any], engine: Engine, table: Table, clock: FakeClock, for_s: float
) -> None:
    """Run a sender at each time its outbox has work due, for `for_s` seconds of fake time or until
    nothing is pending."""
    end = clock.now() + timedelta(seconds=for_s)
    while True:
        await cycle()
        due = _next_due(engine, table)
        if due is None or due > end:
            return
        clock.advance(max(0.0, (due - clock.now()).total_seconds()))


def _exception(engine: Engine, type: str) -> ExceptionRecord:
    with engine.connect() as c:
        (record,) = [e for e in list_exceptions(c) if e.type == type]
    return record


def _cli(engine: Engine, tmp_path: Path, *args: str) -> str:
    path = tmp_path / "stockbridge.yaml"
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["database_url"] = engine.url.render_as_string(hide_password=False)
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, [*args, "--config", str(path)])
    assert result.exit_code == 0, result.output
    return result.output


def _fulfilment_sender(
    engine: Engine, cfg: Config, connections: Connections, clock: FakeClock
) -> FulfilmentSender:
    return FulfilmentSender(
        engine=engine,
        config=lambda: cfg,
        ims=connections.ims_fulfilments,
        notifier=make_notifier(cfg.fulfilment.notifier),
        clock=clock,
        worker_id="w1",
        rng=random.Random(3),
    )


# --- customer notices ------------------------------------------------------------------------------


def test_a_notice_waits_out_a_ten_minute_mail_outage_and_is_sent_once(store: Engine, far: FarEnds) -> None:
    cfg = far.config()  # the default window: hours
    _notice_pending(store, cfg)
    clock = _clock()

    async def run() -> list[Message]:
        connections = connect(cfg, SECRETS)
        try:
            sender = _fulfilment_sender(store, cfg, connections, clock)
            await _drive(sender.run_cycle, store, fulfilment_commands, clock, for_s=600)
            (row,) = _rows(store, fulfilment_commands)[1:]
            assert (row.kind, row.state) == ("notify", "pending")
            assert row.attempts > cfg.engine.max_attempts  # tried all along, never given up
            with store.connect() as c:
                assert list_exceptions(c) == []
            with mail_server(far.smtp) as inbox:
                await _drive(sender.run_cycle, store, fulfilment_commands, clock, for_s=600)
            return inbox.messages
        finally:
            await connections.aclose()

    messages = asyncio.run(run())
    assert [m["Message-ID"] for m in messages] == ["<shipment-SHP-1@stockbridge>"]
    assert [r.state for r in _rows(store, fulfilment_commands)] == ["sent", "sent"]


def _replay_notice_args(engine: Engine) -> list[str]:
    return ["replay", "--outbox", "fulfilment"]


def _retry_notice_args(engine: Engine) -> list[str]:
    return ["exceptions", "retry", str(_exception(engine, "notification_failed").id)]


@pytest.mark.parametrize("command", [_replay_notice_args, _retry_notice_args], ids=["replay", "retry"])
def test_a_notice_dead_lettered_after_the_window_is_resent_by_the_operator(
    store: Engine, far: FarEnds, tmp_path: Path, command: Callable[[Engine], list[str]]
) -> None:
    cfg = far.config(retry_for_s=WINDOW_S)
    _notice_pending(store, cfg)
    clock = _clock()
    started = clock.now()

    async def run() -> list[Message]:
        connections = connect(cfg, SECRETS)
        try:
            sender = _fulfilment_sender(store, cfg, connections, clock)
            await _drive(sender.run_cycle, store, fulfilment_commands, clock, for_s=2 * WINDOW_S)
            row = _rows(store, fulfilment_commands)[1]
            assert row.state == BatchState.DEAD.value
            assert (clock.now() - started).total_seconds() >= WINDOW_S
            problem = _exception(store, "notification_failed")
            assert (problem.owner, problem.state) == ("customer_service", ExceptionState.OPEN)
            assert problem.retry_action == f"stockbridge replay --outbox fulfilment --id {row.id}"
            listed = json.loads(_cli(store, tmp_path, "replay", "--list", "--json"))
            assert [(d["outbox"], d["id"], d["what"]) for d in listed] == [
                ("fulfilment", str(row.id), "notify for shipment SHP-1")
            ]
            with mail_server(far.smtp) as inbox:
                _cli(store, tmp_path, *command(store))
                await _drive(sender.run_cycle, store, fulfilment_commands, clock, for_s=60)
            return inbox.messages
        finally:
            await connections.aclose()

    messages = asyncio.run(run())
    assert [m["Message-ID"] for m in messages] == ["<shipment-SHP-1@stockbridge>"]
    assert _rows(store, fulfilment_commands)[1].state == BatchState.SENT.value
    assert _exception(store, "notification_failed").state == ExceptionState.RESOLVED


# --- order commands --------------------------------------------------------------------------------


@pytest.mark.parametrize("by_exception", [False, True], ids=["replay", "retry"])
def test_an_order_command_dead_lettered_after_the_window_is_resent_by_the_operator(
    store: Engine, far: FarEnds, tmp_path: Path, by_exception: bool
) -> None:
    cfg = far.config(retry_for_s=WINDOW_S)
    with store.begin() as c:
        OrderFolder(c, cfg, T0).fold_sales_order(ORDER)
    clock = _clock()

    async def run() -> dict[str, Any]:
        connections = connect(cfg, SECRETS)
        try:
            sender = OrderCommandSender(
                engine=store,
                config=lambda: cfg,
                clarus=connections.clarus_orders,
                clock=clock,
                worker_id="w1",
                rng=random.Random(5),
            )
            await _drive(sender.run_cycle, store, order_commands, clock, for_s=2 * WINDOW_S)
            (row,) = _rows(store, order_commands)
            assert (row.kind, row.state) == ("create", "dead")
            problem = _exception(store, "order_command_failed")
            assert (problem.entity, problem.owner) == ("order:SO601", "integration")
            with run_app(clarus.create_app(clarus.ClarusSettings()), port=far.clarus) as url:
                async with httpx.AsyncClient(
                    base_url=url, headers={"Authorization": "Bearer clarus-dev-key"}
                ) as http:
                    (await http.put("/api/v1/items/MUG", json={"active": True})).raise_for_status()
                    args = (
                        ["exceptions", "retry", str(problem.id)]
                        if by_exception
                        else ["replay", "--outbox", "orders", "--id", str(row.id)]
                    )
                    _cli(store, tmp_path, *args)
                    await _drive(sender.run_cycle, store, order_commands, clock, for_s=60)
                    orders: dict[str, Any] = (await http.get("/_control/orders")).json()["orders"]
            return orders
        finally:
            await connections.aclose()

    warehouse_orders = asyncio.run(run())
    assert list(warehouse_orders) == ["SO601"]
    assert [r.state for r in _rows(store, order_commands)] == ["sent"]
    assert _exception(store, "order_command_failed").state == ExceptionState.RESOLVED


# --- stock pushes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("by_exception", [False, True], ids=["replay", "retry"])
def test_a_push_batch_dead_lettered_after_the_window_is_resent_by_the_operator(
    engine: Engine, far: FarEnds, tmp_path: Path, by_exception: bool
) -> None:
    cfg = far.config(retry_for_s=WINDOW_S)
    clock = _clock()

    async def run() -> dict[str, Any]:
        connections = connect(cfg, SECRETS)
        try:
            with run_app(ims.create_app(ims.ImsSettings()), port=far.ims) as url:
                async with httpx.AsyncClient(base_url=url) as http:
                    items = {"items": [{"itemId": "MUG"}]}
                    (await http.post("/_control/items", json=items)).raise_for_status()
                    line = PushLine("MUG", 7, 0, 1, None)
                    with engine.begin() as c:
                        batch = PushBatch("sb-inv-dl-1", IMS_CHANNEL, "6", (line,), 0)
                        outbox_repo.create_batches(c, [batch], "w1", clock.now())
                    (await http.put("/_control/faults", json={"outage": True})).raise_for_status()
                    pusher = StockPusher(
                        engine=engine,
                        config=cfg,
                        channel=connections.stock_channels[IMS_CHANNEL],
                        clock=clock,
                        worker_id="w1",
                        rng=random.Random(7),
                    )
                    await _drive(pusher.run_cycle, engine, push_batches, clock, for_s=2 * WINDOW_S)
                    assert [r.state for r in _rows(engine, push_batches)] == ["dead"]
                    problem = _exception(engine, "push_failed")
                    assert (problem.entity, problem.owner) == ("batch:sb-inv-dl-1", "integration")
                    (await http.put("/_control/faults", json={"outage": False})).raise_for_status()
                    args = (
                        ["exceptions", "retry", str(problem.id)]
                        if by_exception
                        else ["replay", "--outbox", "pushes", "--id", "sb-inv-dl-1"]
                    )
                    _cli(engine, tmp_path, *args)
                    await _drive(pusher.run_cycle, engine, push_batches, clock, for_s=60)
                    state: dict[str, Any] = (await http.get("/_control/state")).json()
            return state
        finally:
            await connections.aclose()

    state = asyncio.run(run())
    assert state["items"]["MUG"]["onHand"] == {"6": 7}
    assert [r.state for r in _rows(engine, push_batches)] == ["sent"]
    assert _exception(engine, "push_failed").state == ExceptionState.RESOLVED


# --- the CLI's contract ----------------------------------------------------------------------------


def test_replay_lists_every_outbox_and_status_counts_dead_letters(
    store: Engine, far: FarEnds, tmp_path: Path
) -> None:
    cfg = far.config()
    _notice_pending(store, cfg)
    with store.begin() as c:
        OrderFolder(c, cfg, T0).fold_sales_order(
            SalesOrder("602", "SO602", "B", "UPS Ground", ADDRESS, (OrderLine(1, "MUG", 1),), "s1")
        )
        lease = T0 + timedelta(minutes=1)
        for command in orders_repo.claim_commands(c, "w", T0, lease, 5):
            orders_repo.command_failed(c, command, "w", "refused", None, T0)
        for task in fulfilment_repo.claim(c, "w", T0, lease, 5):
            fulfilment_repo.failed(c, task, "w", "refused", None, T0)
        line = PushLine("MUG", 1, 0, 1, None)
        outbox_repo.create_batches(c, [PushBatch("b-1", IMS_CHANNEL, "6", (line,), 0)], "w", T0)
        (batch,) = outbox_repo.claim_batches(c, IMS_CHANNEL, "w", T0, lease, 5)
        outbox_repo.batch_failed(c, batch, "w", "refused", None, T0)
    listed = json.loads(_cli(store, tmp_path, "replay", "--list", "--json"))
    assert sorted((d["outbox"], d["what"]) for d in listed) == [
        ("fulfilment", "notify for shipment SHP-1"),
        ("orders", "create order SO602"),
        ("pushes", "1 stock figure(s) for ims location 6"),
    ]
    status = json.loads(_cli(store, tmp_path, "status", "--json"))
    assert status["dead_letters"] == {
        "pushes": 1,
        "orders": 1,
        "fulfilment": 1,
        "storefront_orders": 0,
        "finance": 0,
        "alerts": 0,
    }
    assert "pushes: 1 dead letter(s) queued again" in _cli(store, tmp_path, "replay", "--outbox", "pushes")
    output = _cli(store, tmp_path, "replay")
    assert "orders: 1 dead letter(s) queued again" in output
    assert "fulfilment: 1 dead letter(s) queued again" in output
    assert json.loads(_cli(store, tmp_path, "replay", "--list", "--json")) == []


def test_replay_refuses_ids_without_an_outbox(tmp_path: Path) -> None:
    path = tmp_path / "stockbridge.yaml"
    CliRunner().invoke(app, ["init", str(path)])
    result = CliRunner().invoke(app, ["replay", "--id", "3", "--config", str(path)])
    assert result.exit_code == 2
    assert "--outbox" in result.output
