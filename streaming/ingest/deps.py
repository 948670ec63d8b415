"""Request helpers of the streaming endpoints."""

from __future__ import annotations

import base64
import binascii


def password_from_authorization(header: str) -> str | None:
    """Return the ingest password from Basic auth (any user name) or a Bearer token."""
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
