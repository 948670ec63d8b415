"""What the guide announces to the packages above it, inside the transaction."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GuideChanged:
    """An import changed a channel's programmes (added, moved or cancelled some)."""

    channel_id: str
