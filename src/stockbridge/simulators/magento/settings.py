"""Start-up settings of the Magento simulator (faults and limits can change at run time via /_control)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class MagentoSettings:
    # Integration access tokens (System > Extensions > Integrations > Activate) the store accepts.
    tokens: list[str] = field(default_factory=lambda: ["magento-integration-token"])
    # Store view codes served under /rest/<code>/V1 besides /rest/V1 (default) and /rest/all/V1.
    store_codes: list[str] = field(default_factory=lambda: ["default"])
    # MSI sources that exist from the start ("default" is Magento's own single source).
    sources: list[str] = field(default_factory=lambda: ["default"])
    # The host's rate limit in front of Magento (Fastly, a WAF): None = no limit (Magento has none).
    calls_per_second: float | None = None
    # searchCriteria[pageSize] ceiling (2.4.7+ `webapi/validation/maximum_page_size`, 300 when the input
    # limit is on); None = no ceiling, as before 2.4.7 or with the limit off.
    max_page_size: int | None = None
    fail_rate: float = 0.0  # 503 before anything runs
    fail_after_commit_rate: float = 0.0  # runs (a write applies), then a 502: the caller cannot tell
    latency_ms: float = 0.0  # every call waits this long first
    outage: bool = False  # every call is a 503
    seed: int = 0
    clock: Callable[[], datetime] = utc_now  # created_at / updated_at stamps (inject for tests)
