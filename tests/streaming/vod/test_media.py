"""VOD media as data: ffmpeg argument lists, the ladder plan, progress, subtitles and rendered playlists."""

from __future__ import annotations

import pytest

from streaming.vod import index as vod
from streaming.vod.media import (
    AudioOut,
    Probe,
    Rung,
    SourceAudio,
    parse_ladder,
    plan_audio,
    plan_ladder,
    poster_time,
    progress_percent,
    transcode_args,
    ts_remux_args,
)
from streaming.vod.subtitles import InvalidSubtitles, to_webvtt

LADDER = "720p:1280x720:2800,360p:640x360:700,1080p:1920x1080:5000"
SOURCE = Probe(60.0, 1280, 720, 25.0, "h264", (SourceAudio(0, "pol", None, 2, "aac"),
                                                SourceAudio(1, "eng", "Original", 6, "ac3")))


def test_transcode_args_decode_once_and_encode_every_rung_with_aligned_gops() -> None:
    rungs = (Rung("360p", 640, 360, 700), Rung("240p", 426, 240, 300))
    audio = (AudioOut("audio-0", 0, "pol", "Polski", True), AudioOut("audio-1", 1, "eng", "Original", False))
    args = transcode_args(ffmpeg="ffmpeg", source="/in.mp4", out_dir="/out", rungs=rungs, audio=audio,
                          segment_s=3.84, frame_rate=25.0)
    assert args == [
        "ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats",
        "-i", "/in.mp4", "-filter_complex",
        "[0:v:0]split=2[s0][s1];"
        "[s0]scale=640:360:force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1[v0];"
        "[s1]scale=426:240:force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1[v1]",
        "-map", "[v0]", "-map", "[v1]", "-map", "0:a:0", "-map", "0:a:1",
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p", "-r", "25",
        "-g", "96", "-keyint_min", "96", "-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*3.84)",
        "-b:v:0", "700k", "-maxrate:v:0", "700k", "-bufsize:v:0", "1400k",
        "-b:v:1", "300k", "-maxrate:v:1", "300k", "-bufsize:v:1", "600k",
        "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000",
        "-f", "hls", "-hls_time", "3.84", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
        "-hls_fmp4_init_filename", "init.mp4", "-hls_flags", "independent_segments+temp_file",
        "-master_pl_name", "master.m3u8",
        "-var_stream_map", "v:0,agroup:aud,name:360p v:1,agroup:aud,name:240p a:0,agroup:aud,name:audio-0 "
                           "a:1,agroup:aud,name:audio-1",
        "-hls_segment_filename", "/out/%v/%d.m4s", "/out/%v/index.m3u8"]


def test_one_rung_needs_no_split() -> None:
    args = transcode_args(ffmpeg="ffmpeg", source="s", out_dir="o", rungs=(Rung("360p", 640, 360, 700),),
                          audio=(), segment_s=2, frame_rate=30)
    graph = args[args.index("-filter_complex") + 1]
    assert graph.startswith("[0:v:0]null[s0];") and "-c:a" not in args
    assert args[args.index("-var_stream_map") + 1] == "v:0,name:360p" and args[args.index("-g") + 1] == "60"


def test_ts_remux_copies() -> None:
    assert ts_remux_args(ffmpeg="ff", playlist="/o/360p/index.m3u8", out_dir="/t/360p", segment_s=3.84) == [
        "ff", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-i", "/o/360p/index.m3u8", "-map", "0",
        "-c", "copy", "-f", "hls", "-hls_time", "3.84", "-hls_playlist_type", "vod", "-hls_segment_type", "mpegts",
        "-hls_flags", "temp_file", "-hls_segment_filename", "/t/360p/%d.ts", "/t/360p/index.m3u8"]


@pytest.mark.parametrize(("height", "kept"), [(1080, ["1080p", "720p", "360p"]), (720, ["720p", "360p"]),
                                              (480, ["360p"]), (240, ["360p"])])
def test_the_ladder_never_upscales(height: int, kept: list[str]) -> None:
    source = Probe(60.0, height * 16 // 9, height, 25.0, "h264", ())
    assert [r.name for r in plan_ladder(parse_ladder(LADDER), source)] == kept


@pytest.mark.parametrize("text", ["", "720p", "720p:1280:2800", "720p:axb:1", "a:1x1:x", "a:641x360:700",
                                  "a:640x361:700", "a:0x0:700", "a:7682x4320:700", "a:640x360:0", "a:640x360:-5",
                                  "a:640x360:1000000", "A B:640x360:700"])
def test_bad_ladders_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ladder(text)


def test_the_edges_of_a_ladder_are_accepted() -> None:
    assert [r.width for r in parse_ladder("8k:7680x4320:100000,tiny:16x16:50")] == [7680, 16]


def test_audio_labels_come_from_staff_then_the_file_then_the_language() -> None:
    assert plan_audio(SOURCE, []) == (AudioOut("audio-0", 0, "pol", "Polski", True),
                                      AudioOut("audio-1", 1, "eng", "Original", False))
    staff = [{"language": "pol", "label": "Lektor"}, {"language": "eng", "label": "Oryginał", "default": True}]
    assert [(a.label, a.default) for a in plan_audio(SOURCE, staff)] == [("Lektor", False), ("Oryginał", True)]


@pytest.mark.parametrize(("line", "percent"), [("out_time_us=30000000", 50.0), ("out_time_us=61000000", 99.0),
                                                ("out_time_us=N/A", None), ("frame=10", None),
                                                ("out_time_us=-5", 0.0)])
def test_progress_from_ffmpeg(line: str, percent: float | None) -> None:
    assert progress_percent(line, 60.0) == percent


def test_poster_time() -> None:
    assert [poster_time(d) for d in (0.5, 5.0, 7200.0)] == [0.0, 0.5, 720.0]


@pytest.mark.parametrize(("data", "expected"), [
    (b"1\r\n00:00:01,000 --> 00:00:02,500\r\nA\r\n", "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nA\n"),
    (b"WEBVTT\n\n01:00.000 --> 01:02.000 line:0\nB\n", "WEBVTT\n\n00:01:00.000 --> 00:01:02.000 line:0\nB\n"),
    ("1\n00:00:01,000 --> 00:00:02,000\nŻółw\n".encode("cp1250"), "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nŻółw\n"),
    ("\ufeff1\n00:00:01,000 --> 00:00:02,000\nŻółw\n".encode("utf-16"), "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nŻółw\n"),
    # Only real cue settings are kept from a timing line; anything else on it is dropped.
    (b"WEBVTT\n\n00:01.000 --> 00:02.000 align:start <b>x</b> position:10%\nC\n",
     "WEBVTT\n\n00:00:01.000 --> 00:00:02.000 align:start position:10%\nC\n"),
    (b"WEBVTT\n\n00:01.000 --> 00:02.000 " + b"x" * 5000 + b"\nD\n", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nD\n"),
])
def test_sidecars_become_webvtt(data: bytes, expected: str) -> None:
    assert to_webvtt(data)[0] == expected


@pytest.mark.parametrize("data", [b"", b"  \n", b"WEBVTT\n\n", b"\x00\x00binary", b"1\n00:00:03,000 --> 00:00:01,000\nx\n",
                                  b"1\n99:99 --> 00:00\nx\n", b"\x81\x8d\x8f", bytes(range(256)),
                                  b"1\n00:00:01,000 --> 00:00:02,000\nbell\x07\n",
                                  b"1\n00:61:01,000 --> 00:62:01,000\nx\n", b"1\n00:00:61,000 --> 00:00:62,000\nx\n",
                                  b"\xfe\xff\xd8\x00"])
def test_what_is_not_subtitles_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidSubtitles):
        to_webvtt(data)


INDEX = {"duration_ms": 5_760, "video": [
    {"name": "360p", "durations_us": [3_840_000, 1_920_000], "bandwidth": 900_000, "average_bandwidth": 700_000,
     "width": 640, "height": 360, "frame_rate": 25.0, "codecs": "avc1.64001e", "iframes": [(76, 9000), (76, 8000)]}],
    "audio": [{"name": "audio-0", "durations_us": [3_840_000, 1_920_000], "bandwidth": 130_000,
               "average_bandwidth": 128_000, "source_index": 0, "codecs": "mp4a.40.2", "channels": 2,
               "language": "pol", "label": "Polski", "default": True}]}


def test_rendered_master_and_media_playlists() -> None:
    labels = vod.audio_labels(INDEX, [{"language": "pol", "label": 'Lektor "PL"'}])
    master = vod.render_vod_master(INDEX, labels, [{"name": "subs-pol", "language": "pol", "label": "Polski"}])
    assert master.splitlines() == [
        "#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Lektor 'PL'\",LANGUAGE=\"pl\",DEFAULT=YES,AUTOSELECT=YES,"
        "CHANNELS=\"2\",URI=\"audio-0.m3u8\"",
        "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"Polski\",LANGUAGE=\"pl\",DEFAULT=NO,AUTOSELECT=YES,"
        "FORCED=NO,URI=\"subs-pol.m3u8\"",
        "#EXT-X-STREAM-INF:BANDWIDTH=1030000,AVERAGE-BANDWIDTH=828000,CODECS=\"avc1.64001e,mp4a.40.2\","
        "RESOLUTION=640x360,FRAME-RATE=25.000,AUDIO=\"aud\",SUBTITLES=\"subs\"",
        "360p.m3u8",
        "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=33334,CODECS=\"avc1.64001e\",RESOLUTION=640x360,"
        "URI=\"360p-iframes.m3u8\""]
    assert vod.render_vod_media(INDEX["video"][0]).splitlines() == [
        "#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:4", "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-INDEPENDENT-SEGMENTS", '#EXT-X-MAP:URI="360p/init.mp4"',
        "#EXTINF:3.840000,", "360p/0.m4s", "#EXTINF:1.920000,", "360p/1.m4s", "#EXT-X-ENDLIST"]
    assert vod.render_iframes(INDEX["video"][0]).splitlines()[6:10] == [
        "#EXT-X-I-FRAMES-ONLY", '#EXT-X-MAP:URI="360p/init.mp4"', "#EXTINF:3.840000,", "#EXT-X-BYTERANGE:9000@76"]
    assert vod.render_subtitles({"name": "subs-pol"}, 5_760_000).splitlines()[2:7] == [
        "#EXT-X-TARGETDURATION:6", "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD", "#EXTINF:5.760000,",
        "subs-pol/0.vtt"]
