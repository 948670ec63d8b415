"""A window of a channel's timeline as playback URLs name it: the one path format of the door and the origin.

A window is [start, end) in UTC seconds plus its kind (``vod``, ``event`` or ``live``: how its
playlist behaves) and where playback starts; played from a private copy when it names one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """A window asked for in a path: /window/{channel}/{start}/{end}/{kind}-{offset}/..."""

    channel_id: str
    start_s: int
    end_s: int
    kind: str
    offset_s: int
    copy_id: str | None = None  # played from a private copy (streaming/copies/service.py), not the archive

    @property
    def scope(self) -> str:
        """The playback-token scope that grants this window (entitlements/playback/targets.py)."""
        own = f":copy-{self.copy_id}" if self.copy_id else ""
        return f"window:{self.channel_id}:{self.start_s}:{self.end_s}:{self.kind}-{self.offset_s}{own}"

    @property
    def path(self) -> str:
        """The path prefix of the window's playlists, as the origin's route reads it."""
        own = f"/copy-{self.copy_id}" if self.copy_id else ""
        return f"window/{self.channel_id}/{self.start_s}/{self.end_s}/{self.kind}-{self.offset_s}{own}"

    @property
    def start_us(self) -> int:
        return self.start_s * 1_000_000

    @property
    def end_us(self) -> int:
        return self.end_s * 1_000_000
