"""Cloud DVR tables: what subscribers recorded, their series rules, and the stored copies."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base, UTCDateTime

Timestamp = UTCDateTime()


class StoredCopy(Base):
    """The stored range of a channel's timeline that recordings play from.

    Shared (the default): one per (channel, range), held by a pin on the timeline, whoever and
    however many recorded it. Private: one per recording, for rights holders who require it.
    """

    __tablename__ = "stored_copies"
    __table_args__ = (Index("ux_stored_copies_shared", "channel_id", "start_us", "end_us", unique=True,
                            postgresql_where=text("private_for IS NULL"), sqlite_where=text("private_for IS NULL")),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    start_us: Mapped[int] = mapped_column(BigInteger)
    end_us: Mapped[int] = mapped_column(BigInteger)
    private_for: Mapped[str | None] = mapped_column(String(32))  # the recording a private copy belongs to
    # A private copy's objects are made once its recording finishes (until then the pin holds the
    # archive's); released copies wait for the job that deletes their objects, then their row.
    copied_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    released_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, server_default=func.now())


class Recording(Base):
    """A subscriber's recording of a programme or of a time range on a channel."""

    __tablename__ = "recordings"
    __table_args__ = (
        # The same programme (or range) cannot be recorded twice by one subscriber, deleted ones aside.
        Index("ux_recordings_programme", "subscriber_id", "programme_id", unique=True,
              postgresql_where=text("deleted_at IS NULL AND programme_id IS NOT NULL"),
              sqlite_where=text("deleted_at IS NULL AND programme_id IS NOT NULL")),
        Index("ux_recordings_range", "subscriber_id", "channel_id", "start_at", "end_at", unique=True,
              postgresql_where=text("deleted_at IS NULL AND programme_id IS NULL"),
              sqlite_where=text("deleted_at IS NULL AND programme_id IS NULL")),
        Index("ix_recordings_subscriber_state", "subscriber_id", "state", "start_at"),
        # The reconcile pass (every 2 s) reads only unfinished recordings: small indexes, however
        # many finished ones the table holds.
        Index("ix_recordings_unfinished", "end_at", postgresql_where=text("state IN ('scheduled', 'recording')"),
              sqlite_where=text("state IN ('scheduled', 'recording')")),
        Index("ix_recordings_scheduled_start", "start_at", postgresql_where=text("state = 'scheduled'"),
              sqlite_where=text("state = 'scheduled'")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    programme_id: Mapped[str | None] = mapped_column(ForeignKey("programmes.id", ondelete="SET NULL"))
    series_rule_id: Mapped[str | None] = mapped_column(String(32), index=True)
    series_id: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(400))
    # The programme's times (or the range's); the stored window adds the padding.
    start_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    end_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    pad_before_s: Mapped[int] = mapped_column(Integer, default=0)
    pad_after_s: Mapped[int] = mapped_column(Integer, default=0)
    # scheduled, recording, completed, partial, failed, deleted
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    gaps: Mapped[list] = mapped_column(JSON, default=list)  # [[start, end], ...] where the source was missing
    copy_id: Mapped[str | None] = mapped_column(ForeignKey("stored_copies.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, server_default=func.now())
    completed_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    expires_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class SeriesRule(Base):
    """Record every episode of a series on a channel (new ones only, or all), keeping at most N."""

    __tablename__ = "series_rules"
    __table_args__ = (Index("ux_series_rules", "subscriber_id", "channel_id", "series_id", unique=True),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    series_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(400))
    scope: Mapped[str] = mapped_column(String(8), default="new")  # new, all
    keep_at_most: Mapped[int | None] = mapped_column(Integer)
    pad_before_s: Mapped[int] = mapped_column(Integer, default=0)
    pad_after_s: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, server_default=func.now())
