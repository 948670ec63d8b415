"""BANDWIDTH against what the segments weigh (RFC 8216 4.3.4.2): a master's variants are checked
against the peak segment bit rate of the segments their media playlists list.

The RFC defines a variant's peak segment bit rate as the largest bit rate of any contiguous set
of segments whose total duration is between 0.5 and 1.5 times the target duration, and
BANDWIDTH as the largest sum of those peaks over the renditions it plays with (its video and
the heaviest audio of its group). For a live playlist only what is listed so far can be
measured, and HLS authoring practice allows the measured peak 10% over the declared one.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urljoin

import m3u8

from tests.support.hls_conformance import Violation

TOLERANCE = 1.10
# Segments weighed per media playlist, newest first: a 6-hour window would be thousands of requests.
MAX_SEGMENTS = 15


def peak_bit_rate(segments: list[tuple[float, int]], target_duration: float) -> float:
    """Return the peak segment bit rate (bit/s) of (duration s, bytes) segments, by the RFC's definition."""
    peak = 0.0
    for i in range(len(segments)):
        duration = size = 0
        for d, n in segments[i:]:
            if duration + d > 1.5 * target_duration:
                break
            duration, size = duration + d, size + n
            if duration >= 0.5 * target_duration:
                peak = max(peak, size * 8 / duration)
    return peak


def _weighed(url: str, size_of: Callable[[str], int | None], get_text: Callable[[str], str]) -> tuple[float, int]:
    """Return a media playlist's peak segment bit rate over the segments that could be weighed, and how many."""
    playlist = m3u8.loads(get_text(url))
    listed = [s for s in playlist.segments if not s.gap_tag][-MAX_SEGMENTS:]
    sized = [(s.duration, size_of(urljoin(url, s.uri))) for s in listed]
    # Synthetic timelines (index rows with no media in the store) have nothing to weigh.
    sized = [(d, n) for d, n in sized if n is not None]
    return peak_bit_rate(sized, float(playlist.target_duration or 1)), len(sized)


def check_bandwidth(master_url: str, master_text: str, size_of: Callable[[str], int | None],
                    get_text: Callable[[str], str]) -> list[Violation]:
    """Check every variant's BANDWIDTH against the measured peak of its video plus its group's heaviest audio."""
    master = m3u8.loads(master_text)
    out: list[Violation] = []
    audio_peak: dict[str, float] = {}
    for media in master.media:
        if media.type == "AUDIO" and media.uri:
            peak, _ = _weighed(urljoin(master_url, media.uri), size_of, get_text)
            audio_peak[media.group_id] = max(audio_peak.get(media.group_id, 0.0), peak)
    for variant in master.playlists:
        info = variant.stream_info
        video_peak, weighed = _weighed(urljoin(master_url, variant.uri), size_of, get_text)
        if not weighed:
            continue
        peak = video_peak + audio_peak.get(info.audio or "", 0.0)
        if peak > info.bandwidth * TOLERANCE:
            out.append(Violation("4.3.4.2-bandwidth", f"{variant.uri}: BANDWIDTH={info.bandwidth} but its "
                                 f"segments peak at {peak:.0f} bit/s (over {weighed} segments)"))
        if info.average_bandwidth and info.average_bandwidth > info.bandwidth:
            out.append(Violation("4.3.4.2-average-bandwidth",
                                 f"{variant.uri}: AVERAGE-BANDWIDTH={info.average_bandwidth} above BANDWIDTH"))
    return out
