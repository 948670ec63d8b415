"""Timing a CMAF segment from its own boxes: real ffmpeg output, hand-built boxes, garbage."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from streaming.formats.fmp4 import init_timing, segment_duration_us
from streaming.formats.hls_input import parse_encoder_playlist

pytestmark = pytest.mark.ffmpeg


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full(kind: bytes, flags: int, payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", flags) + payload)


def _init(track_id: int, timescale: int, handler: bytes, trex_duration: int) -> bytes:
    tkhd = _full(b"tkhd", 0, struct.pack(">III", 0, 0, track_id) + b"\0" * 68)
    mdhd = _full(b"mdhd", 0, struct.pack(">IIII", 0, 0, timescale, 0) + b"\0" * 4)
    hdlr = _full(b"hdlr", 0, b"\0\0\0\0" + handler + b"\0" * 13)
    trak = _box(b"trak", tkhd + _box(b"mdia", mdhd + hdlr))
    trex = _full(b"trex", 0, struct.pack(">IIIII", track_id, 1, trex_duration, 0, 0))
    return _box(b"ftyp", b"iso6\0\0\0\0") + _box(b"moov", trak + _box(b"mvex", trex))


def _segment(track_id: int, *, tfhd_default: int | None, durations: list[int] | None, count: int) -> bytes:
    tfhd_flags = 0x020000 | (0x08 if tfhd_default is not None else 0)
    tfhd = _full(b"tfhd", tfhd_flags, struct.pack(">I", track_id)
                 + (struct.pack(">I", tfhd_default) if tfhd_default is not None else b""))
    if durations is not None:  # sample duration and size present per sample
        trun = _full(b"trun", 0x000301, struct.pack(">Ii", count, 0)
                     + b"".join(struct.pack(">II", d, 100) for d in durations))
    else:
        trun = _full(b"trun", 0x000201, struct.pack(">Ii", count, 0) + struct.pack(">I", 100) * count)
    return _box(b"styp", b"msdh\0\0\0\0") + _box(b"moof", _box(b"traf", tfhd + trun)) + _box(b"mdat", b"\0" * 10)


@pytest.mark.parametrize(("tfhd_default", "durations", "trex", "expected_us"), [
    (None, [512] * 48, 0, 1_920_000),  # per-sample durations in trun (12800 Hz, 25 fps)
    (512, None, 0, 1_920_000),  # one default in tfhd
    (None, None, 512, 1_920_000),  # the init segment's trex default
    (None, [512] * 47 + [600], 0, round((512 * 47 + 600) * 1e6 / 12800)),  # jitter is kept
    (None, None, 0, None),  # nothing tells the duration
])
def test_duration_from_boxes(tfhd_default, durations, trex, expected_us) -> None:  # noqa: ANN001
    timing = init_timing(_init(1, 12800, b"vide", trex))
    assert timing == {1: [12800, trex, "vide"]}
    seg = _segment(1, tfhd_default=tfhd_default, durations=durations, count=48)
    assert segment_duration_us(seg, timing) == expected_us


def test_a_segment_of_an_unknown_track_has_no_duration() -> None:
    timing = init_timing(_init(1, 12800, b"vide", 512))
    assert segment_duration_us(_segment(2, tfhd_default=512, durations=None, count=48), timing) is None


@pytest.mark.parametrize("data", [b"", b"\0" * 7, b"\0\0\0\x40moof" + b"\0" * 8, b"garbage" * 40,
                                  _box(b"moof", _box(b"traf", b"\0\0\0\x30tfhd"))])
def test_broken_boxes_tell_nothing(data: bytes) -> None:
    timing = {1: [12800, 512, "vide"]}
    assert segment_duration_us(data, timing) is None
    assert init_timing(data) == {}


def test_durations_of_real_ffmpeg_segments_match_its_playlist(sample_hls: Path) -> None:
    for rendition, init in (("360p", "init_0.mp4"), ("240p", "init_1.mp4")):
        timing = init_timing((sample_hls / rendition / init).read_bytes())
        assert {h for _, _, h in timing.values()} == {"vide", "soun"}
        playlist = parse_encoder_playlist((sample_hls / rendition / "index.m3u8").read_text())
        assert len(playlist) >= 4
        for entry in playlist:
            data = (sample_hls / rendition / entry.uri).read_bytes()
            # Muxed audio and video: the video track's duration is the segment's.
            assert segment_duration_us(data, timing) == entry.duration_us, entry.uri
