"""Telling the customer their parcel is on its way: e-mail (SMTP), a webhook, or only the log.

Each notice carries the shipment id as its idempotency key (the e-mail's Message-ID, the webhook's
Idempotency-Key header), so a resend after a crash is recognisable as the same notice.

Each notice is bounded as a whole by `timeout_s` (shorter than the lease of its outbox row): a mail
server that accepts the connection and then stalls, or trickles its replies, holds one notice for at
most that long, and no notice is still being sent when another worker may take its row over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import socket
import threading
from email.message import EmailMessage
from typing import Protocol

import httpx

from stockbridge.config import NotifierSettings
from stockbridge.connectors.errors import RejectedError, RetriableError
from stockbridge.domain.fulfilment import ShipmentNotice

log = logging.getLogger("stockbridge.notify")


class Notifier(Protocol):
    async def shipment_sent(self, notice: ShipmentNotice) -> None: ...


class LogNotifier:
    async def shipment_sent(self, notice: ShipmentNotice) -> None:
        log.info("order %s shipped (%s): %s", notice.reference, notice.shipment_id, notice.tracking_numbers)


class WebhookNotifier:
    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def shipment_sent(self, notice: ShipmentNotice) -> None:
        body = {
            "type": "shipment.notified",
            "reference": notice.reference,
            "shipment_id": notice.shipment_id,
            "recipient": notice.recipient,
            "carrier": notice.carrier,
            "service": notice.service,
            "tracking_numbers": list(notice.tracking_numbers),
        }
        try:
            # httpx bounds each phase on its own; a receiver trickling its answer would outlast that.
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.post(
                    self._url, json=body, headers={"Idempotency-Key": notice.shipment_id}
                )
        except TimeoutError as exc:
            raise RetriableError("notify", f"webhook took longer than {self._timeout_s}s") from exc
        except httpx.TransportError as exc:
            raise RetriableError("notify", f"webhook unreachable: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise RetriableError(
                "notify", f"webhook answered {response.status_code}", status=response.status_code
            )
        if response.status_code >= 400:
            raise RejectedError(
                "notify", f"webhook refused: {response.status_code}", status=response.status_code
            )


class SmtpNotifier:
    def __init__(self, host: str, port: int, sender: str, timeout_s: float = 10.0) -> None:
        self._host, self._port, self._sender = host, port, sender
        self._timeout_s = timeout_s

    def _message(self, notice: ShipmentNotice) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = notice.recipient
        message["Subject"] = f"Your order {notice.reference} is on its way"
        message["Message-ID"] = f"<shipment-{notice.shipment_id}@stockbridge>"
        tracking = ", ".join(notice.tracking_numbers) or "to follow"
        message.set_content(
            f"Hello {notice.name or 'there'},\n\nyour order {notice.reference} left our warehouse with "
            f"{notice.carrier} ({notice.service}). Tracking: {tracking}.\n"
        )
        return message

    async def shipment_sent(self, notice: ShipmentNotice) -> None:
        if not notice.recipient:
            raise RejectedError("notify", f"order {notice.reference} has no e-mail address")
        await send_mail(self._host, self._port, self._message(notice), self._timeout_s, system="notify")


async def send_mail(host: str, port: int, message: EmailMessage, timeout_s: float, *, system: str) -> None:
    """Send one e-mail, bounded as a whole by `timeout_s`; failures become `system`'s errors
    (retriable: unreachable, stalled, disconnected; rejected: refused by the server)."""
    # smtplib blocks, so it runs on a thread, and its socket timeout bounds each reply only.
    session = _Session(smtplib.SMTP(timeout=timeout_s))
    sending = asyncio.ensure_future(asyncio.to_thread(_send, host, port, session, message))
    try:
        done, _ = await asyncio.wait({sending}, timeout=timeout_s)
        if not done:
            session.abort()
            # Its next read fails at once (a TCP connect still under way ends within its own
            # timeout, and then sends nothing).
            await asyncio.wait({sending})
            if (cut := sending.exception()) is not None:
                raise RetriableError(system, f"SMTP {host}:{port}: took longer than {timeout_s}s") from cut
        sending.result()
    except (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as exc:
        raise RetriableError(system, f"SMTP {host}:{port}: {exc}") from exc
    except smtplib.SMTPException as exc:
        raise RejectedError(system, f"SMTP refused: {exc}") from exc
    finally:
        if not sending.done():  # cancelled (shutdown): the thread must not send after its lease
            session.abort()


def _send(host: str, port: int, session: _Session, message: EmailMessage) -> None:
    smtp = session.smtp
    try:
        smtp.connect(host, port)
        if session.aborted.is_set():  # the deadline passed while connecting
            raise smtplib.SMTPServerDisconnected("aborted at the deadline")
        smtp.send_message(message)
        # The server has accepted the message: a goodbye that fails does not unsend it.
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
    finally:
        smtp.close()


class _Session:
    """An SMTP session on a worker thread, and a way to cut it from the event loop's thread."""

    def __init__(self, smtp: smtplib.SMTP) -> None:
        self.smtp = smtp
        self.aborted = threading.Event()

    def abort(self) -> None:
        # Set first: a thread still connecting sees it once connected; one past that has its socket
        # set, and shutting the socket makes its blocked read return at once.
        self.aborted.set()
        sock = self.smtp.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed by the thread itself
                sock.shutdown(socket.SHUT_RDWR)


def make_notifier(settings: NotifierSettings) -> Notifier:
    if settings.kind == "smtp":
        return SmtpNotifier(settings.smtp_host, settings.smtp_port, settings.sender, settings.timeout_s)
    if settings.kind == "webhook" and settings.webhook_url:
        return WebhookNotifier(settings.webhook_url, settings.timeout_s)
    return LogNotifier()
