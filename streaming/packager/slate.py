"""Slates: what players that cannot skip an EXT-X-GAP entry are shown while a channel is off the air.

Older TV players fetch a gap entry's URI and stop on its 404, so their device profile (see
streaming/formats/device_profiles.py) gets a real MPEG-TS segment instead: colour bars and silence made
once per channel track by ffmpeg (``make_slates``, a worker job) and stored beside its segments.
The origin serves the one stored clip for every slate entry, its timestamps moved to the
entry's place on the wall clock (``retime_ts``), so consecutive slate entries play as one
continuous stream: the outage opens a discontinuity and the channel's return closes it
(streaming/timeline/runs.py), and nothing between them needs one.
"""

from __future__ import annotations

import hashlib
import logging
import math
import tempfile
from pathlib import Path

from catalog.channels import service as catalog_service
from infra.runtime import Runtime
from streaming import ffmpeg
from streaming.timeline import service

log = logging.getLogger(__name__)
PTS_WRAP = 1 << 33  # MPEG-TS timestamps are 33 bits of a 90 kHz clock
PACKET = 188
FFMPEG_TIMEOUT_S = 60


def slate_shapes(spec) -> dict[str, dict]:  # noqa: ANN001 - a streaming.timeline.service.ChannelSpec
    """Return each TS track's slate shape (size, rate, audio, length), by track name."""
    shapes = {r.name: dict(width=r.width, height=r.height, frame_rate=r.frame_rate, audio=not spec.audio)
              for r in spec.renditions}
    shapes.update({a.name: dict(audio=True) for a in spec.audio})
    return {name: {**shape, "duration_s": spec.segment_duration_us / 1_000_000} for name, shape in shapes.items()}


def slate_key(spec, name: str) -> str:  # noqa: ANN001 - a streaming.timeline.service.ChannelSpec
    """Return where a track's slate clip is stored: named by its shape, so a new ladder needs new slates."""
    shape = slate_shapes(spec)[name]
    digest = hashlib.blake2b(repr(sorted(shape.items())).encode(), digest_size=6).hexdigest()
    return f"slates/{spec.id}/ts/{name}-{digest}.ts"


def slate_args(*, ffmpeg: str, out: str, duration_s: float, width: int | None = None, height: int | None = None,
               frame_rate: float = 25.0, audio: bool = True) -> list[str]:
    """Return the ffmpeg arguments of a slate clip: colour bars at a rendition's size (width None:
    audio only), silence when the track carries audio, one key frame, timestamps from zero."""
    args = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    if width is not None:
        args += ["-f", "lavfi", "-i", f"smptebars=size={width}x{height}:rate={frame_rate:g}"]
    if audio:
        args += ["-f", "lavfi", "-i", "anullsrc=channel_layout=stereo:sample_rate=48000"]
    args += ["-t", f"{duration_s:.3f}"]
    if width is not None:
        frames = math.ceil(duration_s * frame_rate)
        args += ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p",
                 "-g", str(frames + 1), "-keyint_min", str(frames + 1), "-sc_threshold", "0", "-bf", "0"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "64k"]
    return args + ["-f", "mpegts", "-muxdelay", "0", "-muxpreload", "0", out]


def make_slates(rt: Runtime, channel_id: str) -> list[str]:
    """Make and store the slates a channel's MPEG-TS tracks lack (none without the TS set); return
    the keys made. Idempotent: a slate already stored for the track's shape is kept. ffmpeg failing
    on a shape fails for good (the channel's ``slate_error`` says why, and the reconcile pass skips
    the channel until staff change it); only storage failing is retried."""
    with rt.db.session(write=False) as s:
        spec = service.channel_spec(db_session=s, channel_id=channel_id)
    if "ts" not in spec.segment_sets:
        return []
    made = []
    with tempfile.TemporaryDirectory(prefix="slate-") as tmp:
        for name, shape in slate_shapes(spec).items():
            key = slate_key(spec, name)
            if rt.store.exists(key):
                continue
            out = Path(tmp) / f"{name}.ts"
            problem = run_slate_ffmpeg(slate_args(ffmpeg=ffmpeg.ffmpeg_exe(), out=str(out), **shape))
            if problem is not None:
                message = f"the slate of track {name} could not be made: {problem}"
                with rt.db.session() as s:
                    catalog_service.record_slate_error(db_session=s, channel_id=channel_id, message=message)
                log.warning("channel %s: %s", channel_id, message)
                return made
            rt.store.put(key, out.read_bytes(), "video/mp2t")
            made.append(key)
    return made


def run_slate_ffmpeg(args: list[str]) -> str | None:
    """Run ffmpeg making a slate; return why it failed (its last words), or None."""
    try:
        ffmpeg.run(args, timeout_s=FFMPEG_TIMEOUT_S)
    except ffmpeg.FFmpegFailed as err:
        return str(err)
    return None


def retime_ts(data: bytes, start_us: int) -> bytes:
    """Return an MPEG-TS clip with every PTS, DTS and PCR moved so its first video frame is shown at
    start_us (wall clock, 90 kHz, modulo 2^33): consecutive entries then continue one another."""
    buf = bytearray(data)
    first = first_pts(buf)
    if first is None:
        return data
    delta = start_us * 9 // 100 - first
    for at, _, t in _pes_times(buf):
        _write_pts(buf, at, (t + delta) % PTS_WRAP)
    for at in _pcr_offsets(buf):
        base = (buf[at] << 25) | (buf[at + 1] << 17) | (buf[at + 2] << 9) | (buf[at + 3] << 1) | (buf[at + 4] >> 7)
        base = (base + delta) % PTS_WRAP
        buf[at:at + 5] = bytes(((base >> 25) & 0xFF, (base >> 17) & 0xFF, (base >> 9) & 0xFF, (base >> 1) & 0xFF,
                                ((base & 1) << 7) | (buf[at + 4] & 0x7F)))
    return bytes(buf)


def cut_ts(data: bytes, duration_us: int) -> bytes:
    """Return an MPEG-TS clip without the audio and video frames shown duration_us or more after its
    first picture (tables and earlier frames kept): a slate for a slot shorter than a segment."""
    buf = bytearray(data)
    first = first_pts(buf)
    if first is None:
        return data
    cut = first + duration_us * 9 // 100
    starts = {at - 9: t for at, stream, t in _pes_times(buf) if stream is not None}  # PES header offset -> PTS
    out, dropping = bytearray(), {}
    for off, p, _ in _packets(buf):
        pid = ((buf[off + 1] & 0x1F) << 8) | buf[off + 2]
        if p is not None and buf[off + 1] & 0x40 and p in starts:
            dropping[pid] = starts[p] >= cut
        if not dropping.get(pid, False):
            out += buf[off:off + PACKET]
    return bytes(out)


def first_pts(data: bytes | bytearray) -> int | None:
    """Return the earliest video PTS of an MPEG-TS clip (90 kHz; audio when it has no video), or None.
    (AAC's priming puts the first audio packet a frame before the picture, which is what is timed.)"""
    times = [(stream, t) for _, stream, t in _pes_times(bytearray(data)) if stream is not None]
    video = [t for stream, t in times if stream >= 0xE0]
    return min(video or [t for _, t in times], default=None)


def _packets(buf: bytearray):  # noqa: ANN202
    """Yield (packet offset, payload offset or None, adaptation field offset or None)."""
    for off in range(0, len(buf) - PACKET + 1, PACKET):
        if buf[off] != 0x47:
            raise ValueError(f"not MPEG-TS: no sync byte at {off}")
        control = (buf[off + 3] >> 4) & 3
        p, adaptation = off + 4, None
        if control & 2:
            adaptation = p
            p += 1 + buf[p]
        yield off, (p if control & 1 and p < off + PACKET else None), adaptation


def _pes_times(buf: bytearray):  # noqa: ANN202
    """Yield (offset, stream id, value) of every PTS and DTS field of the clip's PES headers (stream
    id None for a DTS, which says when to decode, not when to show)."""
    for off, p, _ in _packets(buf):
        if p is None or not buf[off + 1] & 0x40 or p + 19 > off + PACKET or buf[p:p + 3] != b"\x00\x00\x01":
            continue
        if not 0xC0 <= buf[p + 3] <= 0xEF:  # audio and video streams carry the optional header
            continue
        flags = buf[p + 7] >> 6
        if flags & 2:
            yield p + 9, buf[p + 3], _read_pts(buf, p + 9)
        if flags == 3:
            yield p + 14, None, _read_pts(buf, p + 14)


def _pcr_offsets(buf: bytearray) -> list[int]:
    return [a + 2 for _, _, a in _packets(buf) if a is not None and buf[a] > 0 and buf[a + 1] & 0x10]


def _read_pts(buf: bytearray, at: int) -> int:
    b = buf[at:at + 5]
    return ((b[0] >> 1) & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1


def _write_pts(buf: bytearray, at: int, t: int) -> None:
    prefix = buf[at] & 0xF0
    buf[at:at + 5] = bytes((prefix | ((t >> 29) & 0x0E) | 1, (t >> 22) & 0xFF, ((t >> 14) & 0xFE) | 1,
                            (t >> 7) & 0xFF, ((t << 1) & 0xFE) | 1))
