"""Velocity classes, reclassified on schedule (`velocity.reclassify_s`): each SKU's sales over the
window put it in a class (domain/velocity.py); a SKU that changes class has its targets re-derived,
so the channels using velocity buffers are pushed the new figure (docs/decisions/0033)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from stockbridge.config import Config
from stockbridge.domain.velocity import classify
from stockbridge.flows.inventory import rederive_skus
from stockbridge.logs import get_logger
from stockbridge.store import velocity_repo
from stockbridge.store.bookkeeping import bump

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Reclassified:
    skus: int = 0  # SKUs whose class or units sold were written
    changed: int = 0  # of which changed class
    targets: int = 0  # targets re-derived for them


def reclassify(connection: Connection, config: Config, now: datetime) -> Reclassified:
    """Classify every SKU by its sales in the window ending `now`. Caller owns the transaction."""
    settings = config.velocity
    if settings is None:
        return Reclassified()
    since = now - timedelta(seconds=settings.window_s)
    sold = velocity_repo.units_sold_since(connection, since)
    stored = velocity_repo.stored_classes(connection)
    classes = settings.velocity_classes()
    classified: dict[str, tuple[str | None, int]] = {}
    changed: set[str] = set()
    for sku in sorted(set(sold) | set(stored)):
        found = classify(sold[sku], settings.window_s, classes)
        name = None if found is None else found.name
        before = stored.get(sku)
        if before is not None and (before.velocity_class, before.units_sold) == (name, sold[sku]):
            continue  # nothing to write
        classified[sku] = (name, sold[sku])
        if (None if before is None else before.velocity_class) != name:
            changed.add(sku)
    velocity_repo.save_classes(connection, classified, now)
    velocity_repo.prune_sales(connection, since)
    targets = rederive_skus(connection, config, changed, now) if changed else 0
    bump(connection, "velocity.reclassified", len(changed))
    if changed:
        log.info("velocity classes changed", skus=len(changed), targets=targets)
    return Reclassified(len(classified), len(changed), targets)
