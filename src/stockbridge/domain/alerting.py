"""Which alerts are due over the open exceptions, and how they are grouped into messages.

Pure: the store hands in the open exceptions with what was already alerted in their current episode,
and `now`; nothing here reads a clock or sends anything (docs/decisions/0027).

An *episode* of an exception runs from the raise that opened it to its resolution; a raise after
resolution starts the next one. Each episode gets at most one alert at each *level*: level 0 is the
first alert to the owner's route, level n ≥ 1 the n-th escalation to the escalation route. The
store enforces "at most once" with a key (exception, episode, level); these rules decide what is due.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class AlertKind(StrEnum):
    ALERT = "alert"  # one exception, first alert of its episode
    ESCALATION = "escalation"  # one exception, still open and unacknowledged past its time
    DIGEST = "digest"  # many exceptions of one owner in one message
    TEST = "test"  # `stockbridge alerts test`: proves a route works


@dataclass(frozen=True, slots=True)
class Channel:
    """Where a message goes: a Slack-compatible webhook (its URL is a secret, named by the
    environment variable holding it), e-mail recipients, or the hub's log."""

    kind: str  # slack | email | log
    url_env: str | None = None
    to: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        if self.kind == "slack":
            return f"slack:{self.url_env}"
        if self.kind == "email":
            return "email:" + ",".join(self.to)
        return self.kind


@dataclass(frozen=True, slots=True)
class TypeRule:
    """Per exception type: alert only once it was seen `min_count` times in its episode and has been
    open `min_age_s`; `mute` sends nothing; `escalate_after_s` overrides the owner's and the default."""

    min_count: int = 1
    min_age_s: float = 0.0
    severity: Severity = Severity.WARNING
    mute: bool = False
    escalate_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    rules: Mapping[str, TypeRule] = field(default_factory=dict)
    escalate_after_s: float | None = 3600.0  # None: never escalate
    owner_escalate_after_s: Mapping[str, float] = field(default_factory=dict)
    escalation_levels: int = 1
    digest_over: int = 5  # more new alerts than this for one owner and type in a run: one digest
    max_messages_per_owner: int = 10  # more messages than this for one owner in a run: one digest
    digest_lines: int = 20  # exceptions listed by name in a digest; the rest counted

    def rule(self, exception_type: str) -> TypeRule:
        return self.rules.get(exception_type, TypeRule())

    def escalate_after(self, exception_type: str, owner: str) -> float | None:
        by_type = self.rule(exception_type).escalate_after_s
        if by_type is not None:
            return by_type
        return self.owner_escalate_after_s.get(owner, self.escalate_after_s)


@dataclass(frozen=True, slots=True)
class OpenException:
    """An exception not resolved, as the rules see it."""

    id: int
    type: str
    entity: str
    owner: str
    acknowledged: bool
    episode: int
    opened_at: datetime  # when this episode began
    seen: int  # raises in this episode
    detail: str
    alerted_level: int | None = None  # highest level already alerted in this episode
    alerted_at: datetime | None = None  # when its level-0 alert was queued


@dataclass(frozen=True, slots=True)
class Due:
    exception: OpenException
    level: int  # 0: first alert; n: n-th escalation


def due_alerts(exceptions: Iterable[OpenException], policy: AlertPolicy, now: datetime) -> list[Due]:
    """The alerts due now, at most one per exception.

    - Level 0 when the episode has none yet, the exception is open (an acknowledged one has a person
      on it already), not muted, seen `min_count` times and open `min_age_s`.
    - Level n ≥ 1 when the exception is still open (not acknowledged) `n × escalate_after_s` after
      its level-0 alert, n ≤ `escalation_levels`, and level n was not alerted yet. A check that ran
      late sends the highest level due, once, not each level it missed.
    """
    due: list[Due] = []
    for exc in exceptions:
        rule = policy.rule(exc.type)
        if rule.mute or exc.acknowledged:
            continue
        if exc.alerted_level is None:
            if exc.seen >= rule.min_count and now - exc.opened_at >= timedelta(seconds=rule.min_age_s):
                due.append(Due(exc, 0))
            continue
        level = escalation_level(exc, policy, now)
        if level > exc.alerted_level:
            due.append(Due(exc, level))
    return due


def escalation_level(exc: OpenException, policy: AlertPolicy, now: datetime) -> int:
    """The escalation level an alerted exception has reached by `now` (0: none yet)."""
    after = policy.escalate_after(exc.type, exc.owner)
    if after is None or exc.alerted_at is None or policy.escalation_levels < 1:
        return 0
    waited = (now - exc.alerted_at).total_seconds()
    return min(policy.escalation_levels, int(waited // after)) if waited >= after else 0


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """One message for one owner's route (level 0) or the escalation route (level ≥ 1)."""

    kind: AlertKind
    owner: str
    level: int
    severity: Severity
    title: str
    lines: tuple[str, ...]
    exception_ids: tuple[int, ...]
    exception_type: str | None = None  # None: a digest over several types


def compose(due: Sequence[Due], policy: AlertPolicy) -> list[AlertMessage]:
    """Group the due alerts into messages (decision 0027).

    Per owner and level, each exception type with more than `digest_over` due alerts becomes one
    digest; the others one message each. If that still leaves more than `max_messages_per_owner`
    messages for one owner and level, they all become a single digest. Every due alert is in exactly
    one message.
    """
    by_owner: dict[tuple[str, int], list[Due]] = defaultdict(list)
    for item in due:
        by_owner[(item.exception.owner, item.level)].append(item)
    messages: list[AlertMessage] = []
    for (owner, level), items in sorted(by_owner.items()):
        by_type: dict[str, list[Due]] = defaultdict(list)
        for item in items:
            by_type[item.exception.type].append(item)
        mine: list[AlertMessage] = []
        for exception_type, group in sorted(by_type.items()):
            if len(group) > policy.digest_over:
                mine.append(_digest(owner, level, group, policy, exception_type))
            else:
                mine += [_single(item, policy) for item in group]
        if len(mine) > policy.max_messages_per_owner:
            mine = [_digest(owner, level, items, policy, None)]
        messages += mine
    return messages


def _severity(items: Iterable[Due], policy: AlertPolicy) -> Severity:
    worst = max((policy.rule(i.exception.type).severity for i in items), key=_RANK.__getitem__)
    return Severity.CRITICAL if any(i.level > 0 for i in items) else worst


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _single(item: Due, policy: AlertPolicy) -> AlertMessage:
    exc = item.exception
    severity = _severity([item], policy)
    lines = [
        exc.detail,
        f"owner {exc.owner}; open since {_stamp(exc.opened_at)}, seen {exc.seen} time(s)",
        f"exception {exc.id}: stockbridge exceptions show {exc.id}; "
        f"acknowledge with stockbridge exceptions ack {exc.id}",
    ]
    if item.level == 0:
        kind, title = AlertKind.ALERT, f"[{severity}] {exc.type}: {exc.entity}"
    else:
        kind = AlertKind.ESCALATION
        title = f"[{severity}] escalated (level {item.level}): {exc.type}: {exc.entity}, not acknowledged"
    return AlertMessage(kind, exc.owner, item.level, severity, title, tuple(lines), (exc.id,), exc.type)


def _digest(
    owner: str, level: int, items: Sequence[Due], policy: AlertPolicy, exception_type: str | None
) -> AlertMessage:
    severity = _severity(items, policy)
    ordered = sorted(items, key=lambda i: (i.exception.type, i.exception.entity))
    what = exception_type or "exceptions ({})".format(
        ", ".join(f"{t} {n}" for t, n in sorted(Counter(i.exception.type for i in items).items()))
    )
    if level == 0:
        title = f"[{severity}] {len(items)} new {what} for {owner}"
    else:
        title = f"[{severity}] escalated (level {level}): {len(items)} {what} of {owner}, not acknowledged"
    lines = [
        f"{i.exception.type}: {i.exception.entity} (exception {i.exception.id}): {i.exception.detail}"
        for i in ordered[: policy.digest_lines]
    ]
    if len(ordered) > policy.digest_lines:
        lines.append(f"... and {len(ordered) - policy.digest_lines} more")
    lines.append(f"all of them: stockbridge exceptions list --owner {owner}")
    ids = tuple(i.exception.id for i in ordered)
    return AlertMessage(AlertKind.DIGEST, owner, level, severity, title, tuple(lines), ids, exception_type)


def trial_message(owner: str) -> AlertMessage:
    return AlertMessage(
        AlertKind.TEST,
        owner,
        0,
        Severity.INFO,
        f"[info] test alert for {owner}",
        (f"stockbridge alerts test --owner {owner}: if you read this, {owner}'s alerts reach you.",),
        (),
    )


@dataclass(frozen=True, slots=True)
class Routes:
    """Owner → channels, for first alerts and for escalations, with their fallbacks."""

    alerts: Mapping[str, tuple[Channel, ...]]
    escalations: Mapping[str, tuple[Channel, ...]] = field(default_factory=dict)

    def for_owner(self, owner: str) -> tuple[Channel, ...]:
        found = self.alerts.get(owner)
        if found is None:
            found = self.alerts.get("default", (Channel("log"),))
        return found

    def for_message(self, message: AlertMessage) -> tuple[Channel, ...]:
        """Level 0 to the owner's route (else `default`, else the log); an escalation to the
        escalation route for the owner (else its `default`, else the owner's own route)."""
        if message.level == 0:
            return self.for_owner(message.owner)
        found = self.escalations.get(message.owner, self.escalations.get("default"))
        return found if found is not None else self.for_owner(message.owner)
