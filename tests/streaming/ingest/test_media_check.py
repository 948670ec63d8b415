"""What ingest accepts as media: real ffmpeg output passes, the same bytes mutated are refused."""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from streaming.ffmpeg import ffmpeg_exe
from streaming.ingest.errors import (
    MediaMalformed,
    MediaTruncated,
    NotMedia,
    TrackMismatch,
    TsNoProgram,
)
from streaming.ingest.media_check import (
    Expect,
    check_fmp4_segment,
    check_init,
    check_segment_tracks,
    check_ts_segment,
)
from streaming.packager import slate
from streaming.vod.media import AudioOut, Rung, transcode_args, ts_remux_args
from tests.support.bad_media import (
    box_at,
    first_trun_sizes_at,
    make_ts,
    put_u32,
    retype,
    ts_noise,
    ts_pmt_pid,
    ts_without,
    without_trak,
)

pytestmark = pytest.mark.ffmpeg

MUXED = Expect(video=True, audio=True)
VIDEO = Expect(video=True, audio=False)
AUDIO = Expect(video=False, audio=True, audio_only=True)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, sample_hls: Path) -> dict[str, Path]:
    """Our other ffmpeg outputs: live TS, VOD CMAF and TS (demuxed audio) and slates."""
    root = tmp_path_factory.mktemp("media")
    ff = ffmpeg_exe()
    out = {"ts": make_ts(root / "ts"), "ts_audio": make_ts(root / "ts_audio", video=False)}
    source = root / "source.mp4"
    subprocess.run([ff, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=426x240:rate=25:duration=4",
                    "-f", "lavfi", "-i", "sine=frequency=500:sample_rate=48000:duration=4",
                    "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(source)], check=True, timeout=120)
    vod = root / "vod"
    subprocess.run(transcode_args(ffmpeg=ff, source=str(source), out_dir=str(vod), rungs=(Rung("240p", 426, 240, 300),),
                                  audio=(AudioOut("audio-0", 0, "eng", "English", True),), segment_s=1.92,
                                  frame_rate=25.0), check=True, timeout=120, capture_output=True)
    out.update(vod_video=vod / "240p", vod_audio=vod / "audio-0")
    for name in ("240p", "audio-0"):
        (root / f"vodts-{name}").mkdir()
        subprocess.run(ts_remux_args(ffmpeg=ff, playlist=str(vod / name / "index.m3u8"), out_dir=str(root / f"vodts-{name}"),
                                     segment_s=1.92), check=True, timeout=120, capture_output=True)
    out.update(vod_ts_video=root / "vodts-240p" / "0.ts", vod_ts_audio=root / "vodts-audio-0" / "0.ts")
    for name, kwargs in (("slate_muxed", dict(width=426, height=240)), ("slate_video", dict(width=426, height=240, audio=False)),
                         ("slate_audio", {})):
        path = root / f"{name}.ts"
        subprocess.run(slate.slate_args(ffmpeg=ff, out=str(path), duration_s=1.92, **kwargs), check=True, timeout=120)
        out[name] = path
    return out


def test_our_packagers_cmaf_passes(sample_hls: Path) -> None:
    for rendition, init in (("360p", "init_0.mp4"), ("240p", "init_1.mp4")):
        timing = check_init((sample_hls / rendition / init).read_bytes(), MUXED)
        assert sorted(h for _ts, _d, h in timing.values()) == ["soun", "vide"]
        for segment in sorted((sample_hls / rendition).glob("seg_*.m4s")):
            ids = check_fmp4_segment(segment.read_bytes())
            assert ids == set(timing)
            check_segment_tracks(ids, timing)


def test_vod_cmaf_with_demuxed_audio_passes(made: dict[str, Path]) -> None:
    for folder, expect, handler in ((made["vod_video"], VIDEO, "vide"), (made["vod_audio"], AUDIO, "soun")):
        timing = check_init(next(folder.glob("init*.mp4")).read_bytes(), expect)
        assert [h for _ts, _d, h in timing.values()] == [handler]
        for segment in sorted(folder.glob("*.m4s")):
            check_segment_tracks(check_fmp4_segment(segment.read_bytes()), timing)


@pytest.mark.parametrize(("name", "expect"), [
    ("ts", MUXED), ("ts_audio", AUDIO), ("vod_ts_video", VIDEO), ("vod_ts_audio", AUDIO),
    ("slate_muxed", MUXED), ("slate_video", VIDEO), ("slate_audio", AUDIO),
])
def test_our_mpeg_ts_passes(made: dict[str, Path], name: str, expect: Expect) -> None:
    check_ts_segment(made[name].read_bytes(), expect)


def test_a_muxed_init_is_not_an_audio_track_nor_an_audio_only_init_a_video_rendition(sample_hls: Path) -> None:
    init = (sample_hls / "360p" / "init_0.mp4").read_bytes()
    with pytest.raises(TrackMismatch, match="one audio track and no video"):
        check_init(init, AUDIO)
    with pytest.raises(TrackMismatch, match="no video track"):
        check_init(without_trak(init, b"vide"), MUXED)
    with pytest.raises(TrackMismatch, match="no audio track"):
        check_init(without_trak(init, b"soun"), MUXED)
    check_init(without_trak(init, b"soun"), VIDEO)  # a video rendition of a channel with demuxed audio


def _sample(sample_hls: Path, name: str) -> bytes:
    return (sample_hls / "360p" / name).read_bytes()


def _seg(sample_hls: Path) -> bytes:
    return _sample(sample_hls, "seg_1.m4s")


def _init(sample_hls: Path) -> bytes:
    return _sample(sample_hls, "init_0.mp4")


def _grow(data: bytes, kind: bytes, by: int) -> bytes:
    pos, size = box_at(data, kind)
    return put_u32(data, pos, size + by)


SEGMENT_CASES: list[tuple[str, Callable[[bytes], bytes], type]] = [
    ("cut-inside-mdat", lambda d: d[:len(d) // 2], MediaTruncated),
    ("cut-inside-moof", lambda d: d[:box_at(d, b"moof")[0] + 100], MediaTruncated),
    ("cut-inside-a-box-header", lambda d: d + b"\0\0\0", MediaTruncated),
    ("moof-size-lies", lambda d: _grow(d, b"moof", 8), MediaMalformed),
    ("traf-size-lies", lambda d: _grow(d, b"traf", -8), MediaMalformed),
    ("trun-sample-size-past-mdat", lambda d: put_u32(d, first_trun_sizes_at(d), len(d)), MediaMalformed),
    ("trun-sample-count-lies", lambda d: put_u32(d, box_at(d, b"trun")[0] + 12, 4000), MediaMalformed),
    ("no-tfdt", lambda d: retype(d, b"tfdt", b"free"), MediaMalformed),
    ("no-mfhd", lambda d: retype(d, b"mfhd", b"free"), MediaMalformed),
    ("moof-without-mdat", lambda d: retype(d, b"mdat", b"free"), MediaMalformed),
    ("a-box-after-the-fragment", lambda d: d + struct.pack(">I4s", 16, b"moov") + bytes(8), MediaMalformed),
    ("an-init-pushed-as-a-segment", None, NotMedia),
    ("html", lambda d: b"<html>" + bytes(400), NotMedia),
    ("empty", lambda d: b"", NotMedia),
]


@pytest.mark.parametrize(("mutate", "error"), [c[1:] for c in SEGMENT_CASES], ids=[c[0] for c in SEGMENT_CASES])
def test_bad_fmp4_segments_are_refused(sample_hls: Path, mutate: Callable | None, error: type) -> None:
    data = _init(sample_hls) if mutate is None else mutate(_seg(sample_hls))
    with pytest.raises(error) as refused:
        check_fmp4_segment(data)
    assert type(refused.value) is error


INIT_CASES: list[tuple[str, Callable[[bytes], bytes], type]] = [
    ("cut-inside-moov", lambda d: d[:box_at(d, b"moov")[0] + 600], MediaTruncated),
    ("cut-inside-the-box-after-moov", lambda d: d + struct.pack(">I4s", 64, b"free") + bytes(20), MediaTruncated),
    ("moov-size-lies", lambda d: _grow(d, b"moov", -16), MediaMalformed),
    ("stsd-entry-count-lies", lambda d: put_u32(d, box_at(d, b"stsd")[0] + 12, 2), MediaMalformed),
    ("no-mvex", lambda d: retype(d, b"mvex", b"free"), MediaMalformed),
    ("no-mvhd", lambda d: retype(d, b"mvhd", b"free"), MediaMalformed),
    ("no-mdhd", lambda d: retype(d, b"mdhd", b"free"), MediaMalformed),
    ("no-video-track", lambda d: without_trak(d, b"vide"), TrackMismatch),
    ("a-segment-pushed-as-an-init", None, NotMedia),
]


@pytest.mark.parametrize(("mutate", "error"), [c[1:] for c in INIT_CASES], ids=[c[0] for c in INIT_CASES])
def test_bad_init_segments_are_refused(sample_hls: Path, mutate: Callable | None, error: type) -> None:
    data = _seg(sample_hls) if mutate is None else mutate(_init(sample_hls))
    with pytest.raises(error) as refused:
        check_init(data, MUXED)
    assert type(refused.value) is error


def test_an_init_cut_right_after_a_whole_moov_is_taken(sample_hls: Path) -> None:
    init = _init(sample_hls)
    pos, size = box_at(init, b"moov")
    assert check_init((init + struct.pack(">I4s", 64, b"free") + bytes(56))[:pos + size], MUXED)


def test_a_segment_naming_a_track_its_init_lacks_is_refused(sample_hls: Path) -> None:
    timing = check_init(_init(sample_hls), MUXED)
    seg = _seg(sample_hls)
    tfhd, _ = box_at(seg, b"tfhd")
    foreign = check_fmp4_segment(put_u32(seg, tfhd + 12, 7))
    with pytest.raises(TrackMismatch, match=r"track\(s\) \[7\]"):
        check_segment_tracks(foreign, timing)
    check_segment_tracks(foreign, {})  # no init yet: checked when one comes


def _ts_cases() -> list[tuple[str, Callable[[bytes], bytes], Expect, type]]:
    return [
        ("sync-bytes-around-random-payload", ts_noise, MUXED, TsNoProgram),
        ("no-pat", lambda d: ts_without(d, {0}), MUXED, TsNoProgram),
        ("no-pmt", lambda d: ts_without(d, {ts_pmt_pid(d)}), MUXED, TsNoProgram),
        ("pat-crc-broken", _break_first_pat, MUXED, TsNoProgram),
        ("video-pid-carries-nothing", lambda d: ts_without(d, {0x100}), MUXED, TrackMismatch),
        ("lost-sync", lambda d: d[:188 * 3] + b"\x48" + d[188 * 3 + 1:], MUXED, MediaMalformed),
        ("partial-last-packet", lambda d: d[:-100], MUXED, MediaTruncated),
        ("muxed-ts-for-an-audio-track", lambda d: d, AUDIO, TrackMismatch),
        ("html", lambda d: b"<html>" + bytes(370), MUXED, NotMedia),
        ("empty", lambda d: b"", MUXED, NotMedia),
    ]


def _break_first_pat(data: bytes) -> bytes:
    """Flip a bit of the first PAT's program entry: its CRC no longer holds."""
    at = next(i for i in range(0, len(data), 188) if (data[i + 1] & 0x1F) << 8 | data[i + 2] == 0)
    entry = at + 5 + data[at + 4] + 8  # payload, pointer field, 8-byte section header
    return data[:entry + 1] + bytes([data[entry + 1] ^ 0x01]) + data[entry + 2:]


@pytest.mark.parametrize(("mutate", "expect", "error"), [c[1:] for c in _ts_cases()], ids=[c[0] for c in _ts_cases()])
def test_bad_mpeg_ts_is_refused(made: dict[str, Path], mutate: Callable, expect: Expect, error: type) -> None:
    with pytest.raises(error) as refused:
        check_ts_segment(mutate(made["ts"].read_bytes()), expect)
    assert type(refused.value) is error


def test_an_audio_only_ts_is_not_a_video_rendition(made: dict[str, Path]) -> None:
    with pytest.raises(TrackMismatch, match="no video stream"):
        check_ts_segment(made["ts_audio"].read_bytes(), MUXED)
