"""`POST /admin/api/{version}/graphql.json`: auth, parsing, validation, cost, the bucket, execution."""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import TYPE_CHECKING, Any

from graphql import (
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .cost import CostModel
from .resolvers import MutationRoot, QueryRoot, RequestContext
from .settings import SUPPORTED_VERSIONS

if TYPE_CHECKING:
    from .app import ShopifySimulator

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
RATE_LIMITS_DOC = "https://shopify.dev/api/usage/rate-limits"


def _errors(errors: list[GraphQLError]) -> list[dict[str, Any]]:
    return [dict(error.formatted) for error in errors]


async def _request_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/graphql"):
        return {"query": raw.decode()}
    body = json.loads(raw or b"null")
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


async def graphql_endpoint(request: Request) -> Response:
    sim: ShopifySimulator = request.app.state.simulator
    version = request.path_params["version"]
    if version not in SUPPORTED_VERSIONS:
        return JSONResponse({"errors": "Not Found"}, status_code=404)
    token = request.headers.get("x-shopify-access-token", "")
    if not hmac.compare_digest(token.encode(), sim.settings.access_token.encode()):
        sim.stats.unauthorized += 1
        return JSONResponse({"errors": INVALID_TOKEN}, status_code=401)
    try:
        body = await _request_body(request)
        query = body.get("query")
        if not isinstance(query, str):
            raise ValueError("a query is required")
        variables = body.get("variables") or {}
        document = parse(query)
    except (ValueError, GraphQLError) as error:
        message = error.message if isinstance(error, GraphQLError) else str(error)
        return JSONResponse({"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]})
    validation = validate(sim.schema, document)
    if validation:
        return JSONResponse({"errors": _errors(validation)})
    operation = get_operation_ast(document, body.get("operationName"))
    if operation is None:
        return JSONResponse({"errors": [{"message": "An operation name is required"}]})
    faults = sim.api_faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if sim.fail_before():
        sim.stats.failed_injected += 1
        return JSONResponse({"errors": "Service Unavailable"}, status_code=503, headers={"Retry-After": "1"})
    answer = sim.run(document, operation, variables, version)
    if sim.fail_after():  # it ran (a mutation applied); the caller only sees a gateway error
        sim.stats.failed_injected += 1
        return JSONResponse({"errors": "Bad Gateway"}, status_code=502)
    return JSONResponse(answer)


def run_operation(
    sim: ShopifySimulator,
    document: Any,
    operation: OperationDefinitionNode,
    variables: dict[str, Any],
    version: str,
) -> dict[str, Any]:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    model = CostModel(sim.schema, fragments, variables, sim.settings.mutation_cost)
    requested = model.requested(operation)
    fields = [f.name.value for f in model.fields(operation.selection_set)]
    sim.stats.record_call(fields)
    bucket = sim.bucket
    if requested > bucket.size:
        sim.stats.refused += 1
        message = f"Query cost is {requested}, which exceeds the single query max cost limit ({bucket.size})."
        error = {
            "message": message,
            "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": bucket.size},
        }
        return {"errors": [error], "extensions": _cost(requested, None, bucket.status())}
    if not bucket.take(requested):
        sim.stats.record_throttled(fields)
        throttled = {
            "message": "Throttled",
            "extensions": {"code": "THROTTLED", "documentation": RATE_LIMITS_DOC},
        }
        return {"errors": [throttled], "extensions": _cost(requested, None, bucket.status())}
    root: QueryRoot | MutationRoot = (
        MutationRoot(sim) if operation.operation.value == "mutation" else QueryRoot(sim)
    )
    result = execute(
        sim.schema,
        document,
        root_value=root,
        context_value=RequestContext(sim, version),
        variable_values=variables,
        operation_name=operation.name.value if operation.name else None,
    )
    assert isinstance(result, ExecutionResult)
    actual = model.actual(operation, result.data) if result.data is not None else 0
    bucket.refund(requested - actual)
    sim.stats.record_cost(actual)
    response: dict[str, Any] = {}
    if result.errors:
        response["errors"] = _errors(list(result.errors))
    response["data"] = result.data
    response["extensions"] = _cost(requested, actual, bucket.status())
    return response


def _cost(requested: int, actual: int | None, status: dict[str, float]) -> dict[str, Any]:
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": status}}
