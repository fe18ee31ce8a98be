"""A NetSuite client whose every request takes its turn at the IMS rate limiter first.

A stand-in until the REST connector base applies each system's limiter inside its own client (issue
9, part 2): the order, product-master and fulfilment flows no longer wrap their calls in the limiter.
The stock push side still wraps its calls around a plain `NetSuiteClient` in the same limiter, so
the account's budget stays one.
"""

from __future__ import annotations

from typing import Any

import httpx

from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.netsuite.client import NetSuiteClient


class LimitedNetSuiteClient(NetSuiteClient):
    def __init__(
        self, base_url: str, auth: httpx.Auth, *, limiter: RateLimiter, timeout_s: float = 30.0
    ) -> None:
        super().__init__(base_url, auth, timeout_s=timeout_s)
        self._limiter = limiter

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        send = super().request
        return await self._limiter.run(lambda: send(method, path, **kwargs))
