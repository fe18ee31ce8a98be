"""The demo's phases as progress bars (one per phase, on stderr) with each phase's wall time, and the
phases that move stock: the warehouse's movements and waiting for every channel to converge."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from stockbridge.demo import magento_day, shop_day
from stockbridge.demo.harness import wait_for
from stockbridge.demo.hub_control import HubControl
from stockbridge.demo.traffic import Movement, Traffic
from stockbridge.demo.world import Sims

SEND_CHUNK = 250
# The Shopify store's API is down (every call a 503) while these chunks of movements go in: the blip.
BLIP_CHUNKS = (4, 8)
# The Magento host's rate limit is cut to a trickle while these go in: its pushes meet 429s.
SQUEEZE_CHUNKS = (2, 8)


class Step:
    """A running phase's bar: `advance` as its steps are done."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def advance(self, steps: int = 1) -> None:
        self._progress.advance(self._task, steps)


class Phases:
    """One progress bar per phase (Rich, on the demo's console: stderr) and each phase's wall time,
    which the summary shows (`phases_s`)."""

    def __init__(self, console: Console) -> None:
        self.seconds: dict[str, float] = {}
        self._progress = Progress(
            TextColumn("[bold]{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )

    def __enter__(self) -> Phases:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    @contextmanager
    def phase(self, name: str, steps: int) -> Iterator[Step]:
        task = self._progress.add_task(name, total=steps)
        started = time.monotonic()
        try:
            yield Step(self._progress, task)
            self._progress.update(task, completed=steps)
        finally:
            self.seconds[name] = round(time.monotonic() - started, 1)
            self._progress.stop_task(task)


def drive(
    control: httpx.Client,
    clarus_url: str,
    traffic: Traffic,
    movements: int,
    phases: Phases,
    shop_url: str | None = None,
    magento_url: str | None = None,
) -> int:
    """The warehouse's day: every SKU received, then `movements` in all, sent to Clarus in chunks;
    meanwhile the Shopify store's API is down for a few chunks, and the Magento host is squeezed."""
    opening = list(traffic.initial_receipts())
    day = max(0, movements - len(opening))
    stream: Iterator[Movement] = iter(opening + [traffic.next() for _ in range(day)])
    total = len(opening) + day
    sent = chunks = 0
    # Chunks small enough that the blip covers a stretch of the day however short the day is.
    chunk_size = min(SEND_CHUNK, max(1, total // (max(BLIP_CHUNKS[1], SQUEEZE_CHUNKS[1]) + 2)))
    with phases.phase("warehouse movements", total) as step:
        while sent < total:
            if shop_url is not None and chunks in BLIP_CHUNKS:
                shop_day.blip(control, shop_url, on=chunks == BLIP_CHUNKS[0])
            if magento_url is not None and chunks in SQUEEZE_CHUNKS:
                magento_day.squeeze(control, magento_url, on=chunks == SQUEEZE_CHUNKS[0])
            chunk = [m for _, m in zip(range(chunk_size), stream, strict=False)]
            response = control.post(f"{clarus_url}/_control/movements", json={"movements": chunk})
            response.raise_for_status()
            # Each chunk delivered (or lost) before the next: the day takes as long as the hub needs
            # to hear of it, and the blip and the squeeze last while it does.
            control.post(f"{clarus_url}/_control/drain", params={"timeout": 120}).raise_for_status()
            sent += len(chunk)
            chunks += 1
            step.advance(len(chunk))
    if shop_url is not None:
        shop_day.blip(control, shop_url, on=False)
    if magento_url is not None:
        magento_day.squeeze(control, magento_url, on=False)
    return sent


def converged(hub: HubControl, sims: Sims) -> bool:
    """Is the hub idle, and does the oracle find no drift on any channel?"""
    health = hub.health()
    idle = (
        health["inbox_pending"] == 0 and health["dirty_targets"] == 0 and not health["batches"].get("pending")
    )
    return bool(idle) and all(sims.drift(name).keys == 0 for name in sims.channels)


def converge(hub: HubControl, sims: Sims, timeout_s: float, console: Console, what: str) -> None:
    """Wait until the hub is idle and the oracle finds no drift on any channel (reported, not raised,
    on timeout: the summary shows what is left)."""
    try:
        wait_for(lambda: converged(hub, sims), timeout_s, what)
    except TimeoutError as exc:
        console.print(f"[red]{exc}[/red]")
