"""Drift: each stock channel's figures read back on schedule and compared with the warehouse's figure
and with what the hub last pushed there (DESIGN.md §2.5, docs/decisions/0025).

Per channel and run: take the (SKU, location) pairs to read (the whole catalogue, or the next
`drift.sample_size` of it after the cursor kept in the database), read what the channel shows through
its port (`flows/ports.StockChannel`), and judge each by `domain.drift`: within tolerance, or only a
newer figure on its way, is no drift; otherwise its episode opens (or goes on), and once it has lasted
`grace_s` it is raised (`drift_manual_edit` when something else set the channel's figure, `drift` when
the hub's own last word is behind the warehouse) and the target is marked dirty so the next push sets
the warehouse's figure again. A drift still seen after `escalate_after_repairs` repairs or
`escalate_after_s` also raises `drift_unrepaired`. A pair seen right again clears its episode and
resolves its exceptions. A pair a push touched between the target's read and the channel's is not
judged this run (its figure was in motion).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine

from stockbridge.config import Config
from stockbridge.domain.drift import Cause, DriftRule, Step, classify, differs, next_step
from stockbridge.domain.errors import ConnectorError
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import with_retries
from stockbridge.flows.ports import StockChannel
from stockbridge.flows.stock_push import sku_entity
from stockbridge.logs import get_logger
from stockbridge.store import drift_repo
from stockbridge.store.bookkeeping import raise_exception, resolve_exceptions
from stockbridge.store.drift_repo import Compared, Episode, Key
from stockbridge.store.sql import chunks

log = get_logger(__name__)

READ_PAGE = 1000  # SKUs per read: the channel pages further itself if it must
DRIFT = "drift"  # the hub's last figure is not the warehouse's, and nothing is on its way
MANUAL_EDIT = "drift_manual_edit"  # something other than the hub set the channel's figure
UNREPAIRED = "drift_unrepaired"  # the escalation: repairs did not clear it
EXCEPTION_TYPES = (DRIFT, MANUAL_EDIT, UNREPAIRED)


@dataclass(frozen=True, slots=True)
class Drifted:
    channel: str
    sku: str
    location: str
    cause: Cause
    shown: int
    pushed: int
    expected: int
    step: Step

    @property
    def units(self) -> int:
        return abs(self.shown - self.expected)

    @property
    def entity(self) -> str:
        return drift_entity(self.channel, self.sku, self.location)


@dataclass
class DriftReport:
    checked: int = 0
    drifted: list[Drifted] = field(default_factory=list)  # over tolerance, including those in grace
    cleared: int = 0

    @property
    def units(self) -> int:
        return sum(d.units for d in self.drifted)


def drift_entity(channel: str, sku: str, location: str) -> str:
    return f"{sku_entity(channel, sku)}/{location}"


def exception_type(cause: Cause) -> str:
    return MANUAL_EDIT if cause.edited else DRIFT


async def check_drift(
    engine: Engine, channels: Iterable[StockChannel], config: Config, clock: Clock
) -> DriftReport:
    """Check every channel; one that cannot be read does not stop the others (its error is raised
    after them, for connector health)."""
    report = DriftReport()
    failure: ConnectorError | None = None
    for channel in channels:
        try:
            await _check_channel(engine, channel, config, clock, report)
        except ConnectorError as exc:
            log.warning("drift check could not read a channel", channel=channel.name, error=str(exc))
            failure = failure or exc
    if failure is not None:
        raise failure
    return report


async def _check_channel(
    engine: Engine, channel: StockChannel, config: Config, clock: Clock, report: DriftReport
) -> None:
    """The run's pairs (the whole catalogue, or `sample_size` after the cursor, wrapping once:
    `domain.drift.rotate`'s window) a page at a time by keyset, each page read, judged and recorded
    on its own: a run holds a page, not the catalogue (docs/decisions/0044)."""
    name, rule = channel.name, config.drift.rule(channel.name)

    def window(connection: Connection) -> tuple[Key | None, int | None]:
        size = rule.sample_size
        if size is not None and size >= drift_repo.comparable_count(connection, name):
            size = None  # the whole catalogue
        return drift_repo.sample_cursor(connection, name), size

    cursor, size = await in_transaction(engine, window)
    after = None if size is None else cursor
    wrapped = after is None  # from the start already: nothing to wrap to
    left = size
    last: Key | None = None
    while left is None or left > 0:
        limit = READ_PAGE if left is None else min(READ_PAGE, left)
        keys = await in_transaction(
            engine, partial(drift_repo.comparable_keys_after, channel=name, after=after, limit=limit)
        )
        if keys:
            await _check_page(engine, channel, rule, config, clock, keys, report)
            last = after = keys[-1]
            left = None if left is None else left - len(keys)
        if len(keys) < limit:
            if wrapped:
                break
            wrapped, after = True, None
    now = clock.now()

    def finish(connection: Connection) -> None:
        drift_repo.set_sample_cursor(connection, name, None if size is None else last)
        # Open episodes of pairs the check no longer compares (blocked, gone) are over.
        episodes = drift_repo.open_episodes(connection, name)
        still = drift_repo.compared_targets(connection, name, list(episodes), now)
        _clear(connection, name, [e for key, e in episodes.items() if key not in still], [], now, report)

    await in_transaction(engine, finish)


async def _check_page(
    engine: Engine,
    channel: StockChannel,
    rule: DriftRule,
    config: Config,
    clock: Clock,
    keys: list[Key],
    report: DriftReport,
) -> None:
    name, started = channel.name, clock.now()
    before = await in_transaction(engine, lambda c: drift_repo.compared_targets(c, name, keys, started))
    shown = await _read(channel, [t for t in before.values() if not t.in_motion])
    now = clock.now()

    def record(connection: Connection) -> None:
        after = drift_repo.compared_targets(connection, name, list(shown), now)
        judged = {
            key: (target, shown[key])
            for key, target in after.items()
            if target == before[key] and not target.in_motion  # nothing pushed meanwhile
        }
        _judge(connection, name, rule, config, judged, now, report)

    await in_transaction(engine, record)


async def _read(channel: StockChannel, targets: list[Compared]) -> dict[Key, int]:
    """What the channel shows for each target it knows and would take a figure for."""
    by_location: dict[str, list[str]] = defaultdict(list)
    for target in targets:
        by_location[target.location].append(target.sku)
    shown: dict[Key, int] = {}
    for location, skus in by_location.items():
        for chunk in chunks(skus, READ_PAGE):
            figures = await with_retries(lambda: channel.read_figures(location, chunk))
            for sku, figure in figures.items():
                # Not known or not active there: the next push blocks it and says so; not drift.
                if figure.pushable:
                    shown[(sku, location)] = figure.quantity
    return shown


def _judge(
    connection: Connection,
    channel: str,
    rule: DriftRule,
    config: Config,
    judged: dict[Key, tuple[Compared, int]],
    now: datetime,
    report: DriftReport,
) -> None:
    episodes = drift_repo.open_episodes(connection, channel)
    clean: list[Key] = []
    for key, (target, shown) in judged.items():
        report.checked += 1
        if not differs(shown, target.expected, rule.tolerance_units):
            clean.append(key)
            continue
        cause = classify(
            shown, target.pushed, target.expected, pending=target.dirty, tolerance=rule.tolerance_units
        )
        if cause is None:
            continue  # the newer figure is on its way: neither drift nor right yet
        episode = episodes.get(key) or drift_repo.open_episode(
            connection, channel, target, cause=cause, shown=shown, now=now
        )
        step = next_step(
            rule, now, first_seen=episode.first_seen, raised_at=episode.raised_at, repairs=episode.repairs
        )
        found = Drifted(
            channel, target.sku, target.location, cause, shown, target.pushed, target.expected, step
        )
        report.drifted.append(found)
        repaired = step is not Step.WATCH and drift_repo.mark_for_repair(
            connection, channel, target, shown, now
        )
        if step is not Step.WATCH:
            _raise(connection, config, found, episode, now)
        drift_repo.seen_again(
            connection,
            episode,
            target,
            cause=cause,
            shown=shown,
            now=now,
            repaired=repaired,
            raised=step is not Step.WATCH,
            escalated=step is Step.ESCALATE,
        )
    # Pairs seen right again (pairs no longer compared are cleared at the run's end).
    right = set(clean)
    _clear(connection, channel, [e for k, e in episodes.items() if k in right], clean, now, report)


def _clear(
    connection: Connection,
    channel: str,
    over: list[Episode],
    clean: list[Key],
    now: datetime,
    report: DriftReport,
) -> None:
    """Clear the episodes that are over and resolve their exceptions and those of pairs seen right."""
    drift_repo.clear_episodes(connection, [e.id for e in over], now)
    report.cleared += len(over)
    entities = [drift_entity(channel, s, loc) for s, loc in clean] + [
        drift_entity(channel, e.sku, e.location) for e in over
    ]
    for kind in EXCEPTION_TYPES:
        resolve_exceptions(connection, kind, entities)


def _raise(connection: Connection, config: Config, d: Drifted, episode: Episode, now: datetime) -> None:
    kind = exception_type(d.cause)
    since = f"since {episode.first_seen:%Y-%m-%d %H:%M:%S} UTC"
    if d.cause is Cause.BEHIND:
        why = f"the hub last pushed {d.pushed} and nothing is on its way"
    elif d.cause is Cause.MANUAL_EDIT:
        why = f"the hub pushed {d.pushed}: someone or another app edited it in {d.channel} by hand"
    else:
        why = f"the hub pushed {d.pushed} (not the warehouse's figure either), and it was edited by hand"
    raise_exception(
        connection,
        type=kind,
        entity=d.entity,
        owner=config.owners.owner_of(kind),
        detail=f"{d.channel} shows {d.shown} at location {d.location}, the warehouse's figure is "
        f"{d.expected} ({d.units} units off {since}); {why}",
        now=now,
        retry_action="automatic: the target was marked dirty and is pushed again",
    )
    # One cause at a time: the other cause's exception for the same pair is over.
    resolve_exceptions(connection, DRIFT if kind == MANUAL_EDIT else MANUAL_EDIT, [d.entity])
    if d.step is Step.ESCALATE:
        raise_exception(
            connection,
            type=UNREPAIRED,
            entity=d.entity,
            owner=config.owners.owner_of(UNREPAIRED),
            detail=f"{d.channel} still shows {d.shown} at location {d.location} (the warehouse's figure "
            f"is {d.expected}) after {episode.repairs} repairs {since}: something keeps setting it "
            f"({d.cause.value})",
            now=now,
            retry_action="find what keeps setting the channel's figure (an app, an import, a person); "
            "the hub keeps repairing",
        )


class DriftMetrics(Collector):
    """Drift per channel now, read from the database at scrape time (any process can serve it)."""

    def __init__(self, engine: Engine, channels: Iterable[str]) -> None:
        self._engine = engine
        self._channels = list(channels)

    def collect(self) -> Iterator[Metric]:
        skus = GaugeMetricFamily(
            "stockbridge_drift_skus",
            "(SKU, location) pairs whose channel figure differs from the warehouse's over tolerance",
            labels=["channel"],
        )
        units = GaugeMetricFamily(
            "stockbridge_drift_units", "Units those figures differ by, summed", labels=["channel"]
        )
        unrepaired = GaugeMetricFamily(
            "stockbridge_drift_unrepaired_skus", "Of them, drift repairs did not clear", labels=["channel"]
        )
        with self._engine.connect() as connection:
            now = drift_repo.drift_now(connection)
        for channel in sorted({*self._channels, *now}):
            found = now.get(channel, drift_repo.ChannelDrift(0, 0, 0))
            skus.add_metric([channel], found.skus)
            units.add_metric([channel], found.units)
            unrepaired.add_metric([channel], found.unrepaired)
        yield from (skus, units, unrepaired)
