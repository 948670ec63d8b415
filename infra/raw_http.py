"""Responses for the bare ASGI endpoints (origin, ingest) that bypass the web framework.

They answer errors exactly as the FastAPI handlers do: ``{"error": {"code", "message",
"details"}}`` with the error's status and headers (Retry-After, WWW-Authenticate).
"""

from __future__ import annotations

import logging

import orjson

from infra.errors import SmartGoError

log = logging.getLogger(__name__)
JSON = b"application/json"


class MethodNotAllowed(SmartGoError):
    code = "METHOD_NOT_ALLOWED"
    status = 405


class InternalError(SmartGoError):
    code = "INTERNAL_ERROR"
    status = 500


async def send_json(send, status: int, body: dict, *, headers: dict[str, str] | None = None,  # noqa: ANN001
                    cache: bytes = b"no-store", head: bool = False) -> None:
    """Send a whole JSON response."""
    data = orjson.dumps(body)
    raw = [(b"content-type", JSON), (b"content-length", str(len(data)).encode()),
           (b"cache-control", cache), (b"access-control-allow-origin", b"*")]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": b"" if head else data})


async def send_error(send, err: Exception, *, head: bool = False) -> None:  # noqa: ANN001
    """Send an error as JSON with its stable code; anything unexpected is logged and a 500."""
    if not isinstance(err, SmartGoError):
        log.error("unhandled error", exc_info=err)
        err = InternalError("internal error; it has been logged")
    await send_json(send, err.status, err.to_dict(), headers=err.headers or None, head=head)


def header(scope: dict, name: bytes) -> str | None:
    """Return a request header (name in lower case) as text, if present."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None
