"""Magento's error bodies: `{"message": "...%1...", "parameters": [...]}` (or named `%fieldName`
placeholders with an object of parameters), with the HTTP status of the exception Magento raised."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

# Magento_Webapi's words for a token it does not know: the caller is a guest, and the ACL refuses.
UNAUTHORIZED = "The consumer isn't authorized to access %resources."
NO_SUCH_ENTITY = "No such entity with %fieldName = %fieldValue"
REQUESTED_ENTITY_MISSING = "The entity that was requested doesn't exist. Verify the entity and try again."
ROUTE_MISSING = "Request does not match any route."


class MagentoError(Exception):
    """An error answered to the client in Magento's error format."""

    def __init__(
        self,
        status: int,
        message: str,
        parameters: list[Any] | dict[str, Any] | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status}: {message} {parameters or ''}")
        self.status = status
        self.message = message
        self.parameters = parameters
        self.errors = errors
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.parameters is not None:
            body["parameters"] = self.parameters
        if self.errors is not None:
            body["errors"] = self.errors
        return body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def unauthorized(resource: str) -> MagentoError:
    return MagentoError(401, UNAUTHORIZED, {"resources": resource})


def no_such_entity(field: str, value: Any) -> MagentoError:
    return MagentoError(404, NO_SUCH_ENTITY, {"fieldName": field, "fieldValue": value})


def bad_request(message: str, parameters: list[Any] | dict[str, Any] | None = None) -> MagentoError:
    return MagentoError(400, message, parameters)
