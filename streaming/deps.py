"""Request dependencies of the streaming API."""

from __future__ import annotations

import base64
import binascii

from fastapi import Request


def ingest_password(request: Request) -> str | None:
    """Return the ingest password from Basic auth (any user name) or a Bearer token."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None
