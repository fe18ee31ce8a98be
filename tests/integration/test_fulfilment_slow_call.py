"""One Item Fulfilment create or customer notice hanging until its deadline must not hold up
other shipments.

The fulfilment sender runs against the IMS simulator over real HTTP and a real store (SQLite and
PostgreSQL). The simulator's `latency_ms` fault holds one shipment's Item Fulfilment call; shipments
folded after it must have their fulfilments created long before the hung call's deadline, and the
hung one is created exactly once in the end, also after the simulator has finished the held call.
A local SMTP server that takes the connection and then says nothing does the same to one notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select
from tests.factories import T0, config

from stockbridge.config import Config
from stockbridge.connectors.notify import make_notifier
from stockbridge.domain.fulfilment import Shipment, ShippedLine
from stockbridge.domain.fulfilment_state import ShipmentState
from stockbridge.domain.order_state import Outcome
from stockbridge.domain.orders import OrderLine, SalesOrder
from stockbridge.domain.shipping import Address
from stockbridge.engine.clock import SystemClock
from stockbridge.engine.connect import Connections, connect
from stockbridge.flows.edge_ports import StorefrontFulfilments
from stockbridge.flows.fulfilment import FulfilmentFolder
from stockbridge.flows.fulfilment_sync import FulfilmentSender
from stockbridge.flows.orders import OrderFolder
from stockbridge.servers import free_port, serve_in_thread
from stockbridge.simulators.ims import ImsSettings, create_app
from stockbridge.store import fulfilment_repo, items_repo, orders_repo
from stockbridge.store.items_repo import ImsItem
from stockbridge.store.schema import fulfilment_commands

SECRETS = {"CLARUS_API_KEY": "clarus-dev-key", "CLARUS_WEBHOOK_SECRET": "s", "IMS_TOKEN": "ims-dev-token"}
ADDRESS = Address("Ada Lovelace", "1 Analytical St", "", "London", "", "N1 9GU", "GB")
CALL_TIMEOUT_S = 8.0  # the hub's deadline for one IMS call
HANG_S = 20.0  # how long the simulator holds the first Item Fulfilment call
OTHERS_DEADLINE_S = 4.0  # "well before the hang ends": before even the hub's own deadline


def _config(ims_url: str, notifier: dict[str, Any] | None = None) -> Config:
    return config(
        orders={"ship_methods": {"UPS Ground": "STD"}},
        fulfilment={"bill_on_fulfilment": False, "notifier": notifier or {"kind": "log"}},
        connectors__ims__base_url=ims_url,
        connectors__ims__timeout_s=CALL_TIMEOUT_S,
        engine__backoff_base_s=0.1,
        engine__backoff_cap_s=0.5,
    )


@pytest.fixture
def ims_url() -> Iterator[str]:
    with serve_in_thread(create_app(ImsSettings())) as url:
        yield url


def _release(engine: Engine, cfg: Config, so_id: str) -> None:
    """The order is in the hub and acknowledged by the warehouse: its shipments make fulfilments."""
    order = SalesOrder(
        so_id, "SO1", "B", "UPS Ground", ADDRESS, (OrderLine(1, "MUG", 3),), "s1", email="ada@example.com"
    )
    with engine.begin() as c:
        items_repo.upsert_items(c, [ImsItem("MUG", "1", False)])
        items_repo.record_wms_items(c, {"MUG": (True, "MUG")}, T0)
        OrderFolder(c, cfg, T0).fold_sales_order(order)
        (command,) = orders_repo.claim_commands(c, "w", T0, T0 + timedelta(minutes=1), 5)
        orders_repo.command_done(c, command, "w", T0)
        OrderFolder(c, cfg, T0).command_answered(command, Outcome.DONE, "")


def _despatch(engine: Engine, cfg: Config, shipment_id: str) -> None:
    shipment = Shipment(
        shipment_id, "SO1", "UPS", "STD", (f"1Z{shipment_id}",), (ShippedLine("1", "MUG", 1),), 1
    )
    with engine.begin() as c:
        FulfilmentFolder(c, cfg, SystemClock().now()).fold_shipment(shipment)


async def _eventually(condition: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> float:
    """Poll until `condition` holds; returns the seconds it took. Fails past the deadline."""
    started = time.monotonic()
    while not await condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not within {timeout_s}s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def _drive(sender: FulfilmentSender, stop: asyncio.Event) -> None:
    """The worker's fulfilment loop: run a cycle, and when nothing was due wait a moment."""
    while not stop.is_set():
        if not await sender.run_cycle():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)


def _sender(
    engine: Engine,
    cfg: Config,
    connections: Connections,
    storefronts: Mapping[str, StorefrontFulfilments] | None = None,
) -> FulfilmentSender:
    return FulfilmentSender(
        engine=engine,
        config=lambda: cfg,
        ims=connections.ims_fulfilments,
        notifier=make_notifier(cfg.fulfilment.notifier),
        clock=SystemClock(),
        worker_id="w1",
        concurrency=4,
        storefronts=storefronts,
    )


def _ims_order(control: httpx.Client) -> str:
    """SO1 for three mugs in the IMS simulator; returns its internal id."""
    control.post("/_control/items", json={"items": [{"itemId": "MUG"}]}).raise_for_status()
    order = {"tranId": "SO1", "lines": [{"itemId": "MUG", "quantity": 3}]}
    return str(control.post("/_control/sales_orders", json={"orders": [order]}).json()["ids"]["SO1"])


def test_a_hung_item_fulfilment_does_not_hold_up_other_shipments(engine: Engine, ims_url: str) -> None:
    control = httpx.Client(base_url=ims_url, timeout=30)
    cfg = _config(ims_url)
    _release(engine, cfg, _ims_order(control))

    def created() -> list[str]:
        fulfilments = control.get("/_control/fulfilments").json()["fulfilments"]
        return sorted(str(f["externalId"]) for f in fulfilments)

    def in_flight() -> int:
        return int(control.get("/_control/stats").json()["in_flight"])

    def latency(seconds: float) -> None:
        control.put("/_control/faults", json={"latency_ms": seconds * 1000}).raise_for_status()

    async def ims(check: Callable[[], bool]) -> bool:
        return await asyncio.to_thread(check)

    async def scenario() -> None:
        connections = connect(cfg, SECRETS)
        sender = _sender(engine, cfg, connections)
        stop = asyncio.Event()
        await asyncio.to_thread(latency, HANG_S)
        await asyncio.to_thread(_despatch, engine, cfg, "SHP-1")
        driver = asyncio.create_task(_drive(sender, stop))
        try:
            await _eventually(lambda: ims(lambda: in_flight() == 1), 10, "SHP-1's call to be held")
            await asyncio.to_thread(latency, 0)
            await asyncio.to_thread(_despatch, engine, cfg, "SHP-2")
            await asyncio.to_thread(_despatch, engine, cfg, "SHP-3")
            await _eventually(
                lambda: ims(lambda: created() == ["sb-if-SHP-2", "sb-if-SHP-3"]),
                OTHERS_DEADLINE_S,
                "SHP-2's and SHP-3's Item Fulfilments",
            )
            # SHP-1's call is still held: the others went past it, not after it.
            assert await asyncio.to_thread(in_flight) == 1
            await _eventually(
                lambda: ims(lambda: "sb-if-SHP-1" in created()),
                CALL_TIMEOUT_S + 10,
                "SHP-1's retry after its deadline",
            )
            # The held call ends at the simulator too; it must not make a second fulfilment.
            await _eventually(lambda: ims(lambda: in_flight() == 0), HANG_S + 10, "the held call to end")
            await _eventually(
                lambda: asyncio.to_thread(_all_sent, engine), 10, "every command to be answered"
            )
        finally:
            stop.set()
            await driver
            await sender.aclose()
            await connections.aclose()

    try:
        asyncio.run(scenario())
        assert created() == ["sb-if-SHP-1", "sb-if-SHP-2", "sb-if-SHP-3"]  # SHP-1 once, despite the retry
    finally:
        control.close()
    with engine.connect() as c:
        query = select(fulfilment_commands).order_by(
            fulfilment_commands.c.kind, fulfilment_commands.c.shipment_id
        )
        rows: list[Any] = list(c.execute(query))
        states = {s: fulfilment_repo.get_shipment(c, s) for s in ("SHP-1", "SHP-2", "SHP-3")}
    assert [(r.shipment_id, r.kind, r.state, r.attempts) for r in rows] == [
        ("SHP-1", "item_fulfilment", "sent", 1),  # one attempt past its deadline, then found done
        ("SHP-2", "item_fulfilment", "sent", 0),
        ("SHP-3", "item_fulfilment", "sent", 0),
        ("SHP-1", "notify", "sent", 0),  # each notice follows its own fulfilment
        ("SHP-2", "notify", "sent", 0),
        ("SHP-3", "notify", "sent", 0),
    ]
    assert {s: r.state if r else None for s, r in states.items()} == dict.fromkeys(
        states, ShipmentState.FULFILLED
    )


def _all_sent(engine: Engine) -> bool:
    with engine.connect() as c:
        rows = list(c.execute(select(fulfilment_commands.c.state)))
    return len(rows) == 6 and all(r.state == "sent" for r in rows)


# --- a customer notice that hangs ------------------------------------------------------------------

NOTICE_TIMEOUT_S = 6.0  # the hub's deadline for one notice


class StallingMail:
    """An aiosmtpd handler that leaves the first `stall` sessions hanging at RCPT (the server took
    the connection and then says nothing), and keeps every message it is given."""

    def __init__(self, stall: int) -> None:
        self.stall = stall
        self.stalled = threading.Event()
        self.messages: list[str] = []

    async def handle_RCPT(
        self, server: object, session: object, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.stall > 0:
            self.stall -= 1
            self.stalled.set()
            await asyncio.sleep(HANG_S)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(str(email.message_from_bytes(envelope.content)["Message-ID"]))
        return "250 OK"


@contextmanager
def mail_server(handler: StallingMail) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def test_a_hung_notice_does_not_hold_up_other_shipments(engine: Engine, ims_url: str) -> None:
    mail = StallingMail(stall=1)
    control = httpx.Client(base_url=ims_url, timeout=30)
    with mail_server(mail) as smtp_port:
        notifier = {"kind": "smtp", "smtp_port": smtp_port, "timeout_s": NOTICE_TIMEOUT_S}
        cfg = _config(ims_url, notifier)
        _release(engine, cfg, _ims_order(control))

        def created() -> list[str]:
            fulfilments = control.get("/_control/fulfilments").json()["fulfilments"]
            return sorted(str(f["externalId"]) for f in fulfilments)

        async def scenario() -> None:
            connections = connect(cfg, SECRETS)
            sender = _sender(engine, cfg, connections)
            stop = asyncio.Event()
            await asyncio.to_thread(_despatch, engine, cfg, "SHP-1")
            driver = asyncio.create_task(_drive(sender, stop))
            try:
                assert await asyncio.to_thread(mail.stalled.wait, 10), "SHP-1's notice to be held"
                await asyncio.to_thread(_despatch, engine, cfg, "SHP-2")
                await asyncio.to_thread(_despatch, engine, cfg, "SHP-3")
                await _eventually(
                    lambda: asyncio.to_thread(
                        lambda: (
                            created() == ["sb-if-SHP-1", "sb-if-SHP-2", "sb-if-SHP-3"]
                            and len(mail.messages) == 2
                        )
                    ),
                    OTHERS_DEADLINE_S,
                    "SHP-2's and SHP-3's Item Fulfilments and notices",
                )
                # SHP-1's notice is still held: the others went past it, not after it.
                assert sorted(mail.messages) == [
                    "<shipment-SHP-2@stockbridge>",
                    "<shipment-SHP-3@stockbridge>",
                ]
                await _eventually(
                    lambda: asyncio.to_thread(_all_sent, engine),
                    NOTICE_TIMEOUT_S + 10,
                    "SHP-1's notice to be sent again after its deadline",
                )
            finally:
                stop.set()
                await driver
                await sender.aclose()
                await connections.aclose()

        try:
            asyncio.run(scenario())
        finally:
            control.close()
    assert sorted(mail.messages) == [f"<shipment-SHP-{n}@stockbridge>" for n in (1, 2, 3)]  # each once
    with engine.connect() as c:
        notices = c.execute(
            select(fulfilment_commands.c.shipment_id, fulfilment_commands.c.attempts)
            .where(fulfilment_commands.c.kind == "notify")
            .order_by(fulfilment_commands.c.shipment_id)
        )
        assert [tuple(r) for r in notices] == [("SHP-1", 1), ("SHP-2", 0), ("SHP-3", 0)]
