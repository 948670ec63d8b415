"""What the channel catalogue announces to the packages above it, inside the transaction."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelCreated:
    """A channel was created with these tracks (``segment_set/rendition`` and audio names)."""

    channel_id: str
    tracks: tuple[str, ...]


@dataclass(frozen=True)
class ChannelDeleted:
    """A channel is being deleted: what others keep about it goes in the same transaction."""

    channel_id: str
