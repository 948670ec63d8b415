"""The guide as players and the playback door see it: programmes, the grid, programme rights.

Services take ``db_session`` and never commit.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.channels.models import Channel
from catalog.guide.errors import ProgrammeNotFound
from catalog.guide.events import ProgrammeRightsChanged
from catalog.guide.models import Programme
from catalog.guide.schemas import ProgrammeRead
from infra import events
from infra.db import utc

PROGRAMME_RIGHTS = ("catchup", "startover", "recording")
RATING_AGES = {"AL": 0, "7": 7, "12": 12, "16": 16, "18": 18}


def get_programme(*, db_session: Session, programme_id: str, cancelled: bool = False) -> Programme:
    """Return a programme on the guide (or, with cancelled, one taken off it) or raise."""
    programme = db_session.get(Programme, programme_id)
    if programme is None or (programme.status != "scheduled" and not cancelled):
        raise ProgrammeNotFound(f"no programme {programme_id!r} on the guide", programme_id=programme_id)
    return programme


def programme_rights(programme: Programme) -> dict[str, bool]:
    """Return the programme's narrowing of its channel's rights: the feed's, then staff's on top."""
    return {**(programme.feed_rights or {}), **(programme.staff_rights or {})}


def age_of(programme: Programme) -> int | None:
    """Return the programme's age rating on the Polish scale as a number (AL is 0)."""
    return RATING_AGES.get(programme.age_rating) if programme.age_rating else None


def set_programme_rights(*, db_session: Session, programme_id: str, rights: dict[str, bool | None]) -> Programme:
    """Set staff overrides of a programme's rights (None removes one); re-imports keep them."""
    programme = get_programme(db_session=db_session, programme_id=programme_id)
    staff = dict(programme.staff_rights or {})
    for key, value in rights.items():
        if value is None:
            staff.pop(key, None)
        else:
            staff[key] = value
    programme.staff_rights, programme.updated_at = staff, dt.datetime.now(dt.UTC)
    db_session.flush()
    events.publish(db_session, ProgrammeRightsChanged(programme_id=programme.id))
    return programme


def programmes_between(*, db_session: Session, channel_id: str, start: dt.datetime,
                       end: dt.datetime) -> list[Programme]:
    """Return a channel's programmes overlapping [start, end)."""
    return list(db_session.scalars(select(Programme).where(
        Programme.channel_id == channel_id, Programme.status == "scheduled", Programme.start_at < end,
        Programme.end_at > start).order_by(Programme.start_at).limit(500)))


def grid(*, db_session: Session, channel_ids: list[str] | None, start: dt.datetime, end: dt.datetime,
         offset: int, limit: int) -> tuple[list[Programme], int]:
    """Return the programmes overlapping [start, end) on these channels (all when None), by
    channel then start, and how many there are."""
    query = select(Programme).where(Programme.status == "scheduled", Programme.start_at < end,
                                    Programme.end_at > start)
    if channel_ids is not None:
        query = query.where(Programme.channel_id.in_(channel_ids))
    total = db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db_session.scalars(query.order_by(Programme.channel_id, Programme.start_at)
                              .offset(offset).limit(limit))
    return list(rows), total


def guide_version(*, db_session: Session, channel_ids: list[str] | None) -> str:
    """Return a stamp that changes whenever these channels' guide changes (for ETags)."""
    query = select(func.count(Programme.id), func.max(Programme.updated_at))
    if channel_ids is not None:
        query = query.where(Programme.channel_id.in_(channel_ids))
    count, latest = db_session.execute(query).one()
    return f"{count}-{utc(latest).timestamp() if latest else 0}"


def existing_channels(*, db_session: Session, channel_ids: list[str]) -> list[str]:
    """Return those of channel_ids that exist and are enabled."""
    return list(db_session.scalars(select(Channel.id).where(Channel.id.in_(channel_ids), Channel.enabled.is_(True))))


def to_programme_read(p: Programme) -> ProgrammeRead:
    """Return the player view of a programme."""
    return ProgrammeRead(id=p.id, channel_id=p.channel_id, start=utc(p.start_at), end=utc(p.end_at), title=p.title,
                         titles=p.titles or {}, sub_titles=p.sub_titles or {}, descriptions=p.descriptions or {},
                         categories=p.categories or [], series_id=p.series_id, season=p.season, episode=p.episode,
                         episode_label=p.episode_label, age_rating=p.age_rating)


def series_episodes(*, db_session: Session, channel_id: str, series_id: str, limit: int | None = None) -> list[Programme]:
    """Return the scheduled programmes of a series on a channel, by start."""
    query = select(Programme).where(Programme.channel_id == channel_id, Programme.series_id == series_id,
                                    Programme.status == "scheduled").order_by(Programme.start_at)
    return list(db_session.scalars(query.limit(limit) if limit is not None else query))


def programmes_by_id(*, db_session: Session, programme_ids: list[str]) -> dict[str, Programme]:
    """Return the programmes with these ids (cancelled ones included), by id."""
    if not programme_ids:
        return {}
    return {p.id: p for p in db_session.scalars(select(Programme).where(Programme.id.in_(programme_ids)))}
