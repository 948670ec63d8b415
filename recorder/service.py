"""Cloud DVR: scheduling recordings, quota, the stored copies they share, listing and deleting.

A recording is a reference to a range of its channel's timeline (design section 5): scheduling
one writes a row and, for the shared copy of that range, a pin that keeps retention off it. One
copy serves every subscriber who recorded the same programme with the same padding. Services
take ``db_session`` and never commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.channels import service as catalog_service
from catalog.channels.events import ChannelDeleted
from catalog.guide import service as guide
from catalog.guide.events import GuideChanged
from entitlements.accounts import service as accounts_service
from entitlements.accounts.schemas import Principal
from entitlements.packages import service as packages_service
from infra.db import new_id, utc
from infra.events import Provided
from infra.jobs import queue_job
from infra.notify import load_notifier
from infra.runtime import Runtime, run_after_commit
from recorder.errors import (
    InvalidRecordingRange,
    QuotaExceeded,
    RecordingExists,
    RecordingNotFound,
)
from recorder.models import Recording, StoredCopy
from recorder.schemas import Quota, RecordingCreate, RecordingRead
from streaming.copies import service as copies
from streaming.timeline import service as timeline_service

ACTIVE = ("scheduled", "recording", "completed", "partial")
MAX_RANGE_S = 6 * 3600


class RecordingCheck(Protocol):
    """The playback door's check that a subscriber may record a programme or a range of a channel."""

    def __call__(self, rt: Runtime, *, db_session: Session, principal: Principal, kind: str,
                 content_id: str) -> None:
        """Raise the door's refusal when the subscriber may not record this content."""


# Refuses, with the door's reasons, recording what the subscriber may not record.
check_recording: Provided[RecordingCheck] = Provided("the playback door's recording check")


def window_us(rec: Recording) -> tuple[int, int]:
    """Return the stored window of a recording: its times with the padding, in µs UTC."""
    start, end = utc(rec.start_at), utc(rec.end_at)
    return (int(start.timestamp()) - rec.pad_before_s) * 1_000_000, (int(end.timestamp()) + rec.pad_after_s) * 1_000_000


def _hours(seconds: float) -> float:
    return round(seconds / 3600, 2)


def quota(rt: Runtime, *, db_session: Session, subscriber_id: str) -> Quota:
    """Return the account's recording hours: given by its packages, used, scheduled and free."""
    sub = accounts_service.get_subscriber(db_session=db_session, subscriber_id=subscriber_id)
    limit_s = accounts_service.account_limits(rt, db_session=db_session, sub=sub).recording_hours * 3600
    rows = db_session.execute(
        select(Recording.state, Recording.start_at, Recording.end_at, Recording.pad_before_s, Recording.pad_after_s)
        .where(Recording.subscriber_id == subscriber_id, Recording.state.in_(ACTIVE))).all()
    used = scheduled = 0.0
    for state, start, end, before, after in rows:
        length = (utc(end) - utc(start)).total_seconds() + before + after
        if state == "scheduled":
            scheduled += length
        else:
            used += length
    return Quota(hours=_hours(limit_s), used_hours=_hours(used), scheduled_hours=_hours(scheduled),
                 free_hours=_hours(max(0.0, limit_s - used - scheduled)))


def schedule(rt: Runtime, *, db_session: Session, principal: Principal, body: RecordingCreate) -> Recording:
    """Schedule a recording of a programme (future, on air, or aired and still in catch-up) or of a range."""
    settings = rt.settings
    now = dt.datetime.now(dt.UTC)
    pad_before = body.pad_before_s if body.pad_before_s is not None else settings.catchup_pad_before_s
    pad_after = body.pad_after_s if body.pad_after_s is not None else settings.catchup_pad_after_s
    if body.programme_id is not None:
        p = guide.get_programme(db_session=db_session, programme_id=body.programme_id)
        channel_id, start, end, title = p.channel_id, utc(p.start_at), utc(p.end_at), p.title
        kind, content_id = "programme", p.id
        series_id = p.series_id
    else:
        channel_id, start, end, title = body.channel_id, body.start, body.end, f"{body.channel_id} {body.start:%Y-%m-%d %H:%M}"
        kind, content_id, series_id = "channel", channel_id, None
        if not dt.timedelta(0) < end - start <= dt.timedelta(seconds=MAX_RANGE_S):
            raise InvalidRecordingRange(f"a range lasts more than 0 and at most {MAX_RANGE_S} seconds",
                                        max_s=MAX_RANGE_S)
    check_recording(rt, db_session=db_session, principal=principal, kind=kind, content_id=content_id)
    _check_archive(db_session, channel_id, start, end, now)
    _refuse_twice(db_session, principal.subscriber_id, body.programme_id, channel_id, start, end)
    needed = (end - start).total_seconds() + pad_before + pad_after
    q = quota(rt, db_session=db_session, subscriber_id=principal.subscriber_id)
    if needed > q.free_hours * 3600 + 1:
        raise QuotaExceeded("not enough recording hours left", used_hours=q.used_hours,
                            scheduled_hours=q.scheduled_hours, free_hours=q.free_hours, needed_hours=_hours(needed))
    rec = Recording(id=new_id(), subscriber_id=principal.subscriber_id, channel_id=channel_id,
                    programme_id=body.programme_id, series_id=series_id, title=title, start_at=start, end_at=end,
                    pad_before_s=pad_before, pad_after_s=pad_after,
                    state="scheduled" if start - dt.timedelta(seconds=pad_before) > now else "recording",
                    expires_at=end + dt.timedelta(days=settings.recording_retention_days), gaps=[])
    if packages_service.channel_rights(db_session=db_session, channel_id=channel_id).recording_copy == "private":
        rec.copy_id = private_copy(db_session=db_session, rec=rec)
    else:
        rec.copy_id = shared_copy(db_session=db_session, channel_id=channel_id, window=window_us(rec))
    db_session.add(rec)
    try:
        with db_session.begin_nested():
            db_session.flush()
    except IntegrityError as err:  # a double submit that raced this one
        raise RecordingExists("this is already being recorded") from err
    return rec


def _check_archive(db_session: Session, channel_id: str, start: dt.datetime, end: dt.datetime,
                   now: dt.datetime) -> None:

    earliest = now - dt.timedelta(days=catalog_service.archive_days(db_session=db_session, channel_id=channel_id))
    if end <= earliest or start < earliest - dt.timedelta(hours=1):
        raise InvalidRecordingRange("that time has left the channel's archive", earliest=earliest.isoformat())


def _refuse_twice(db_session: Session, subscriber_id: str, programme_id: str | None, channel_id: str,
                  start: dt.datetime, end: dt.datetime) -> None:
    query = select(Recording.id).where(Recording.subscriber_id == subscriber_id, Recording.deleted_at.is_(None))
    if programme_id is not None:
        query = query.where(Recording.programme_id == programme_id)
    else:
        query = query.where(Recording.programme_id.is_(None), Recording.channel_id == channel_id,
                            Recording.start_at == start, Recording.end_at == end)
    existing = db_session.scalar(query.limit(1))
    if existing is not None:
        raise RecordingExists("this is already being recorded", recording_id=existing)


def shared_copy(*, db_session: Session, channel_id: str, window: tuple[int, int]) -> str:
    """Return the shared stored copy of a range, creating it (and its pin) on first use."""
    query = select(StoredCopy.id).where(StoredCopy.channel_id == channel_id, StoredCopy.start_us == window[0],
                                        StoredCopy.end_us == window[1], StoredCopy.private_for.is_(None))
    found = db_session.scalar(query)
    if found is not None:
        return found
    copy = StoredCopy(id=new_id(), channel_id=channel_id, start_us=window[0], end_us=window[1])
    try:
        with db_session.begin_nested():
            db_session.add(copy)
            db_session.flush()
    except IntegrityError:  # another scheduler made it a moment ago
        return db_session.scalar(query)
    timeline_service.pin_range(db_session=db_session, owner=f"copy:{copy.id}", channel_id=channel_id,
                        start_us=window[0], end_us=window[1])
    return copy.id


def private_copy(*, db_session: Session, rec: Recording) -> str:
    """Return a new private copy for a recording; until its objects are made, a pin holds the archive's."""
    ws, we = window_us(rec)
    copy = StoredCopy(id=new_id(), channel_id=rec.channel_id, start_us=ws, end_us=we, private_for=rec.id)
    db_session.add(copy)
    db_session.flush()
    timeline_service.pin_range(db_session=db_session, owner=f"copy:{copy.id}", channel_id=rec.channel_id,
                        start_us=ws, end_us=we)
    return copy.id


def own_copy(*, db_session: Session, rec: Recording) -> str | None:
    """Return the private copy a recording plays from, once its objects are made (else it plays the archive)."""
    if rec.copy_id is None:
        return None
    copy = db_session.get(StoredCopy, rec.copy_id)
    return copy.id if copy is not None and copy.private_for and copy.copied_at and not copy.released_at else None


def _copies_to_make():  # noqa: ANN202
    # From the (few) private copies not made yet, each checked against its one recording: never a
    # scan of the recordings table, which this pass must not pay for every 2 s.
    finished = select(Recording.id).where(Recording.copy_id == StoredCopy.id,
                                          Recording.state.in_(("completed", "partial"))).exists()
    return (select(StoredCopy.id, StoredCopy.channel_id, StoredCopy.start_us, StoredCopy.end_us)
            .where(StoredCopy.private_for.is_not(None), StoredCopy.copied_at.is_(None),
                   StoredCopy.released_at.is_(None), finished))


def copies_to_make(*, db_session: Session, limit: int = 100) -> list[str]:
    """Return the private copies whose recordings finished and whose objects are not made yet."""
    return list(db_session.scalars(_copies_to_make().order_by(StoredCopy.created_at).limit(limit)))


def copy_to_make(*, db_session: Session, copy_id: str) -> tuple[str, int, int] | None:
    """Return the channel and window of a private copy still to be made, or None (made or released)."""
    row = db_session.execute(_copies_to_make().where(StoredCopy.id == copy_id)).first()
    return (row.channel_id, row.start_us, row.end_us) if row else None


def copy_made(*, db_session: Session, copy_id: str, size: int) -> bool:
    """Record that a private copy's objects are made and release its pin on the archive; tell whether it
    still stands (if not, it was released while being made, and the caller deletes what it wrote)."""
    copy = db_session.get(StoredCopy, copy_id, with_for_update=True)
    if copy is None or copy.released_at is not None:
        return False
    copy.copied_at, copy.bytes = dt.datetime.now(dt.UTC), size
    timeline_service.unpin(db_session=db_session, owner=f"copy:{copy_id}")
    db_session.flush()
    return True


def released_copies(*, db_session: Session, limit: int = 100) -> list[str]:
    """Return the private copies whose recordings are gone and whose objects wait to be deleted."""
    return list(db_session.scalars(select(StoredCopy.id).where(StoredCopy.released_at.is_not(None))
                                   .order_by(StoredCopy.released_at).limit(limit)))


def forget_copy(*, db_session: Session, copy_id: str) -> None:
    """Drop a released copy's row once its objects are deleted."""
    copy = db_session.get(StoredCopy, copy_id)
    if copy is not None and copy.released_at is not None:
        db_session.delete(copy)
        db_session.flush()


def forget_channel(rt: Runtime, *, db_session: Session, channel_id: str) -> list[str]:
    """Before a channel is deleted (its recordings and copies' rows go with it): delete its private
    copies' objects once that commits; return their ids."""
    ids = list(db_session.scalars(select(StoredCopy.id).where(StoredCopy.channel_id == channel_id,
                                                             StoredCopy.private_for.is_not(None))))
    if ids:
        run_after_commit(db_session, lambda: [copies.delete_copy(rt, copy_id) for copy_id in ids])
    return ids


def drop_channel_recordings(rt: Runtime, db_session: Session, event: ChannelDeleted) -> None:
    """Let a deleted channel's recordings and copies go (subscribed to `ChannelDeleted`)."""
    forget_channel(rt, db_session=db_session, channel_id=event.channel_id)


def get_recording(*, db_session: Session, subscriber_id: str, recording_id: str) -> Recording:
    """Return one of the subscriber's recordings (another account's is not found)."""
    rec = db_session.get(Recording, recording_id)
    if rec is None or rec.subscriber_id != subscriber_id or rec.deleted_at is not None:
        raise RecordingNotFound("no such recording on this account", recording_id=recording_id)
    return rec


def list_recordings(*, db_session: Session, subscriber_id: str, state: str | None, channel_id: str | None,
                    series_id: str | None, order: str, offset: int, limit: int) -> tuple[list[Recording], int]:
    """Return the subscriber's recordings, filtered and sorted, and how many match."""
    query = select(Recording).where(Recording.subscriber_id == subscriber_id, Recording.deleted_at.is_(None))
    if state:
        query = query.where(Recording.state == state)
    if channel_id:
        query = query.where(Recording.channel_id == channel_id)
    if series_id:
        query = query.where(Recording.series_id == series_id)
    total = db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
    sort = {"start": Recording.start_at.asc(), "-start": Recording.start_at.desc(), "title": Recording.title.asc()}
    rows = db_session.scalars(query.order_by(sort[order], Recording.id).offset(offset).limit(limit))
    return list(rows), total


def delete_recording(*, db_session: Session, subscriber_id: str, recording_id: str) -> None:
    """Delete a recording: its hours are free at once, its copy's storage once nothing else uses it."""
    rec = get_recording(db_session=db_session, subscriber_id=subscriber_id, recording_id=recording_id)
    rec.state, rec.deleted_at = "deleted", dt.datetime.now(dt.UTC)
    copy_id, rec.copy_id = rec.copy_id, None
    db_session.flush()
    if copy_id is not None:
        release_copy(db_session=db_session, copy_id=copy_id)


def release_copy(*, db_session: Session, copy_id: str) -> bool:
    """Drop a stored copy and its pin if no recording refers to it any more; tell whether it went."""
    users = db_session.scalar(select(func.count()).select_from(Recording).where(Recording.copy_id == copy_id)) or 0
    if users:
        return False
    timeline_service.unpin(db_session=db_session, owner=f"copy:{copy_id}")
    copy = db_session.get(StoredCopy, copy_id)
    if copy is not None and copy.private_for:
        # Its objects (some may exist even if the copy was never finished) go first, by a job.
        copy.released_at = copy.released_at or dt.datetime.now(dt.UTC)
    elif copy is not None:
        db_session.delete(copy)
    db_session.flush()
    return True


def to_read(rec: Recording) -> RecordingRead:
    """Return the API view of a recording."""
    return RecordingRead(
        id=rec.id, channel_id=rec.channel_id, programme_id=rec.programme_id, series_id=rec.series_id,
        title=rec.title, start=utc(rec.start_at), end=utc(rec.end_at), pad_before_s=rec.pad_before_s,
        pad_after_s=rec.pad_after_s, state=rec.state, failure_reason=rec.failure_reason,
        gaps=[[dt.datetime.fromtimestamp(a, dt.UTC), dt.datetime.fromtimestamp(b, dt.UTC)] for a, b in rec.gaps or []],
        created_at=utc(rec.created_at), expires_at=utc(rec.expires_at))


# -- finishing -----------------------------------------------------------------------------------
FINALIZE_GRACE_S = 8  # after the window ends: the last segment's publishing, with room to spare


def start_due(*, db_session: Session, now: dt.datetime) -> int:
    """Mark scheduled recordings whose window has begun as recording; return how many."""
    rows = db_session.scalars(select(Recording).where(Recording.state == "scheduled",
                                                      Recording.start_at <= now + dt.timedelta(hours=1))).all()
    started = 0
    for rec in rows:
        if window_us(rec)[0] <= now.timestamp() * 1_000_000:
            rec.state, started = "recording", started + 1
    db_session.flush()
    return started


def finalize_due(*, db_session: Session, now: dt.datetime, limit: int = 500) -> list[str]:
    """Return the recordings whose window has ended and which are not finished yet (oldest first)."""
    rows = db_session.execute(select(Recording.id, Recording.end_at, Recording.pad_after_s).where(
        Recording.state.in_(("scheduled", "recording")), Recording.end_at <= now)
        .order_by(Recording.end_at).limit(limit)).all()
    due = now - dt.timedelta(seconds=FINALIZE_GRACE_S)
    return [rid for rid, end, after in rows if utc(end) + dt.timedelta(seconds=after) <= due]


def finalize(rt: Runtime, *, db_session: Session, recording_id: str, now: dt.datetime) -> str | None:
    """Finish a recording whose window is over: completed, partial (saying where) or failed.

    Idempotent: a finished recording is left as it is; the whole change is one transaction, so
    a worker killed half-way leaves the recording for the next run.
    """
    rec = db_session.get(Recording, recording_id, with_for_update=True)
    if rec is None or rec.state not in ("scheduled", "recording"):
        return rec.state if rec else None
    ws, we = window_us(rec)
    if we > (now.timestamp() - FINALIZE_GRACE_S) * 1_000_000:
        return rec.state
    missing = timeline_service.missing_in_window(db_session=db_session, channel_id=rec.channel_id, start_us=ws, end_us=we)
    rec.gaps = [[a // 1_000_000, -(-b // 1_000_000)] for a, b in missing]
    failed = bool(missing) and sum(b - a for a, b in missing) >= we - ws
    if failed:
        rec.state, rec.failure_reason = "failed", "nothing was recorded: the channel was off the air"
        rec.gaps = []
    else:
        rec.state = "partial" if missing else "completed"
    rec.completed_at = now
    old, rec.copy_id = (rec.copy_id, None) if failed else (None, rec.copy_id)
    db_session.flush()
    announce(rt, db_session=db_session, rec=rec)
    if old:  # nothing to keep: the copy (and its pin) go unless another recording holds it
        release_copy(db_session=db_session, copy_id=old)
    return rec.state


def announce(rt: Runtime, *, db_session: Session, rec: Recording) -> None:
    """Tell the subscriber's apps a recording finished (or failed), through the notifier's
    outbox in this transaction: the event exists exactly when the change committed."""
    kind = "recording.failed" if rec.state == "failed" else "recording.completed"
    payload = {"recording_id": rec.id, "title": rec.title, "state": rec.state, "channel_id": rec.channel_id,
               "failure_reason": rec.failure_reason, "gaps": rec.gaps or []}
    load_notifier(rt.settings).send(db_session=db_session, kind=kind, recipient=rec.subscriber_id,
                                                     payload=payload)


# -- following the guide --------------------------------------------------------------------------
def follow_guide(rt: Runtime, *, db_session: Session, channel_id: str) -> int:
    """Bring unfinished programme recordings of a channel in line with its guide: a moved
    programme moves its recordings, an overrunning one extends them, a cancelled one fails them.
    Called in the guide import's transaction, so the guide and the recordings change together."""
    recordings = list(db_session.scalars(select(Recording).where(
        Recording.channel_id == channel_id, Recording.programme_id.is_not(None),
        Recording.state.in_(("scheduled", "recording")))
        # Locked, so a recording finishing meanwhile is left as it finished.
        .with_for_update()))
    programmes = guide.programmes_by_id(db_session=db_session,
                                        programme_ids=sorted({r.programme_id for r in recordings}))
    changed = 0
    for rec in recordings:
        programme = programmes.get(rec.programme_id)
        if programme is None:  # gone from the guide altogether: nothing to follow
            continue
        if programme.status != "scheduled":
            rec.state, rec.failure_reason = "failed", "the programme was cancelled"
            old, rec.copy_id = rec.copy_id, None
            db_session.flush()
            announce(rt, db_session=db_session, rec=rec)
            if old:
                release_copy(db_session=db_session, copy_id=old)
            changed += 1
            continue
        start, end = utc(programme.start_at), utc(programme.end_at)
        if (utc(rec.start_at), utc(rec.end_at)) == (start, end):
            continue
        rec.start_at, rec.end_at, rec.title = start, end, programme.title
        _move_copy(db_session, rec)
        changed += 1
    # New episodes on the guide: the channel's series rules record them, in a job of their own
    # once the guide is committed (thousands of rules must not hold the import's transaction).

    run_after_commit(db_session, lambda: queue_job(rt, "recorder.apply_series_rules",
                                                   f"recorder.series:{channel_id}:{new_id()}", channel_id=channel_id))
    return changed


def follow_guide_change(rt: Runtime, db_session: Session, event: GuideChanged) -> None:
    """Bring a channel's recordings in line with its changed guide (subscribed to `GuideChanged`)."""
    follow_guide(rt, db_session=db_session, channel_id=event.channel_id)


def _move_copy(db_session: Session, rec: Recording) -> None:
    """Make a moved recording's copy cover its new window: a private copy (not made yet: the
    recording has not finished) moves with its pin; a shared one is swapped for the new range's."""
    old = db_session.get(StoredCopy, rec.copy_id) if rec.copy_id else None
    ws, we = window_us(rec)
    if old is not None and old.private_for:
        old.start_us, old.end_us = ws, we
        timeline_service.pin_range(db_session=db_session, owner=f"copy:{old.id}", channel_id=rec.channel_id,
                            start_us=ws, end_us=we)
        return
    rec.copy_id = shared_copy(db_session=db_session, channel_id=rec.channel_id, window=(ws, we))
    db_session.flush()
    if old is not None and old.id != rec.copy_id:
        release_copy(db_session=db_session, copy_id=old.id)


def expire(*, db_session: Session, now: dt.datetime, limit: int = 1000) -> int:
    """Delete recordings past their retention (SMARTGO_RECORDING_RETENTION_DAYS); return how many."""
    rows = db_session.execute(select(Recording.id, Recording.subscriber_id).where(
        Recording.deleted_at.is_(None), Recording.expires_at < now).limit(limit)).all()
    for recording_id, subscriber_id in rows:
        delete_recording(db_session=db_session, subscriber_id=subscriber_id, recording_id=recording_id)
    return len(rows)
