"""What the chaos run acts on: the simulators, the hub's processes, the mail server, the database."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from stockbridge.chaos.fleet import HubFleet
from stockbridge.chaos.postgres import ThrowawayPostgres
from stockbridge.demo import HubControl
from stockbridge.demo.despatch_day import Mailbox
from stockbridge.servers import free_port


class MailServer:
    """The demo's local SMTP server (aiosmtpd, the same `Mailbox`), stoppable and restartable on the
    same port: an SMTP outage the hub sees as refused connections."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox
        self.port = free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        if self._controller is None:
            self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
            self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@dataclass
class World:
    http: httpx.Client
    clarus_url: str
    ims_url: str
    hub: HubControl
    fleet: HubFleet
    mail: MailServer
    postgres: ThrowawayPostgres | None = None
    sqlite_limit: Path | None = None  # the file the hub processes read their page limit from
    kill_start: int = 0  # which process the first kill takes; the next ones take the others in turn
    flood: threading.Event = field(default_factory=threading.Event)
    injected: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)
    shopify_url: str | None = None  # the Shopify simulator (storefront channel "shopify")
    shopify_token: str = ""  # the app's access token there (the small-bucket fault spends with it)

    def shopify_faults(self, **api_faults: Any) -> None:
        self.http.post(f"{self.shopify_base()}/_control/faults", json={"api": api_faults}).raise_for_status()

    def shopify_webhook_faults(self, **faults: Any) -> None:
        """The store's webhook delivery faults (a no-op on a run without the store)."""
        if self.shopify_url is not None:
            self.http.post(f"{self.shopify_url}/_control/faults", json=faults).raise_for_status()

    def shopify_limits(self, **limits: Any) -> None:
        self.http.post(f"{self.shopify_base()}/_control/limits", json=limits).raise_for_status()

    def shopify_base(self) -> str:
        if self.shopify_url is None:
            raise RuntimeError("a Shopify fault was scheduled on a run without the Shopify simulator")
        return self.shopify_url

    def clarus_faults(self, **faults: Any) -> None:
        self.http.put(f"{self.clarus_url}/_control/faults", json=faults).raise_for_status()

    def ims_faults(self, **faults: Any) -> None:
        self.http.put(f"{self.ims_url}/_control/faults", json=faults).raise_for_status()

    def ims_limits(self, **limits: Any) -> None:
        self.http.put(f"{self.ims_url}/_control/limits", json=limits).raise_for_status()
