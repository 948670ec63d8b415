"""Protection tables: content keys, one per channel and key period, wrapped."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from infra.db import Base


class ContentKey(Base):
    """An AES-128 content key of one channel and key period, wrapped with the key-encryption key."""

    __tablename__ = "content_keys"

    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    period: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    wrapped: Mapped[str] = mapped_column(String(100))  # base64(nonce + AES-GCM(key))
