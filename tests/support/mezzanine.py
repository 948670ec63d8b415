"""Test mezzanines made by real ffmpeg: a test pattern with two labelled audio tracks, and broken files."""

from __future__ import annotations

import subprocess
from pathlib import Path

from streaming.ffmpeg import ffmpeg_exe

SRT_POLISH = (
    "1\r\n00:00:00,500 --> 00:00:03,000\r\nŻółw idzie do szkoły\r\n\r\n"
    "2\r\n00:00:03,500 --> 00:00:07,000\r\nDzień dobry, <i>Łódź</i>\r\n"
)


def make_mezzanine(path: Path, *, seconds: float = 8.0, size: str = "640x360", audio: tuple[str, ...] = ("pol", "eng"),
                   fps: int = 25, noise: bool = False) -> Path:
    """Encode a test pattern with one sine tone per audio language (440 Hz, 880 Hz, ...) into an MP4
    (with noise, a large one, for multipart uploads)."""
    args = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:duration={seconds}"]
    for i, _ in enumerate(audio):
        args += ["-f", "lavfi", "-i", f"sine=frequency={440 * (i + 1)}:sample_rate=48000:duration={seconds}"]
    if noise:  # grain compresses badly: a large file from a few seconds
        args += ["-vf", "noise=alls=40:allf=t+u", "-crf", "12"]
    args += ["-map", "0:v"] + [a for i in range(len(audio)) for a in ("-map", f"{i + 1}:a")]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k"]
    for i, lang in enumerate(audio):
        args += [f"-metadata:s:a:{i}", f"language={lang}"]
    args += ["-movflags", "+faststart", str(path)]
    proc = subprocess.run(args, capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode(errors="replace")[-2000:])
    return path
