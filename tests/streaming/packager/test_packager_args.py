"""The packager's ffmpeg argv, source checks and failure reasons, tested as data (no ffmpeg runs)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from catalog.channels.schemas import ChannelCreate, check_source_url
from streaming.ffmpeg import ffmpeg_exe
from streaming.packager import arguments as packaging
from streaming.packager.arguments import (
    AudioOut,
    LadderRung,
    PackagerSpec,
    packager_args,
    source_kind,
    var_stream_map,
)
from streaming.packager.node import packager_spec, probe_args
from streaming.packager.supervisor import SupervisorPolicy, classify_failure

R360 = LadderRung("360p", 640, 360, 800, 96, 25.0)
R240 = LadderRung("240p", 426, 240, 400, 64, 25.0)
POL = AudioOut("pol", "pl", True, 128)
ORIG = AudioOut("orig", "en", False, 96)
AUTH = {"Authorization": "Basic eA=="}
GLOBAL = ["-hide_banner", "-loglevel", "info", "-nostdin", "-nostats"]


def spec(packaging_: str = "ladder", rungs=(R360, R240), audio=(POL, ORIG), sets=("cmaf",)) -> PackagerSpec:
    return PackagerSpec("ch1", 1.92, packaging_, tuple(rungs), tuple(audio), tuple(sets))


def args_for(s: PackagerSpec, url: str, font: str | None = None) -> list[str]:
    return packager_args(s, ffmpeg="ff", source_url=url, ingest_base="http://i", headers=AUTH, font=font)


def opt(args: list[str], name: str) -> list[str]:
    """Every value given to option `name`, in order."""
    return [args[i + 1] for i, a in enumerate(args) if a == name]


@pytest.mark.parametrize("preset", ["ultrafast", "veryfast", "medium"])
def test_the_live_preset_setting_reaches_x264(preset: str) -> None:
    args = packager_args(spec(), ffmpeg="ff", source_url="testcard:", ingest_base="http://i", headers=AUTH,
                         preset=preset)
    assert opt(args, "-preset") == [preset] and opt(args, "-c:v") == ["libx264"]


def test_full_ladder_argv_with_demuxed_audio_from_testcard() -> None:
    args = packager_args(spec(), ffmpeg="/opt/ffmpeg", source_url="testcard:",
                         ingest_base="http://127.0.0.1:8080", headers=AUTH, font="/f.ttf")
    base = "http://127.0.0.1:8080/ingest/ch1/cmaf"
    assert args == [
        "/opt/ffmpeg",
        "-f", "lavfi", "-re", "-i", "testsrc2=size=640x360:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
        "-f", "lavfi", "-i", "sine=frequency=880:sample_rate=48000",
        "-filter_complex",
        "[0:v]drawtext=box=1:boxcolor=black@0.6:fontcolor=white:fontfile=/f.ttf:fontsize=30"
        ":text=%{gmtime} UTC  frame %{n}:x=20:y=20[s0];[s0]fps=fps=25[s1];[s1]split=2[s2][s3];"
        "[s2]scale=640:360[s4];[s4]setsar=1[s5];[s3]scale=426:240[s6];[s6]setsar=1[s7]",
        "-map", "[s5]", "-map", "[s7]", "-map", "1:a", "-map", "2:a",
        "-f", "hls", "-ac", "2", "-ar", "48000", "-b:a:0", "128k", "-b:a:1", "96k",
        "-b:v:0", "800k", "-b:v:1", "400k", "-bufsize:v:0", "1536k", "-bufsize:v:1", "768k",
        "-c:a", "aac", "-c:v", "libx264", "-force_key_frames", "expr:gte(t,n_forced*1.92)", "-g", "48",
        "-headers", "Authorization: Basic eA==\r\n",
        "-hls_flags", "program_date_time+independent_segments", "-hls_fmp4_init_filename", "init.mp4",
        "-hls_list_size", "6", "-hls_segment_filename", f"{base}/%v/seg_%d.m4s",
        "-hls_segment_type", "fmp4", "-hls_time", "1.92", "-http_persistent", "1", "-keyint_min", "48",
        "-maxrate:v:0", "800k", "-maxrate:v:1", "400k",
        "-metadata:s:a:0", "language=pl", "-metadata:s:a:1", "language=en", "-method", "PUT",
        "-pix_fmt", "yuv420p", "-preset", "veryfast", "-profile:v", "main", "-sc_threshold", "0",
        "-var_stream_map", "v:0,agroup:aud,name:360p v:1,agroup:aud,name:240p "
        "a:0,agroup:aud,language:pl,name:pol,default:yes a:1,agroup:aud,language:en,name:orig",
        f"{base}/%v/index.m3u8",
        *GLOBAL,
    ]


TIMEOUT = "5000000"
TONES = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-f", "lavfi", "-i", "sine=frequency=880:sample_rate=48000"]


@pytest.mark.parametrize(("url", "before_filters"), [
    ("udp://239.1.1.1:5000", ["-i", f"udp://239.1.1.1:5000?fifo_size=1000000&overrun_nonfatal=1&timeout={TIMEOUT}"]),
    ("udp://239.1.1.1:5000?pkt_size=1316",
     ["-i", f"udp://239.1.1.1:5000?pkt_size=1316&fifo_size=1000000&overrun_nonfatal=1&timeout={TIMEOUT}"]),
    ("srt://10.0.0.1:9000?mode=caller", ["-i", f"srt://10.0.0.1:9000?mode=caller&timeout={TIMEOUT}"]),
    ("srt://10.0.0.1:9000", ["-i", f"srt://10.0.0.1:9000?timeout={TIMEOUT}"]),
    ("rtmp://host/app/key", ["-rw_timeout", TIMEOUT, "-i", "rtmp://host/app/key"]),
    ("rtmps://host/app/key", ["-rw_timeout", TIMEOUT, "-i", "rtmps://host/app/key"]),
    ("https://host/live.m3u8", ["-live_start_index", "-1", "-rw_timeout", TIMEOUT, "-i", "https://host/live.m3u8"]),
    ("http://host/live.m3u8", ["-live_start_index", "-1", "-rw_timeout", TIMEOUT, "-i", "http://host/live.m3u8"]),
    ("file:///media/loop.ts", ["-re", "-stream_loop", "-1", "-i", "/media/loop.ts"]),
    ("testcard:", ["-f", "lavfi", "-re", "-i", "testsrc2=size=640x360:rate=25", *TONES]),
])
def test_input_options_per_source_kind(url: str, before_filters: list[str]) -> None:
    args = args_for(spec(), url)
    assert args[:args.index("-filter_complex")] == ["ff", *before_filters]
    expected_audio = ["1:a", "2:a"] if url == "testcard:" else ["0:a:0", "0:a:1"]
    assert opt(args, "-map") == ["[s4]", "[s6]", *expected_audio]  # two rungs, then the two tracks


def test_http_mpegts_source_gets_no_hls_demuxer_option() -> None:
    args = args_for(spec(), "http://host/stream.ts")
    assert args[:args.index("-filter_complex")] == ["ff", "-rw_timeout", TIMEOUT, "-i", "http://host/stream.ts"]


def test_testcard_uses_top_rung_and_one_tone_when_muxed() -> None:
    top = LadderRung("720p", 1280, 720, 2500, 128, 50.0)
    one_rung = spec(rungs=(top,), audio=())
    args = args_for(one_rung, "testcard:")
    assert args[:args.index("-filter_complex")] == [
        "ff", "-f", "lavfi", "-re", "-i", "testsrc2=size=1280x720:rate=50",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    assert opt(args, "-filter_complex") == ["[0:v]fps=fps=50[s0];[s0]split=1[s1];[s1]scale=1280:720[s2];[s2]setsar=1[s3]"]
    assert (opt(args, "-g"), opt(args, "-keyint_min"), opt(args, "-b:a:0")) == (["96"], ["96"], ["128k"])
    # The testcard takes the largest rung's size even when it is not listed first.
    two = args_for(spec(rungs=(R240, LadderRung("720p", 1280, 720, 2500, 128, 25.0))), "testcard:")
    assert "testsrc2=size=1280x720:rate=25" in two


def test_passthrough_copies_and_maps_every_track() -> None:
    args = args_for(spec("passthrough", rungs=(R360,)), "srt://10.0.0.1:9000")
    assert opt(args, "-map") == ["0:v:0", "0:a:0", "0:a:1"]
    assert (opt(args, "-c:v"), opt(args, "-c:a"), opt(args, "-bsf:a")) == (["copy"], ["copy"], ["aac_adtstoasc"])
    assert "-filter_complex" not in args and "libx264" not in args and not any("scale" in a for a in args)
    assert not any(a.startswith(("-b:a", "-b:v", "-g")) for a in args)
    assert opt(args, "-metadata:s:a:1") == ["language=en"]
    assert opt(args, "-var_stream_map") == [
        "v:0,agroup:aud,name:360p a:0,agroup:aud,language:pl,name:pol,default:yes "
        "a:1,agroup:aud,language:en,name:orig"]


def test_passthrough_cmaf_and_ts_sets_are_two_outputs() -> None:
    args = args_for(spec("passthrough", rungs=(R360,), audio=(POL,), sets=("cmaf", "ts")), "rtmp://h/a/k")

    def output(seg_set: str, init: list[str], seg_type: str) -> list[str]:
        base = f"http://i/ingest/ch1/{seg_set}"
        return ["-map", "0:v:0", "-map", "0:a:0", "-f", "hls", "-bsf:a", "aac_adtstoasc", "-c:a", "copy",
                "-c:v", "copy", "-headers", "Authorization: Basic eA==\r\n",
                "-hls_flags", "program_date_time+independent_segments", *init, "-hls_list_size", "6",
                "-hls_segment_filename", f"{base}/%v/seg_%d.{'m4s' if seg_set == 'cmaf' else 'ts'}",
                "-hls_segment_type", seg_type, "-hls_time", "1.92", "-http_persistent", "1", "-metadata:s:a:0", "language=pl",
                "-method", "PUT", "-var_stream_map",
                "v:0,agroup:aud,name:360p a:0,agroup:aud,language:pl,name:pol,default:yes",
                f"{base}/%v/index.m3u8"]

    assert args == [
        "ff", "-rw_timeout", TIMEOUT, "-i", "rtmp://h/a/k",
        *output("cmaf", ["-hls_fmp4_init_filename", "init.mp4"], "fmp4"),
        *output("ts", [], "mpegts"),
        *GLOBAL,
    ]


def test_ladder_with_cmaf_and_ts_sets() -> None:
    args = args_for(spec(sets=("cmaf", "ts")), "udp://239.1.1.1:5000")
    assert opt(args, "-hls_segment_type") == ["fmp4", "mpegts"]
    assert opt(args, "-hls_segment_filename") == ["http://i/ingest/ch1/cmaf/%v/seg_%d.m4s",
                                                  "http://i/ingest/ch1/ts/%v/seg_%d.ts"]
    # Every encoded stream is split between the two outputs: 2 rungs + 2 audio tracks, twice.
    maps = opt(args, "-map")
    assert len(maps) == 8 and len(set(maps)) == 8
    graph = opt(args, "-filter_complex")[0]
    assert graph.count("]split=2") == 3 and "[0:a:0]asplit=2" in graph and "[0:a:1]asplit=2" in graph


def test_muxed_var_stream_map_pairs_each_rung_with_an_audio() -> None:
    assert var_stream_map(spec(audio=())) == "v:0,a:0,name:360p v:1,a:1,name:240p"


def test_muxed_ladder_splits_audio_per_rung() -> None:
    # Regression: at fce1d58 .filter("asplit") was indexed with an int (TypeError); fixed in 5756f04.
    args = args_for(spec(audio=()), "udp://239.1.1.1:5000")
    assert opt(args, "-filter_complex") == [
        "[0:v:0]fps=fps=25[s0];[s0]split=2[s1][s2];[s1]scale=640:360[s3];[s3]setsar=1[s4];"
        "[s2]scale=426:240[s5];[s5]setsar=1[s6];[0:a:0]asplit=2[s7][s8]"]
    assert opt(args, "-map") == ["[s4]", "[s6]", "[s7]", "[s8]"]
    assert (opt(args, "-b:a:0"), opt(args, "-b:a:1"), opt(args, "-c:a")) == (["96k"], ["64k"], ["aac"])
    assert opt(args, "-var_stream_map") == ["v:0,a:0,name:360p v:1,a:1,name:240p"]
    assert not any(a.startswith("-metadata") for a in args)


@pytest.mark.parametrize(("rungs", "audio", "expected"), [
    ((R360,), (), "v:0,a:0,name:360p"),
    ((R360, R240), (), "v:0,a:0,name:360p v:1,a:1,name:240p"),
    ((R360,), (POL,), "v:0,agroup:aud,name:360p a:0,agroup:aud,language:pl,name:pol,default:yes"),
    ((R240, R360), (ORIG, POL), "v:0,agroup:aud,name:240p v:1,agroup:aud,name:360p "
                                "a:0,agroup:aud,language:en,name:orig a:1,agroup:aud,language:pl,name:pol,default:yes"),
])
def test_var_stream_map(rungs: tuple, audio: tuple, expected: str) -> None:
    assert var_stream_map(spec(rungs=rungs, audio=audio)) == expected


@pytest.mark.parametrize(("url", "kind"), [
    ("udp://239.1.1.1:5000", "udp"), ("SRT://h:1", "srt"), ("rtmps://h/a", "rtmps"), ("http://h/x", "http"),
    ("file:///a.ts", "file"), ("testcard:", "testcard"),
])
def test_source_kind(url: str, kind: str) -> None:
    assert source_kind(url) == kind


@pytest.mark.parametrize("url", ["ftp://x", "/path", "javascript:x", "", "rtsp://cam/1"])
def test_source_kind_refuses(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported source"):
        source_kind(url)


UNKNOWN = "[rtmp @ 0x55d2c8e0a100] Cannot read RTMP handshake response\nError opening input files: End of file\n"


@pytest.mark.parametrize(("tail", "code", "reason"), [
    ("[tcp @ 0x55d2c8e0a100] Connection to tcp://1.2.3.4:1935 failed: Connection refused\n"
     "[in#0 @ 0x55d2c8e09e00] Error opening input: Connection refused\n", 1, "source unreachable (connection refused)"),
    ("[in#0 @ 0x561116714cc0] Error opening input: No such file or directory\n"
     "Error opening input file /media/missing.ts.\n", 1, "source file not found"),
    ("Stream map '0:a:1' matches no streams.\nTo ignore this, add a trailing '?' to the map.\n", 8,
     "source lacks a stream the channel needs (audio or video)"),
    # Captured from the bundled ffmpeg 9 asked for audio a source lacks: the missing stream
    # is the cause, not the output it then fails to open.
    ("Stream map '' matches no streams.\nTo ignore this, add a trailing '?' to the map.\n"
     "Failed to set value '0:a:0' for option 'map': Invalid argument\n"
     "Error parsing options for output file http://127.0.0.1:1/x/index.m3u8.\n"
     "Error opening output files: Invalid argument\n", 8,
     "source lacks a stream the channel needs (audio or video)"),
    ("Output file does not contain any stream\n", 1, "source has no audio or video stream"),
    ("[in#0 @ 0x558ba815acc0] Error opening input: Invalid data found when processing input\n", 1,
     "source sent data ffmpeg cannot read"),
    ("[in#0 @ 0x55e5b9283d80] Error opening input: Server returned 404 Not Found\n", 8,
     "source refused the request (HTTP 4xx)"),
    ("Error opening input files: Server returned 503 Service Unavailable\n", 8, "source failed (HTTP 5xx)"),
    ("[srt @ 0x5576e716c9c0] Connection to srt://127.0.0.1:9?mode=caller failed: Connection timed out\n", 1,
     "source timed out"),
    ("[tcp @ 0x55d2c8e0a100] Connection to tcp://10.0.0.9:80 failed: Connection timed out\n", 1, "source timed out"),
    ("Error opening output http://i/ingest/ch1/cmaf/360p/index.m3u8: Broken pipe\n", 1, "ingest unreachable"),
    ("[http @ 0x55aa] HTTP error 401 Unauthorized\n", 1, "ingest refused our credentials"),
    (UNKNOWN, 1, "ffmpeg exited with 1: Error opening input files: End of file"),
    ("first\n" + "x" * 300 + "\n\n  \n", -15, "ffmpeg exited with -15: " + "x" * 200),
    ("", None, "ffmpeg exited with None"),
    ("\n  \n", 137, "ffmpeg exited with 137"),
])
def test_classify_failure(tail: str, code: int | None, reason: str) -> None:
    assert classify_failure(tail, code) == reason


# Captured from the bundled ffmpeg pushing to an ingest port nobody listens on.
INGEST_DOWN = """[tcp @ 0x7efdfc352980] Connection to tcp://127.0.0.1:18930 failed: Connection refused
[hls @ 0x56141d964100] Failed to open segment 'init_0.mp4'
[out#0/hls @ 0x56141d963e00] Could not write header (incorrect codec parameters ?): Connection refused
[fc#0 @ 0x56141d95fa00] Error sending frames to consumers: Connection refused
"""


def test_ingest_connection_refused_blames_the_ingest() -> None:
    assert classify_failure(INGEST_DOWN, 145) == "ingest unreachable"


def test_401_inside_an_address_is_not_an_auth_failure() -> None:
    tail = "[mpegts @ 0x55f2c4010a80] Packet corrupt (stream = 0, dts = 1234)\nConversion failed!\n"
    assert classify_failure(tail, 1) == "ffmpeg exited with 1: Conversion failed!"


def test_input_output_error_is_an_io_error() -> None:
    tail = "[in#0 @ 0x5567bf6c4d40] Error opening input: Input/output error\nError opening input files: Input/output error\n"
    assert classify_failure(tail, 8) == "source I/O error"


@pytest.mark.parametrize(("target", "factor", "stall"), [(2, 2.0, 4.0), (6, 1.5, 9.0), (1, 3.0, 3.0)])
def test_policy_stall(target: float, factor: float, stall: float) -> None:
    assert SupervisorPolicy(target_duration_s=target, stall_factor=factor).stall_s == stall


@pytest.mark.parametrize("url", [
    "udp://239.1.1.1:5000", "udp://239.1.1.1:5000?pkt_size=1316", "srt://10.0.0.1:9000?mode=caller",
    "rtmp://host/app/key", "rtmps://host/app/key", "http://host/live.m3u8", "https://host/live.m3u8",
    "file:///media/loop.ts", "testcard:", "HTTPS://host/x.m3u8", "file:///a/..b/c.ts", None,
])
def test_check_source_url_accepts(url: str | None) -> None:
    assert check_source_url(url) == url


@pytest.mark.parametrize("url", [
    "ftp://host/x", "javascript:alert(1)", "/media/loop.ts", "rtsp://cam/1", "", "testcard",
    "udp://239.1.1.1:5000 -f", "udp://h:1\n-i", "udp://h:1\r", "udp://h:1\0", "http://h/" + "a" * 2000,
    "file://relative/x.ts", "file:///a/../b", "file:///a/..", "FILE:///a.ts",
])
def test_check_source_url_refuses(url: str) -> None:
    with pytest.raises(ValueError):
        check_source_url(url)


@pytest.mark.parametrize("url", ["udp://h:1\tx", "udp://h:1\x1b[2J"])
def test_check_source_url_refuses_other_control_characters(url: str) -> None:
    with pytest.raises(ValueError):
        check_source_url(url)


def channel(**over: object) -> dict:
    body = {"id": "ch1", "name": "One", "source_url": "udp://239.1.1.1:5000",
            "renditions": [{"name": "360p", "width": 640, "height": 360, "video_bitrate_kbps": 800}]}
    return body | over


TRACKS = [{"name": "pol", "language": "pl", "label": "Polski", "default": True},
          {"name": "orig", "language": "en", "label": "Original"}]


def test_channel_create_valid() -> None:
    ch = ChannelCreate(**channel(audio_tracks=TRACKS, packaging="passthrough", backup_source_url="testcard:"))
    assert (ch.target_duration_s, ch.segment_sets, [a.bitrate_kbps for a in ch.audio_tracks]) == (2, ["cmaf"], [96, 96])


@pytest.mark.parametrize(("over", "message"), [
    ({"packaging": "passthrough", "renditions": [
        {"name": "360p", "width": 640, "height": 360, "video_bitrate_kbps": 800},
        {"name": "240p", "width": 426, "height": 240, "video_bitrate_kbps": 400}]}, "exactly one rendition"),
    ({"audio_tracks": [TRACKS[0], TRACKS[1] | {"default": True}]}, "exactly one audio track"),
    ({"audio_tracks": [TRACKS[0], TRACKS[1] | {"default": False}][1:]}, "exactly one audio track"),
    ({"audio_tracks": [TRACKS[0] | {"name": "360p"}]}, "must be unique"),
    ({"source_url": None, "backup_source_url": "udp://239.1.1.2:5000"}, "needs a primary"),
    ({"source_url": "ftp://x"}, "source_url must start with"),
    ({"backup_source_url": "file://relative.ts"}, "absolute path"),
])
def test_channel_create_refuses(over: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ChannelCreate(**channel(**over))


@pytest.mark.parametrize(("url", "tail"), [
    ("testcard:", ["-f", "lavfi", "-i", "testsrc2", "-t", "1", "-f", "null", "-"]),
    ("file:///media/loop.ts", ["-rw_timeout", TIMEOUT, "-i", "/media/loop.ts", "-t", "2", "-f", "null", "-"]),
    ("udp://239.1.1.1:5000", ["-rw_timeout", TIMEOUT, "-i", "udp://239.1.1.1:5000", "-t", "2", "-f", "null", "-"]),
    ("https://host/live.m3u8", ["-rw_timeout", TIMEOUT, "-i", "https://host/live.m3u8", "-t", "2", "-f", "null", "-"]),
])
def test_probe_args(url: str, tail: list[str]) -> None:
    assert probe_args(url) == [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", *tail]


def test_probe_args_refuses_unknown_source() -> None:
    with pytest.raises(ValueError):
        probe_args("ftp://x")


def test_packager_spec_from_a_channel_row() -> None:
    row = SimpleNamespace(
        id="ch1", segment_duration_ms=1920, packaging="ladder", segment_sets=["cmaf", "ts"],
        renditions=[SimpleNamespace(name="360p", width=640, height=360, video_bitrate_kbps=800,
                                    audio_bitrate_kbps=96, frame_rate=25.0)],
        audio_tracks=[{"name": "pol", "language": "pl", "default": True, "bitrate_kbps": 128},
                      {"name": "orig", "language": "en"}])
    assert packager_spec(row) == PackagerSpec("ch1", 1.92, "ladder", (R360,), (POL, ORIG), ("cmaf", "ts"))
    assert packager_spec(SimpleNamespace(**(vars(row) | {"audio_tracks": None}))).audio == ()


RESIZED = "source resolution changed mid-stream; renditions keep their configured sizes"


@pytest.mark.parametrize(("line", "seen_output", "packaging_", "reason"), [
    # Captured from the bundled ffmpeg 9 reading a file whose resolution changes.
    ("[vf#0:0 @ 0x556c9b34f480] Reconfiguring filter graph because video parameters changed to "
     "yuv420p(unknown, unknown), 320x240, unspecified alpha\n", True, "ladder", RESIZED),
    ("[graph 0 input from stream 0:0 @ 0x5] Changing video frame properties on the fly is not "
     "supported by all filters.\n", True, "ladder", RESIZED),
    ("  Stream #0:0[0x100]: Video: h264 (High) ([27][0][0][0] / 0x001B), yuv420p(progressive), "
     "320x240 [SAR 1:1 DAR 4:3], 25 fps\n", False, "ladder",
     "the ladder asks for 640x360 but the source is 320x240: upper renditions are upscaled"),
    ("  Stream #0:0[0x100]: Video: h264 (High), yuv420p(progressive), 1280x720, 25 fps\n", False,
     "ladder", None),
    ("  Stream #0:0[0x100]: Video: h264 (High), yuv420p(progressive), 320x240, 25 fps\n", False,
     "passthrough", None),  # passthrough repackages what the source has
    ("  Stream #0:0: Video: h264, yuv420p, 320x240\n", True, "ladder", None),  # an output stream
    ("[hls @ 0x5] Opening 'http://i/ingest/ch1/cmaf/360p/seg_3.m4s' for writing\n", True, "ladder", None),
])
def test_source_problems_read_from_ffmpeg(line: str, seen_output: bool, packaging_: str, reason: str | None) -> None:
    assert packaging.source_problem(line, spec(packaging_), seen_output=seen_output) == reason
