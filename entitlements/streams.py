"""Streams: a session counts as one while its lease in the shared cache lives.

The player's heartbeat and its playlist fetches at the origin keep the lease alive; it lapses
a lease period after the player stops.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from entitlements import service
from entitlements.models import PlaybackSession
from infra.runtime import runtime


def lease_key(session_id: str) -> str:
    """Return the shared-cache key of a session's stream lease."""
    return f"stream:{session_id}"


def keep_alive(session_ids: list[str]) -> None:
    """Extend the stream leases of sessions (heartbeats, and playlist fetches seen by the origin)."""
    cache, ttl = runtime().cache, runtime().settings.stream_lease_s
    for sid in session_ids:
        cache.set(lease_key(sid), b"1", ttl)


def open_sessions(*, db_session: Session, subscriber_id: str) -> list[PlaybackSession]:
    """Return the account's sessions that have not ended or expired."""
    now = service.now_utc()
    return list(db_session.scalars(select(PlaybackSession).where(
        PlaybackSession.subscriber_id == subscriber_id, PlaybackSession.ended_at.is_(None),
        PlaybackSession.expires_at > now).order_by(PlaybackSession.created_at)))


def active_streams(*, db_session: Session, subscriber_id: str) -> list[PlaybackSession]:
    """Return the account's sessions whose stream lease is alive (what counts as a stream)."""
    cache = runtime().cache
    return [s for s in open_sessions(db_session=db_session, subscriber_id=subscriber_id)
            if cache.get(lease_key(s.id)) is not None]
