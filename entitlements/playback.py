"""The playback door: gather the facts, decide, audit, open a session with a signed URL.

Also the streams an account is watching (leases in the shared cache, kept alive by the
player's heartbeat and by its playlist fetches at the origin) and the revocation of sessions
when the account changes. Services take ``db_session`` and never commit.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from entitlements import rights, service
from entitlements.auth import Principal
from entitlements.decision import ActiveStream, Decision, PlaybackFacts, Rights, decide
from entitlements.errors import InvalidMode, PlaybackDenied, PlaybackSessionNotFound
from entitlements.models import PlaybackDecisionLog, PlaybackSession, Subscriber
from entitlements.schemas import Limits, PlaybackRequest, PlaybackStart, StreamRead, utc
from entitlements.tokens import PlaybackGrant, PlaybackTokens
from infra.runtime import notify_after_commit, run_after_commit, runtime

REVOKED_TOPIC = "playback.revoked"
CHANNEL_MODES = ("live", "timeshift")
CHANNEL_FACTS_TTL_S = 30.0  # start-over and catch-up need programmes (EPG issue)


def playback_tokens() -> PlaybackTokens:
    """Return the playback-token keys of this process's settings."""
    rt = runtime()
    keys = rt.extras.get("playback_tokens")
    if keys is None:
        keys = rt.extras["playback_tokens"] = PlaybackTokens(rt.settings.secret_key,
                                                             rt.settings.previous_secret_key_list)
    return keys


# -- streams ----------------------------------------------------------------------------------
def _lease_key(session_id: str) -> str:
    return f"stream:{session_id}"


def keep_alive(session_ids: list[str]) -> None:
    """Extend the stream leases of sessions (heartbeats, and playlist fetches seen by the origin)."""
    cache, ttl = runtime().cache, runtime().settings.stream_lease_s
    for sid in session_ids:
        cache.set(_lease_key(sid), b"1", ttl)


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
            if cache.get(_lease_key(s.id)) is not None]


def to_stream_read(session: PlaybackSession, current_device: str | None = None) -> StreamRead:
    """Return the API view of a stream."""
    return StreamRead(session_id=session.id, device_id=session.device_id, content=session.content,
                      mode=session.mode, started_at=utc(session.created_at),
                      current=session.device_id == current_device)


def end_sessions(*, db_session: Session, sessions: list[PlaybackSession], reason: str) -> list[str]:
    """End sessions: the origin refuses their tokens once the transaction commits."""
    now, ended = service.now_utc(), []
    for session in sessions:
        if session.ended_at is None:
            session.ended_at, session.end_reason = now, reason
            ended.append(session.id)
    if ended:
        db_session.flush()
        cache = runtime().cache
        # Only once the end is committed: a rolled-back stop must leave the stream counted.
        run_after_commit(db_session, lambda: cache.delete(*(_lease_key(sid) for sid in ended)))
        notify_after_commit(db_session, REVOKED_TOPIC, {"sessions": ended, "reason": reason})
    return ended


def _own_session(db_session: Session, subscriber_id: str, session_id: str) -> PlaybackSession:
    session = db_session.get(PlaybackSession, session_id)
    if session is None or session.subscriber_id != subscriber_id:
        raise PlaybackSessionNotFound("no such playback session on this account")
    return session


def stop_stream(*, db_session: Session, subscriber_id: str, session_id: str) -> None:
    """Stop one of the account's streams (from any of its devices)."""
    end_sessions(db_session=db_session, sessions=[_own_session(db_session, subscriber_id, session_id)],
                 reason="stopped")


def heartbeat(*, db_session: Session, subscriber_id: str, session_id: str) -> None:
    """Keep a stream alive; a session that ended is refused, so the player learns it."""
    session = _own_session(db_session, subscriber_id, session_id)
    if session.ended_at is not None or utc(session.expires_at) <= service.now_utc():
        raise PlaybackDenied("SESSION_ENDED", f"this playback session ended ({session.end_reason or 'expired'})")
    keep_alive([session_id])


# -- deciding ---------------------------------------------------------------------------------
def channel_facts(*, db_session: Session, channel_id: str) -> tuple[tuple[str, ...], Rights, frozenset[str]]:
    """Return a channel's playable segment sets (none when missing or disabled), rights and packages.

    Kept in this process's memory: they change rarely, and every change of a channel, its
    rights or a package is announced on the bus, which clears the copy.
    """
    rt = runtime()
    cache: dict = rt.extras.get("channel_facts")
    if cache is None:
        cache = rt.extras["channel_facts"] = {}
        rt.bus.subscribe("channel.", lambda _t, _m: cache.clear())
        rt.bus.subscribe(service.PACKAGE_TOPIC, lambda _t, _m: cache.clear())
    hit = cache.get(channel_id)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    from catalog import service as catalog_service
    from catalog.errors import ChannelNotFound

    try:
        channel = catalog_service.get(db_session=db_session, channel_id=channel_id)
        sets = tuple(channel.segment_sets) if channel.enabled else ()
    except ChannelNotFound:
        sets = ()
    facts = (sets, rights.channel_rights(db_session=db_session, channel_id=channel_id),
             frozenset(p.code for p in service.packages_granting_channel(db_session=db_session,
                                                                         channel_id=channel_id)))
    if len(cache) > 10_000:
        cache.clear()
    # A read racing a change could store old facts just after the bus cleared them: they
    # live 30 s at most.
    cache[channel_id] = (now + CHANNEL_FACTS_TTL_S, facts)
    return facts



def gather_facts(*, db_session: Session, sub: Subscriber, principal: Principal, request: PlaybackRequest,
                 address: str) -> PlaybackFacts:
    """Collect everything the decision needs about the request, the account and the content."""
    content = f"{request.content.type}:{request.content.id}"
    if request.content.type == "channel" and request.mode not in CHANNEL_MODES:
        raise InvalidMode(f"a channel plays as {' or '.join(CHANNEL_MODES)}; "
                          "start-over and catch-up take a programme", modes=list(CHANNEL_MODES))
    segment_sets, content_rights, granting = channel_facts(db_session=db_session, channel_id=request.content.id)
    available = request.segment_set in segment_sets
    held, limits, devices = account_facts(db_session=db_session, sub=sub)
    position = next((i for i, (dev_id, _) in enumerate(devices) if dev_id == principal.device_id), None)
    device_type = devices[position][1] if position is not None else "unknown"
    threshold, pin_ok = None, False
    if request.profile_id is not None:
        threshold = rights.get_profile(db_session=db_session, subscriber_id=sub.id,
                                       profile_id=request.profile_id).parental_threshold
    if request.pin is not None and content_rights.age_rating is not None and threshold is not None:
        rights.check_pin(db_session=db_session, sub=sub, pin=request.pin)
        pin_ok = True
    streams = tuple(ActiveStream(s.id, s.device_id, s.content)
                    for s in active_streams(db_session=db_session, subscriber_id=sub.id))
    return PlaybackFacts(
        mode=request.mode, content=content, available=available, rights=content_rights,
        granting_packages=granting, account_status=sub.status, held_packages=held,
        device_id=principal.device_id, device_type=device_type,
        device_within_limit=position is not None and position < limits.max_devices,
        country=rights.country_of(db_session=db_session, address=address),
        parental_threshold=threshold, pin_ok=pin_ok,
        max_streams=limits.max_streams if limits.max_streams is not None else runtime().settings.default_stream_limit,
        streams=streams)


def account_facts(*, db_session: Session, sub: Subscriber) -> tuple[frozenset[str], Limits, tuple]:
    """Return the account's packages valid now, its limits and its devices in order (id, type).

    Cached in the shared cache under the account row's ``updated_at``, which every account change
    (packages, status, limits, devices) sets: the door reads that row under lock anyway, so a
    stale entry can never be used, and no invalidation message can be lost. An entry also ends at
    the next validity boundary of the account's packages.
    """
    import orjson

    from entitlements.models import SubscriberPackage

    cache = runtime().cache
    key, stamp = f"account-facts:{sub.id}", utc(sub.updated_at).isoformat() if sub.updated_at else ""
    raw = cache.get(key)
    if raw is not None:
        data = orjson.loads(raw)
        if data["stamp"] == stamp:
            return (frozenset(data["held"]), Limits(**data["limits"]),
                    tuple(tuple(d) for d in data["devices"]))
    now = service.now_utc()
    active = service.active_packages(db_session=db_session, subscriber_id=sub.id, at=now)
    limits = service.account_limits(db_session=db_session, sub=sub, active=active)
    devices = tuple((d.id, d.device_type) for d in service.list_devices(db_session=db_session, subscriber_id=sub.id))
    held = frozenset(p.code for _, p in active)
    boundaries = [utc(t) for g in db_session.scalars(select(SubscriberPackage).where(
        SubscriberPackage.subscriber_id == sub.id)) for t in (g.valid_from, g.valid_to) if t is not None]
    ttl = min([60.0] + [(b - now).total_seconds() for b in boundaries if b > now])
    if ttl > 0.5:
        cache.set(key, orjson.dumps({"stamp": stamp, "held": sorted(held), "limits": limits.model_dump(),
                                     "devices": [list(d) for d in devices]}), ttl)
    return held, limits, devices


def _audit(db_session: Session, facts: PlaybackFacts, sub_id: str, decision: Decision, session_id: str | None,
           address: str) -> None:
    db_session.add(PlaybackDecisionLog(
        at=service.now_utc(), subscriber_id=sub_id, device_id=facts.device_id, session_id=session_id,
        content=facts.content, mode=facts.mode, outcome="allowed" if decision.allowed else "denied",
        reason=decision.reason, address=address[:45]))
    db_session.flush()


def request_playback(*, db_session: Session, principal: Principal, request: PlaybackRequest,
                     address: str, base_url: str | None = None) -> PlaybackStart:
    """Decide a playback request; open a session with a signed URL or raise the reason."""
    rt = runtime()
    # The account row is locked, so two players starting at once cannot both take the last stream.
    sub = db_session.scalar(select(Subscriber).where(Subscriber.id == principal.subscriber_id).with_for_update())
    if sub is None:
        raise PlaybackSessionNotFound("no such subscriber")
    facts = gather_facts(db_session=db_session, sub=sub, principal=principal, request=request, address=address)
    decision = decide(facts)
    if not decision.allowed:
        _audit(db_session, facts, sub.id, decision, None, address)
        raise PlaybackDenied(decision.reason or "DENIED", **decision.details)
    if decision.replaces:
        old = db_session.get(PlaybackSession, decision.replaces)
        end_sessions(db_session=db_session, sessions=[old] if old else [], reason="handed_over")
    now = service.now_utc()
    expires = now + dt.timedelta(seconds=rt.settings.playback_session_max_s)
    session = PlaybackSession(id=service.new_id(), subscriber_id=sub.id, device_id=principal.device_id,
                              profile_id=request.profile_id, content=facts.content, mode=request.mode,
                              created_at=now, expires_at=expires)
    db_session.add(session)
    _audit(db_session, facts, sub.id, decision, session.id, address)
    keep_alive([session.id])
    token = playback_tokens().sign(PlaybackGrant(session.id, sub.id, principal.device_id, facts.content,
                                                 request.mode, int(expires.timestamp())))
    base = (base_url or rt.settings.base_url).rstrip("/")
    url = f"{base}/p/{token}/live/{request.content.id}/{request.segment_set}/master.m3u8"
    return PlaybackStart(session_id=session.id, url=url, expires_at=expires,
                         heartbeat_every_s=max(5, int(rt.settings.stream_lease_s / 3)),
                         replaced_session_id=decision.replaces)


def recheck_account(*, db_session: Session, subscriber_id: str, reason: str) -> list[str]:
    """Re-decide the account's running sessions after a change; end those no longer allowed."""
    sub = db_session.get(Subscriber, subscriber_id)
    sessions = open_sessions(db_session=db_session, subscriber_id=subscriber_id)
    if sub is None:
        return end_sessions(db_session=db_session, sessions=sessions, reason=reason)
    ended = []
    for session in sessions:
        kind, _, content_id = session.content.partition(":")
        request = PlaybackRequest(content={"type": kind, "id": content_id}, mode=session.mode)
        principal = Principal(subscriber_id, session.device_id, "")
        # Re-decided without its own stream (it is running) and without the PIN (given at start).
        facts = gather_facts(db_session=db_session, sub=sub, principal=principal, request=request, address="")
        others = tuple(s for s in facts.streams if s.session_id != session.id and s.device_id != session.device_id)
        facts = _without_place(facts, streams=others, max_streams=None)
        decision = decide(facts)
        if not decision.allowed:
            ended += end_sessions(db_session=db_session, sessions=[session], reason=decision.reason or reason)
    return ended


def _without_place(facts: PlaybackFacts, **changes) -> PlaybackFacts:  # noqa: ANN003
    # Where the player is and its PIN were checked when it started; a change of the account
    # does not move it, so the re-check keeps those facts out.
    return replace(facts, rights=replace(facts.rights, countries=None, age_rating=None), **changes)


def decisions(*, db_session: Session, subscriber_id: str | None, offset: int, limit: int) -> list[PlaybackDecisionLog]:
    """Return playback decisions, newest first (for customer care)."""
    query = select(PlaybackDecisionLog).order_by(PlaybackDecisionLog.id.desc())
    if subscriber_id:
        query = query.where(PlaybackDecisionLog.subscriber_id == subscriber_id)
    return list(db_session.scalars(query.offset(offset).limit(limit)))


def purge_old(*, db_session: Session, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete decisions past their retention and sessions long over; return how many of each."""
    from sqlalchemy import delete

    now = now or service.now_utc()
    keep_days = runtime().settings.playback_decision_retention_days
    decisions_gone = db_session.execute(delete(PlaybackDecisionLog).where(
        PlaybackDecisionLog.at < now - dt.timedelta(days=keep_days))).rowcount or 0
    # A session is kept a day past its token's expiry, so the origins' reconcile still sees it.
    sessions_gone = db_session.execute(delete(PlaybackSession).where(
        PlaybackSession.expires_at < now - dt.timedelta(days=1))).rowcount or 0
    return {"decisions": decisions_gone, "sessions": sessions_gone}
