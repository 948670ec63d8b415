"""Playlists of a window of a channel's timeline: start-over, catch-up and by-time playback.

A window is [start, end) in UTC seconds plus how its playlist behaves: ``vod`` (complete when
asked for: PLAYLIST-TYPE VOD and ENDLIST), ``event`` (PLAYLIST-TYPE EVENT, only appends, ENDLIST
once the window is over) or ``live`` (no type, appends, ENDLIST once over), and where playback
starts (EXT-X-START at the programme's start, after the padding). Windows inside the origin's
in-memory view use its runs; older ones are read from the index once and kept (they can no
longer change).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace

from streaming.formats.windows import Window
from streaming.timeline.runs import Run, Segment, segments_in

KINDS = {"vod": "VOD", "event": "EVENT", "live": None}
MIN_EVENT_OFFSET_S = 0.001


@dataclass(frozen=True)
class WindowPlaylist:
    """What a window's media playlist holds, before rendering."""

    segments: list[Segment]
    playlist_type: str | None
    endlist: bool
    start_offset_s: float | None


def window_segments(window: Window, runs: list[Run], holes: set[tuple[int, str]], track: str,
                    live_gaps: list[Segment]) -> WindowPlaylist:
    """Return the window's segments (gaps where the track is missing) and how the playlist ends.

    live_gaps are the gap entries the live edge shows while the source is down; those inside
    the window are shown too, so an outage keeps the timeline moving instead of freezing it.
    """
    segments = [s for s in segments_in(runs, window.start_us, window.end_us) if contains(window, s)]
    if segments:
        segments += [g for g in live_gaps if g.start_us >= segments[-1].end_us and contains(window, g)]
    segments = [replace(s, gap=True) if (s.seq, track) in holes else s for s in segments]
    complete = window.kind == "vod" or bool(
        segments and segments[-1].start_us + segments[-1].duration_us // 2 + segments[-1].duration_us >= window.end_us)
    offset = None
    # An EVENT window (start-over, a recording in progress) plays from its start even with no
    # padding: without EXT-X-START players join an open playlist at its live edge.
    if segments and (window.offset_s or window.kind == "event"):
        # Offsets count from the first segment, which may begin before the window does.
        offset = max(0.0, window.offset_s + (window.start_us - segments[0].start_us) / 1e6)
        if window.kind == "event":
            # Shaka Player (4.16) takes a TIME-OFFSET of 0 for "none" and joins at the live edge;
            # a millisecond in, every player starts where it should.
            offset = max(offset, MIN_EVENT_OFFSET_S)
    return WindowPlaylist(segments, KINDS[window.kind], complete, offset)


def contains(window: Window, segment: Segment) -> bool:
    """Tell whether a segment belongs to the window: its middle does (so a window's playlist is the
    window's length within one segment, and its token fetches only its own segments)."""
    middle = segment.start_us + segment.duration_us // 2
    return window.start_us <= middle < window.end_us


class ArchiveRuns:
    """Runs and holes of windows older than the in-memory view, read once and kept (LRU)."""

    def __init__(self, max_windows: int = 2000) -> None:
        self.max_windows = max_windows
        self._entries: OrderedDict[tuple[str, int, int, str | None], tuple[list[Run], set[tuple[int, str]]]] = OrderedDict()

    def get(self, window: Window) -> tuple[list[Run], set[tuple[int, str]]] | None:
        """Return the kept runs and holes of a window, if any."""
        key = (window.channel_id, window.start_s, window.end_s, window.copy_id)
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
        return hit

    def put(self, window: Window, runs: list[Run], holes: set[tuple[int, str]]) -> None:
        """Keep a window's runs and holes."""
        self._entries[(window.channel_id, window.start_s, window.end_s, window.copy_id)] = (runs, holes)
        while len(self._entries) > self.max_windows:
            self._entries.popitem(last=False)

    def forget(self, channel_id: str) -> None:
        """Drop a channel's windows (its timeline was deleted or purged)."""
        for key in [k for k in self._entries if k[0] == channel_id]:
            del self._entries[key]


def missing_ranges(runs: list[Run], start_us: int, end_us: int) -> list[tuple[int, int]]:
    """Return the stretches of [start_us, end_us) no published segment covers (gap entries and
    holes in the index), merged and in order: where a recording is missing its source."""
    missing, at = [], start_us
    for seg in segments_in(runs, start_us, end_us):
        if seg.gap:
            continue
        if seg.start_us > at:
            missing.append((at, min(seg.start_us, end_us)))
        at = max(at, seg.end_us)
    if at < end_us:
        missing.append((at, end_us))
    # Shorter than a frame's worth of rounding is not missing.
    return [(a, b) for a, b in missing if b - a > 50_000]
