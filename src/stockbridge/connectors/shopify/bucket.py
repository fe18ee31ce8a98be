"""Shopify's calculated-cost leaky bucket, as the client sees it. Pure arithmetic, clock passed in.

Every GraphQL answer carries `extensions.cost.throttleStatus` = {maximumAvailable, currentlyAvailable,
restoreRate} (https://shopify.dev/docs/api/usage/limits): the bucket refills continuously at
`restoreRate` points per second up to `maximumAvailable`, and a query runs only when the bucket holds
its requested cost. The client keeps a local image of the bucket: it reserves each call's expected
cost before sending (so concurrent calls do not all spend the same points), replaces its image with
the server's report after each answer, and waits exactly as long as the image needs to refill.

A separable strategy: the REST base (issue 9 part 2) can take it as its rate-limit strategy.
"""

from __future__ import annotations

from dataclasses import dataclass

# Until the first answer says otherwise: the Standard plan's figures (../shared/reference/shopify.md).
DEFAULT_MAXIMUM = 1000.0
DEFAULT_RESTORE_RATE = 100.0
# Points short that count as none: a clock's float arithmetic leaves crumbs a wait cannot remove.
_EPSILON = 1e-6


@dataclass
class CostBucket:
    maximum: float = DEFAULT_MAXIMUM
    available: float = DEFAULT_MAXIMUM
    restore_rate: float = DEFAULT_RESTORE_RATE
    as_of: float = 0.0  # clock time of `available`
    in_flight: float = 0.0  # points reserved by calls sent but not yet answered

    def level(self, now: float) -> float:
        """Points in the bucket now (what calls in flight reserved already taken out)."""
        refilled = self.available + max(0.0, now - self.as_of) * self.restore_rate
        return min(self.maximum, refilled)

    def wait_for(self, cost: float, now: float) -> float:
        """Seconds until a call of `cost` points could start (0.0: now). A cost above the bucket's
        size waits for a full bucket (Shopify refuses it with MAX_COST_EXCEEDED, which is not ours
        to predict)."""
        needed = min(cost, self.maximum) - self.level(now)
        if needed <= _EPSILON:
            return 0.0
        return needed / self.restore_rate if self.restore_rate > 0 else float("inf")

    def reserve(self, cost: float, now: float) -> None:
        """Take `cost` points for a call about to be sent."""
        self.available = self.level(now) - cost
        self.as_of = now
        self.in_flight += cost

    def release(self, cost: float) -> None:
        """The call that reserved `cost` was answered (or failed): its reservation ends."""
        self.in_flight = max(0.0, self.in_flight - cost)

    def observe(self, maximum: float, currently_available: float, restore_rate: float, now: float) -> None:
        """The server's report after an answer. Calls still in flight have not been charged in it
        yet, so their reservations stay deducted."""
        self.maximum = maximum
        self.restore_rate = restore_rate
        self.available = min(maximum, currently_available) - self.in_flight
        self.as_of = now
