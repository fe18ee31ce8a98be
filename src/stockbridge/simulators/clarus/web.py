"""Small HTTP helpers shared by the simulator's route modules."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .movements import ClarusError


def error_response(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": ClarusError(code, message, field).to_dict()}, status_code=status)


def refusal(exc: ClarusError) -> JSONResponse:
    return JSONResponse(exc.response_body(), status_code=exc.status)


async def json_body(request: Request, *, optional: bool = False) -> Any:
    raw = await request.body()
    if optional and not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ClarusError("invalid_json", "request body is not valid JSON", None, 400) from None


def json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ClarusError("invalid_body", "request body must be a JSON object", None, 400)
    return body


def query_int(request: Request, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= maximum:
        message = f"{name} must be an integer in {minimum}..{maximum}"
        raise ClarusError("invalid_parameter", message, name, 400)
    return value


def required_param(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise ClarusError("invalid_parameter", f"{name} is required", name, 400)
    return value
