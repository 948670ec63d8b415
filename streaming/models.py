"""Timeline and ingest tables."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base, UTCDateTime


class SegmentRun(Base):
    """A run of contiguous segments of a channel's timeline (see streaming/timeline.py)."""

    __tablename__ = "segment_runs"
    __table_args__ = (
        Index("ix_segment_runs_channel_start", "channel_id", "start_us", unique=True),
        Index("ix_segment_runs_channel_seq", "channel_id", "first_seq", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    first_seq: Mapped[int] = mapped_column(BigInteger)
    start_us: Mapped[int] = mapped_column(BigInteger)
    end_us: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
    duration_us: Mapped[int | None] = mapped_column(Integer)
    durations: Mapped[bytes | None] = mapped_column(LargeBinary)
    discontinuity: Mapped[bool] = mapped_column(Boolean, default=False)
    disc_count: Mapped[int] = mapped_column(Integer, default=0)
    gap: Mapped[bool] = mapped_column(Boolean, default=False)
    session: Mapped[int] = mapped_column(Integer, default=0)
    enc_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    inits: Mapped[dict] = mapped_column(JSON, default=dict)


class ChannelTimelineState(Base):
    """Per-channel ingest bookkeeping; its row is the lock that serialises publishing."""

    __tablename__ = "channel_timeline_state"

    channel_id: Mapped[str] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    last_session: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    # Wall-clock time of the last publish: origins show live gap entries only when it is
    # older than the gap hold, and ingest then keeps the entries they showed.
    last_publish_us: Mapped[int] = mapped_column(BigInteger, default=0)
    # Bumped by each packager node that takes the channel; its pushes carry it, and ingest
    # refuses a push with a lower one (a node that lost the channel while Redis was away).
    packager_epoch: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class IngestTrack(Base):
    """What the ingest knows of one pushed track (segment set + rendition) of a channel."""

    __tablename__ = "ingest_tracks"

    channel_id: Mapped[str] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    track: Mapped[str] = mapped_column(String(48), primary_key=True)
    session: Mapped[int] = mapped_column(Integer, default=0)
    last_encseq: Mapped[int] = mapped_column(BigInteger, default=-1)
    init_hash: Mapped[str | None] = mapped_column(String(32))
    # Set by an init segment PUT: encoders send one when they (re)start, so a lower
    # sequence number right after it means a restart, not a late segment.
    init_since_segment: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the encoder's last playlist announced, and stored segments waiting to publish
    # (their JSON forms are in streaming/ingest_state.py): a handful of entries each.
    announced: Mapped[list] = mapped_column(JSON, default=list)
    pending: Mapped[list] = mapped_column(JSON, default=list)
    # [[track_id, timescale, default sample duration, handler], ...] of the current init
    # segment: what times a CMAF segment from its own boxes (streaming/fmp4.py).
    init_timing: Mapped[list] = mapped_column(JSON, default=list)
    pending_n: Mapped[int] = mapped_column(Integer, default=0, index=True)
    peak_bps: Mapped[int] = mapped_column(Integer, default=0)
    avg_bps: Mapped[int] = mapped_column(Integer, default=0)


class SegmentHole(Base):
    """A timeline segment one track lacks (published after the deadline without it)."""

    __tablename__ = "segment_holes"

    channel_id: Mapped[str] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    track: Mapped[str] = mapped_column(String(48), primary_key=True)


class ChannelStatus(Base):
    """What the packager reports about a channel it runs: state, reason, restarts, source."""

    __tablename__ = "channel_status"

    channel_id: Mapped[str] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(500))
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    current_source: Mapped[str | None] = mapped_column(String(16))
    node: Mapped[str | None] = mapped_column(String(100))
    updated_us: Mapped[int] = mapped_column(BigInteger)


class ContentKey(Base):
    """An AES-128 content key of one channel and key period, wrapped with the key-encryption key."""

    __tablename__ = "content_keys"

    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    period: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    wrapped: Mapped[str] = mapped_column(String(100))  # base64(nonce + AES-GCM(key))


class TimelinePin(Base):
    """A range of a channel's timeline that retention must keep (a recording's shared copy)."""

    __tablename__ = "timeline_pins"
    __table_args__ = (Index("ix_timeline_pins_channel", "channel_id", "start_us"),)

    owner: Mapped[str] = mapped_column(String(80), primary_key=True)  # e.g. "recording:{id}"
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    start_us: Mapped[int] = mapped_column(BigInteger)
    end_us: Mapped[int] = mapped_column(BigInteger)


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
