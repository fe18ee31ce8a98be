"""Service-level targets (`slo:` in the configuration) checked on schedule (`schedules.slo_check_s`).

Latency: each stock channel's p95 and p99 of movement → acknowledged over the last `slo.window_s`
against its target; a breach opens `latency_slo` for `channel:<name>`, a check within target
resolves it. A channel with no acknowledgement in the window has no latency to judge and counts as
within target: a channel that acknowledges nothing at all shows as `backlog_stalled` on its
`targets.<channel>` flow instead, whose oldest dirty target keeps ageing.

Backlog: each flow's oldest item against `slo.backlog_age_s`; older opens `backlog_stalled` for
`flow:<name>`, younger (or empty) resolves it.

The same run deletes latency samples older than `slo.latency_retention_s` (decision 0026).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection, Engine

from stockbridge.config import Config, LatencyTarget
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.monitor.backlog import FlowBacklog, read_backlog
from stockbridge.monitor.latency import percentile
from stockbridge.store.bookkeeping import latencies_ms, prune_latency, raise_exception, resolve_exceptions

LATENCY_SLO = "latency_slo"
BACKLOG_STALLED = "backlog_stalled"


@dataclass(frozen=True, slots=True)
class LatencyCheck:
    channel: str
    samples: int
    p95_ms: float | None
    p99_ms: float | None
    target: LatencyTarget

    @property
    def breached(self) -> bool:
        return (self.p95_ms is not None and self.p95_ms > self.target.p95) or (
            self.p99_ms is not None and self.p99_ms > self.target.p99
        )

    @property
    def entity(self) -> str:
        return f"channel:{self.channel}"

    def detail(self, window_s: float) -> str:
        return (
            f"movement → acknowledged by {self.channel} over the last {window_s:g} s ({self.samples} "
            f"lines): p95 {self.p95_ms:g} ms (target {self.target.p95:g}), "
            f"p99 {self.p99_ms:g} ms (target {self.target.p99:g})"
        )


def judge_latency(channel: str, latencies: Sequence[float], target: LatencyTarget) -> LatencyCheck:
    """A channel's latencies in the window against its target. Pure."""
    return LatencyCheck(channel, len(latencies), percentile(latencies, 95), percentile(latencies, 99), target)


def is_stalled(backlog: FlowBacklog, target_s: float | None) -> bool:
    """The flow's oldest item has waited longer than its target (None: the flow is not checked)."""
    return target_s is not None and backlog.oldest_age_s is not None and backlog.oldest_age_s > target_s


@dataclass
class SloReport:
    latency: list[LatencyCheck] = field(default_factory=list)
    backlog: list[FlowBacklog] = field(default_factory=list)
    stalled: list[str] = field(default_factory=list)  # flow names over their target
    pruned: int = 0  # latency samples deleted past retention

    @property
    def breached(self) -> list[str]:
        return [check.channel for check in self.latency if check.breached]


async def check_slos(engine: Engine, config: Config, clock: Clock) -> SloReport:
    now = clock.now()

    def check(connection: Connection) -> SloReport:
        slo = config.slo
        report = SloReport()
        since = now - timedelta(seconds=slo.window_s)
        for channel in config.stock_channels():
            latencies = latencies_ms(connection, channel, since)
            report.latency.append(judge_latency(channel, latencies, slo.latency_target(channel)))
        for latency in report.latency:
            if latency.breached:
                raise_exception(
                    connection,
                    type=LATENCY_SLO,
                    entity=latency.entity,
                    owner=slo.owner_of(latency.channel, LATENCY_SLO, config.owners),
                    detail=latency.detail(slo.window_s),
                    now=now,
                    retry_action="see the channel's connector_failing and push_failed exceptions, its "
                    "rate limit (/metrics), and the targets backlog; resolves itself when within target",
                )
        resolve_exceptions(connection, LATENCY_SLO, [c.entity for c in report.latency if not c.breached])
        report.backlog = read_backlog(connection, config, now)
        within: list[str] = []
        for backlog in report.backlog:
            target_s = slo.backlog_age_target(backlog.flow)
            if not is_stalled(backlog, target_s):
                within.append(f"flow:{backlog.flow}")
                continue
            report.stalled.append(backlog.flow)
            raise_exception(
                connection,
                type=BACKLOG_STALLED,
                entity=f"flow:{backlog.flow}",
                owner=slo.owner_of(backlog.flow, BACKLOG_STALLED, config.owners),
                detail=f"{backlog.size} waiting in {backlog.flow}, "
                f"the oldest for {backlog.oldest_age_s:.0f} s (target {target_s:g} s)",
                now=now,
                retry_action="see the flow's loop in the log and its connector's exceptions; "
                "resolves itself when the oldest item is younger than the target",
            )
        resolve_exceptions(connection, BACKLOG_STALLED, within)
        retention = timedelta(seconds=slo.latency_retention_s)
        report.pruned = prune_latency(connection, config.stock_channels(), now - retention)
        return report

    return await in_transaction(engine, check)
