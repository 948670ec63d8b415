"""Timeline tables: runs of segments, holes, per-channel state and the pins recordings hold."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base


class SegmentRun(Base):
    """A run of contiguous segments of a channel's timeline (see streaming/timeline/runs.py)."""

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


class SegmentHole(Base):
    """A timeline segment one track lacks (published after the deadline without it)."""

    __tablename__ = "segment_holes"

    channel_id: Mapped[str] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    track: Mapped[str] = mapped_column(String(48), primary_key=True)


class TimelinePin(Base):
    """A range of a channel's timeline that retention must keep (a recording's shared copy)."""

    __tablename__ = "timeline_pins"
    __table_args__ = (Index("ix_timeline_pins_channel", "channel_id", "start_us"),)

    owner: Mapped[str] = mapped_column(String(80), primary_key=True)  # e.g. "recording:{id}"
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    start_us: Mapped[int] = mapped_column(BigInteger)
    end_us: Mapped[int] = mapped_column(BigInteger)
