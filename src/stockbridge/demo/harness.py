"""Running the hub and the simulators side by side, and reading truth from the simulators."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from stockbridge.config import Config
from stockbridge.engine.clock import Clock, SystemClock
from stockbridge.engine.runtime import serve
from stockbridge.oracle import OracleSettings, channel_drift, ims_drift, read_stock
from stockbridge.store import tokens_repo
from stockbridge.store.db import make_engine, upgrade
from stockbridge.store.tokens_repo import Role


class HubThread:
    """The hub (API and workers) on its own thread and event loop, stopped cleanly on exit."""

    def __init__(
        self,
        config: Config,
        environ: dict[str, str],
        config_path: Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._config = config
        self._environ = environ
        self._config_path = config_path
        self._clock = clock  # None: the system clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True, name="hub")
        self.error: BaseException | None = None

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._started.set()
        try:
            await serve(
                self._config,
                environ=self._environ,
                stop=self._stop,
                config_path=self._config_path,
                clock=self._clock,
            )
        except BaseException as exc:
            self.error = exc
            raise

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)


@contextmanager
def running_hub(config: Config, environ: dict[str, str], config_path: Path | None = None) -> Iterator[str]:
    hub = HubThread(config, environ, config_path)
    hub.start()
    url = f"http://127.0.0.1:{config.hub.port}"
    try:
        wait_for(lambda: healthy(url), 30, "the hub to answer /health", hub)
        yield url
    finally:
        hub.stop()


def issue_token(database_url: str, name: str, role: Role = Role.OPERATOR) -> str:
    """A new admin API token in the hub's database (what `stockbridge token create` does)."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.begin() as c:
            return tokens_repo.create_token(c, name=name, role=role, now=SystemClock().now())
    finally:
        engine.dispose()


def healthy(url: str) -> bool:
    """Does the hub at `url` answer its health check?"""
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(
    condition: Callable[[], bool], timeout_s: float, what: str, hub: HubThread | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if hub is not None and hub.error is not None:
            raise RuntimeError(f"the hub stopped: {hub.error!r}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.1)


def oracle_settings(config: Config) -> OracleSettings:
    """The oracle's plain view of the configuration (it does not use the config model's rules)."""
    return OracleSettings.from_config_data(config.model_dump())


def measure_drift(clarus_url: str, ims_url: str, config: Config, channel: str = "ims") -> tuple[int, int]:
    """(SKU and location pairs whose figure in `channel` differs from WMS truth, units of
    difference), judged by the oracle from the simulators' own state: the IMS's on-hand, or a
    storefront's `available` read from the Shopify simulator at the store's configured base URL."""
    with httpx.Client(timeout=60) as http:
        if channel != "ims":
            found = channel_drift(http, clarus_url, ims_url, oracle_settings(config), channel)
            return found.keys, found.units
        clarus_state, ims_state = read_stock(http, clarus_url, ims_url)
    found = ims_drift(clarus_state, ims_state, oracle_settings(config))
    return found.keys, found.units
