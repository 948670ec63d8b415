"""Guide tables: sources, their imports, programmes and the staging an import reads into."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base, UTCDateTime


class EpgSource(Base):
    """Where a guide comes from: a URL fetched on a schedule, or files and uploads given to it."""

    __tablename__ = "epg_sources"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(2000))
    # Times without an offset are read in this zone (XMLTV's own default is UTC).
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    refresh_every_s: Mapped[int | None] = mapped_column(Integer)
    # XMLTV channel id -> our channel id; an id not listed is matched to a channel of that id.
    channel_map: Mapped[dict] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_import_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class EpgImport(Base):
    """One import of a guide and its report (what was added, changed, cancelled and rejected)."""

    __tablename__ = "epg_imports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("epg_sources.id", ondelete="CASCADE"), index=True)
    origin: Mapped[str] = mapped_column(String(16))  # url, upload, file
    object_key: Mapped[str | None] = mapped_column(String(300))  # an upload waiting in storage
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued, running, succeeded, failed
    error: Mapped[str | None] = mapped_column(String(2000))
    report: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # when a runner took it
    tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # runs claimed (see epg.MAX_TRIES)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Programme(Base):
    """A programme on a channel's guide; its id survives re-imports, so recordings can refer to it."""

    __tablename__ = "programmes"
    __table_args__ = (Index("ix_programmes_channel_start", "channel_id", "start_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    source_id: Mapped[str | None] = mapped_column(ForeignKey("epg_sources.id", ondelete="SET NULL"))
    start_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    title: Mapped[str] = mapped_column(String(400))
    titles: Mapped[dict] = mapped_column(JSON, default=dict)  # language -> text
    sub_titles: Mapped[dict] = mapped_column(JSON, default=dict)
    descriptions: Mapped[dict] = mapped_column(JSON, default=dict)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    series_id: Mapped[str | None] = mapped_column(String(200), index=True)
    season: Mapped[int | None] = mapped_column(Integer)
    episode: Mapped[int | None] = mapped_column(Integer)
    episode_label: Mapped[str | None] = mapped_column(String(40))
    source_programme_id: Mapped[str | None] = mapped_column(String(64))
    age_rating: Mapped[str | None] = mapped_column(String(4))
    # Narrowing of the channel's rights ({"catchup": false, ...}): from the feed, and from staff,
    # kept apart so a re-import never undoes what staff set.
    feed_rights: Mapped[dict] = mapped_column(JSON, default=dict)
    staff_rights: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")  # scheduled, cancelled
    fingerprint: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class StagedProgramme(Base):
    """A programme read from a guide, waiting to be reconciled with the channel's guide."""

    __tablename__ = "epg_staged"
    __table_args__ = (Index("ix_epg_staged_channel", "import_id", "channel_id", "start_at"),
                      Index("ix_epg_staged_programme", "import_id", "programme_id"))

    import_id: Mapped[str] = mapped_column(ForeignKey("epg_imports.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)  # order in the file
    channel_id: Mapped[str] = mapped_column(String(64))
    start_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    data: Mapped[dict] = mapped_column(JSON)
    # The guide programme it was matched to (or added as) by the reconcile: kept here, not in memory.
    programme_id: Mapped[str | None] = mapped_column(String(32))
