"""The far ends of alerts, real and on loopback: a Slack-compatible incoming webhook receiver (one
hook path per team) and an SMTP server (aiosmtpd). Shared by the alerts tests and the end-to-end
sync-health test."""

from __future__ import annotations

import email
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from tests.servers import run_app

from stockbridge.servers import free_port


class Receiver:
    """A Slack-compatible incoming webhook: keeps each JSON body posted to /hooks/<name>."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/hooks/{name}", self._hook, methods=["POST"])])

    async def _hook(self, request: Request) -> PlainTextResponse:
        body = await request.json()
        with self._lock:
            self.posts.append((request.path_params["name"], body))
        return PlainTextResponse("ok")

    def texts(self, name: str) -> list[str]:
        with self._lock:
            return [body["text"] for hook, body in self.posts if hook == name]


class Mailbox:
    """An aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address in m["To"]]


@contextmanager
def mail_server(port: int) -> Iterator[Mailbox]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


@contextmanager
def far_ends() -> Iterator[tuple[Receiver, Mailbox, int, int]]:
    """A webhook receiver and an SMTP server: (receiver, mailbox, hook port, SMTP port)."""
    receiver, hook_port, smtp_port = Receiver(), free_port(), free_port()
    with run_app(receiver.app, port=hook_port), mail_server(smtp_port) as mailbox:
        yield receiver, mailbox, hook_port, smtp_port
