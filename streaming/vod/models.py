"""VOD media tables: the media assets behind titles."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base, UTCDateTime


class MediaAsset(Base):
    """A VOD mezzanine file and what ingest made of it: its state, progress and segment index.

    The index (``manifest``) lists every track of the ladder (video renditions, labelled audio,
    WebVTT subtitles, the I-frame track) with its segment durations; the origin renders every
    VOD playlist from it, as it renders channel playlists from the timeline.
    """

    __tablename__ = "media_assets"
    __table_args__ = (Index("ix_media_assets_state", "state", "heartbeat_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The mezzanine's SHA-256: the same file uploaded twice is one asset.
    sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(200))  # cleaned of any path, for people to read
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    source_key: Mapped[str] = mapped_column(String(300))
    upload_id: Mapped[str | None] = mapped_column(String(200))  # a multipart upload under way
    # uploading, queued, processing, ready, failed, cancelled
    state: Mapped[str] = mapped_column(String(12), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # percent of the transcode done
    error_code: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(String(2000))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    # Ingest runs since the asset was last queued by staff (upload, retry): at MAX_TRIES it fails.
    tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    segment_sets: Mapped[list[str]] = mapped_column(JSON, default=list)  # asked for: cmaf, and ts
    audio_labels: Mapped[list[dict]] = mapped_column(JSON, default=list)  # [{language, label, default}] by order
    subtitles: Mapped[list[dict]] = mapped_column(JSON, default=list)  # sidecars [{language, label, key}]
    probe: Mapped[dict] = mapped_column(JSON, default=dict)
    manifest: Mapped[dict] = mapped_column(JSON, default=dict)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # a worker holds it
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
