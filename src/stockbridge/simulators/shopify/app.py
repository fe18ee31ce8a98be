"""The simulated store: state, the cost bucket, call statistics, and the GraphQL entry point."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from graphql import DocumentNode, OperationDefinitionNode

from . import payloads
from .cost import LeakyBucket
from .graphql_api import run_operation
from .inventory import InventorySetter
from .order_mutations import OrderMutations
from .order_views import OrderQueries
from .orders import OrderBook
from .schema import build
from .settings import ApiFaults, ShopifySettings
from .state import Catalog
from .webhooks import WebhookSender

SCHEMA = build()


@dataclass
class Stats:
    calls: int = 0
    cost_spent: int = 0
    throttled: int = 0
    refused: int = 0  # over the single-query maximum
    unauthorized: int = 0
    failed_injected: int = 0  # 503s and 502s the API faults answered
    # inventorySetQuantities calls under an idempotency key already used: the same push sent again
    # (answered with the first result, applied once). Benchmarks count doubles here.
    idempotent_replays: int = 0
    per_operation: Counter[str] = field(default_factory=Counter)
    throttled_per_operation: Counter[str] = field(default_factory=Counter)
    cost_per_operation: Counter[str] = field(default_factory=Counter)  # actual points, by root fields

    def record_call(self, fields: list[str]) -> None:
        self.calls += 1
        self.per_operation.update(fields)

    def record_throttled(self, fields: list[str]) -> None:
        self.throttled += 1
        self.throttled_per_operation.update(fields)

    def record_cost(self, fields: list[str], actual: int) -> None:
        self.cost_spent += actual
        self.cost_per_operation["+".join(fields)] += actual

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "cost_spent": self.cost_spent,
            "throttled": self.throttled,
            "refused": self.refused,
            "unauthorized": self.unauthorized,
            "failed_injected": self.failed_injected,
            "idempotent_replays": self.idempotent_replays,
            "per_operation": dict(self.per_operation),
            "throttled_per_operation": dict(self.throttled_per_operation),
            "cost_per_operation": dict(self.cost_per_operation),
        }


class ShopifySimulator:
    def __init__(self, settings: ShopifySettings) -> None:
        self.settings = settings
        self.schema = SCHEMA
        self.webhooks = WebhookSender(settings)
        self.reset()

    def reset(self) -> None:
        """Everything back to the start-up settings: empty store, full bucket, no subscriptions."""
        s = self.settings
        self.catalog = Catalog(s.clock)
        self.catalog.on_change = lambda level: self.webhooks.send(
            "inventory_levels/update", payloads.level(level)
        )
        self.setter = InventorySetter(self.catalog)
        self.orders = OrderBook(self.catalog, self.webhooks)
        self.order_queries = OrderQueries(self.orders)
        self.order_mutations = OrderMutations(self.orders, self.webhooks)
        self.bucket = LeakyBucket(s.bucket_size, s.restore_rate, lambda: s.clock().timestamp())
        self.max_quantities = s.max_quantities_per_call
        self.stats = Stats()
        self.webhooks.reset()
        self.configure_api_faults(asdict(s.api_faults))

    def configure_api_faults(self, values: dict[str, Any]) -> None:
        current = asdict(getattr(self, "api_faults", self.settings.api_faults))
        unknown = set(values) - set(current)
        if unknown:
            raise ValueError(f"unknown API faults: {sorted(unknown)}")
        self.api_faults = ApiFaults(**{**current, **values})
        self.api_rng = random.Random(self.api_faults.seed)

    def fail_before(self) -> bool:
        return self.api_faults.outage or self.api_rng.random() < self.api_faults.fail_rate

    def fail_after(self) -> bool:
        return self.api_rng.random() < self.api_faults.fail_after_commit_rate

    def run(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: dict[str, Any],
        version: str,
    ) -> dict[str, Any]:
        return run_operation(self, document, operation, variables, version)
