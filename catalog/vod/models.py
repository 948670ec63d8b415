"""VOD title tables: titles, their texts, genres, search words, packages, changes and watch positions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base, UTCDateTime


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
    # Search reads the best field first: title words, then people, then synopses (catalog/vod/search.py).
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
