"""Alert messages to people: a Slack-compatible incoming webhook, e-mail over SMTP, or the log.

Slack's incoming webhooks take `{"text": ..., "blocks": [...]}` and answer 200 `ok`; 4xx with a
reason (`invalid_payload`, `no_service`, `channel_is_archived`) is refused for good, 429 and 5xx are
worth a retry (https://api.slack.com/messaging/webhooks#handling_errors). They have no idempotency
key, so each message names its reference; an e-mail carries it as its Message-ID.

The webhook URL is the secret (whoever has it can post): it is read from the environment variable
the configuration names, remembered for masking, and never put in an error or a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from email.message import EmailMessage
from typing import Any

import httpx

from stockbridge.config import AlertSettings, secret
from stockbridge.connectors.errors import RateLimitedError, RejectedError, RetriableError
from stockbridge.connectors.notify import send_mail
from stockbridge.domain.alerting import AlertMessage, Channel
from stockbridge.logs import get_logger

log = get_logger("stockbridge.alerts")

SYSTEM = "alerts"
# Slack's limits on blocks: a header's text 150 characters, a section's 3000.
_HEADER_MAX = 150
_SECTION_MAX = 3000


def slack_body(message: AlertMessage, reference: str) -> dict[str, Any]:
    """The webhook's JSON: `text` for notifications and clients without blocks, `blocks` to read."""
    body = "\n".join(message.lines)
    return {
        "text": f"{message.title} ({reference})\n{body}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": _cut(message.title, _HEADER_MAX)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(body or "-", _SECTION_MAX)}},
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"{reference} · owner {message.owner} · stockbridge"}
                ],
            },
        ],
    }


def email_message(message: AlertMessage, reference: str, sender: str, to: tuple[str, ...]) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Subject"] = message.title
    mail["Message-ID"] = f"<{reference}@stockbridge>"
    mail.set_content("\n".join([*message.lines, "", f"{reference}, owner {message.owner}"]) + "\n")
    return mail


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class AlertDispatcher:
    """Delivers one alert message to one channel (the `AlertChannels` port)."""

    def __init__(
        self,
        settings: AlertSettings,
        transport: httpx.AsyncBaseTransport,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._environ = environ if environ is not None else os.environ

    async def deliver(self, channel: Channel, message: AlertMessage, reference: str) -> None:
        if channel.kind == "slack":
            await self._post(channel, message, reference)
        elif channel.kind == "email":
            smtp = self._settings.smtp
            mail = email_message(message, reference, smtp.sender, channel.to)
            await send_mail(smtp.host, smtp.port, mail, smtp.timeout_s, system=SYSTEM)
        else:
            log.warning(
                "alert",
                alert=reference,
                owner=message.owner,
                severity=message.severity.value,
                title=message.title,
                detail=" | ".join(message.lines),
            )

    async def _post(self, channel: Channel, message: AlertMessage, reference: str) -> None:
        name = channel.url_env or ""
        try:
            url = secret(name, self._environ)
        except KeyError:
            # Checked at start-up (`required_env`); unset since: a person must set it.
            raise RejectedError(
                SYSTEM, f"environment variable {name} (a Slack webhook URL) is not set"
            ) from None
        timeout = self._settings.webhook_timeout_s
        request = httpx.Request("POST", url, json=slack_body(message, reference))
        request.extensions["timeout"] = httpx.Timeout(timeout).as_dict()
        try:
            # Straight to the transport, not through a client: httpx's client logs each request's
            # URL, and this URL is the secret. httpx bounds each phase on its own; a receiver
            # trickling its answer would outlast that, so the whole call has a deadline too.
            async with asyncio.timeout(timeout):
                response = await self._transport.handle_async_request(request)
                await response.aread()
        except TimeoutError as exc:
            raise RetriableError(SYSTEM, f"Slack webhook {name}: took longer than {timeout}s") from exc
        except httpx.TransportError as exc:
            # The error's text may carry the URL: name the variable, not the secret.
            raise RetriableError(SYSTEM, f"Slack webhook {name} unreachable: {type(exc).__name__}") from None
        status = response.status_code
        if status == 429:
            after = _seconds(response.headers.get("Retry-After"))
            raise RateLimitedError(SYSTEM, f"Slack webhook {name}: 429", status=status, retry_after=after)
        if status >= 500:
            raise RetriableError(SYSTEM, f"Slack webhook {name} answered {status}", status=status)
        if status >= 400:
            reason = response.text[:200]
            raise RejectedError(SYSTEM, f"Slack webhook {name} refused: {status} {reason}", status=status)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


@contextlib.asynccontextmanager
async def alert_channels(
    settings: AlertSettings, environ: Mapping[str, str] | None = None
) -> AsyncIterator[AlertDispatcher]:
    """A dispatcher for one run of sends, its connections closed afterwards."""
    async with httpx.AsyncHTTPTransport() as transport:
        yield AlertDispatcher(settings, transport, environ)
