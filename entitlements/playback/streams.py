"""Streams: a session counts as one while its lease in the shared cache lives.

The player's heartbeat and its playlist fetches at the origin keep the lease alive; it lapses
a lease period after the player stops.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from entitlements.accounts import service
from entitlements.playback.errors import StreamsUnavailable
from entitlements.playback.models import PlaybackSession
from infra.cache import CacheUnavailable
from infra.runtime import Runtime


def lease_key(session_id: str) -> str:
    """Return the shared-cache key of a session's stream lease."""
    return f"stream:{session_id}"


def keep_alive(rt: Runtime, session_ids: list[str]) -> None:
    """Extend the stream leases of sessions (heartbeats, and playlist fetches seen by the origin)."""
    _check_reachable(rt)
    try:
        for sid in session_ids:
            rt.cache.set(lease_key(sid), b"1", rt.settings.stream_lease_s)
    except CacheUnavailable as err:
        raise StreamsUnavailable("streams cannot be counted now (the shared cache is away); retry") from err


def _check_reachable(rt: Runtime) -> None:
    # A Redis known to be away is not asked (a frozen one would cost a timeout per call).
    if not rt.health.is_up("redis"):
        raise StreamsUnavailable("streams cannot be counted now (the shared cache is away); retry")


def open_sessions(*, db_session: Session, subscriber_id: str) -> list[PlaybackSession]:
    """Return the account's sessions that have not ended or expired."""
    now = service.now_utc()
    return list(db_session.scalars(select(PlaybackSession).where(
        PlaybackSession.subscriber_id == subscriber_id, PlaybackSession.ended_at.is_(None),
        PlaybackSession.expires_at > now).order_by(PlaybackSession.created_at)))


def active_streams(rt: Runtime, *, db_session: Session, subscriber_id: str) -> list[PlaybackSession]:
    """Return the account's sessions whose stream lease is alive (what counts as a stream)."""
    cache = rt.cache
    sessions = open_sessions(db_session=db_session, subscriber_id=subscriber_id)
    if not sessions:
        return []
    _check_reachable(rt)
    try:
        return [s for s in sessions if cache.get(lease_key(s.id)) is not None]
    except CacheUnavailable as err:
        raise StreamsUnavailable("streams cannot be counted now (the shared cache is away); retry") from err
