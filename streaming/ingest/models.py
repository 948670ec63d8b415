"""Ingest tables: what each pushed track of a channel has sent."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base


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
    # (their JSON forms are in streaming/ingest/state.py): a handful of entries each.
    announced: Mapped[list] = mapped_column(JSON, default=list)
    pending: Mapped[list] = mapped_column(JSON, default=list)
    # [[track_id, timescale, default sample duration, handler], ...] of the current init
    # segment: what times a CMAF segment from its own boxes (streaming/formats/fmp4.py).
    init_timing: Mapped[list] = mapped_column(JSON, default=list)
    pending_n: Mapped[int] = mapped_column(Integer, default=0, index=True)
    peak_bps: Mapped[int] = mapped_column(Integer, default=0)
    avg_bps: Mapped[int] = mapped_column(Integer, default=0)
