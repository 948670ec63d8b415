"""VOD media: probing a mezzanine and the ffmpeg argument lists that turn it into an ABR ladder.

Pure functions build every argument list (tested as data); `probe` reads the file with PyAV
(libavformat, the same demuxers ffmpeg uses) and refuses what cannot become a playable title,
with a code and a reason content ops can act on.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import av

from infra.errors import InvalidInput

# The largest frame H.264's levels allow (as for channel renditions).
MAX_WIDTH, MAX_HEIGHT = 7680, 4320
# A title shorter than this is a mistake (a trailer cut, a test file), not a title.
MIN_DURATION_S = 2.0
# Languages of audio and subtitle tracks: ISO 639-2 (what MP4 and MPEG-TS carry).
UNDETERMINED = "und"
# Labels players show when neither staff nor the file name a track.
LANGUAGE_NAMES = {"pol": "Polski", "eng": "English", "deu": "Deutsch", "ger": "Deutsch", "fra": "Français",
                  "fre": "Français", "spa": "Español", "ita": "Italiano", "ukr": "Українська", "rus": "Русский",
                  "ces": "Čeština", "cze": "Čeština", "und": "Audio"}


class MediaRejected(InvalidInput):
    """A mezzanine that cannot become a playable title; ``code`` says why."""

    code = "MEDIA_REJECTED"

    def __init__(self, code: str, message: str, **details) -> None:  # noqa: ANN003
        super().__init__(message, **details)
        self.code = code


@dataclass(frozen=True)
class SourceAudio:
    """One audio stream of the mezzanine, in order."""

    index: int  # among the audio streams (ffmpeg's 0:a:N)
    language: str
    title: str | None
    channels: int
    codec: str


@dataclass(frozen=True)
class Probe:
    """What a mezzanine holds."""

    duration_s: float
    width: int
    height: int
    frame_rate: float
    video_codec: str
    audio: tuple[SourceAudio, ...]

    def as_dict(self) -> dict:
        """Return the probe as stored with the asset."""
        return {"duration_s": round(self.duration_s, 3), "width": self.width, "height": self.height,
                "frame_rate": self.frame_rate, "video_codec": self.video_codec,
                "audio": [{"index": a.index, "language": a.language, "title": a.title, "channels": a.channels,
                           "codec": a.codec} for a in self.audio]}


@dataclass(frozen=True)
class Rung:
    """One video rendition of a VOD ladder."""

    name: str
    width: int
    height: int
    video_kbps: int


@dataclass(frozen=True)
class AudioOut:
    """One audio rendition: a source audio stream, encoded to AAC stereo and labelled."""

    name: str
    source_index: int
    language: str
    label: str
    default: bool


def parse_ladder(text: str) -> tuple[Rung, ...]:
    """Parse ``name:WIDTHxHEIGHT:KBPS,...`` (SMARTGO_VOD_LADDER), tallest first; refuse rungs x264
    cannot encode (the bounds channel renditions have, catalog/channels/schemas.py)."""
    rungs = []
    for item in (i.strip() for i in text.split(",") if i.strip()):
        try:
            name, size, kbps = item.split(":")
            width, height = (int(v) for v in size.lower().split("x"))
            rungs.append(Rung(name, width, height, int(kbps)))
        except ValueError as err:
            raise ValueError(f"ladder rung {item!r} is not name:WIDTHxHEIGHT:KBPS") from err
        if not (re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", name) and 16 <= width <= MAX_WIDTH
                and 16 <= height <= MAX_HEIGHT and width % 2 == 0 and height % 2 == 0 and 50 <= int(kbps) <= 100_000):
            raise ValueError(f"ladder rung {item!r}: a name of a-z, 0-9, _ and -, an even size from 16x16 to "
                             f"{MAX_WIDTH}x{MAX_HEIGHT}, and 50 to 100000 kbps")
    if not rungs:
        raise ValueError("the VOD ladder needs at least one rung")
    return tuple(sorted(rungs, key=lambda r: -r.height))


def plan_ladder(rungs: tuple[Rung, ...], probe: Probe) -> tuple[Rung, ...]:
    """Keep the rungs no taller than the source (never upscale); a small source gets the smallest rung."""
    kept = tuple(r for r in rungs if r.height <= probe.height)
    return kept or (rungs[-1],)


def plan_audio(probe: Probe, labels: list[dict]) -> tuple[AudioOut, ...]:
    """Name and label every source audio stream: staff's labels by position, else the file's tags."""
    out = []
    for a in probe.audio:
        given = labels[a.index] if a.index < len(labels) else {}
        language = given.get("language") or a.language or UNDETERMINED
        label = given.get("label") or a.title or LANGUAGE_NAMES.get(language, language)
        out.append(AudioOut(f"audio-{a.index}", a.index, language, label, bool(given.get("default"))))
    if out and not any(a.default for a in out):
        out[0] = AudioOut(out[0].name, out[0].source_index, out[0].language, out[0].label, True)
    return tuple(out)


def gop_frames(segment_s: float, frame_rate: float) -> int:
    """Return the GOP length in frames: one keyframe at the start of every segment."""
    return max(1, round(segment_s * frame_rate))


def transcode_args(*, ffmpeg: str, source: str, out_dir: str, rungs: tuple[Rung, ...],
                   audio: tuple[AudioOut, ...], segment_s: float, frame_rate: float,
                   preset: str = "veryfast") -> list[str]:
    """Return the one ffmpeg run that decodes once and encodes the whole ladder as CMAF HLS.

    Every rung has the same GOP and keyframes forced on segment boundaries (``-sc_threshold 0``),
    so all renditions cut at the same instants; bitrates are capped (maxrate = bitrate, bufsize =
    one segment's worth twice) so the measured BANDWIDTH stays honest. Audio renditions are
    demuxed (one playlist each), every source track kept. Progress goes to stdout.
    """
    gop = gop_frames(segment_s, frame_rate)
    n = len(rungs)
    chain = f"[0:v:0]split={n}" + "".join(f"[s{i}]" for i in range(n)) if n > 1 else "[0:v:0]null[s0]"
    scales = [f"[s{i}]scale={r.width}:{r.height}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
              f"setsar=1[v{i}]" for i, r in enumerate(rungs)]
    args = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats",
            "-i", source, "-filter_complex", ";".join([chain, *scales])]
    for i in range(n):
        args += ["-map", f"[v{i}]"]
    for a in audio:
        args += ["-map", f"0:a:{a.source_index}"]
    args += ["-c:v", "libx264", "-preset", preset, "-profile:v", "high", "-pix_fmt", "yuv420p",
             "-r", f"{frame_rate:g}", "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
             "-force_key_frames", f"expr:gte(t,n_forced*{segment_s:g})"]
    for i, r in enumerate(rungs):
        args += [f"-b:v:{i}", f"{r.video_kbps}k", f"-maxrate:v:{i}", f"{r.video_kbps}k",
                 f"-bufsize:v:{i}", f"{r.video_kbps * 2}k"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000"]
    streams = [f"v:{i},agroup:aud,name:{r.name}" if audio else f"v:{i},name:{r.name}" for i, r in enumerate(rungs)]
    streams += [f"a:{i},agroup:aud,name:{a.name}" for i, a in enumerate(audio)]
    args += ["-f", "hls", "-hls_time", f"{segment_s:g}", "-hls_playlist_type", "vod",
             "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
             "-hls_flags", "independent_segments+temp_file", "-master_pl_name", "master.m3u8",
             "-var_stream_map", " ".join(streams),
             "-hls_segment_filename", f"{out_dir}/%v/%d.m4s", f"{out_dir}/%v/index.m3u8"]
    return args


def ts_remux_args(*, ffmpeg: str, playlist: str, out_dir: str, segment_s: float) -> list[str]:
    """Return an ffmpeg run that repackages one CMAF track as MPEG-TS, copying (no re-encode).

    The CMAF segments start on the same keyframes the TS segments cut on, so both sets share
    segment boundaries (and the TS set costs a copy, not a transcode).
    """
    return [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-i", playlist, "-map", "0", "-c", "copy",
            "-f", "hls", "-hls_time", f"{segment_s:g}", "-hls_playlist_type", "vod", "-hls_segment_type", "mpegts",
            "-hls_flags", "temp_file", "-hls_segment_filename", f"{out_dir}/%d.ts", f"{out_dir}/index.m3u8"]


def poster_args(*, ffmpeg: str, source: str, at_s: float, out: str, width: int = 1280) -> list[str]:
    """Return an ffmpeg run that takes one frame at at_s (fast seek) as a JPEG poster."""
    return [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-ss", f"{at_s:.3f}", "-i", source,
            "-frames:v", "1", "-vf", f"scale='min({width},iw)':-2", "-q:v", "3", out]


def poster_time(duration_s: float) -> float:
    """Return where the poster frame is taken: a tenth in, past any opening black."""
    return round(min(max(duration_s * 0.1, 0.0), max(duration_s - 1.0, 0.0)), 3)


def progress_percent(line: str, duration_s: float) -> float | None:
    """Return the percent done from one line of ffmpeg's ``-progress`` output, if it tells."""
    key, _, value = line.strip().partition("=")
    if key != "out_time_us" or not value.lstrip("-").isdigit() or duration_s <= 0:
        return None
    return max(0.0, min(99.0, int(value) / 1e6 / duration_s * 100))


def transcode_timeout_s(duration_s: float) -> float:
    """Return how long a transcode may run: slower than a tenth of real time is stuck."""
    return 600.0 + duration_s * 10


def probe(path: Path) -> Probe:
    """Read a mezzanine's streams and check it is playable; raise MediaRejected if not.

    Beyond what the header says, every packet is demuxed (cheap, no decoding) so a truncated file
    is caught, and the first video frames are decoded so a corrupt one is.
    """
    if path.stat().st_size == 0:
        raise MediaRejected("MEDIA_EMPTY", "the file is empty")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as err:
        raise MediaRejected("MEDIA_UNREADABLE", "not a media file ffmpeg can read") from err
    with container:
        video = next((s for s in container.streams.video if s.codec_context is not None), None)
        if video is None or not video.codec_context.width:
            raise MediaRejected("NO_VIDEO_STREAM", "the file has no video stream")
        audio = tuple(SourceAudio(i, _language(s), (s.metadata or {}).get("title"),
                                  s.codec_context.channels or 2, s.codec_context.name)
                      for i, s in enumerate(container.streams.audio))
        if not audio:
            raise MediaRejected("NO_AUDIO_STREAM", "the file has no audio stream")
        declared = (container.duration or 0) / 1e6
        rate = float(video.average_rate or video.guessed_rate or 25)
        width, height, codec = video.codec_context.width, video.codec_context.height, video.codec_context.name
        end_s = _demux_end(container, video)
    duration = declared or end_s
    if duration < MIN_DURATION_S:
        raise MediaRejected("MEDIA_TOO_SHORT", f"the file lasts {duration:.1f} s; a title needs {MIN_DURATION_S:g} s",
                            duration_s=round(duration, 3))
    if declared and end_s < declared * 0.9 - 1:
        raise MediaRejected("MEDIA_TRUNCATED", f"the video ends at {end_s:.1f} s of the {declared:.1f} s the file "
                            "declares: the file is truncated", declared_s=round(declared, 3), ends_s=round(end_s, 3))
    _decode_start(path)
    return Probe(round(duration, 3), width, height, round(rate, 3) if math.isfinite(rate) else 25.0, codec, audio)


def _language(stream) -> str:  # noqa: ANN001 - an av stream
    lang = ((stream.metadata or {}).get("language") or UNDETERMINED).lower()
    return lang if lang.isalpha() and 2 <= len(lang) <= 3 else UNDETERMINED


def _demux_end(container, video) -> float:  # noqa: ANN001
    """Return where the video's packets end, in seconds (every packet read, none decoded)."""
    end = 0.0
    try:
        for packet in container.demux(video):
            if packet.pts is not None and packet.duration is not None and packet.time_base:
                end = max(end, float((packet.pts + packet.duration) * packet.time_base))
    except av.error.FFmpegError as err:
        raise MediaRejected("MEDIA_CORRUPT", f"the file cannot be read to its end ({err})") from err
    start = float(video.start_time * video.time_base) if video.start_time is not None and video.time_base else 0.0
    return max(0.0, end - start)


def _decode_start(path: Path, frames: int = 3) -> None:
    """Decode the first few video frames, or refuse the file as corrupt."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            got = 0
            for _frame in container.decode(video=0):
                got += 1
                if got >= frames:
                    return
    except av.error.FFmpegError as err:
        raise MediaRejected("MEDIA_CORRUPT", f"the video cannot be decoded ({err})") from err
    if got == 0:
        raise MediaRejected("MEDIA_CORRUPT", "no video frame could be decoded")
