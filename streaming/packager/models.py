"""Packager tables: each channel's packaging status as its supervisor reports it."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base


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
