"""ffmpeg argument lists for packaging, built by pure functions and tested as data."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import ffmpeg
import ffmpeg as ff

# The two light test renditions the demo and the tests use (a 720p ladder costs too much CPU here).
TEST_LADDER = (("360p", 640, 360, 800), ("240p", 426, 240, 400))


def testcard_push_args(*, ffmpeg: str, base_url: str, segment_s: float, realtime: bool,
                           duration_s: float | None, headers: dict[str, str] | None,
                           fps: int = 25, preset: str = "veryfast") -> list[str]:
    """Return ffmpeg args that encode a 2-rendition test pattern as CMAF HLS to base_url.

    base_url is an http(s) ingest prefix (``.../ingest/{channel}/cmaf``) pushed with PUT, or
    a local folder. Keyframes are forced every segment so renditions share boundaries.
    """
    gop = round(segment_s * fps)
    args = [ffmpeg, "-hide_banner", "-loglevel", "warning", "-nostdin"]
    if realtime:
        args.append("-re")
    src_v = f"testsrc2=size=640x360:rate={fps}"
    src_a = "sine=frequency=1000:sample_rate=48000"
    if duration_s is not None:
        src_v += f":duration={duration_s}"
        src_a += f":duration={duration_s}"
    args += ["-f", "lavfi", "-i", src_v, "-f", "lavfi", "-i", src_a]
    split = ";".join(
        [f"[0:v]split={len(TEST_LADDER)}" + "".join(f"[s{i}]" for i in range(len(TEST_LADDER)))]
        + [f"[s{i}]scale={w}:{h}[v{i}]" for i, (_, w, h, _) in enumerate(TEST_LADDER)]
    )
    args += ["-filter_complex", split]
    for i in range(len(TEST_LADDER)):
        args += ["-map", f"[v{i}]", "-map", "1:a"]
    args += ["-c:v", "libx264", "-preset", preset, "-profile:v", "main",
             "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
             "-force_key_frames", f"expr:gte(t,n_forced*{segment_s})"]
    for i, (_, _, _, kbps) in enumerate(TEST_LADDER):
        args += [f"-b:v:{i}", f"{kbps}k", f"-maxrate:v:{i}", f"{int(kbps * 1.1)}k",
                 f"-bufsize:v:{i}", f"{kbps * 2}k"]
    args += ["-c:a", "aac", "-b:a", "96k", "-ar", "48000", "-ac", "2",
             "-f", "hls", "-hls_time", f"{segment_s}", "-hls_list_size", "6",
             "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
             "-hls_flags", "program_date_time+independent_segments",
             "-var_stream_map", " ".join(f"v:{i},a:{i},name:{n}" for i, (n, *_rest) in enumerate(TEST_LADDER))]
    if base_url.startswith(("http://", "https://")):
        args += ["-method", "PUT"]
        if headers:
            args += ["-headers", "".join(f"{k}: {v}\r\n" for k, v in headers.items())]
    args += ["-hls_segment_filename", f"{base_url}/%v/seg_%d.m4s", f"{base_url}/%v/index.m3u8"]
    return args


# -- the packager's ffmpeg ---------------------------------------------------------------

SOURCE_KINDS = ("udp", "srt", "rtmp", "rtmps", "http", "https", "file", "testcard")
FONT_CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
                   "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
# Seconds an input may be silent before ffmpeg gives up (the supervisor then restarts it).
INPUT_TIMEOUT_S = 5


@dataclass(frozen=True)
class LadderRung:
    """One video rendition to encode (or, in passthrough, to describe the source)."""

    name: str
    width: int
    height: int
    video_kbps: int
    audio_kbps: int
    frame_rate: float


@dataclass(frozen=True)
class AudioOut:
    """One demuxed audio rendition: source audio track index -> labelled output."""

    name: str
    language: str
    default: bool
    kbps: int


@dataclass(frozen=True)
class PackagerSpec:
    """Everything ffmpeg needs to package one channel."""

    channel_id: str
    segment_s: float
    packaging: str  # "ladder" or "passthrough"
    rungs: tuple[LadderRung, ...]
    audio: tuple[AudioOut, ...]
    segment_sets: tuple[str, ...]


def source_kind(url: str) -> str:
    """Return the kind of a source URL (its scheme), or raise ValueError."""
    kind = url.split(":", 1)[0].lower()
    if kind not in SOURCE_KINDS:
        raise ValueError(f"unsupported source {url!r}")
    return kind


def default_font() -> str | None:
    """Return a font file for the burnt-in clock, if the machine has one."""
    return next((f for f in FONT_CANDIDATES if os.path.exists(f)), None)


def input_stream(url: str, spec: PackagerSpec, font: str | None = None):  # noqa: ANN201
    """Return the ffmpeg-python input node(s) for a source: (video_node, [audio_nodes])."""
    kind = source_kind(url)
    timeout_us = str(INPUT_TIMEOUT_S * 1_000_000)
    if kind == "testcard":
        top = max(spec.rungs, key=lambda r: r.width * r.height)
        video = ffmpeg.input(f"testsrc2=size={top.width}x{top.height}:rate={top.frame_rate:g}",
                             f="lavfi", re=None).video
        if font:
            # A burnt-in wall clock (UTC, with frame number) for latency measurements.
            video = video.filter("drawtext", fontfile=font, text="%{gmtime} UTC  frame %{n}",
                                 x=20, y=20, fontsize=max(16, top.height // 12), fontcolor="white",
                                 box=1, boxcolor="black@0.6")
        tones = [ffmpeg.input(f"sine=frequency={440 * (i + 1)}:sample_rate=48000", f="lavfi").audio
                 for i in range(max(1, len(spec.audio)))]
        return video, tones
    opts: dict[str, object] = {}
    if kind == "file":
        opts.update(re=None, stream_loop=-1)
        url = url[len("file://"):]
    elif kind in ("http", "https"):
        opts.update(rw_timeout=timeout_us)
        if url.split("?", 1)[0].endswith(".m3u8"):
            opts.update(live_start_index=-1)  # an HLS source: start at its live edge
    elif kind in ("rtmp", "rtmps"):
        opts.update(rw_timeout=timeout_us)
    elif kind == "udp":
        url += ("&" if "?" in url else "?") + "fifo_size=1000000&overrun_nonfatal=1&timeout=" + timeout_us
    elif kind == "srt":
        url += ("&" if "?" in url else "?") + "timeout=" + timeout_us
    src = ffmpeg.input(url, **opts)
    audio = [src[f"a:{i}"] for i in range(max(1, len(spec.audio)))]
    return src["v:0"], audio


def var_stream_map(spec: PackagerSpec) -> str:
    """Return ffmpeg's -var_stream_map naming every output rendition as our ingest expects."""
    if not spec.audio:  # muxed: every video rendition carries the (first) audio track
        return " ".join(f"v:{i},a:{i},name:{r.name}" for i, r in enumerate(spec.rungs))
    parts = [f"v:{i},agroup:aud,name:{r.name}" for i, r in enumerate(spec.rungs)]
    parts += [f"a:{i},agroup:aud,language:{a.language},name:{a.name}"
              + (",default:yes" if a.default else "") for i, a in enumerate(spec.audio)]
    return " ".join(parts)


def packager_args(spec: PackagerSpec, *, ffmpeg: str, source_url: str, ingest_base: str,
                  headers: dict[str, str], font: str | None = None, preset: str = "veryfast") -> list[str]:
    """Return the ffmpeg argv packaging a channel from a source into our ingest (pure)."""
    video, audios = input_stream(source_url, spec, font)
    gop = round(spec.segment_s * spec.rungs[0].frame_rate)
    streams: list = []
    codec: dict[str, object] = {}
    if spec.packaging == "passthrough":
        streams.append(video)
        codec.update({"c:v": "copy", "c:a": "copy", "bsf:a": "aac_adtstoasc"})
    else:
        split = video.filter("fps", fps=f"{spec.rungs[0].frame_rate:g}").split()
        for i, rung in enumerate(spec.rungs):
            streams.append(split[i].filter("scale", rung.width, rung.height).filter("setsar", 1))
            cap = f"{rung.video_kbps}k"
            codec.update({f"b:v:{i}": cap, f"maxrate:v:{i}": cap,
                          f"bufsize:v:{i}": f"{int(rung.video_kbps * spec.segment_s)}k"})
        codec.update({"c:v": "libx264", "preset": preset, "profile:v": "main", "g": gop,
                      "keyint_min": gop, "sc_threshold": 0, "pix_fmt": "yuv420p",
                      "force_key_frames": f"expr:gte(t,n_forced*{spec.segment_s:g})",
                      "c:a": "aac", "ar": 48000, "ac": 2})
    if spec.audio:
        streams += audios[: len(spec.audio)]
        for i, a in enumerate(spec.audio):
            if spec.packaging != "passthrough":
                codec[f"b:a:{i}"] = f"{a.kbps}k"
            codec[f"metadata:s:a:{i}"] = f"language={a.language}"
    else:
        first = audios[0]
        if len(spec.rungs) > 1:
            split_a = first.filter_multi_output("asplit", len(spec.rungs))
            audio_streams = [split_a[i] for i in range(len(spec.rungs))]
        else:
            audio_streams = [first]
        # ffmpeg maps outputs in the order given: video rungs first, then one audio per rung.
        streams += audio_streams
        for i, rung in enumerate(spec.rungs):
            codec[f"b:a:{i}"] = f"{rung.audio_kbps}k"
    hls = {"f": "hls", "hls_time": f"{spec.segment_s:g}", "hls_list_size": 6,
           "hls_flags": "program_date_time+independent_segments", "method": "PUT",
           "var_stream_map": var_stream_map(spec), "http_persistent": 1,
           "headers": "".join(f"{k}: {v}\r\n" for k, v in headers.items())}
    outputs = []
    n_sets = len(spec.segment_sets)
    if n_sets > 1 and spec.packaging != "passthrough":
        # Each segment set is its own output, so every filtered stream is split between them.
        fan = [s.filter_multi_output("split" if i < len(spec.rungs) else "asplit", n_sets)
               for i, s in enumerate(streams)]
        per_set = [[f[k] for f in fan] for k in range(n_sets)]
    else:
        per_set = [streams] * n_sets
    for seg_set, set_streams in zip(spec.segment_sets, per_set):
        base = f"{ingest_base}/ingest/{spec.channel_id}/{seg_set}"
        kind = {"hls_segment_type": "fmp4", "hls_fmp4_init_filename": "init.mp4",
                "hls_segment_filename": f"{base}/%v/seg_%d.m4s"} if seg_set == "cmaf" else {
                "hls_segment_type": "mpegts", "hls_segment_filename": f"{base}/%v/seg_%d.ts"}
        outputs.append(ff.output(*set_streams, f"{base}/%v/index.m3u8", **codec, **hls, **kind))
    node = ff.merge_outputs(*outputs) if len(outputs) > 1 else outputs[0]
    # Info level: the supervisor reads the source's streams from it (see source_problem).
    args = node.global_args("-hide_banner", "-loglevel", "info", "-nostdin",
                            "-nostats").compile(cmd=ffmpeg)
    return [str(a) for a in args]


_INPUT_VIDEO = re.compile(r"^\s*Stream #0:\d+.*?: Video: .*?, (\d{2,5})x(\d{2,5})[ ,]")


def source_problem(line: str, spec: PackagerSpec, *, seen_output: bool) -> str | None:
    """Read one ffmpeg stderr line; return why the source cannot give what the channel asks."""
    lower = line.lower()
    # ffmpeg 9 says "Reconfiguring filter graph because video parameters changed"; older
    # releases said "Changing video frame properties on the fly".
    if ("video parameters changed" in lower or "changing video frame properties" in lower
            or "changing frame properties" in lower):
        return "source resolution changed mid-stream; renditions keep their configured sizes"
    if seen_output:
        return None
    m = _INPUT_VIDEO.match(line)
    if m and spec.packaging == "ladder":
        width, height = int(m.group(1)), int(m.group(2))
        top = max(spec.rungs, key=lambda r: r.width * r.height)
        if width * height < top.width * top.height:
            return (f"the ladder asks for {top.width}x{top.height} but the source is "
                    f"{width}x{height}: upper renditions are upscaled")
    return None
