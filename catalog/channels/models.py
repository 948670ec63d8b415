"""Channel tables: channels and their renditions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, func
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
    # Why ffmpeg could not make the channel's outage slates (streaming/packager/slate.py); they are not tried again.
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
