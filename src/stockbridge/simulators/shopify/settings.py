"""Start-up settings of the Shopify simulator (faults and limits can change at run time via /_control)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Quarterly versions the simulator answers; any other version in the path is a 404.
SUPPORTED_VERSIONS = ("2025-07", "2025-10", "2026-01", "2026-04", "2026-07", "2026-10")
STRICT_FROM = "2026-04"  # changeFromQuantity and @idempotent are mandatory from this version on


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class WebhookFaults:
    """Delivery faults, each drawn from one seeded RNG (so a run can be replayed)."""

    duplicate_rate: float = 0.0  # the same delivery (same webhook id) sent twice
    reorder_rate: float = 0.0  # held back and sent after the next one
    loss_rate: float = 0.0  # never sent (the hub must catch up by `updated_at`)
    delay_ms: float = 0.0  # every delivery waits this long first
    seed: int = 0


@dataclass
class ApiFaults:
    """Faults of the GraphQL endpoint itself, from their own seeded RNG."""

    fail_rate: float = 0.0  # 503 before anything runs
    fail_after_commit_rate: float = 0.0  # runs (a mutation applies), then a 502: the caller cannot tell
    latency_ms: float = 0.0  # every call waits this long first
    outage: bool = False  # every call is a 503
    seed: int = 0


@dataclass
class ShopifySettings:
    access_token: str = "shpat_test"
    api_secret: str = "shopify-secret"  # the app's client secret: signs webhooks
    shop_domain: str = "stockbridge-test.myshopify.com"
    shop_name: str = "Stockbridge Test Store"
    bucket_size: int = 1000  # points (standard plan)
    restore_rate: float = 100.0  # points per second (standard plan)
    max_quantities_per_call: int = 250  # UNCONFIRMED in Shopify's docs; kept configurable
    mutation_cost: int = 10
    webhook_timeout_s: float = 5.0  # Shopify's: answer within 5 s or it retries
    webhook_retry_delays_s: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
    faults: WebhookFaults = field(default_factory=WebhookFaults)
    api_faults: ApiFaults = field(default_factory=ApiFaults)
    clock: Callable[[], datetime] = utc_now  # stamps and the leaky bucket (inject for tests)
