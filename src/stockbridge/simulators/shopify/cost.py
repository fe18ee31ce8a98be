"""Shopify's calculated query cost and its leaky bucket (pure: the clock is passed in).

Cost, after Shopify's rate-limit docs: a scalar or enum field costs 0, an object 1, a connection
`2 + first × (1 + what each node selects)`, a mutation field 10 (its payload is not charged again).
The *requested* cost is charged before the query runs; the *actual* cost counts the nodes really
returned, and the difference is given back to the bucket.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    value_from_ast_untyped,
)

CONNECTION_BASE = 2


@dataclass
class CostModel:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    mutation_cost: int = 10

    def requested(self, operation: OperationDefinitionNode) -> int:
        root = (
            self.schema.mutation_type if operation.operation.value == "mutation" else self.schema.query_type
        )
        assert root is not None
        if operation.operation.value == "mutation":
            return self.mutation_cost * len(self.fields(operation.selection_set))
        return self._selection_cost(operation.selection_set, root, None)

    def actual(self, operation: OperationDefinitionNode, data: Mapping[str, Any] | None) -> int:
        if operation.operation.value == "mutation":
            return self.mutation_cost * len(self.fields(operation.selection_set))
        root = self.schema.query_type
        assert root is not None
        return self._selection_cost(operation.selection_set, root, data or {})

    # --- walking ---------------------------------------------------------------------------------
    def fields(self, selection_set: SelectionSetNode | None) -> list[FieldNode]:
        """The fields of a selection set, fragments spread in."""
        fields: list[FieldNode] = []
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                fields.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                fields.extend(self.fields(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value in self.fragments:
                fields.extend(self.fields(self.fragments[selection.name.value].selection_set))
        return fields

    def _argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                return value_from_ast_untyped(argument.value, dict(self.variables))
        return None

    def _selection_cost(
        self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType, data: Mapping[str, Any] | None
    ) -> int:
        """Cost of a selection on `parent`; with `data` (the result) the actual cost, else the requested."""
        if not isinstance(parent, GraphQLObjectType):
            return 0
        total = 0
        for node in self.fields(selection_set):
            definition = parent.fields.get(node.name.value)
            if definition is None or node.selection_set is None:
                continue  # scalars and enums are free; unknown fields were refused by validation
            child = get_named_type(definition.type)
            key = node.alias.value if node.alias else node.name.value
            value = None if data is None else data.get(key)
            if data is not None and value is None:
                continue  # nothing returned, nothing charged
            if child.name.endswith("Connection") and isinstance(child, GraphQLObjectType):
                total += self._connection_cost(node, child, value)
            elif isinstance(value, list):  # a plain list is charged like one object, as requested
                total += 1 + max(
                    (self._selection_cost(node.selection_set, child, v) for v in value), default=0
                )
            else:
                total += 1 + self._selection_cost(node.selection_set, child, value)
        return total

    def _connection_cost(self, node: FieldNode, connection: GraphQLObjectType, value: Any) -> int:
        node_type = get_named_type(connection.fields["nodes"].type) if "nodes" in connection.fields else None
        if node_type is None:
            return CONNECTION_BASE
        per_node: list[tuple[SelectionSetNode | None, str, bool]] = []
        for field in self.fields(node.selection_set):
            if field.name.value == "nodes":
                per_node.append((field.selection_set, field.alias.value if field.alias else "nodes", False))
            elif field.name.value == "edges":
                for inner in self.fields(field.selection_set):
                    if inner.name.value == "node":
                        edges_key = field.alias.value if field.alias else "edges"
                        per_node.append((inner.selection_set, edges_key, True))
        if value is None:  # requested: sized by `first`
            first = self._argument(node, "first") or self._argument(node, "last") or 0
            each = max((self._selection_cost(s, node_type, None) for s, _, _ in per_node), default=0)
            return CONNECTION_BASE + int(first) * (1 + each)
        costs: list[int] = []
        for selection, key, via_edges in per_node:
            rows = value.get(key) or []
            nodes = [row.get("node") or {} for row in rows] if via_edges else rows
            costs.append(sum(1 + self._selection_cost(selection, node_type, n) for n in nodes))
        return CONNECTION_BASE + max(costs, default=0)


class LeakyBucket:
    """Points available to one app: drains by cost, refills at `restore_rate` up to `size`."""

    def __init__(self, size: int, restore_rate: float, clock: Callable[[], float]) -> None:
        self.size, self.restore_rate, self.clock = size, restore_rate, clock
        self._level = float(size)
        self._at = clock()

    def available(self) -> float:
        now = self.clock()
        self._level = min(float(self.size), self._level + (now - self._at) * self.restore_rate)
        self._at = now
        return self._level

    def take(self, cost: int) -> bool:
        """Charge `cost` if the bucket holds it; False (nothing charged) when it does not."""
        if cost > self.available() + 1e-6:  # float time arithmetic must not refuse an exact fit
            return False
        self._level -= cost
        return True

    def refund(self, points: int) -> None:
        self._level = min(float(self.size), self.available() + points)

    def configure(self, size: int, restore_rate: float) -> None:
        self.available()
        self.size, self.restore_rate = size, restore_rate
        self._level = min(self._level, float(size))

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": float(self.size),
            "currentlyAvailable": float(int(self.available())),
            "restoreRate": float(self.restore_rate),
        }
