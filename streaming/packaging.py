"""ffmpeg argument lists for packaging, built by pure functions and tested as data."""

from __future__ import annotations

from functools import lru_cache

# The two light test renditions the demo and the tests use (a 720p ladder costs too much CPU here).
TEST_LADDER = (("360p", 640, 360, 800), ("240p", 426, 240, 400))


@lru_cache
def ffmpeg_exe() -> str:
    """Return the ffmpeg binary shipped by the imageio-ffmpeg package (never one on PATH)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def testcard_push_args(*, ffmpeg: str, base_url: str, segment_s: float, realtime: bool,
                           duration_s: float | None, headers: dict[str, str] | None,
                           fps: int = 25) -> list[str]:
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
    args += ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main",
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
