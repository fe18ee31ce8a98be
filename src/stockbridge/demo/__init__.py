"""`stockbridge demo`: simulated Clarus and IMS on loopback, the hub against them, a day of movements.

Everything the summary reports about the far systems is read from the simulators' own state, not
from what the hub believes: drift is WMS truth (through the configured ATS rule) against IMS on-hand.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from stockbridge.config import Config, parse_config
from stockbridge.demo.traffic import Movement, Traffic, sku_name
from stockbridge.domain.ats import available_to_sell
from stockbridge.engine.runtime import serve
from stockbridge.monitor.latency import summary as latency_summary
from stockbridge.servers import free_port, serve_in_thread
from stockbridge.simulators import clarus as clarus_sim
from stockbridge.simulators import ims as ims_sim
from stockbridge.store.bookkeeping import count_open_exceptions, latencies_ms, read_counters
from stockbridge.store.db import make_engine

CLARUS_KEY = "demo-clarus-key"
WEBHOOK_SECRET = "demo-webhook-secret"
IMS_TOKEN = "demo-ims-token"
LOCATION = "6"
SEND_CHUNK = 250


@dataclass(frozen=True)
class DemoOptions:
    skus: int = 500
    movements: int = 5000
    seed: int = 7
    database_url: str | None = None
    quiet: bool = False
    ims_calls_per_second: float = 10.0
    unknown_fraction: float = 0.01
    inactive_fraction: float = 0.01
    converge_timeout_s: float = 180.0


def demo_config(
    clarus_url: str, ims_url: str, hub_port: int, database_url: str, ims_calls_per_second: float
) -> Config:
    return parse_config(
        {
            "database_url": database_url,
            "hub": {"host": "127.0.0.1", "port": hub_port},
            "connectors": {
                "clarus": {"base_url": clarus_url},
                "ims": {"base_url": ims_url, "calls_per_second": ims_calls_per_second, "concurrency": 4},
            },
            "locations": [{"warehouse": "WH1", "ims_location": LOCATION}],
            "inventory_statuses": {
                "available": {"counts_for": ["ims"]},
                "allocated": {"counts_for": ["ims"]},
                "picked": {"counts_for": ["ims"]},
                "quarantine": {"owner": "quality"},
                "damaged": {"owner": "quality"},
                "in_transfer": {},
                "returned": {},
                "expired": {"owner": "quality"},
                "inbound": {},
            },
            "schedules": {
                "full_sync_s": 3600,
                "events_poll_s": 3600,
                "item_refresh_s": 3600,
                "drift_check_s": 3600,
            },
        },
        "<demo>",
    )


class HubThread:
    """The hub (API and workers) on its own thread and event loop, stopped cleanly on exit."""

    def __init__(self, config: Config, environ: dict[str, str]) -> None:
        self._config = config
        self._environ = environ
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
            await serve(self._config, environ=self._environ, stop=self._stop)
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
def running_hub(config: Config, environ: dict[str, str]) -> Iterator[str]:
    hub = HubThread(config, environ)
    hub.start()
    url = f"http://127.0.0.1:{config.hub.port}"
    try:
        wait_for(lambda: _healthy(url), 30, "the hub to answer /health", hub)
        yield url
    finally:
        hub.stop()


def _healthy(url: str) -> bool:
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


def expected_ims_figures(clarus_state: dict[str, Any], config: Config) -> dict[str, int]:
    rule = config.ats_rule("ims")
    stock = clarus_state["warehouses"]["WH1"]["stock"]
    return {sku: available_to_sell(by_status, rule, sku) for sku, by_status in stock.items()}


def measure_drift(clarus_url: str, ims_url: str, config: Config) -> tuple[int, int]:
    """(SKUs whose IMS on-hand differs from WMS truth, units of difference), from the simulators."""
    expected = expected_ims_figures(httpx.get(f"{clarus_url}/_control/state").json(), config)
    items = httpx.get(f"{ims_url}/_control/state").json()["items"]
    skus = set(expected) | {s for s, item in items.items() if item.get("onHand", {}).get(LOCATION)}
    drifted = units = 0
    for sku in skus:
        actual = round(float(items.get(sku, {}).get("onHand", {}).get(LOCATION, 0)))
        if actual != expected.get(sku, 0):
            drifted += 1
            units += abs(actual - expected.get(sku, 0))
    return drifted, units


def run_demo(options: DemoOptions) -> dict[str, Any]:
    console = Console(stderr=True, quiet=options.quiet)
    with tempfile.TemporaryDirectory(prefix="stockbridge-demo-") as tmp:
        database_url = options.database_url or f"sqlite:///{Path(tmp) / 'stockbridge.db'}"
        return _run(options, database_url, console)


def _run(options: DemoOptions, database_url: str, console: Console) -> dict[str, Any]:
    started = time.monotonic()
    traffic = Traffic(options.skus, options.seed)
    skus = [sku_name(i) for i in range(options.skus)]
    unknown = set(skus[:: max(1, round(1 / options.unknown_fraction))]) if options.unknown_fraction else set()
    inactive = (
        set(skus[1 :: max(1, round(1 / options.inactive_fraction))]) - unknown
        if options.inactive_fraction
        else set()
    )
    clarus_app = clarus_sim.create_app(clarus_sim.ClarusSettings(api_key=CLARUS_KEY, seed=options.seed))
    ims_app = ims_sim.create_app(ims_sim.ImsSettings(bearer_tokens=[IMS_TOKEN], seed=options.seed))
    with serve_in_thread(clarus_app) as clarus_url, serve_in_thread(ims_app) as ims_url:
        control = httpx.Client(timeout=120)
        control.post(
            f"{ims_url}/_control/items",
            json={"items": [{"itemId": s, "isInactive": s in inactive} for s in skus if s not in unknown]},
        ).raise_for_status()
        config = demo_config(clarus_url, ims_url, free_port(), database_url, options.ims_calls_per_second)
        environ = {
            "CLARUS_API_KEY": CLARUS_KEY,
            "CLARUS_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "IMS_TOKEN": IMS_TOKEN,
        }
        with running_hub(config, environ) as hub_url:
            control.post(
                f"{clarus_url}/api/v1/webhooks",
                headers={"Authorization": f"Bearer {CLARUS_KEY}"},
                json={
                    "url": f"{hub_url}/webhooks/clarus",
                    "secret": WEBHOOK_SECRET,
                    "events": ["inventory.movement"],
                },
            ).raise_for_status()
            control.put(
                f"{clarus_url}/_control/faults",
                json={
                    "duplicate_rate": 0.05,
                    "reorder_rate": 0.05,
                    "failure_rate": 0.02,
                    "drop_rate": 0.01,
                    "delay_ms": [0, 20],
                },
            ).raise_for_status()
            sent = _drive(control, clarus_url, traffic, options.movements, console)
            console.print(
                "[bold]merchandising[/bold] creates the missing items and re-activates the inactive ones"
            )
            if unknown:
                control.post(
                    f"{ims_url}/_control/items", json={"items": [{"itemId": s} for s in sorted(unknown)]}
                ).raise_for_status()
            for sku in sorted(inactive):
                control.patch(
                    f"{ims_url}/_control/items/{sku}", json={"isInactive": False}
                ).raise_for_status()
            deliveries = control.post(f"{clarus_url}/_control/drain", params={"timeout": 120}).json()
            _repair_and_converge(control, hub_url, clarus_url, ims_url, config, options, console)
            health = control.get(f"{hub_url}/health").json()
        ims_stats = control.get(f"{ims_url}/_control/stats").json()
        drifted, units = measure_drift(clarus_url, ims_url, config)
    engine = make_engine(database_url)
    with engine.begin() as c:
        counters = read_counters(c)
        latencies = latencies_ms(c, "ims")
        open_exceptions = count_open_exceptions(c)
    engine.dispose()
    summary = {
        "skus": options.skus,
        "movements": sent,
        "events_received": counters.get("inbox.received", 0),
        "duplicates_ignored": counters.get("inbox.duplicates", 0),
        "recovered_by_events_feed": counters.get("sync.feed_recovered", 0),
        "recovered_by_full_sync_rows": counters.get("sync.snapshot_rows", 0),
        "pushes": counters.get("push.ims.calls", 0),
        "lines_pushed": counters.get("push.ims.lines", 0),
        "latency_ms": {k: v for k, v in latency_summary(latencies).items() if k != "count"},
        "drift": drifted,
        "drift_units": units,
        "webhooks": deliveries,
        "ims_calls": ims_stats.get("calls"),
        "ims_throttled_429": ims_stats.get("throttled_429"),
        "exceptions_open": open_exceptions,
        "exceptions_seen": {"unknown_sku": len(unknown), "inactive_sku": len(inactive)},
        "dirty_targets_left": health["dirty_targets"],
        "wall_s": round(time.monotonic() - started, 1),
    }
    _print_summary(console, summary)
    return summary


def _drive(control: httpx.Client, clarus_url: str, traffic: Traffic, movements: int, console: Console) -> int:
    opening = list(traffic.initial_receipts())
    day = max(0, movements - len(opening))
    stream: Iterator[Movement] = iter(opening + [traffic.next() for _ in range(day)])
    total = len(opening) + day
    sent = 0
    with Progress(
        TextColumn("[bold]warehouse movements"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("movements", total=total)
        while sent < total:
            chunk = [m for _, m in zip(range(SEND_CHUNK), stream, strict=False)]
            response = control.post(f"{clarus_url}/_control/movements", json={"movements": chunk})
            response.raise_for_status()
            sent += len(chunk)
            progress.update(task, completed=sent)
    return sent


def _repair_and_converge(
    control: httpx.Client,
    hub_url: str,
    clarus_url: str,
    ims_url: str,
    config: Config,
    options: DemoOptions,
    console: Console,
) -> None:
    before = control.get(f"{hub_url}/health").json()["counters"].get("sync.snapshot_rows", 0)
    console.print("full stock sync from Clarus repairs what lost webhooks hid")
    control.post(f"{hub_url}/admin/jobs/full_sync").raise_for_status()

    def converged() -> bool:
        health = control.get(f"{hub_url}/health").json()
        synced = health["counters"].get("sync.snapshot_rows", 0) > before
        idle = (
            health["inbox_pending"] == 0
            and health["dirty_targets"] == 0
            and not health["batches"].get("pending")
        )
        return bool(synced and idle) and measure_drift(clarus_url, ims_url, config)[0] == 0

    with console.status("waiting for the IMS to match the warehouse"):
        try:
            wait_for(converged, options.converge_timeout_s, "convergence")
        except TimeoutError as exc:
            console.print(f"[red]{exc}[/red]")


def _print_summary(console: Console, summary: dict[str, Any]) -> None:
    table = Table(title="stockbridge demo", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    latency = summary["latency_ms"]
    rows = [
        ("SKUs", summary["skus"]),
        ("movements in Clarus", summary["movements"]),
        ("events received (webhooks)", summary["events_received"]),
        ("duplicates ignored", summary["duplicates_ignored"]),
        ("events caught up from the Clarus feed", summary["recovered_by_events_feed"]),
        ("snapshot rows folded (full sync)", summary["recovered_by_full_sync_rows"]),
        ("pushes to the IMS (adjustments)", summary["pushes"]),
        ("lines pushed", summary["lines_pushed"]),
        ("IMS calls / throttled (429)", f"{summary['ims_calls']} / {summary['ims_throttled_429']}"),
        ("latency movement → IMS p50/p95/p99 ms", f"{latency['p50']} / {latency['p95']} / {latency['p99']}"),
        ("open exceptions", summary["exceptions_open"] or "none"),
        ("drift (SKUs / units)", f"{summary['drift']} / {summary['drift_units']}"),
        ("wall time s", summary["wall_s"]),
    ]
    for what, value in rows:
        table.add_row(what, str(value))
    console.print(table)
    verdict = "[green]IMS matches the warehouse[/green]" if summary["drift"] == 0 else "[red]DRIFT LEFT[/red]"
    console.print(verdict)
