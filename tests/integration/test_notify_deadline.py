"""A customer notice is bounded as a whole: a receiver that accepts the connection and then trickles
its answer (each read well inside a socket timeout, the whole never ending) fails the notice as
retriable at its deadline, and the SMTP session is cut then, not left sending on its thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from stockbridge.connectors.errors import RetriableError
from stockbridge.connectors.notify import Notifier, SmtpNotifier, WebhookNotifier
from stockbridge.domain.fulfilment import ShipmentNotice

NOTICE = ShipmentNotice("SO1", "SHP-1", "ada@example.com", "Ada", "UPS", "STD", ("1ZSHP1",))
DEADLINE_S = 1.0
DRIP_S = 0.1  # far inside the per-read timeout: only a deadline on the whole call ends it


@dataclass
class Trickle:
    """A loopback server that answers each connection with `opening`, then `drip` forever."""

    opening: bytes
    drip: bytes
    closed: threading.Event = field(default_factory=threading.Event)  # the client hung up

    def serve(self, listener: socket.socket) -> None:
        connection, _ = listener.accept()
        with connection:
            try:
                connection.sendall(self.opening)
                while True:
                    time.sleep(DRIP_S)
                    connection.sendall(self.drip)
            except OSError:
                self.closed.set()


@contextmanager
def trickling(opening: bytes, drip: bytes) -> Iterator[tuple[int, Trickle]]:
    server = Trickle(opening, drip)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        thread = threading.Thread(target=server.serve, args=(listener,), daemon=True)
        thread.start()
        yield listener.getsockname()[1], server


async def _send(notifier: Notifier) -> float:
    started = time.monotonic()
    # Without a deadline of its own the notice would never end: stop the test, not the notifier.
    with pytest.raises(RetriableError, match="longer than"):
        await asyncio.wait_for(notifier.shipment_sent(NOTICE), DEADLINE_S * 10)
    return time.monotonic() - started


def test_an_smtp_server_that_stalls_after_accepting_fails_the_notice_at_its_deadline() -> None:
    # A multi-line greeting whose lines never end: smtplib reads on as long as lines come.
    with trickling(b"220-mail.example.com\r\n", b"220-still here\r\n") as (port, server):
        took = asyncio.run(_send(SmtpNotifier("127.0.0.1", port, "orders@example.com", DEADLINE_S)))
        assert DEADLINE_S <= took < DEADLINE_S + 2
        # The session was cut when the notice gave up: no thread goes on with it after the lease.
        assert server.closed.wait(DEADLINE_S * 2)


def test_a_webhook_that_trickles_its_answer_fails_the_notice_at_its_deadline() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n"
    with trickling(head, b"x") as (port, server):

        async def send() -> float:
            notifier = WebhookNotifier(f"http://127.0.0.1:{port}/notices", DEADLINE_S)
            return await _send(notifier)

        took = asyncio.run(send())
        assert DEADLINE_S <= took < DEADLINE_S + 2
        assert server.closed.wait(DEADLINE_S * 2)
