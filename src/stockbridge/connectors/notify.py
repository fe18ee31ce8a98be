"""Telling the customer their parcel is on its way: e-mail (SMTP), a webhook, or only the log.

Each notice carries the shipment id as its idempotency key (the e-mail's Message-ID, the webhook's
Idempotency-Key header), so a resend after a crash is recognisable as the same notice.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import httpx

from stockbridge.config import NotifierSettings
from stockbridge.connectors.errors import RejectedError, RetriableError

log = logging.getLogger("stockbridge.notify")


@dataclass(frozen=True)
class ShipmentNotice:
    reference: str
    shipment_id: str
    recipient: str
    name: str
    carrier: str
    service: str
    tracking_numbers: tuple[str, ...]


class Notifier(Protocol):
    async def shipment_sent(self, notice: ShipmentNotice) -> None: ...


class LogNotifier:
    async def shipment_sent(self, notice: ShipmentNotice) -> None:
        log.info("order %s shipped (%s): %s", notice.reference, notice.shipment_id, notice.tracking_numbers)


class WebhookNotifier:
    def __init__(self, url: str) -> None:
        self._url = url
        self._client = httpx.AsyncClient(timeout=10)

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
            response = await self._client.post(
                self._url, json=body, headers={"Idempotency-Key": notice.shipment_id}
            )
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
    def __init__(self, host: str, port: int, sender: str) -> None:
        self._host, self._port, self._sender = host, port, sender

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

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=10) as smtp:
            smtp.send_message(message)

    async def shipment_sent(self, notice: ShipmentNotice) -> None:
        if not notice.recipient:
            raise RejectedError("notify", f"order {notice.reference} has no e-mail address")
        try:
            await asyncio.to_thread(self._send, self._message(notice))
        except (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError) as exc:
            raise RetriableError("notify", f"SMTP {self._host}:{self._port}: {exc}") from exc
        except smtplib.SMTPException as exc:
            raise RejectedError("notify", f"SMTP refused: {exc}") from exc


def make_notifier(settings: NotifierSettings) -> Notifier:
    if settings.kind == "smtp":
        return SmtpNotifier(settings.smtp_host, settings.smtp_port, settings.sender)
    if settings.kind == "webhook" and settings.webhook_url:
        return WebhookNotifier(settings.webhook_url)
    return LogNotifier()
