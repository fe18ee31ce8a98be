"""Run the hub: the webhook API and the workers in one asyncio loop, or either alone."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from stockbridge.api.app import create_app
from stockbridge.config import Config
from stockbridge.engine.clock import Clock, SystemClock
from stockbridge.engine.config_source import ConfigSource
from stockbridge.engine.connect import connect
from stockbridge.engine.db import in_transaction
from stockbridge.engine.ims_items import StoredImsItems
from stockbridge.engine.schedule import run_soon
from stockbridge.engine.worker import Worker
from stockbridge.logs import get_logger
from stockbridge.monitor.connector_health import ConnectorMetrics, LimiterMetrics, StorefrontMetrics
from stockbridge.store.db import make_engine, upgrade

T = TypeVar("T")
log = get_logger(__name__)


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on uvloop when it is installed (uvicorn[standard] brings it), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the hub's stop event decides when to shut down."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    config: Config,
    *,
    api: bool = True,
    workers: bool = True,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    worker_id: str | None = None,
    stop: asyncio.Event | None = None,
    port: int | None = None,
    config_path: Path | None = None,
) -> None:
    """Serve until `stop` is set or the process receives SIGINT/SIGTERM."""
    clock = clock or SystemClock()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    engine = make_engine(config.effective_database_url())
    await asyncio.to_thread(upgrade, engine)
    connections = connect(config, environ, ims_items=StoredImsItems(engine), engine=engine)
    source = ConfigSource(config, config_path)
    webhook_base = config.hub.webhook_base(port)
    worker = Worker(
        engine=engine,
        config=source,
        connections=connections,
        clock=clock,
        worker_id=worker_id,
        webhook_base=webhook_base,
    )
    tasks: list[asyncio.Task[None]] = []
    server: uvicorn.Server | None = None
    log.info(
        "hub starting",
        api=api,
        workers=workers,
        worker_id=worker.worker_id,
        port=config.hub.port if port is None else port,
    )
    try:
        if api and config.hub.register_webhooks:
            # Through the scheduler, so that one process registers it however many start at once
            # (this one's worker, or another's when this process serves the API only).
            now = clock.now()
            await in_transaction(engine, lambda c: run_soon(c, "subscriptions_check", now))
        if workers:
            # Whatever Clarus gave up delivering while the hub was down is in its events feed: read it
            # now rather than at the next scheduled poll (the inbox ignores what webhooks already gave).
            started = clock.now()
            await in_transaction(engine, lambda c: run_soon(c, "events_poll", started))
        if workers:
            tasks.append(asyncio.create_task(worker.run(stop)))
        if api:
            app = create_app(
                engine=engine,
                config=config,
                clock=clock,
                clarus_webhook_secret=connections.clarus_webhook_secret,
                storefront_webhook_secrets=connections.storefront_secrets,
                on_stored=worker.wake if workers else None,
                on_job_asked=worker.schedule_wake.set if workers else None,
                # The connectors' state is this process's: only where its workers run.
                collectors=[
                    LimiterMetrics(connections.limiters),
                    StorefrontMetrics(connections.storefronts),
                    ConnectorMetrics(worker.health),
                ]
                if workers
                else [],
            )
            server = _QuietServer(
                uvicorn.Config(
                    app,
                    host=config.hub.host,
                    port=config.hub.port if port is None else port,
                    log_level="warning",
                    access_log=False,
                    # The hub reads neither the client's address nor the scheme (its public URL is
                    # configured): rewriting them from X-Forwarded-* on every request is wasted.
                    proxy_headers=False,
                    log_config=None,  # uvicorn's lines go through the hub's handler (logs.py)
                )
            )
            tasks.append(asyncio.create_task(server.serve()))
        await stop.wait()
        if server is not None:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await connections.aclose()
        engine.dispose()
        log.info("hub stopped", worker_id=worker.worker_id)
