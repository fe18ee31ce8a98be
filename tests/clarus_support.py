"""What the Clarus simulator's order and shipment tests share: a client, a webhook receiver, an address."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tests.servers import run_app

from stockbridge.simulators.clarus import ClarusSettings, create_app

AUTH = {"Authorization": "Bearer clarus-dev-key"}
ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1 Analytical Row",
    "city": "London",
    "postcode": "N1 9GU",
    "country": "GB",
}


class Receiver:
    """Records every webhook it accepts (headers, raw body)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[tuple[dict[str, str], bytes]] = []
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.accepted.append((dict(request.headers), body))
        return Response(status_code=204)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            events = [json.loads(body) for _, body in self.accepted]
        return sorted(events, key=lambda e: (e["data"]["warehouse_id"], e["data"]["sequence"]))


@contextmanager
def clarus_client(**settings: Any) -> Iterator[httpx.Client]:
    """The simulator on a real socket, with an authorised client."""
    with (
        run_app(create_app(ClarusSettings(**settings))) as url,
        httpx.Client(base_url=url, timeout=30, headers=AUTH) as client,
    ):
        yield client
