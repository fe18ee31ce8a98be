"""The Shopify simulator's calculated query cost and leaky bucket, without HTTP."""

from __future__ import annotations

from typing import Any

from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse
from hypothesis import given
from hypothesis import strategies as st

from stockbridge.simulators.shopify.cost import CostModel, LeakyBucket
from stockbridge.simulators.shopify.schema import build

SCHEMA = build()


def _model(query: str, variables: dict[str, Any] | None = None) -> tuple[CostModel, OperationDefinitionNode]:
    document = parse(query)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return CostModel(SCHEMA, fragments, variables or {}), operation


def test_scalars_are_free_objects_cost_one() -> None:
    model, operation = _model("{ shop { name myshopifyDomain } }")
    assert model.requested(operation) == 1


def test_a_connection_costs_two_plus_first_times_each_node() -> None:
    query = "{ productVariants(first: 10) { edges { node { sku inventoryItem { id } } } } }"
    model, operation = _model(query)
    assert model.requested(operation) == 2 + 10 * (1 + 1)


def test_first_may_come_from_a_variable_and_fragments_count() -> None:
    query = """
    query Q($n: Int) { productVariants(first: $n) { nodes { ...V } pageInfo { hasNextPage } } }
    fragment V on ProductVariant { inventoryItem { inventoryLevel(locationId: "x") { id } } }
    """
    model, operation = _model(query, {"n": 3})
    assert model.requested(operation) == 2 + 3 * (1 + 2)


def test_the_actual_cost_counts_the_nodes_returned() -> None:
    model, operation = _model("{ productVariants(first: 10) { nodes { sku inventoryItem { id } } } }")
    data = {"productVariants": {"nodes": [{"sku": "A", "inventoryItem": {"id": "1"}}]}}
    assert model.actual(operation, data) == 2 + 1 * (1 + 1)


def test_a_mutation_costs_ten() -> None:
    query = (
        'mutation { inventorySetQuantities(input: {name: "available", reason: "correction", quantities: []})'
        " { userErrors { code } } }"
    )
    model, operation = _model(query)
    assert model.requested(operation) == 10 == model.actual(operation, {})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_refuses_what_it_does_not_hold_and_refills_at_its_rate() -> None:
    clock = Clock()
    bucket = LeakyBucket(100, 10.0, clock)
    assert bucket.take(95)
    assert not bucket.take(10)  # 5 left: refused, nothing charged
    assert bucket.status()["currentlyAvailable"] == 5.0
    clock.now = 0.5
    assert bucket.take(10)
    clock.now = 1000.0
    assert bucket.available() == 100.0  # never past its size


def test_a_refund_gives_back_what_was_charged_but_not_used() -> None:
    bucket = LeakyBucket(100, 10.0, Clock())
    assert bucket.take(60)
    bucket.refund(50)
    assert bucket.available() == 90.0


@given(st.lists(st.tuples(st.integers(0, 200), st.floats(0, 5)), max_size=40))
def test_the_bucket_never_goes_below_zero_or_above_its_size(steps: list[tuple[int, float]]) -> None:
    clock = Clock()
    bucket = LeakyBucket(100, 10.0, clock)
    for cost, wait in steps:
        clock.now += wait
        bucket.take(cost)
        assert 0.0 <= bucket.available() <= 100.0
