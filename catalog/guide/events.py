"""What the guide announces to the packages above it, inside the transaction."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GuideChanged:
    """An import changed a channel's programmes (added, moved or cancelled some)."""

    channel_id: str


@dataclass(frozen=True)
class ProgrammeRightsChanged:
    """Staff changed a programme's rights overrides: sessions playing it are decided again."""

    programme_id: str
