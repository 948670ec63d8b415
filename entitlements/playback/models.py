"""Playback tables: sessions and the audit of every decision."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from entitlements.accounts.models import Timestamp
from infra.db import Base


class PlaybackSession(Base):
    """One allowed playback: what the signed URL grants, until it ends or is revoked."""

    __tablename__ = "playback_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[str] = mapped_column(String(32), index=True)
    profile_id: Mapped[str | None] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(String(140))
    mode: Mapped[str] = mapped_column(String(16))
    # The channel it plays from (a programme's too), so a change of the channel finds it.
    channel_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # A by-time session's window (seconds, UTC), to decide it again the same way.
    window_start: Mapped[int | None] = mapped_column(BigInteger)
    window_end: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    expires_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    ended_at: Mapped[dt.datetime | None] = mapped_column(Timestamp, index=True)
    end_reason: Mapped[str | None] = mapped_column(String(64))


class PlaybackDecisionLog(Base):
    """Every playback decision, kept for customer care for a retention period."""

    __tablename__ = "playback_decisions"
    __table_args__ = (Index("ix_playback_decisions_subscriber_at", "subscriber_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(Timestamp, index=True)
    subscriber_id: Mapped[str] = mapped_column(String(32))
    device_id: Mapped[str] = mapped_column(String(32))
    session_id: Mapped[str | None] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(String(140))
    mode: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(8))  # allowed | denied
    reason: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(45))
