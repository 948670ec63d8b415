"""Streams: a session counts as one while its lease in the shared cache lives.

The player's heartbeat and its playlist fetches at the origin keep the lease alive; it lapses
a lease period after the player stops.
"""

from __future__ import annotations

from sqlalchemy import Row, and_, bindparam, select
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


_OPEN = PlaybackSession.__table__.c
# An account's open session: neither ended nor expired (subscriber_id and now are parameters).
_IS_OPEN = and_(_OPEN.subscriber_id == bindparam("subscriber_id"), _OPEN.ended_at.is_(None),
                _OPEN.expires_at > bindparam("now"))
# Built once and run on the connection: every start asks it (the door's hot path).
_OPEN_STREAMS = (select(_OPEN.id, _OPEN.device_id, _OPEN.content, _OPEN.mode, _OPEN.created_at)
                 .where(_IS_OPEN).order_by(_OPEN.created_at))


def open_sessions(*, db_session: Session, subscriber_id: str) -> list[PlaybackSession]:
    """Return the account's sessions that have not ended or expired."""
    return list(db_session.scalars(select(PlaybackSession).where(_IS_OPEN).order_by(PlaybackSession.created_at),
                                   {"subscriber_id": subscriber_id, "now": service.now_utc()}))


def active_streams(rt: Runtime, *, db_session: Session, subscriber_id: str) -> list[Row]:
    """Return the account's sessions whose stream lease is alive (what counts as a stream):
    rows of id, device_id, content, mode and created_at."""
    cache = rt.cache
    sessions = db_session.connection().execute(_OPEN_STREAMS, {"subscriber_id": subscriber_id,
                                                               "now": service.now_utc()}).all()
    if not sessions:
        return []
    _check_reachable(rt)
    try:
        leases = cache.get_many(*(lease_key(s.id) for s in sessions))
        return [s for s, lease in zip(sessions, leases, strict=True) if lease is not None]
    except CacheUnavailable as err:
        raise StreamsUnavailable("streams cannot be counted now (the shared cache is away); retry") from err
