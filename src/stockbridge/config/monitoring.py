"""Watching the hub: drift, connector health, latency and backlog targets, alerts and their routes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from stockbridge.config.base import _Frozen
from stockbridge.config.operations import (
    Owners,
)
from stockbridge.domain.alerting import AlertPolicy, Channel, Routes, Severity, TypeRule
from stockbridge.domain.drift import DriftRule


class DriftChannel(_Frozen):
    """One channel's drift settings; a key left out takes the `drift:` section's value."""

    tolerance_units: Annotated[int, Field(ge=0)] | None = None
    grace_s: Annotated[float, Field(ge=0)] | None = None
    escalate_after_repairs: Annotated[int, Field(gt=0)] | None = None
    escalate_after_s: Annotated[float, Field(gt=0)] | None = None
    sample_size: Annotated[int, Field(gt=0)] | None = None


class DriftSettings(_Frozen):
    """The drift check (monitor/drift.py, docs/decisions/0025): every `schedules.drift_check_s` each
    channel's figures are read back and compared with the warehouse's and the hub's last push."""

    # Units a channel may differ from the warehouse before it counts as drift.
    tolerance_units: Annotated[int, Field(ge=0)] = 0
    # How long a drift must last (seen by two runs this far apart) before it is an exception and repaired.
    grace_s: Annotated[float, Field(ge=0)] = 0.0
    # Still drifted after this many repairs, or this long after it became an exception: drift_unrepaired.
    escalate_after_repairs: Annotated[int, Field(gt=0)] = 3
    escalate_after_s: Annotated[float, Field(gt=0)] = 3600.0
    # (SKU, location) pairs read back per channel per run, moving on each run (a cursor in the
    # database) so every one is read within ceil(catalogue / sample_size) runs; unset: all every run.
    sample_size: Annotated[int, Field(gt=0)] | None = None
    channels: dict[str, DriftChannel] = {}

    def rule(self, channel: str) -> DriftRule:
        own = self.channels.get(channel, DriftChannel()).model_dump(exclude_none=True)
        base = self.model_dump(exclude={"channels"})
        return DriftRule(**{**base, **own})


class ConnectorHealthSettings(_Frozen):
    """Circuit state, error rate and throttling per connector (monitor/connector_health.py)."""

    # Consecutive failed calls (a push cycle, a scheduled job) that open the circuit: connector_failing.
    open_after_failures: Annotated[int, Field(gt=0)] = 3
    # After it was open, the first success makes it half-open; this long without a failure closes it
    # and resolves connector_failing (a failure meanwhile opens it again).
    close_after_s: Annotated[float, Field(ge=0)] = 15.0
    # The window over which each connector's error rate and throttled share are measured.
    window_s: Annotated[float, Field(gt=0)] = 300.0
    # connector_throttled opens when at least this share of a connector's calls in the window were
    # throttled (429, Retry-After, Shopify THROTTLED) continuously for `throttled_for_s`...
    throttled_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    throttled_for_s: Annotated[float, Field(ge=0)] = 300.0
    # ...and the window holds at least this many calls (a few calls say nothing).
    min_calls: Annotated[int, Field(ge=1)] = 10


class LatencyTarget(_Frozen):
    """Movement → acknowledged by the channel, in milliseconds, at two percentiles."""

    p95: Annotated[float, Field(gt=0)] = 5_000.0
    p99: Annotated[float, Field(gt=0)] = 30_000.0

    @model_validator(mode="after")
    def _p99_not_below_p95(self) -> LatencyTarget:
        if self.p99 < self.p95:
            raise ValueError(f"p99 ({self.p99}) is below p95 ({self.p95})")
        return self


# Flows whose backlog the hub measures (monitor/backlog.py); a flow's name is its family, or its
# family, a dot and what it is split by (an inbox kind, a channel, a fulfilment command).
BACKLOG_FAMILIES = frozenset(
    {
        "inbox",
        "targets",
        "stock_batches",
        "order_commands",
        "storefront_order_commands",
        "storefront_order_rereads",
        "fulfilment_commands",
        "notifications",
        "held_orders",
        "parked_shipments",
        "alerts",
        "finance_batches",
    }
)
# Work that waits for a person or for another system's order, not for the hub: it has its own
# exceptions (order_held_too_long, fulfilment_waiting_for_order), so `backlog_age_s.default` does not
# apply to it; name it (or one of its flows) under backlog_age_s to check it too.
WAITING_FAMILIES = frozenset({"held_orders", "parked_shipments"})


class SloSettings(_Frozen):
    """Service-level targets checked every `schedules.slo_check_s` (monitor/slo.py, decision 0026)."""

    window_s: Annotated[float, Field(gt=0)] = 900.0  # latency percentiles over acks this recent
    # Per stock channel, else `default`.
    latency_ms: dict[str, LatencyTarget] = {"default": LatencyTarget()}
    # Oldest item a flow may hold, in seconds: per flow (`targets.shopify`), else per family
    # (`targets`), else `default`; null turns the check off for that flow or family.
    backlog_age_s: dict[str, Annotated[float, Field(gt=0)] | None] = {"default": 600.0}
    # Owner team per channel or flow (then family) for latency_slo and backlog_stalled; else `owners:`.
    owners: dict[str, str] = {}
    # Latency samples older than this are deleted (the weekly report reads a week of them).
    latency_retention_s: Annotated[float, Field(gt=0)] = 8 * 86400.0

    @field_validator("latency_ms")
    @classmethod
    def _latency_default(cls, targets: dict[str, LatencyTarget]) -> dict[str, LatencyTarget]:
        return {"default": LatencyTarget(), **targets}

    @field_validator("backlog_age_s")
    @classmethod
    def _known_flows(cls, ages: dict[str, float | None]) -> dict[str, float | None]:
        for name in ages:
            if name != "default" and name.split(".", 1)[0] not in BACKLOG_FAMILIES:
                raise ValueError(
                    f"backlog_age_s.{name}: no such flow; a flow is one of {sorted(BACKLOG_FAMILIES)}, "
                    "optionally followed by a dot and its part (targets.ims, inbox.inventory.movement)"
                )
        return {"default": 600.0, **ages}

    def latency_target(self, channel: str) -> LatencyTarget:
        return self.latency_ms.get(channel) or self.latency_ms["default"]

    def backlog_age_target(self, flow: str) -> float | None:
        """Seconds the oldest item of `flow` may wait, or None when the flow is not checked."""
        family = flow.split(".", 1)[0]
        for key in (flow, family):
            if key in self.backlog_age_s:
                return self.backlog_age_s[key]
        return None if family in WAITING_FAMILIES else self.backlog_age_s["default"]

    def owner_of(self, name: str, exception_type: str, owners: Owners) -> str:
        """The team for `exception_type` about a channel or flow `name`."""
        for key in (name, name.split(".", 1)[0]):
            if key in self.owners:
                return self.owners[key]
        return owners.owner_of(exception_type)


class AlertChannel(_Frozen):
    """One channel of a route: `slack` (a Slack-compatible incoming webhook whose URL is read from
    the environment variable `url_env`: the URL is the secret), `email` (to `to`, over `alerts.smtp`)
    or `log`."""

    kind: Literal["slack", "email", "log"]
    url_env: str | None = None
    to: list[str] = []

    @model_validator(mode="after")
    def _complete(self) -> AlertChannel:
        if self.kind == "slack" and not self.url_env:
            raise ValueError("a slack channel needs url_env (the environment variable holding its URL)")
        if self.kind == "email" and not self.to:
            raise ValueError("an email channel needs to: (one or more addresses)")
        return self

    def channel(self) -> Channel:
        return Channel(self.kind, self.url_env, tuple(self.to))


AlertRoute = list[AlertChannel]


class AlertRule(_Frozen):
    """Per exception type (docs/decisions/0027)."""

    min_count: Annotated[int, Field(ge=1)] = 1  # raises in this episode before the first alert
    min_age_s: Annotated[float, Field(ge=0)] = 0.0  # open this long before the first alert
    severity: Severity = Severity.WARNING
    mute: bool = False  # never alert (nor escalate) this type
    escalate_after_s: Annotated[float | None, Field(gt=0)] = None  # overrides owner and default


class AlertSmtp(_Frozen):
    """The mail server alerts are sent through (plain SMTP, as the customer notices)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    host: str = "127.0.0.1"
    port: Annotated[int, Field(gt=0, le=65535)] = 25
    sender: str = Field("stockbridge@example.com", alias="from")
    # Longest one e-mail may take, whole; below engine.lease_s.
    timeout_s: Annotated[float, Field(gt=0)] = 10.0


class EscalationSettings(_Frozen):
    # Owner -> channels for escalations ("default" for the rest); an owner with neither escalates
    # to its own alert route.
    routes: dict[str, AlertRoute] = {}
    levels: Annotated[int, Field(ge=1, le=10)] = 1  # level n is due n x escalate_after_s after the alert


class AlertSettings(_Frozen):
    """Alerts over open exceptions: routed by owner, de-duplicated, escalated (docs/decisions/0027)."""

    # Owner (team) -> channels; "default" for owners without a route of their own.
    routes: dict[str, AlertRoute] = {"default": [AlertChannel(kind="log")]}
    escalate_after_s: Annotated[float | None, Field(gt=0)] = 3600.0  # null: never escalate
    owner_escalate_after_s: dict[str, Annotated[float, Field(gt=0)]] = {}
    escalation: EscalationSettings = EscalationSettings()
    rules: dict[str, AlertRule] = {}  # exception type -> rule
    digest_over: Annotated[int, Field(ge=1)] = 5
    max_messages_per_owner: Annotated[int, Field(ge=1)] = 10
    digest_lines: Annotated[int, Field(ge=1, le=200)] = 20
    webhook_timeout_s: Annotated[float, Field(gt=0)] = 10.0  # longest one Slack post may take, whole
    smtp: AlertSmtp = AlertSmtp()

    def policy(self) -> AlertPolicy:
        rules = {
            name: TypeRule(r.min_count, r.min_age_s, r.severity, r.mute, r.escalate_after_s)
            for name, r in self.rules.items()
        }
        return AlertPolicy(
            rules=rules,
            escalate_after_s=self.escalate_after_s,
            owner_escalate_after_s=dict(self.owner_escalate_after_s),
            escalation_levels=self.escalation.levels,
            digest_over=self.digest_over,
            max_messages_per_owner=self.max_messages_per_owner,
            digest_lines=self.digest_lines,
        )

    def routes_of(self) -> Routes:
        return Routes(
            {o: tuple(c.channel() for c in cs) for o, cs in self.routes.items()},
            {o: tuple(c.channel() for c in cs) for o, cs in self.escalation.routes.items()},
        )

    def secret_envs(self) -> dict[str, str]:
        """Config key -> environment variable of each Slack webhook URL."""
        found: dict[str, str] = {}
        for prefix, routes in (
            ("alerts.routes", self.routes),
            ("alerts.escalation.routes", self.escalation.routes),
        ):
            for owner, channels in routes.items():
                for i, c in enumerate(channels):
                    if c.url_env:
                        found[f"{prefix}.{owner}.{i}.url_env"] = c.url_env
        return found
