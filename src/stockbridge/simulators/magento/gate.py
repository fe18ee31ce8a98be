"""What every real (non-control) call passes through, in order: the store code in the path (404),
an outage (503), the integration token (401), the host's rate limit (429 with `Retry-After`),
latency, injected failures (503 before, 502 after a write applied), and the call statistics."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import ROUTE_MISSING, MagentoError, unauthorized

Handler = Callable[[Request, Any], Awaitable[Any]]
_log = logging.getLogger(__name__)
SCOPES_ALWAYS = frozenset({"all", "default"})


class TokenBucket:
    """`rate` calls a second, a burst of one second's worth (at least one); starts full."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("calls_per_second must be > 0 or null")
        self.rate, self.capacity, self._clock = rate, max(1.0, rate), clock
        self._tokens, self._stamp = self.capacity, clock()

    def take(self) -> float:
        """0.0 when a call may go now (its token taken), else the seconds until one may."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0 - 1e-9:
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate


@dataclass
class Faults:
    fail_rate: float = 0.0
    fail_after_commit_rate: float = 0.0
    latency_ms: float = 0.0
    outage: bool = False
    seed: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def update(self, values: dict[str, Any]) -> None:
        known = {"fail_rate", "fail_after_commit_rate", "latency_ms", "outage", "seed"}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        for name in ("fail_rate", "fail_after_commit_rate"):
            if name in values:
                rate = float(values[name])
                if not 0.0 <= rate <= 1.0:
                    raise ValueError(f"{name} must be between 0 and 1")
                setattr(self, name, rate)
        if "latency_ms" in values:
            self.latency_ms = max(0.0, float(values["latency_ms"]))
        if "outage" in values:
            self.outage = bool(values["outage"])
        self.seed = int(values.get("seed", self.seed))
        self.rng = random.Random(self.seed)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "rng"}


@dataclass
class Stats:
    calls: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    unauthorized: int = 0
    throttled_429: int = 0
    failed_injected: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "calls_by_route": dict(sorted(self.by_route.items())),
            "unauthorized": self.unauthorized,
            "throttled_429": self.throttled_429,
            "failed_injected": self.failed_injected,
        }


def retry_after(seconds: float) -> str:
    """Whole seconds, rounded up (HTTP's delta-seconds), at least 1."""
    return str(max(1, math.ceil(seconds - 1e-9)))


class Gate:
    def __init__(self, tokens: list[str], store_codes: list[str]) -> None:
        self.tokens = list(tokens)
        self.store_codes = SCOPES_ALWAYS | set(store_codes)
        self.faults = Faults()
        self.stats = Stats()
        self.bucket: TokenBucket | None = None

    def limit(self, calls_per_second: float | None) -> None:
        self.bucket = None if calls_per_second is None else TokenBucket(calls_per_second)

    def wrap(self, label: str, handler: Handler, resource: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            self.stats.calls += 1
            self.stats.by_route[f"{request.method} {label}"] += 1
            try:
                answer = await self._run(request, handler, resource)
            except MagentoError as error:
                if error.status == 401:
                    self.stats.unauthorized += 1
                elif error.status == 429:
                    self.stats.throttled_429 += 1
                return error.response()
            except Exception as exc:  # a simulator bug: still answer in Magento's shape
                _log.exception("Magento simulator: unhandled error on %s %s", request.method, request.url)
                detail = f"Internal Error. Details are available in Magento log file. ({type(exc).__name__})"
                return MagentoError(500, detail).response()
            return JSONResponse(answer)

        return endpoint

    async def _run(self, request: Request, handler: Handler, resource: str) -> Any:
        store = request.path_params.get("store_code")
        if store is not None and store not in self.store_codes:
            raise MagentoError(404, ROUTE_MISSING)
        if self.faults.outage:
            self.stats.failed_injected += 1
            raise MagentoError(503, "Service Unavailable")
        if not self._authentic(request.headers.get("authorization", "")):
            raise unauthorized(resource)
        if self.bucket is not None:
            wait = self.bucket.take()
            if wait > 0:
                # The host's answer, not Magento's: the body is UNCONFIRMED, the status and header count.
                raise MagentoError(429, "Too Many Requests", headers={"Retry-After": retry_after(wait)})
        if self.faults.latency_ms > 0:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        if self.faults.fail_rate > 0 and self.faults.rng.random() < self.faults.fail_rate:
            self.stats.failed_injected += 1
            raise MagentoError(503, "Service Unavailable")
        answer = await handler(request, await _body(request))
        rate = self.faults.fail_after_commit_rate
        if request.method != "GET" and rate > 0 and self.faults.rng.random() < rate:
            self.stats.failed_injected += 1
            raise MagentoError(502, "Bad Gateway")  # applied; the client hears a failure
        return answer

    def _authentic(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and token.strip() in self.tokens


async def _body(request: Request) -> Any:
    if request.method == "GET":
        return None
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise MagentoError(400, "Decoding error: \n%1", ["Syntax error"]) from None
