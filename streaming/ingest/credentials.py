"""Ingest credentials: the per-channel password an encoder presents, derived from the ingest secret."""

from __future__ import annotations

import functools
import hashlib
import hmac

from streaming.timeline.service import ChannelSpec


@functools.lru_cache(maxsize=4096)  # every push checks it; the inputs rarely change
def ingest_key(secret: str, channel_id: str, version: int) -> str:
    """Return the ingest password of a channel, derived so no plain key is stored."""
    digest = hmac.new(secret.encode(), f"ingest:{channel_id}:{version}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def check_ingest_key(secret: str, spec: "ChannelSpec", presented: str | None) -> bool:
    """Tell whether presented is the channel's current ingest password (constant time)."""
    expected = ingest_key(secret, spec.id, spec.ingest_key_version)
    return presented is not None and hmac.compare_digest(expected, presented)
