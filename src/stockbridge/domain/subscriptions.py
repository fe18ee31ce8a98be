"""The hub's webhook subscription at the warehouse: what to create and delete so that exactly one
subscription delivers every event type the flows fold to the hub's URL, signed with its secret. Pure.

Clarus returns a subscription's secret only when it is created, so the hub records the id it created
and a fingerprint of the secret it used: after the secret is rotated, the old subscription would sign
with the old one, and every delivery would be refused.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Subscription:
    id: str
    url: str
    events: frozenset[str]


@dataclass(frozen=True)
class Registration:
    """What the hub recorded when it last created (or adopted) its subscription."""

    id: str
    url: str
    fingerprint: str


@dataclass(frozen=True)
class SubscriptionPlan:
    keep: str | None  # the subscription that stays, if one already does the job
    create: bool
    delete: tuple[str, ...]
    reasons: tuple[str, ...]  # why anything changes, for the log and the exception detail

    @property
    def changes(self) -> bool:
        return self.create or bool(self.delete)


def fingerprint(secret: str) -> str:
    """Identifies a secret without revealing it (HMAC of a fixed label, keyed by the secret)."""
    return hmac.new(secret.encode(), b"stockbridge webhook subscription", hashlib.sha256).hexdigest()[:16]


def plan_subscription(
    existing: Sequence[Subscription],
    recorded: Registration | None,
    url: str,
    events: frozenset[str],
    secret_fingerprint: str,
) -> SubscriptionPlan:
    """One subscription at `url` for (at least) `events`, made with the current secret.

    Every other subscription at `url` is a duplicate and goes (it would deliver twice); the one the hub
    recorded goes too once it points elsewhere (`hub.public_url` changed) or was made with another
    secret. A subscription at `url` the hub did not record (made by hand, or before the record was
    kept) is adopted: its secret cannot be read back, so it is trusted to be the configured one.
    """
    by_id = {s.id: s for s in existing}
    mine = recorded if recorded is not None and recorded.id in by_id else None
    reasons: list[str] = []
    if recorded is not None and mine is None:
        reasons.append(f"{recorded.id} no longer exists")
    stale_secret = mine is not None and mine.fingerprint != secret_fingerprint
    if stale_secret:
        reasons.append("the webhook secret changed since it was registered")
    at_url = [s for s in existing if s.url == url]
    # After a rotation none of them can be trusted: the one made now is the only one known good.
    usable = [] if stale_secret else [s for s in at_url if events <= s.events]
    keep = None
    if usable:
        preferred = [s for s in usable if mine is not None and s.id == mine.id]
        keep = (preferred or usable)[0].id
    elif at_url and not stale_secret:
        reasons.append(f"no subscription at {url} delivers {', '.join(sorted(events))}")
    elif not at_url:
        reasons.append(f"no subscription at {url}")
    delete = [s.id for s in at_url if s.id != keep]
    if mine is not None and mine.id != keep and mine.id not in delete:
        delete.append(mine.id)
        if by_id[mine.id].url != url:
            reasons.append(f"{mine.id} points at {by_id[mine.id].url}")
    if len(at_url) > 1 and keep is not None:
        reasons.append(f"{len(at_url)} subscriptions at {url}")
    return SubscriptionPlan(keep, keep is None, tuple(delete), tuple(reasons))
