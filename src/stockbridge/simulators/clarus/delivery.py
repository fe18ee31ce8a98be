"""Webhook delivery: at-least-once, signed, with seeded fault injection. Runs in the server's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import httpx

from .settings import ClarusSettings, FaultSettings
from .state import AnyEvent, Subscription

USER_AGENT = "Clarus-Webhooks/1.0"


@dataclass
class Counters:
    queued: int = 0  # waiting: in the queue, held back for reordering, or waiting for a retry
    in_flight: int = 0
    delivered: int = 0  # original deliveries acknowledged with 2xx
    duplicates_sent: int = 0  # extra copies acknowledged with 2xx
    failed_attempts: int = 0  # simulated failures, non-2xx retryable answers, connection errors
    rejected: int = 0  # 4xx other than 408/429: not retried
    dropped: int = 0  # lost on purpose by drop_rate
    reordered: int = 0  # held back and sent after later deliveries
    exhausted: int = 0  # gave up after max_attempts
    cancelled: int = 0  # subscription deleted before delivery


@dataclass(slots=True)
class _Delivery:
    subscription: Subscription
    event_id: str
    event_type: str
    body: bytes
    generation: int
    duplicate: bool
    reorder: bool
    simulated_failures: int
    attempts: int = 0
    held: bool = False


class DeliveryWorker:
    def __init__(self, settings: ClarusSettings, is_subscribed: Callable[[str], bool]) -> None:
        self._is_subscribed = is_subscribed
        self.clock_offset_s = 0.0  # the warehouse's clock error, on X-Clarus-Timestamp too
        self.counters = Counters()
        self._generation = 0
        self._queue: asyncio.Queue[_Delivery] | None = None
        self._idle: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._transports: list[httpx.AsyncHTTPTransport] = []
        self._urls: dict[str, httpx.URL] = {}
        self._timeout: dict[str, float | None] = {}
        self._held: list[tuple[int, _Delivery]] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._dispatched = 0
        # Set while deliveries may go out; cleared by `pause()`: events queue up and leave together
        # on `resume()` (a burst delivered at the receiver's own speed, bench/inventory_burst.py).
        self._released: asyncio.Event | None = None
        self.paused = False
        self.configure(settings)

    def configure(self, settings: ClarusSettings) -> None:
        """Take new settings and forget all pending work (a reset); call `start` after `stop` if running."""
        self.settings = settings
        self._rng = random.Random(settings.seed)
        self._timing_rng = random.Random(f"{settings.seed}:timing")
        self._generation += 1
        self.counters = Counters(in_flight=self.counters.in_flight)
        self._held.clear()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._queue is not None:
            while not self._queue.empty():
                self._queue.get_nowait()
        self._update_idle()

    def set_faults(self, faults: FaultSettings) -> None:
        self.settings = dataclasses.replace(self.settings, faults=faults)

    async def start(self) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._idle = asyncio.Event()
            self._released = asyncio.Event()
            self.set_paused(self.paused)
            self._update_idle()
        # Each sender has its own keep-alive transport, used without an AsyncClient on top. Measured on
        # 2 cores: one shared AsyncClient with 16 connections ~800/s (httpcore's pool rescans all connections
        # and waiting requests on every request); a client per sender ~1,300/s; a bare transport per
        # sender ~2,000/s (the client layer's auth, cookie, redirect and hook machinery costs as much as the
        # HTTP exchange itself).
        tls = httpx.create_ssl_context(trust_env=False)  # loading CA certificates takes ~20 ms: do it once
        self._timeout = httpx.Timeout(self.settings.request_timeout_s).as_dict()
        for _ in range(self.settings.concurrency):
            transport = httpx.AsyncHTTPTransport(
                verify=tls, limits=httpx.Limits(max_connections=4, max_keepalive_connections=4)
            )
            self._transports.append(transport)
            self._tasks.append(asyncio.create_task(self._run(transport)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for transport in self._transports:
            await transport.aclose()
        self._tasks.clear()
        self._transports.clear()

    def set_paused(self, paused: bool) -> None:
        """Hold every delivery in the queue (True) or let them all go (False)."""
        self.paused = paused
        if self._released is not None:
            if paused:
                self._released.clear()
            else:
                self._released.set()

    def enqueue(self, events: Iterable[AnyEvent], subscriptions: Iterable[Subscription]) -> None:
        subscriptions = list(subscriptions)
        if not subscriptions:
            return
        faults, max_attempts, rng = self.settings.faults, self.settings.max_attempts, self._rng
        for event in events:
            body = event.to_json_bytes()
            for subscription in subscriptions:
                if event.type not in subscription.events:
                    continue
                # The same draws whatever the rates, so one seed gives the same faults for the same events.
                drop, duplicate, reorder = rng.random(), rng.random(), rng.random()
                failures = 0
                while failures < max_attempts and rng.random() < faults.failure_rate:
                    failures += 1
                if drop < faults.drop_rate:
                    self.counters.dropped += 1
                    continue
                self._put(
                    _Delivery(
                        subscription,
                        event.id,
                        event.type,
                        body,
                        self._generation,
                        False,
                        reorder < faults.reorder_rate,
                        failures,
                    )
                )
                if duplicate < faults.duplicate_rate:
                    self._put(
                        _Delivery(
                            subscription,
                            event.id,
                            event.type,
                            body,
                            self._generation,
                            True,
                            False,
                            0,
                        )
                    )

    async def drain(self, within_s: float) -> bool:
        """Wait until nothing is queued or in flight; False if that took longer than `within_s`."""
        assert self._idle is not None, "delivery worker not started"
        try:
            await asyncio.wait_for(self._idle.wait(), within_s)
        except TimeoutError:
            return False
        return True

    def snapshot(self) -> dict[str, int | bool]:
        return {**asdict(self.counters), "paused": self.paused}

    def _put(self, item: _Delivery) -> None:
        assert self._queue is not None, "delivery worker not started"
        self.counters.queued += 1
        self._queue.put_nowait(item)
        self._update_idle()

    def _update_idle(self) -> None:
        if self._idle is not None:
            if self.counters.queued == 0 and self.counters.in_flight == 0:
                self._idle.set()
            else:
                self._idle.clear()

    def _release_held(self, everything: bool) -> None:
        assert self._queue is not None
        keep = []
        for release_at, item in self._held:
            if everything or release_at <= self._dispatched:
                self._queue.put_nowait(item)
            else:
                keep.append((release_at, item))
        self._held = keep

    async def _run(self, transport: httpx.AsyncHTTPTransport) -> None:
        queue = self._queue
        assert queue is not None
        while True:
            if self._held and queue.empty():
                self._release_held(everything=True)
            item = await queue.get()
            if self._released is not None:
                await self._released.wait()
            if item.generation != self._generation:
                continue
            counters = self.counters
            if not self._is_subscribed(item.subscription.id):
                counters.queued -= 1
                counters.cancelled += 1
                self._update_idle()
                continue
            if item.reorder and not item.held:
                item.held = True
                counters.reordered += 1
                self._held.append((self._dispatched + self.settings.faults.reorder_depth, item))
                continue
            counters.queued -= 1
            counters.in_flight += 1
            self._dispatched += 1
            if self._held:
                self._release_held(everything=queue.empty())
            try:
                await self._attempt(transport, item)
            finally:
                self.counters.in_flight -= 1  # `self.counters` may have been replaced by a reset
                self._update_idle()

    async def _attempt(self, transport: httpx.AsyncHTTPTransport, item: _Delivery) -> None:
        item.attempts += 1
        low, high = self.settings.faults.delay_ms
        if high:
            await asyncio.sleep(self._timing_rng.uniform(low, high) / 1000)
        retry_after = None
        if item.simulated_failures:
            item.simulated_failures -= 1
            ok = False
        else:
            # Each attempt is stamped and signed when it is sent, so a retry hours later is fresh.
            # The warehouse's clock offset (`PUT /_control/clock`) and the sender-only skew fault both
            # move the stamp.
            timestamp = str(int(time.time() + self.clock_offset_s + self.settings.faults.clock_skew_s))
            headers = {
                "Content-Type": "application/json",
                "X-Clarus-Event-Id": item.event_id,
                "X-Clarus-Event-Type": item.event_type,
                "X-Clarus-Timestamp": timestamp,
                "X-Clarus-Signature": _signature(item.subscription.secret, timestamp, item.body),
                "X-Clarus-Delivery-Attempt": str(item.attempts),
                "User-Agent": USER_AGENT,
            }
            url = self._urls.get(item.subscription.url)
            if url is None:
                url = self._urls[item.subscription.url] = httpx.URL(item.subscription.url)
            request = httpx.Request(
                "POST", url, content=item.body, headers=headers, extensions={"timeout": self._timeout}
            )
            try:
                response = await transport.handle_async_request(request)
                try:
                    await response.aread()
                finally:
                    await response.aclose()
            except httpx.HTTPError:
                ok = False
            else:
                status = response.status_code
                ok = 200 <= status < 300
                if 400 <= status < 500 and status not in (408, 429):
                    if item.generation == self._generation:
                        self.counters.rejected += 1
                    return
                if status == 429:
                    retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
        if item.generation != self._generation:
            return
        if ok:
            if item.duplicate:
                self.counters.duplicates_sent += 1
            else:
                self.counters.delivered += 1
            return
        self.counters.failed_attempts += 1
        if item.attempts >= self.settings.max_attempts:
            self.counters.exhausted += 1
            return
        backoff = min(self.settings.retry_max_s, self.settings.retry_base_s * 2 ** (item.attempts - 1))
        delay = max(backoff * self._timing_rng.uniform(0.8, 1.2), retry_after or 0.0)
        self.counters.queued += 1
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle | None = None

        def requeue() -> None:
            assert timer is not None
            self._timers.discard(timer)
            if item.generation == self._generation and self._queue is not None:
                self._queue.put_nowait(item)

        timer = loop.call_later(delay, requeue)
        self._timers.add(timer)


def _retry_after_seconds(value: str | None) -> float | None:
    try:
        return min(float(value), 300.0) if value is not None else None
    except ValueError:
        return None


def _signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 of `timestamp + "." + body`: the timestamp is signed so that a
    captured delivery cannot be replayed with a new one."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b".", hashlib.sha256)
    mac.update(body)
    return f"sha256={mac.hexdigest()}"
