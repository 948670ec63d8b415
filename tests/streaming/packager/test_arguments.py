"""streaming.packager.arguments builds ffmpeg argv as data: compare it with literal lists."""

from __future__ import annotations

import os
import subprocess

import pytest

from catalog.channels.models import Channel, Rendition
from catalog.channels.schemas import ChannelCreate
from streaming.ffmpeg import ffmpeg_exe
from streaming.packager import arguments as packaging
from streaming.packager.node import packager_spec
from tests.support.channels import channel_body

# Imported through the module: a bare name starting with "test" would be collected by pytest.
push_args = packaging.testcard_push_args

COMMON_VIDEO = [
    "-filter_complex", "[0:v]split=2[s0][s1];[s0]scale=640:360[v0];[s1]scale=426:240[v1]",
    "-map", "[v0]", "-map", "1:a", "-map", "[v1]", "-map", "1:a",
    "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main",
]
LADDER_RATES = [
    "-b:v:0", "800k", "-maxrate:v:0", "880k", "-bufsize:v:0", "1600k",
    "-b:v:1", "400k", "-maxrate:v:1", "440k", "-bufsize:v:1", "800k",
]


def test_push_over_http_with_headers() -> None:
    args = push_args(
        ffmpeg="/opt/ffmpeg", base_url="http://127.0.0.1:8080/ingest/ch1/cmaf", segment_s=1.92,
        realtime=True, duration_s=None, headers={"Authorization": "Basic Y2gxOnB3", "X-Trace": "t1"},
    )
    assert args == [
        "/opt/ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin", "-re",
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
        *COMMON_VIDEO,
        "-g", "48", "-keyint_min", "48", "-sc_threshold", "0",
        "-force_key_frames", "expr:gte(t,n_forced*1.92)",
        *LADDER_RATES,
        "-c:a", "aac", "-b:a", "96k", "-ar", "48000", "-ac", "2",
        "-f", "hls", "-hls_time", "1.92", "-hls_list_size", "6",
        "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
        "-hls_flags", "program_date_time+independent_segments",
        "-var_stream_map", "v:0,a:0,name:360p v:1,a:1,name:240p",
        "-method", "PUT",
        "-headers", "Authorization: Basic Y2gxOnB3\r\nX-Trace: t1\r\n",
        "-hls_segment_filename", "http://127.0.0.1:8080/ingest/ch1/cmaf/%v/seg_%d.m4s",
        "http://127.0.0.1:8080/ingest/ch1/cmaf/%v/index.m3u8",
    ]


def test_encode_to_local_folder() -> None:
    args = push_args(
        ffmpeg="ffmpeg", base_url="/tmp/sample/hls", segment_s=2.0, realtime=False,
        duration_s=8.0, headers={"Authorization": "ignored for files"}, fps=30,
    )
    assert args == [
        "ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin",
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=8.0",
        "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000:duration=8.0",
        *COMMON_VIDEO,
        "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
        "-force_key_frames", "expr:gte(t,n_forced*2.0)",
        *LADDER_RATES,
        "-c:a", "aac", "-b:a", "96k", "-ar", "48000", "-ac", "2",
        "-f", "hls", "-hls_time", "2.0", "-hls_list_size", "6",
        "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
        "-hls_flags", "program_date_time+independent_segments",
        "-var_stream_map", "v:0,a:0,name:360p v:1,a:1,name:240p",
        "-hls_segment_filename", "/tmp/sample/hls/%v/seg_%d.m4s", "/tmp/sample/hls/%v/index.m3u8",
    ]


@pytest.mark.parametrize(("base_url", "headers", "method", "header_value"), [
    ("https://origin.example/ingest/c/cmaf", None, True, None),
    ("https://origin.example/ingest/c/cmaf", {}, True, None),
    ("http://h/ingest/c/cmaf", {"A": "1"}, True, "A: 1\r\n"),
    ("/srv/out", {"A": "1"}, False, None),
    ("relative/out", None, False, None),
    ("httpish/out", {"A": "1"}, False, None),  # only a real http(s) scheme means PUT
])
def test_method_and_headers(base_url: str, headers: dict | None, method: bool, header_value: str | None) -> None:
    args = push_args(ffmpeg="ffmpeg", base_url=base_url, segment_s=1.92, realtime=False,
                              duration_s=None, headers=headers)
    assert ("-method" in args, args[args.index("-method") + 1] if "-method" in args else None) == (
        method, "PUT" if method else None)
    assert (args[args.index("-headers") + 1] if "-headers" in args else None) == header_value
    assert args[-3:] == ["-hls_segment_filename", f"{base_url}/%v/seg_%d.m4s", f"{base_url}/%v/index.m3u8"]


@pytest.mark.parametrize(("segment_s", "fps", "gop", "hls_time"), [
    (1.92, 25, "48", "1.92"),
    (2.0, 30, "60", "2.0"),
    (6.0, 25, "150", "6.0"),
    (1.0, 24, "24", "1.0"),
    (1.001, 30, "30", "1.001"),
    (4, 50, "200", "4"),
])
def test_gop_follows_segment_duration(segment_s: float, fps: int, gop: str, hls_time: str) -> None:
    args = push_args(ffmpeg="ffmpeg", base_url="/out", segment_s=segment_s, realtime=False,
                              duration_s=None, headers=None, fps=fps)
    pairs = dict(zip(args[5::2], args[6::2]))  # after "ffmpeg -hide_banner -loglevel warning -nostdin"
    assert (pairs["-g"], pairs["-keyint_min"], pairs["-sc_threshold"]) == (gop, gop, "0")
    assert pairs["-force_key_frames"] == f"expr:gte(t,n_forced*{segment_s})"
    assert pairs["-hls_time"] == hls_time
    assert f"testsrc2=size=640x360:rate={fps}" in args


def test_ladder_is_the_two_light_renditions() -> None:
    assert packaging.TEST_LADDER == (("360p", 640, 360, 800), ("240p", 426, 240, 400))


# The edges of what channel validation accepts (catalog/channels/schemas.py), each packaged for real.
BOUNDARY_CHANNELS = [
    {"segment_duration_ms": 500, "renditions": [
        {"name": "tiny", "width": 16, "height": 16, "video_bitrate_kbps": 50, "audio_bitrate_kbps": 0,
         "frame_rate": 120},
        {"name": "strip", "width": 7680, "height": 16, "video_bitrate_kbps": 100_000, "audio_bitrate_kbps": 1024,
         "frame_rate": 120}]},
    {"segment_duration_ms": 1000, "renditions": [
        {"name": "8k", "width": 7680, "height": 4320, "video_bitrate_kbps": 100_000, "frame_rate": 1},
        {"name": "tall", "width": 16, "height": 4320, "video_bitrate_kbps": 50, "frame_rate": 1}]},
    {"segment_duration_ms": 2000, "renditions": [
        {"name": "a", "width": 1278, "height": 718, "video_bitrate_kbps": 2500, "frame_rate": 119.5}],
     "audio_tracks": [{"name": "pol", "language": "pol", "label": "Polski", "default": True, "bitrate_kbps": 32},
                      {"name": "eng", "language": "eng", "label": "English", "bitrate_kbps": 512}]},
]


@pytest.mark.ffmpeg
@pytest.mark.parametrize("overrides", BOUNDARY_CHANNELS, ids=["smallest-fastest", "largest-slowest", "demuxed-audio"])
def test_ffmpeg_packages_every_ladder_validation_accepts(overrides: dict, tmp_path) -> None:  # noqa: ANN001


    body = ChannelCreate.model_validate(channel_body("edge", segment_sets=["cmaf", "ts"], **overrides))
    channel = Channel(id=body.id, segment_duration_ms=body.segment_duration_ms, packaging=body.packaging,
                      segment_sets=body.segment_sets, audio_tracks=[a.model_dump() for a in body.audio_tracks],
                      renditions=[Rendition(position=i, **r.model_dump()) for i, r in enumerate(body.renditions)])
    args = packaging.packager_args(packager_spec(channel), ffmpeg=ffmpeg_exe(), source_url="testcard:",
                                   ingest_base=str(tmp_path), headers={})
    # A fifth of a second of the test card instead of an endless one, written to a folder.
    args = [a + ":duration=0.2" if a.startswith(("testsrc2=", "sine=")) else a for a in args]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tracks = [r.name for r in body.renditions] + [a.name for a in body.audio_tracks]
    for seg_set, ext in (("cmaf", "m4s"), ("ts", "ts")):
        for track in tracks:
            folder = tmp_path / "ingest" / "edge" / seg_set / track
            assert (folder / f"seg_0.{ext}").stat().st_size > 0, (seg_set, track, sorted(os.listdir(tmp_path)))
