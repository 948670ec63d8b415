"""Reading a CMAF/fMP4 segment's duration from its own boxes (ISO/IEC 14496-12).

A media segment's ``moof`` says how long it is: each ``traf`` has a ``trun`` with sample
durations, or a default duration in its ``tfhd``, or in the init segment's ``trex``; the
init segment's ``mdhd`` gives the timescale. Ingest uses this for the channels our own
packager pushes, so their segments are timed the moment they arrive (docs/architecture.md).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

_CONTAINERS = {b"moov", b"trak", b"mdia", b"mvex", b"moof", b"traf"}


class BoxError(ValueError):
    """The bytes are not the boxes they claim to be."""


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """Yield (type, payload start, box end) for the boxes between start and end."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise BoxError("truncated 64-bit box size")
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise BoxError(f"box {kind!r} runs past its parent")
        yield kind, pos + header, pos + size
        pos += size


def _find(data: bytes, start: int, end: int, kind: bytes) -> Iterator[tuple[int, int]]:
    for k, s, e in _boxes(data, start, end):
        if k == kind:
            yield s, e


def init_timing(data: bytes) -> dict[int, list]:
    """Return {track_id: [timescale, trex default sample duration, handler]} of an init segment."""
    out: dict[int, list] = {}
    defaults: dict[int, int] = {}
    try:
        for ms, me in _find(data, 0, len(data), b"moov"):
            for k, s, e in _boxes(data, ms, me):
                if k == b"trak":
                    track = _trak(data, s, e)
                    if track:
                        out[track[0]] = [track[1], 0, track[2]]
                elif k == b"mvex":
                    for ts, _ in _find(data, s, e, b"trex"):
                        track_id, _index, duration = struct.unpack_from(">III", data, ts + 4)
                        defaults[track_id] = duration
    except (BoxError, struct.error):
        return {}
    for track_id, duration in defaults.items():
        if track_id in out:
            out[track_id][1] = duration
    return out


def _trak(data: bytes, start: int, end: int) -> tuple[int, int, str] | None:
    track_id = timescale = None
    handler = ""
    for k, s, e in _boxes(data, start, end):
        if k == b"tkhd":
            track_id = struct.unpack_from(">I", data, s + (20 if data[s] == 1 else 12))[0]
        elif k == b"mdia":
            for mk, ms, _me in _boxes(data, s, e):
                if mk == b"mdhd":
                    timescale = struct.unpack_from(">I", data, ms + (20 if data[ms] == 1 else 12))[0]
                elif mk == b"hdlr":
                    handler = data[ms + 8: ms + 12].decode("latin-1")
    if track_id is None or not timescale:
        return None
    return track_id, timescale, handler


def segment_duration_us(data: bytes, timing: dict[int, list]) -> int | None:
    """Return a media segment's duration in µs, or None when its boxes do not tell.

    With several tracks in one segment (muxed audio), the video track's duration counts.
    """
    best: tuple[bool, int] | None = None
    try:
        for ms, me in _find(data, 0, len(data), b"moof"):
            for ts, te in _find(data, ms, me, b"traf"):
                found = _traf_ticks(data, ts, te, timing)
                if found is None:
                    continue
                track_id, ticks = found
                timescale, _default, handler = timing[track_id]
                candidate = (handler == "vide", round(ticks * 1_000_000 / timescale))
                if best is None or (candidate[0] and not best[0]):
                    best = candidate
    except (BoxError, struct.error):
        return None
    return best[1] if best and best[1] > 0 else None


def _traf_ticks(data: bytes, start: int, end: int, timing: dict[int, list]) -> tuple[int, int] | None:
    track_id = None
    default = 0
    ticks = 0
    for k, s, _e in _boxes(data, start, end):
        if k == b"tfhd":
            flags = int.from_bytes(data[s + 1: s + 4], "big")
            track_id = struct.unpack_from(">I", data, s + 4)[0]
            if track_id not in timing:
                return None
            default = timing[track_id][1]
            pos = s + 8 + (8 if flags & 0x01 else 0) + (4 if flags & 0x02 else 0)
            if flags & 0x08:
                default = struct.unpack_from(">I", data, pos)[0]
        elif k == b"trun" and track_id is not None:
            flags = int.from_bytes(data[s + 1: s + 4], "big")
            count = struct.unpack_from(">I", data, s + 4)[0]
            pos = s + 8 + (4 if flags & 0x01 else 0) + (4 if flags & 0x04 else 0)
            if not flags & 0x100:
                ticks += count * default
                continue
            stride = 4 * sum(1 for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit)
            for i in range(count):
                ticks += struct.unpack_from(">I", data, pos + i * stride)[0]
    return (track_id, ticks) if track_id is not None else None


def first_sample_range(data: bytes) -> tuple[int, int] | None:
    """Return (offset, length) of a segment's first fragment up to the end of its first sample.

    A VOD segment starts with a keyframe, so this is the byte range an I-frame playlist
    (EXT-X-I-FRAMES-ONLY, RFC 8216 4.3.3.6) points at: the ``moof`` and the keyframe's bytes.
    """
    try:
        for ms, me in _find(data, 0, len(data), b"moof"):
            moof = ms - 8
            for ts, te in _find(data, ms, me, b"traf"):
                default_size, base = 0, moof
                for k, s, _e in _boxes(data, ts, te):
                    if k == b"tfhd":
                        flags = int.from_bytes(data[s + 1: s + 4], "big")
                        pos = s + 8
                        if flags & 0x01:
                            base = struct.unpack_from(">Q", data, pos)[0]
                            pos += 8
                        pos += 4 if flags & 0x02 else 0
                        pos += 4 if flags & 0x08 else 0
                        if flags & 0x10:
                            default_size = struct.unpack_from(">I", data, pos)[0]
                    elif k == b"trun":
                        flags = int.from_bytes(data[s + 1: s + 4], "big")
                        if not flags & 0x01:
                            return None
                        offset = struct.unpack_from(">i", data, s + 8)[0]
                        pos = s + 12 + (4 if flags & 0x04 else 0) + (4 if flags & 0x100 else 0)
                        size = struct.unpack_from(">I", data, pos)[0] if flags & 0x200 else default_size
                        if not size:
                            return None
                        return moof, base + offset + size - moof
            return None
    except (BoxError, struct.error):
        return None
    return None
