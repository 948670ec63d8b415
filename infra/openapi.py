"""The OpenAPI document: every status an operation answers, with the error body we really send.

FastAPI documents success and a 422 in a shape we never send. Here each operation's error
responses are derived from what the code can raise, not listed by hand:

- the domain errors (``SmartGoError`` subclasses) its endpoint and its dependencies raise or
  build, found by reading their source and following the calls into the project's own
  functions (``raised_errors``); an error whose code is given where it is raised
  (``PlaybackDenied("GEO_BLOCKED")``) contributes the literal codes of its raise sites;
- what the layers in front of every route answer: 422 for parameters and bodies that do not
  validate (or bodies that are not JSON), 415 for a body of another media type, 413 for a body
  over the limit, 404 for a path that no longer matches once a parameter is in it, 503 when a
  backing service fails.

Each status then lists its stable codes as an enum of ``error.code``; an error that shapes its
own body (the OAuth token endpoint's) brings its own schema.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from infra.errors import InvalidInput, ServiceUnavailable, SmartGoError
from infra.raises import Raised, raised_errors, subclasses

log = logging.getLogger(__name__)

ERROR_SCHEMA = {
    "title": "ErrorResponse",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "stable, machine-readable: act on this"},
            "message": {"type": "string", "description": "for people; may change"},
            "details": {"type": "object", "description": "what the code needs to be acted on; for "
                        "VALIDATION_ERROR and MALFORMED_JSON, `errors`: [{loc, msg, type}]"},
        },
    }},
}
# What the layers in front of the endpoints answer (infra/composition/web.py), by status.
VALIDATION = ("VALIDATION_ERROR", InvalidInput.code)  # INVALID_INPUT: a value the database refused
MALFORMED = "MALFORMED_JSON"
NOT_FOUND = "NOT_FOUND"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})  # the methods BodyLimit reads a body of
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}


def raw_body(*media_types: str, description: str) -> dict:
    """Return the openapi_extra of a route that reads its body itself (an upload): what it takes."""
    schema = {"type": "string", "format": "binary"}
    return {"requestBody": {"required": False, "description": description,
                            "content": {t: {"schema": schema} for t in media_types}}}


def _dependencies(dependant: Dependant) -> Iterator[Callable]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependencies(sub)


# -- the document --------------------------------------------------------------------------------
def route_errors(route: APIRoute) -> Raised:
    """Return the domain errors a route can answer: its endpoint's and its dependencies'."""
    found = Raised()
    try:
        for call in (route.endpoint, *_dependencies(route.dependant)):
            found.merge(raised_errors(call))
    except Exception:  # the document is still served; CI's schemathesis run finds what is missing
        log.exception("cannot tell what %s raises", route.path_format)
    return found


def _front_codes(route: APIRoute, method: str) -> dict[int, set[str]]:
    """The codes infra/composition/web.py answers for this route whatever its endpoint does."""
    codes: dict[int, set[str]] = {
        422: set(VALIDATION),  # parameters (and a NUL anywhere in the URL)
        503: {c.code for c in subclasses(ServiceUnavailable)},
    }
    if route.dependant.path_params:  # a value that makes the path another (empty, or an encoded /)
        codes[404] = {NOT_FOUND}
    if route.body_field is not None:
        codes[422].add(MALFORMED)
        codes[415] = {UNSUPPORTED_MEDIA_TYPE}
    if method in WITH_BODY:
        codes[413] = {PAYLOAD_TOO_LARGE}
    return codes


Shapes = dict[Callable, tuple[type[SmartGoError], set[str] | None]]


def operation_errors(route: APIRoute, method: str) -> dict[int, Shapes]:
    """Return, per status, the body shapes an operation answers it with and their codes (None: not all known)."""
    found = route_errors(route)
    statuses: dict[int, Shapes] = {}

    def put(status: int, cls: type[SmartGoError], codes: set[str] | None) -> None:
        shapes = statuses.setdefault(status, {})
        shape = cls.response_schema.__func__  # type: ignore[attr-defined]
        first, known = shapes.get(shape, (cls, set()))
        shapes[shape] = (first, None if known is None or codes is None else known | codes)

    for cls in found.errors:
        put(cls.status, cls, found.codes_of(cls))
    for status, codes in _front_codes(route, method).items():
        put(status, SmartGoError, codes)
    return statuses


def error_response(status: int, shapes: Shapes) -> dict:
    """Return the OpenAPI response of an error status: its codes listed, its body schema."""
    schemas = [cls.response_schema(None if codes is None else sorted(codes)) for cls, codes in shapes.values()]
    every = set().union(*(codes or () for _, codes in shapes.values()))
    listed = ", ".join(f"`{c}`" for c in sorted(every))
    if any(codes is None for _, codes in shapes.values()):
        listed = f"{listed}, or a reason the client can act on" if listed else "a reason the client can act on"
    response: dict[str, Any] = {
        "description": f"{http.HTTPStatus(status).phrase}: {listed}",
        "content": {"application/json": {"schema": schemas[0] if len(schemas) == 1 else {"anyOf": schemas}}},
    }
    if status in (429, 503):
        response["headers"] = RETRY_AFTER
    return response


def document_errors(doc: dict, app: FastAPI) -> dict:
    """Add each operation's error responses (and the shared ErrorResponse schema) to an OpenAPI document."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorResponse"] = ERROR_SCHEMA
    for context in iter_route_contexts(app.routes):  # included routers hold their routes
        route = context if isinstance(context.original_route, APIRoute) else None
        if route is None or not route.include_in_schema:
            continue
        for method in route.methods:
            operation = doc["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status, shapes in operation_errors(route, method).items():
                responses[str(status)] = error_response(status, shapes)
            operation["responses"] = dict(sorted(responses.items()))
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422, which we do not send
        schemas.pop(name, None)
    return doc


def install_openapi(app: FastAPI) -> None:
    """Make the app's OpenAPI document the one with every error response in it."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description,
                              routes=app.routes, tags=app.openapi_tags, servers=app.servers)
            app.openapi_schema = document_errors(doc, app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
