"""Drift: what each stock channel shows against what the hub believes it pushed, read back on schedule.

Finding drift repairs it: the target is marked dirty so the next push reads the channel afresh and
sets the figure again. An exception is opened so the owner sees that something outside the hub
moved stock. Every channel is read through its port (`flows/ports.StockChannel`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, select, update

from stockbridge.config import Config
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import with_retries
from stockbridge.flows.ports import StockChannel
from stockbridge.flows.stock_push import sku_entity
from stockbridge.store.bookkeeping import raise_exception, resolve_exceptions
from stockbridge.store.schema import targets
from stockbridge.store.sql import chunks
from stockbridge.store.states import TargetState

READ_PAGE = 1000  # SKUs per read: the channel pages further itself if it must


@dataclass(frozen=True, slots=True)
class Drifted:
    channel: str
    sku: str
    location: str
    believed: int
    actual: int

    @property
    def entity(self) -> str:
        return drift_entity(self.channel, self.sku, self.location)


@dataclass
class DriftReport:
    checked: int = 0
    drifted: list[Drifted] = field(default_factory=list)

    @property
    def units(self) -> int:
        return sum(abs(d.believed - d.actual) for d in self.drifted)


def drift_entity(channel: str, sku: str, location: str) -> str:
    return f"{sku_entity(channel, sku)}/{location}"


def _settled_targets(connection: Connection, channel: str) -> list[tuple[str, str, int]]:
    query = select(targets.c.sku, targets.c.location, targets.c.pushed).where(
        targets.c.channel == channel,
        targets.c.dirty.is_(False),
        targets.c.batch_id.is_(None),
        targets.c.state == TargetState.OK.value,
        targets.c.pushed.is_not(None),
    )
    return [(r.sku, r.location, int(r.pushed)) for r in connection.execute(query)]


async def check_drift(
    engine: Engine, channels: Iterable[StockChannel], config: Config, clock: Clock
) -> DriftReport:
    report = DriftReport()
    for channel in channels:
        await _check_channel(engine, channel, config, clock, report)
    return report


async def _check_channel(
    engine: Engine, channel: StockChannel, config: Config, clock: Clock, report: DriftReport
) -> None:
    name = channel.name
    settled = await in_transaction(engine, lambda c: _settled_targets(c, name))
    by_location: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for sku, location, pushed in settled:
        by_location[location].append((sku, pushed))
    found: list[Drifted] = []
    for location, rows in by_location.items():
        for chunk in chunks(rows, READ_PAGE):
            skus = [sku for sku, _ in chunk]
            figures = await with_retries(lambda: channel.read_figures(location, skus))
            for sku, pushed in chunk:
                figure = figures.get(sku)
                if figure is None or not figure.pushable:
                    continue  # no longer known or active there: the next push blocks it and says so
                report.checked += 1
                if figure.quantity != pushed:
                    found.append(Drifted(name, sku, location, pushed, figure.quantity))
    report.drifted.extend(found)
    now = clock.now()

    def record(connection: Connection) -> None:
        for d in found:
            connection.execute(
                update(targets)
                .where(
                    targets.c.channel == name,
                    targets.c.sku == d.sku,
                    targets.c.location == d.location,
                    targets.c.pushed == d.believed,
                    targets.c.dirty.is_(False),
                )
                .values(dirty=True, dirty_since=now, pushed=d.actual)
            )
            raise_exception(
                connection,
                type="drift",
                entity=d.entity,
                owner=config.owners.owner_of("drift"),
                detail=f"{name} shows {d.actual} at location {d.location}, the hub pushed {d.believed}; "
                "re-pushing",
                now=now,
                retry_action="automatic: the target was marked dirty",
            )
        drifted = {d.entity for d in found}
        clean = [drift_entity(name, s, loc) for s, loc, _ in settled]
        resolve_exceptions(connection, "drift", [e for e in clean if e not in drifted])

    await in_transaction(engine, record)
