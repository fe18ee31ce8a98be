"""Drift: what the IMS shows against what the hub believes it pushed, read back on schedule.

Finding drift repairs it: the target is marked dirty so the next push reads the IMS afresh and posts
the difference. An exception is opened so the owner sees that something outside the hub moved stock.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, select, update

from stockbridge.config import IMS_CHANNEL_NAME as IMS_CHANNEL
from stockbridge.config import Config
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.netsuite.client import NetSuiteClient
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import with_retries
from stockbridge.store import items_repo
from stockbridge.store.bookkeeping import raise_exception, resolve_exceptions
from stockbridge.store.schema import targets
from stockbridge.store.sql import chunks
from stockbridge.store.states import TargetState


@dataclass
class DriftReport:
    checked: int = 0
    drifted: list[tuple[str, str, int, int]] = field(default_factory=list)  # sku, location, believed, ims

    @property
    def units(self) -> int:
        return sum(abs(believed - actual) for _, _, believed, actual in self.drifted)


def _settled_targets(connection: Connection) -> list[tuple[str, str, int]]:
    query = select(targets.c.sku, targets.c.location, targets.c.pushed).where(
        targets.c.channel == IMS_CHANNEL,
        targets.c.dirty.is_(False),
        targets.c.batch_id.is_(None),
        targets.c.state == TargetState.OK.value,
        targets.c.pushed.is_not(None),
    )
    return [(r.sku, r.location, int(r.pushed)) for r in connection.execute(query)]


async def check_drift(
    engine: Engine, client: NetSuiteClient, limiter: RateLimiter, config: Config, clock: Clock
) -> DriftReport:
    report = DriftReport()
    settled = await in_transaction(engine, _settled_targets)
    items = await in_transaction(engine, lambda c: items_repo.items_for(c, [s for s, _, _ in settled]))
    by_location: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for sku, location, pushed in settled:
        if sku in items:
            by_location[location].append((sku, pushed))
    for location, rows in by_location.items():
        for chunk in chunks(rows, 1000):
            ids = [items[sku].item_id for sku, _ in chunk]
            figures = await with_retries(lambda: limiter.run(lambda: client.on_hand(location, ids)))
            for sku, pushed in chunk:
                report.checked += 1
                actual = figures[items[sku].item_id]
                if actual != pushed:
                    report.drifted.append((sku, location, pushed, actual))
    now = clock.now()

    def record(connection: Connection) -> None:
        for sku, location, believed, actual in report.drifted:
            connection.execute(
                update(targets)
                .where(
                    targets.c.channel == IMS_CHANNEL,
                    targets.c.sku == sku,
                    targets.c.location == location,
                    targets.c.pushed == believed,
                    targets.c.dirty.is_(False),
                )
                .values(dirty=True, dirty_since=now, pushed=actual)
            )
            raise_exception(
                connection,
                type="drift",
                entity=f"sku:{sku}@{location}",
                owner=config.owners.owner_of("drift"),
                detail=f"IMS shows {actual} at location {location}, the hub pushed {believed}; re-pushing",
                now=now,
                retry_action="automatic: the target was marked dirty",
            )
        drifted = {f"sku:{s}@{loc}" for s, loc, _, _ in report.drifted}
        clean = [f"sku:{s}@{loc}" for s, loc, _ in settled if f"sku:{s}@{loc}" not in drifted]
        resolve_exceptions(connection, "drift", clean)

    await in_transaction(engine, record)
    return report
