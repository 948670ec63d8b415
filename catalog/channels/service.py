"""Catalogue operations. Services take the session as ``db_session`` and never commit."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy import update as sa_update
from sqlalchemy.orm import Session

from catalog.channels.errors import (
    ChannelExists,
    ChannelNotFound,
    ChannelNumberTaken,
    InvalidChannel,
    RenditionNotFound,
)
from catalog.channels.events import ChannelCreated, ChannelDeleted
from catalog.channels.models import Channel, Rendition
from catalog.channels.schemas import (
    AudioTrackSpec,
    ChannelCreate,
    ChannelRead,
    ChannelUpdate,
    RenditionRead,
)
from infra import events
from infra.runtime import notify_after_commit

CHANNEL_TOPIC = "channel."


def audio_frame_aligned(segment_duration_ms: int) -> bool:
    """Tell whether a segment holds a whole number of 1024-sample AAC frames at 48 kHz."""
    return (segment_duration_ms * 48) % 1024 == 0


def to_read(channel: Channel) -> ChannelRead:
    """Return the API view of a channel."""
    return ChannelRead(
        id=channel.id,
        name=channel.name,
        number=channel.number,
        logo_url=channel.logo_url,
        segment_duration_ms=channel.segment_duration_ms,
        target_duration_s=channel.target_duration_s,
        timeshift_window_s=channel.timeshift_window_s,
        archive_days=channel.archive_days,
        segment_sets=list(channel.segment_sets),
        enabled=channel.enabled,
        renditions=[RenditionRead.model_validate(r) for r in channel.renditions],
        audio_tracks=[AudioTrackSpec.model_validate(a) for a in channel.audio_tracks or []],
        packaging=channel.packaging,
        source_url=channel.source_url,
        backup_source_url=channel.backup_source_url,
        encryption=channel.encryption,
        key_rotation_s=channel.key_rotation_s,
        audio_frame_aligned=audio_frame_aligned(channel.segment_duration_ms),
        slate_error=channel.slate_error,
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


def get(*, db_session: Session, channel_id: str) -> Channel:
    """Return a channel or raise ChannelNotFound."""
    channel = db_session.get(Channel, channel_id)
    if channel is None:
        raise ChannelNotFound(f"no channel {channel_id!r}", channel_id=channel_id)
    return channel


def archive_days(*, db_session: Session, channel_id: str) -> int:
    """Return how many days a channel's archive keeps, or raise ChannelNotFound (one column, no renditions)."""
    days = db_session.scalar(select(Channel.archive_days).where(Channel.id == channel_id))
    if days is None:
        raise ChannelNotFound(f"no channel {channel_id!r}", channel_id=channel_id)
    return days


def get_rendition(*, db_session: Session, channel_id: str, name: str) -> Rendition:
    """Return one rendition of a channel or raise."""
    rendition = db_session.get(Rendition, (channel_id, name))
    if rendition is None:
        get(db_session=db_session, channel_id=channel_id)
        raise RenditionNotFound(f"channel {channel_id!r} has no rendition {name!r}")
    return rendition


def list_channels(*, db_session: Session, enabled: bool | None = None, offset: int = 0,
                  limit: int = 100) -> tuple[list[Channel], int]:
    """Return a page of channels ordered by number then id, and the total count."""
    query = select(Channel)
    if enabled is not None:
        query = query.where(Channel.enabled == enabled)
    total = db_session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db_session.scalars(
        query.order_by(Channel.number.is_(None), Channel.number, Channel.id).offset(offset).limit(limit)
    ).all()
    return list(rows), total


def _check_number(db_session: Session, number: int | None, channel_id: str) -> None:
    if number is None:
        return
    other = db_session.scalar(select(Channel.id).where(Channel.number == number))
    if other is not None and other != channel_id:
        raise ChannelNumberTaken(f"channel number {number} is used by {other!r}", channel_id=other)


def create(*, db_session: Session, channel_in: ChannelCreate) -> Channel:
    """Create a channel with its ladder."""
    if db_session.get(Channel, channel_in.id) is not None:
        raise ChannelExists(f"channel {channel_in.id!r} exists", channel_id=channel_in.id)
    _check_number(db_session, channel_in.number, channel_in.id)
    channel = Channel(
        id=channel_in.id,
        name=channel_in.name,
        number=channel_in.number,
        logo_url=channel_in.logo_url,
        segment_duration_ms=channel_in.segment_duration_ms,
        target_duration_s=channel_in.target_duration_s,
        timeshift_window_s=channel_in.timeshift_window_s,
        archive_days=channel_in.archive_days,
        segment_sets=list(channel_in.segment_sets),
        enabled=channel_in.enabled,
        source_url=channel_in.source_url,
        backup_source_url=channel_in.backup_source_url,
        encryption=channel_in.encryption,
        key_rotation_s=channel_in.key_rotation_s,
        packaging=channel_in.packaging,
        audio_tracks=[a.model_dump() for a in channel_in.audio_tracks],
        renditions=[
            Rendition(position=i, **r.model_dump()) for i, r in enumerate(channel_in.renditions)
        ],
    )
    db_session.add(channel)
    db_session.flush()

    events.publish(db_session, ChannelCreated(
        channel_id=channel.id,
        tracks=tuple(f"{s}/{name}" for s in channel.segment_sets
                     for name in [r.name for r in channel.renditions] + [a["name"] for a in channel.audio_tracks]),
    ))
    notify_after_commit(db_session, CHANNEL_TOPIC + channel.id, {"kind": "created"})
    return channel


def update(*, db_session: Session, channel_id: str, channel_in: ChannelUpdate) -> Channel:
    """Change a channel's editable fields."""
    channel = get(db_session=db_session, channel_id=channel_id)
    changes = channel_in.model_dump(exclude_unset=True)
    if "number" in changes:
        _check_number(db_session, changes["number"], channel_id)
    for key, value in changes.items():
        if value is None and key in ("name", "timeshift_window_s", "archive_days", "enabled", "encryption",
                                         "key_rotation_s"):
            continue
        setattr(channel, key, value)
    channel.slate_error = None  # staff changed the channel: its slates are tried once more
    if channel.backup_source_url and not channel.source_url:

        raise InvalidChannel("a backup source needs a primary source_url")
    db_session.flush()
    notify_after_commit(db_session, CHANNEL_TOPIC + channel.id, {"kind": "updated"})
    return channel


def delete(*, db_session: Session, channel_id: str) -> None:
    """Delete a channel; its timeline goes with it and its objects are purged by retention."""
    channel = get(db_session=db_session, channel_id=channel_id)
    events.publish(db_session, ChannelDeleted(channel_id=channel_id))
    db_session.delete(channel)
    db_session.flush()
    notify_after_commit(db_session, CHANNEL_TOPIC + channel_id, {"kind": "deleted"})


def record_slate_error(*, db_session: Session, channel_id: str, message: str) -> None:
    """Record why a channel's slates cannot be made, so they are not tried again (the channel may be gone)."""
    db_session.execute(sa_update(Channel).where(Channel.id == channel_id).values(slate_error=message[:2000]))


def slate_error_ids(*, db_session: Session) -> set[str]:
    """Return the channels whose slates could not be made."""
    return set(db_session.scalars(select(Channel.id).where(Channel.slate_error.is_not(None))))


def require_channels(*, db_session: Session, channel_ids: list[str]) -> None:
    """Raise ChannelNotFound naming every id in channel_ids that is not a channel."""
    if not channel_ids:
        return
    known = set(db_session.scalars(select(Channel.id).where(Channel.id.in_(channel_ids))))
    missing = sorted(set(channel_ids) - known)
    if missing:
        raise ChannelNotFound(f"no channel(s) {', '.join(missing)}", channel_ids=missing)


def archive_spans(*, db_session: Session, channel_ids: list[str] | None = None) -> list[tuple[str, int, int]]:
    """Return (id, time-shift window in s, archive days) of every channel (or of those given)."""
    query = select(Channel.id, Channel.timeshift_window_s, Channel.archive_days)
    if channel_ids is not None:
        query = query.where(Channel.id.in_(channel_ids))
    return [(cid, window, days) for cid, window, days in db_session.execute(query)]


def packaged_channels(*, db_session: Session) -> dict[str, tuple]:
    """Return what a packager runs of every enabled channel with a source, by id (one light query)."""
    c = Channel.__table__.c
    rows = db_session.connection().execute(
        select(c.id, c.source_url, c.backup_source_url, c.packaging, c.segment_duration_ms, c.ingest_key_version)
        .where(c.enabled.is_(True), c.source_url.is_not(None))).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def find(*, db_session: Session, channel_id: str) -> Channel | None:
    """Return a channel with its renditions loaded, or None when there is no such channel."""
    channel = db_session.get(Channel, channel_id)
    if channel is not None:
        _ = list(channel.renditions)  # loaded while the session is open
    return channel
