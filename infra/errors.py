"""The project's error hierarchy: every error a client can cause has a stable code."""

from __future__ import annotations

from typing import Any

# The shared error body in the OpenAPI document (infra/openapi.py defines it).
ERROR_RESPONSE_REF = "#/components/schemas/ErrorResponse"


class SmartGoError(Exception):
    """Base of every domain error; the API turns it into a JSON error with ``code``."""

    code = "ERROR"
    status = 400
    headers: dict[str, str] = {}
    # True for errors that record something on the way out (a revoked token family, a poll
    # time): the transaction commits before the error reaches the client.
    keeps_changes = False

    def __init__(self, message: str = "", **details: Any) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code.replace("_", " ").lower()
        self.details = details

    @classmethod
    def response_schema(cls, codes: list[str] | None) -> dict[str, Any]:
        """Return the JSON schema of the body sent for this error, its code one of codes (any if None)."""
        if codes is None:
            return {"$ref": ERROR_RESPONSE_REF}
        return {"allOf": [{"$ref": ERROR_RESPONSE_REF}],
                "properties": {"error": {"properties": {"code": {"enum": codes}}}}}

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON body sent to the client."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class NotFound(SmartGoError):
    code = "NOT_FOUND"
    status = 404


class Conflict(SmartGoError):
    code = "CONFLICT"
    status = 409


class Unauthorized(SmartGoError):
    code = "UNAUTHORIZED"
    status = 401


class Forbidden(SmartGoError):
    code = "FORBIDDEN"
    status = 403


class InvalidInput(SmartGoError):
    code = "INVALID_INPUT"
    status = 422


class TooManyRequests(SmartGoError):
    """A request refused for now, to be retried after ``retry_after_s`` seconds (sent as Retry-After)."""

    code = "TOO_MANY_REQUESTS"
    status = 429

    def __init__(self, message: str = "", *, retry_after_s: int, **details: Any) -> None:
        super().__init__(message, retry_after_s=retry_after_s, **details)
        self.headers = {"Retry-After": str(retry_after_s)}


class ServiceUnavailable(SmartGoError):
    """A backing service (database, storage, Redis) failed; the client should retry."""

    code = "SERVICE_UNAVAILABLE"
    status = 503
    headers = {"Retry-After": "2"}
    dependency: str | None = None  # the shared service that is down ("database", "redis", "storage")


class StorageUnavailable(ServiceUnavailable):
    code = "STORAGE_UNAVAILABLE"
    dependency = "storage"


class ObjectNotFound(NotFound):
    code = "OBJECT_NOT_FOUND"
