"""Catalogue tables: channels and their renditions, guide sources, imports and programmes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infra.db import Base, UTCDateTime


class Channel(Base):
    """A linear channel: what it is, how it is packaged and how far back it can be watched."""

    __tablename__ = "channels"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    number: Mapped[int | None] = mapped_column(Integer, unique=True)
    logo_url: Mapped[str | None] = mapped_column(String(1000))
    segment_duration_ms: Mapped[int] = mapped_column(Integer)
    target_duration_s: Mapped[int] = mapped_column(Integer)
    timeshift_window_s: Mapped[int] = mapped_column(Integer)
    # How long the channel's segments are kept for catch-up (and any time-shift beyond the window).
    archive_days: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    segment_sets: Mapped[list[str]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Where our packager pulls the channel from; None means an external encoder pushes it.
    source_url: Mapped[str | None] = mapped_column(String(2000))
    backup_source_url: Mapped[str | None] = mapped_column(String(2000))
    packaging: Mapped[str] = mapped_column(String(16), default="ladder")
    # Demuxed audio renditions [{name, language, label, default, bitrate_kbps}]; empty means
    # every video rendition carries its own audio (muxed).
    audio_tracks: Mapped[list[dict]] = mapped_column(JSON, default=list)
    ingest_key_version: Mapped[int] = mapped_column(Integer, default=1)
    # Content protection: "aes-128" encrypts every segment (HLS METHOD=AES-128), with a new
    # key every key_rotation_s.
    encryption: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    key_rotation_s: Mapped[int] = mapped_column(Integer, default=600, server_default="600")
    # Why ffmpeg could not make the channel's outage slates (streaming/slate.py); they are not tried again.
    slate_error: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )

    renditions: Mapped[list["Rendition"]] = relationship(
        back_populates="channel",
        cascade="all, delete-orphan",
        order_by="Rendition.position",
        lazy="selectin",
    )


class Rendition(Base):
    """One rung of a channel's ladder."""

    __tablename__ = "renditions"

    channel_id: Mapped[str] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    video_bitrate_kbps: Mapped[int] = mapped_column(Integer)
    audio_bitrate_kbps: Mapped[int] = mapped_column(Integer)
    frame_rate: Mapped[float] = mapped_column(Float)
    codecs: Mapped[str] = mapped_column(String(100))

    channel: Mapped[Channel] = relationship(back_populates="renditions")


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


# -- VOD: titles content ops manage, and what players keep of them ------------------------------
class Title(Base):
    """A VOD title: a movie, a series (with seasons and episodes) or a show, with its rights."""

    __tablename__ = "vod_titles"
    __table_args__ = (
        Index("ix_vod_titles_browse", "status", "published_at"),
        # Counts of what players may see now read this index alone (no table rows).
        Index("ix_vod_titles_visible", "status", "kind", "available_from", "available_to"),
        Index("ix_vod_titles_parent", "parent_id", "position"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # movie, series, season, episode, show
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("vod_titles.id", ondelete="CASCADE"))
    position: Mapped[int | None] = mapped_column(Integer)  # season or episode number
    status: Mapped[str] = mapped_column(String(12), default="draft")  # draft, published, unpublished
    original_title: Mapped[str | None] = mapped_column(String(400))
    year: Mapped[int | None] = mapped_column(Integer)
    countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    genres: Mapped[list[str]] = mapped_column(JSON, default=list)
    credits: Mapped[list[dict]] = mapped_column(JSON, default=list)  # [{role, name, character}]
    duration_s: Mapped[int | None] = mapped_column(Integer)
    age_rating: Mapped[str | None] = mapped_column(String(4))  # AL, 7, 12, 16, 18
    # The licence window: the title shows and plays only inside it (None: open on that side).
    available_from: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    available_to: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    device_types: Mapped[list[str] | None] = mapped_column(JSON)  # None: every device type
    download: Mapped[str] = mapped_column(String(8), default="none")
    asset_id: Mapped[str | None] = mapped_column(String(32), index=True)  # streaming.MediaAsset
    images: Mapped[dict] = mapped_column(JSON, default=dict)  # kind -> {key, variants: {width: key}}
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # first published
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), server_default=func.now(),
                                                    onupdate=func.now())


class TitleText(Base):
    """A title's metadata in one language."""

    __tablename__ = "vod_title_texts"

    title_id: Mapped[str] = mapped_column(ForeignKey("vod_titles.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(3), primary_key=True)  # ISO 639-2: pol, eng
    title: Mapped[str] = mapped_column(String(400))
    synopsis: Mapped[str | None] = mapped_column(String(8000))
    short_synopsis: Mapped[str | None] = mapped_column(String(400))


class TitleGenre(Base):
    """A genre of a title, as a row, so browse and filters use an index."""

    __tablename__ = "vod_title_genres"

    genre: Mapped[str] = mapped_column(String(40), primary_key=True)
    title_id: Mapped[str] = mapped_column(ForeignKey("vod_titles.id", ondelete="CASCADE"), primary_key=True,
                                          index=True)


class TitleWord(Base):
    """A folded word of a title's texts (lower case, no diacritics), for search on any database."""

    __tablename__ = "vod_title_words"
    # Search reads the best field first: title words, then people, then synopses (catalog/vod_search.py).
    __table_args__ = (Index("ix_vod_title_words_field", "weight", "word", "title_id"),)

    # "C" collation on PostgreSQL: a prefix range (word >= 'zol' AND word < 'zom') uses the index.
    word: Mapped[str] = mapped_column(String(40).with_variant(String(40, collation="C"), "postgresql"),
                                      primary_key=True)
    title_id: Mapped[str] = mapped_column(ForeignKey("vod_titles.id", ondelete="CASCADE"), primary_key=True,
                                          index=True)
    weight: Mapped[int] = mapped_column(Integer)  # the best field it occurs in: title 3, people 2, synopsis 1


class TitlePackage(Base):
    """A package that grants a title."""

    __tablename__ = "vod_title_packages"

    title_id: Mapped[str] = mapped_column(ForeignKey("vod_titles.id", ondelete="CASCADE"), primary_key=True)
    package_code: Mapped[str] = mapped_column(ForeignKey("packages.code", ondelete="CASCADE"), primary_key=True,
                                              index=True)


class TitleChange(Base):
    """One change of a title: who made it, when, and what changed."""

    __tablename__ = "vod_title_changes"
    __table_args__ = (Index("ix_vod_title_changes_title", "title_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title_id: Mapped[str] = mapped_column(String(64))  # kept after the title is deleted
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))  # the staff key's name and id
    action: Mapped[str] = mapped_column(String(24))  # created, updated, published, unpublished, deleted...
    changes: Mapped[dict] = mapped_column(JSON, default=dict)  # field -> [before, after]


class WatchPosition(Base):
    """Where a subscriber stopped in a title, for continue watching on any device."""

    __tablename__ = "vod_positions"
    __table_args__ = (Index("ix_vod_positions_recent", "subscriber_id", "updated_at"),)

    subscriber_id: Mapped[str] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True)
    title_id: Mapped[str] = mapped_column(ForeignKey("vod_titles.id", ondelete="CASCADE"), primary_key=True)
    position_s: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[int | None] = mapped_column(Integer)
    finished: Mapped[bool] = mapped_column(Boolean, default=False)
    device_id: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
