"""The playback door: gather the facts, decide, audit, open a session with a signed URL.

Also the streams an account is watching (leases in the shared cache, kept alive by the
player's heartbeat and by its playlist fetches at the origin) and the revocation of sessions
when the account changes. Services take ``db_session`` and never commit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from sqlalchemy import Row, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from catalog.guide import service as guide
from catalog.guide.events import ProgrammeRightsChanged
from entitlements.accounts import service
from entitlements.accounts.events import AccountChanged, DeviceRemoved
from entitlements.accounts.models import Subscriber
from entitlements.accounts.schemas import Principal
from entitlements.accounts.tokens import PlaybackGrant
from entitlements.packages.events import CatalogueChanged
from entitlements.packages.models import SubscriberPackage
from entitlements.playback.decision import Decision, PlaybackFacts, decide
from entitlements.playback.errors import (
    NothingRecorded,
    PlaybackDenied,
    PlaybackSessionNotFound,
)
from entitlements.playback.facts import forget_catalogue, gather_facts
from entitlements.playback.grants import REVOKED_TOPIC, playback_tokens
from entitlements.playback.models import PlaybackDecisionLog, PlaybackSession
from entitlements.playback.outage import outage_door
from entitlements.playback.schemas import (
    ContentRef,
    PlaybackRequest,
    PlaybackStart,
    StreamRead,
)
from entitlements.playback.streams import keep_alive, lease_key, open_sessions
from entitlements.playback.targets import Target
from infra.db import new_id, utc
from infra.errors import NotFound
from infra.runtime import Runtime, notify_after_commit, run_after_commit
from streaming.timeline import service as streaming_service


# -- streams ----------------------------------------------------------------------------------
def to_stream_read(session: PlaybackSession | Row, current_device: str | None = None) -> StreamRead:
    """Return the API view of a stream."""
    return StreamRead(session_id=session.id, device_id=session.device_id, content=session.content,
                      mode=session.mode, started_at=utc(session.created_at),
                      current=session.device_id == current_device)


def end_sessions(rt: Runtime, *, db_session: Session, sessions: list[PlaybackSession], reason: str) -> list[str]:
    """End sessions: the origin refuses their tokens once the transaction commits."""
    now, ended = service.now_utc(), []
    for session in sessions:
        if session.ended_at is None:
            session.ended_at, session.end_reason = now, reason
            ended.append(session.id)
    if ended:
        db_session.flush()
        _announce_ended(rt, db_session, ended, reason)
    return ended


# The door's writes, built once and run on the connection: a start costs these and nothing more.
_SESSIONS = PlaybackSession.__table__
_HAND_OVER = (update(_SESSIONS).where(_SESSIONS.c.id == bindparam("session_id"), _SESSIONS.c.ended_at.is_(None))
              .values(ended_at=bindparam("now"), end_reason="handed_over"))
_OPEN_SESSION = insert(_SESSIONS)
_AUDIT = insert(PlaybackDecisionLog.__table__)


def _hand_over(rt: Runtime, db_session: Session, session_id: str) -> None:
    """End the stream a start replaces."""
    ended = db_session.connection().execute(_HAND_OVER, {"session_id": session_id,
                                                         "now": service.now_utc()}).rowcount
    if ended:
        _announce_ended(rt, db_session, [session_id], "handed_over")


def _announce_ended(rt: Runtime, db_session: Session, ended: list[str], reason: str) -> None:
    cache = rt.cache
    # Only once the end is committed: a rolled-back stop must leave the stream counted.
    run_after_commit(db_session, lambda: cache.delete(*(lease_key(sid) for sid in ended)))
    notify_after_commit(db_session, REVOKED_TOPIC, {"sessions": ended, "reason": reason})


def _own_session(db_session: Session, subscriber_id: str, session_id: str) -> PlaybackSession:
    session = db_session.get(PlaybackSession, session_id)
    if session is None or session.subscriber_id != subscriber_id:
        raise PlaybackSessionNotFound("no such playback session on this account")
    return session


def stop_stream(rt: Runtime, *, db_session: Session, subscriber_id: str, session_id: str) -> None:
    """Stop one of the account's streams (from any of its devices)."""
    end_sessions(rt, db_session=db_session, sessions=[_own_session(db_session, subscriber_id, session_id)],
                 reason="stopped")


def heartbeat(rt: Runtime, *, db_session: Session, subscriber_id: str, session_id: str) -> None:
    """Keep a stream alive; a session that ended is refused, so the player learns it."""
    session = _own_session(db_session, subscriber_id, session_id)
    if session.ended_at is not None or utc(session.expires_at) <= service.now_utc():
        raise PlaybackDenied("SESSION_ENDED", f"this playback session ended ({session.end_reason or 'expired'})")
    keep_alive(rt, [session_id])


# -- deciding ---------------------------------------------------------------------------------
def _audit(db_session: Session, facts: PlaybackFacts, sub_id: str, decision: Decision, session_id: str | None,
           address: str) -> None:
    db_session.connection().execute(_AUDIT, dict(
        at=service.now_utc(), subscriber_id=sub_id, device_id=facts.device_id, session_id=session_id,
        content=facts.content, mode=facts.mode, outcome="allowed" if decision.allowed else "denied",
        reason=decision.reason, address=address[:45]))


def request_playback(rt: Runtime, *, db_session: Session, principal: Principal, account: Row,
                     request: PlaybackRequest, address: str, base_url: str | None = None) -> PlaybackStart:
    """Decide a playback request; open a session with a signed URL or raise the reason.

    ``account`` is the signed-in account's row with its device's columns, locked for this
    transaction (`auth.lock_signed_in`), so two players starting at once cannot both
    take the last stream.
    """
    profile = service.device_profile(account if account.device_id is not None else None)
    facts, target = gather_facts(rt, db_session=db_session, sub=account, principal=principal, request=request,
                                 address=address, profile=profile)
    decision = decide(facts)
    if not decision.allowed:
        _audit(db_session, facts, account.id, decision, None, address)
        raise PlaybackDenied(decision.reason or "DENIED", **decision.details)
    if target.kind == "vod" and target.window is not None and target.copy_id is None:
        # (A private copy plays from its own index: the archive may have purged the originals.)
        _require_recorded(db_session, target)
    if not facts.streams_counted:  # Redis away and the outage policy open (entitlements/playback/outage.py)
        decision = replace(decision, reason="STREAMS_UNCOUNTED")
    if decision.replaces:
        _hand_over(rt, db_session, decision.replaces)
    now = service.now_utc()
    expires = now + dt.timedelta(seconds=rt.settings.playback_session_max_s)
    window = target.window if request.mode == "bytime" else None
    session_id = new_id()
    db_session.connection().execute(_OPEN_SESSION, dict(
        id=session_id, subscriber_id=account.id, device_id=principal.device_id, profile_id=request.profile_id,
        content=facts.content, mode=request.mode, channel_id=target.channel_id or None,
        window_start=window[0] if window else None, window_end=window[1] if window else None, created_at=now,
        expires_at=expires))
    _audit(db_session, facts, account.id, decision, session_id, address)
    if facts.streams_counted:
        keep_alive(rt, [session_id])
    token = playback_tokens(rt).sign(PlaybackGrant(session_id, account.id, principal.device_id, target.scope,
                                                 target.mode, int(expires.timestamp())))
    base = (base_url or rt.settings.base_url).rstrip("/")
    run_after_commit(db_session, lambda: outage_door(rt).remember(principal, request, target, profile.path_part,
                                                                  profile.code))
    ws, we = (dt.datetime.fromtimestamp(t, dt.UTC) for t in target.window) if target.window else (None, None)
    return PlaybackStart(session_id=session_id, url=f"{base}/p/{token}/{target.master_path(profile.path_part)}",
                         expires_at=expires, heartbeat_every_s=max(5, int(rt.settings.stream_lease_s / 3)),
                         replaced_session_id=decision.replaces, device_profile=profile.code,
                         segment_set=target.segment_set, window_start=ws, window_end=we)


def _require_recorded(db_session: Session, target: Target) -> None:
    """Refuse a complete window the archive holds nothing of (the channel was off the air)."""
    runs = streaming_service.runs_in_window(db_session=db_session, channel_id=target.channel_id,
                                            start_us=target.window[0] * 1_000_000, end_us=target.window[1] * 1_000_000)
    if not any(not r.gap for r in runs):
        raise NothingRecorded("the channel's archive holds nothing of this window", content=target.content)


def recheck_account(rt: Runtime, *, db_session: Session, subscriber_id: str, reason: str) -> list[str]:
    """Re-decide the account's running sessions after a change; end those no longer allowed."""
    sub = db_session.get(Subscriber, subscriber_id)
    sessions = open_sessions(db_session=db_session, subscriber_id=subscriber_id)
    if sub is None:
        return end_sessions(rt, db_session=db_session, sessions=sessions, reason=reason)
    ended = []
    for session in sessions:
        kind, _, content_id = session.content.partition(":")
        window = (session.window_start, session.window_end) if session.window_start is not None else None
        request = PlaybackRequest.model_construct(content=ContentRef(type=kind, id=content_id), mode=session.mode,
                                                  profile_id=None, pin=None, segment_set="cmaf")
        principal = Principal(subscriber_id, session.device_id, "")
        # Re-decided without its own stream (it is running), without the PIN (given at start) and
        # without timing (a start-over session goes on past its programme's end).
        try:
            facts, _ = gather_facts(rt, db_session=db_session, sub=sub, principal=principal, request=request,
                                    address="", strict=False, window=window)
        except NotFound:  # the programme left the guide: the session plays on what it was granted
            continue
        others = tuple(s for s in facts.streams if s.session_id != session.id and s.device_id != session.device_id)
        facts = _without_place(facts, streams=others, max_streams=None)
        decision = decide(facts)
        if not decision.allowed:
            ended += end_sessions(rt, db_session=db_session, sessions=[session], reason=decision.reason or reason)
    return ended


def programme_actions(rt: Runtime, *, db_session: Session, principal: Principal, programme_id: str) -> dict:
    """Say what the subscriber may do with a programme now: watch live, start over, catch up, record."""
    sub = service.get_subscriber(db_session=db_session, subscriber_id=principal.subscriber_id)
    p = guide.get_programme(db_session=db_session, programme_id=programme_id)
    request = PlaybackRequest.model_construct(content=ContentRef(type="programme", id=p.id), mode="catchup",
                                              profile_id=None, pin=None, segment_set="cmaf")
    facts, _ = gather_facts(rt, db_session=db_session, sub=sub, principal=principal, request=request, address="",
                            strict=False)
    now = service.now_utc()
    start, end = utc(p.start_at), utc(p.end_at)
    archive_end = end + dt.timedelta(days=facts.rights.catchup_days)
    timing = {"live": start <= now < end, "startover": start <= now < end, "catchup": end <= now < archive_end,
              "recording": now < archive_end}
    actions, reasons = {}, {}
    for mode, name in (("live", "watch_live"), ("startover", "start_over"), ("catchup", "catch_up"),
                       ("recording", "record")):
        decision = decide(replace(facts, mode=mode, streams=(), max_streams=None,
                                  ended_ago_s=(now - end).total_seconds() if mode == "catchup" else None))
        actions[name] = decision.allowed and timing[mode]
        if not decision.allowed:
            reasons[name] = decision.reason or "DENIED"
        elif not timing[mode]:
            reasons[name] = "NOT_NOW"
    return {**actions, "reasons": reasons}


def check_recording(rt: Runtime, *, db_session: Session, principal: Principal, kind: str, content_id: str) -> None:
    """Refuse, with the door's reasons, recording what the subscriber may not record (entitlement,
    account, the channel's and programme's recording right, device); the recorder's `RecordingCheck`."""
    content = ContentRef(type=kind, id=content_id)
    sub = service.get_subscriber(db_session=db_session, subscriber_id=principal.subscriber_id)
    request = PlaybackRequest.model_construct(content=content, mode="catchup" if content.type == "programme" else "live",
                                              profile_id=None, pin=None, segment_set="cmaf", start=None, end=None)
    facts, _ = gather_facts(rt, db_session=db_session, sub=sub, principal=principal, request=request, address="",
                            strict=False)
    facts = replace(facts, mode="recording", streams=(), max_streams=None, ended_ago_s=None, country=None,
                    rights=replace(facts.rights, countries=None))
    if not principal.device_id:  # a series rule recording on its own: no device is asking
        facts = replace(facts, device_within_limit=True, rights=replace(facts.rights, device_types=None))
    decision = decide(facts)
    if not decision.allowed:
        raise PlaybackDenied(decision.reason or "DENIED", **decision.details)


def recheck_catalogue(rt: Runtime, *, db_session: Session, reason: str, channel_ids: list[str] | None = None,
                      package_code: str | None = None, programme_ids: list[str] | None = None) -> list[str]:
    """Re-decide the running sessions a catalogue change touches (sessions on these channels, or
    of the accounts holding this package); end those no longer allowed."""
    forget_catalogue(rt)
    query = select(PlaybackSession.subscriber_id).distinct().where(
        PlaybackSession.ended_at.is_(None), PlaybackSession.expires_at > service.now_utc())
    if channel_ids is not None:
        query = query.where(PlaybackSession.channel_id.in_(channel_ids))
    if programme_ids is not None:
        query = query.where(PlaybackSession.content.in_([f"programme:{p}" for p in programme_ids]))
    if package_code is not None:
        query = query.where(PlaybackSession.subscriber_id.in_(
            select(SubscriberPackage.subscriber_id).where(SubscriberPackage.package_code == package_code)))
    ended = []
    for subscriber_id in sorted(db_session.scalars(query)):
        ended += recheck_account(rt, db_session=db_session, subscriber_id=subscriber_id, reason=reason)
    return ended


def recheck_changed_account(rt: Runtime, db_session: Session, event: AccountChanged) -> None:
    """Re-decide an account's running sessions after its change (subscribed to `AccountChanged`)."""
    recheck_account(rt, db_session=db_session, subscriber_id=event.subscriber_id, reason=event.reason)


def end_removed_device_sessions(rt: Runtime, db_session: Session, event: DeviceRemoved) -> None:
    """End what plays on a removed device (subscribed to `DeviceRemoved`)."""
    end_sessions(rt, db_session=db_session, reason="device_removed", sessions=[
        s for s in open_sessions(db_session=db_session, subscriber_id=event.subscriber_id)
        if s.device_id == event.device_id])


def recheck_changed_catalogue(rt: Runtime, db_session: Session, event: CatalogueChanged) -> None:
    """Re-decide the sessions a package or rights change touches (subscribed to `CatalogueChanged`)."""
    recheck_catalogue(rt, db_session=db_session, reason=event.reason, package_code=event.package_code,
                      channel_ids=list(event.channel_ids) if event.channel_ids is not None else None)


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


def purge_old(rt: Runtime, *, db_session: Session, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete decisions past their retention and sessions long over; return how many of each."""
    now = now or service.now_utc()
    keep_days = rt.settings.playback_decision_retention_days
    decisions_gone = db_session.execute(delete(PlaybackDecisionLog).where(
        PlaybackDecisionLog.at < now - dt.timedelta(days=keep_days))).rowcount or 0
    # A session is kept a day past its token's expiry, so the origins' reconcile still sees it.
    sessions_gone = db_session.execute(delete(PlaybackSession).where(
        PlaybackSession.expires_at < now - dt.timedelta(days=1))).rowcount or 0
    return {"decisions": decisions_gone, "sessions": sessions_gone}


def recheck_programme(rt: Runtime, db_session: Session, event: ProgrammeRightsChanged) -> None:
    """Re-decide the sessions playing a programme whose rights changed (subscribed to `ProgrammeRightsChanged`)."""
    recheck_catalogue(rt, db_session=db_session, reason="rights_changed", programme_ids=[event.programme_id])
