"""Rendering playlists from a channel's view: live and time-shift, windows, the master.

Pure of I/O: the origin (streaming/origin/app.py) loads the view and the runs, and sends the bytes;
rendered playlists are kept in the view until the next one replaces it.
"""

from __future__ import annotations

import bisect
import hashlib
import time
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qs

from entitlements.playback.errors import PlaybackWindowOutOfRange
from infra.settings import Settings
from streaming.formats.device_profiles import SLATE, STANDARD, DeviceProfile
from streaming.formats.hls import (
    AudioMediaSpec,
    MediaPlaylistSpec,
    VariantSpec,
    render_master,
    render_media,
)
from streaming.formats.windows import Window
from streaming.origin.errors import InvalidDeliveryDirective
from streaming.timeline import service
from streaming.timeline.runs import (
    Run,
    Segment,
    live_gaps,
    live_gaps_valid_until,
    segments_in,
)
from streaming.timeline.windows import window_segments

LIVE_CACHE = b"public, max-age=1"
VOD_CACHE = b"public, max-age=300"  # a complete window's playlist never changes
FOREVER_US = 2**62
# CAN-SKIP-UNTIL, in target durations: at least 6 (rfc8216bis 4.4.3.8). Players ask for a delta
# only while their copy is younger than half of it (hls.js), so 12 lets one that missed a few
# reloads still get one, and a 6-hour window's delta lists about 12 segments instead of thousands.
SKIP_TARGET_DURATIONS = 12


@dataclass
class ChannelView:
    """One channel's recent timeline and rendered playlists, in this process's memory."""

    spec: service.ChannelSpec
    runs: list[Run]
    holes: set[tuple[int, str]]
    bandwidth: dict[str, tuple[int, int]]
    version: int
    last_publish_us: int
    rendered: dict[tuple, tuple[bytes, bytes]] = field(default_factory=dict)

    def run_for_seq(self, seq: int) -> Run | None:
        """Return the in-memory run holding seq."""
        i = bisect.bisect_right([r.first_seq for r in self.runs], seq) - 1
        if i >= 0 and self.runs[i].first_seq <= seq <= self.runs[i].last_seq:
            return self.runs[i]
        return None


def now_us() -> int:
    """Return the wall clock in microseconds since the epoch (UTC)."""
    return time.time_ns() // 1000


def window_us(view: ChannelView, query: bytes, live_window_s: float) -> int:
    """Return the live window a playlist request asks for (``?window=``, within the time-shift)."""
    default = int(live_window_s * 1_000_000)
    if not query:
        return default
    values = parse_qs(query.decode("latin-1")).get("window")
    if not values:
        return default
    try:
        window = float(values[0])
    except ValueError as err:
        raise PlaybackWindowOutOfRange("window must be a number of seconds") from err
    limit = max(view.spec.timeshift_window_s, live_window_s)
    if not 0 < window <= limit:
        raise PlaybackWindowOutOfRange(f"window must be between 0 and {limit} seconds", limit_s=limit)
    return int(window * 1_000_000)


def skip_until_s(spec: service.ChannelSpec, span_us: int, profile: DeviceProfile = STANDARD) -> float | None:
    """Return the Skip Boundary a playlist of this span offers, or None when a delta would save little
    (or the device's HLS version is below 9)."""
    boundary = SKIP_TARGET_DURATIONS * spec.target_duration_s
    return float(boundary) if span_us >= 2 * boundary * 1_000_000 and profile.delta_updates else None


def outage_uri(spec: service.ChannelSpec, track: str, holes: set[tuple[int, str]]):  # noqa: ANN201
    """Return what a slate profile plays for a gap entry: the slate during an outage; for one track's
    missing segment, the same segment of another rendition (same timestamps, so no discontinuity),
    or an EXT-X-GAP entry (None) when every rendition misses it."""
    seg_set, name = track.split("/", 1)
    ext = service.SEGMENT_EXT[seg_set]
    own = spec.rendition(name)
    # The nearest lighter rendition first, then the nearest heavier: the player's link was chosen for this one.
    others = sorted((r for r in spec.renditions if own and r.name != name), key=lambda r: r.configured_bps)
    siblings = [r.name for r in reversed(others) if r.configured_bps <= own.configured_bps] + [
        r.name for r in others if r.configured_bps > own.configured_bps] if own else []

    def uri(seg: Segment) -> str | None:
        if seg_set != "ts":  # slates are MPEG-TS clips, and a CMAF sibling would need its own EXT-X-MAP
            return None
        if seg.run.gap:
            return f"{name}/slate-{seg.seq}.{ext}"
        return next((f"{s}/{seg.seq}.{ext}" for s in siblings if (seg.seq, f"{seg_set}/{s}") not in holes), None)
    return uri


def wants_delta(query: bytes) -> bool:
    """Tell whether a playlist request asks for a Playlist Delta Update (``_HLS_skip=YES`` or ``v2``)."""
    if not query or b"_HLS_skip" not in query:
        return False
    value = parse_qs(query.decode("latin-1")).get("_HLS_skip", [""])[0]
    if value not in ("YES", "v2"):  # v2 also skips date ranges: we write none
        raise InvalidDeliveryDirective("_HLS_skip must be YES or v2", directive="_HLS_skip")
    return True


def media_playlist(view: ChannelView, track: str, query: bytes, settings: Settings,
                   profile: DeviceProfile = STANDARD) -> tuple[bytes, bytes, int]:
    """Render a live or time-shift media playlist, shaped for a device profile; return it, its ETag
    and until when it holds (µs)."""
    span_us = window_us(view, query, settings.live_window_s)
    if profile.max_window_s is not None:  # the longest window the device copes with
        span_us = min(span_us, profile.max_window_s * 1_000_000)
    spec = view.spec
    now = now_us()
    gaps: list[Segment] = []
    valid_until = FOREVER_US
    if view.runs:
        hold = service.gap_hold_us(spec, settings.publish_deadline_factor)
        gaps = live_gaps(view.runs[-1], now_us=now, nominal_us=spec.segment_duration_us,
                         hold_us=hold, last_publish_us=view.last_publish_us)
        valid_until = live_gaps_valid_until(view.runs[-1], len(gaps), nominal_us=spec.segment_duration_us,
                                            hold_us=hold, last_publish_us=view.last_publish_us)
    delta = wants_delta(query)
    key = ("media", track, span_us, len(gaps), delta, profile.path_part)
    hit = view.rendered.get(key)
    if hit is not None:
        return (*hit, valid_until)
    segments = _live_window(view, span_us, gaps)
    segments = [replace(s, gap=True) if (s.seq, track) in view.holes else s for s in segments]
    body = render_media(segments, _media_spec(spec, track, skip_until_s=skip_until_s(spec, span_us, profile),
                                              delta=delta, gap_uri=_gap_uri(spec, track, view.holes, profile))).encode()
    result = (body, _etag(body))
    view.rendered[key] = result
    return (*result, valid_until)


def window_gaps(view: ChannelView, window: Window, settings: Settings) -> list[Segment]:
    """Return the live edge's gap entries when a window reaches past the newest segment."""
    if not view.runs or window.end_us <= view.runs[-1].end_us:
        return []
    hold = service.gap_hold_us(view.spec, settings.publish_deadline_factor)
    return live_gaps(view.runs[-1], now_us=now_us(), nominal_us=view.spec.segment_duration_us,
                     hold_us=hold, last_publish_us=view.last_publish_us)


def window_playlist(view: ChannelView, track: str, window: Window, runs: list[Run], holes: set[tuple[int, str]],
                    gaps: list[Segment], *, delta: bool = False,
                    profile: DeviceProfile = STANDARD) -> tuple[bytes, bytes, bytes]:
    """Render a window's media playlist (start-over, catch-up, by time), shaped for a device profile;
    return it, its ETag and its Cache-Control (see streaming/timeline/windows.py). A growing (EVENT) one
    offers delta updates."""
    planned = window_segments(window, runs, holes, track, gaps)
    segments, start_offset = planned.segments, planned.start_offset_s
    if start_offset is not None and not profile.honours_start and planned.playlist_type == "VOD":
        # A player that ignores EXT-X-START starts a complete playlist at its first segment: begin it
        # there. (A growing one must keep its head, EVENT only appends; such a player joins it near
        # the live edge whatever its first segment, so the app seeks.)
        cut = segments[0].start_us + int(start_offset * 1_000_000) if segments else 0
        segments = [s for s in segments if s.end_us > cut] or segments[-1:]
        start_offset = None
    span_us = (window.end_s - window.start_s) * 1_000_000
    body = render_media(segments, _media_spec(
        view.spec, track, playlist_type=planned.playlist_type, endlist=planned.endlist,
        start_offset_s=start_offset, skip_until_s=skip_until_s(view.spec, span_us, profile),
        delta=delta, gap_uri=_gap_uri(view.spec, track, holes, profile))).encode()
    return body, _etag(body), VOD_CACHE if planned.playlist_type == "VOD" else LIVE_CACHE


def _live_window(view: ChannelView, window_us: int, gaps: list[Segment]) -> list[Segment]:
    if not view.runs:
        return []
    edge = gaps[-1].end_us if gaps else view.runs[-1].end_us
    start = edge - window_us
    segments = segments_in(view.runs, start, edge) + gaps
    segments = [s for s in segments if s.start_us >= start] or segments[-3:]
    if len(segments) < 3:  # RFC 8216 6.2.2: at least three target durations where possible
        segments = (segments_in(view.runs, edge - 4 * view.spec.target_duration_s * 1_000_000,
                                edge) + gaps)[-3:]
    return segments


def master_playlist(view: ChannelView, seg_set: str, query: bytes,
                    profile: DeviceProfile = STANDARD) -> tuple[bytes, bytes]:
    """Render a master playlist (the query, a live ``?window=``, is carried to the variants)."""
    key = ("master", seg_set, query, profile.hls_version)
    hit = view.rendered.get(key)
    if hit is not None:
        return hit
    suffix = ("?" + query.decode("latin-1")) if query else ""

    def measured(name: str, configured: int) -> tuple[int, int]:
        peak, avg = view.bandwidth.get(f"{seg_set}/{name}", (0, 0))
        peak = peak or int(configured * 1.1)
        return peak, min(avg or configured, peak)

    # A variant's BANDWIDTH includes the heaviest audio rendition it may be played with.
    audio_peak = max((measured(a.name, a.configured_bps)[0] for a in view.spec.audio), default=0)
    audio_avg = max((measured(a.name, a.configured_bps)[1] for a in view.spec.audio), default=0)
    group = "aud" if view.spec.audio else None
    variants = []
    for r in view.spec.renditions:
        peak, avg = measured(r.name, r.configured_bps)
        variants.append(VariantSpec(
            uri=f"{r.name}.m3u8{suffix}", bandwidth=peak + audio_peak,
            average_bandwidth=avg + audio_avg, codecs=r.codecs, width=r.width,
            height=r.height, frame_rate=r.frame_rate, audio_group=group,
        ))
    audio = [AudioMediaSpec(uri=f"{a.name}.m3u8{suffix}", group="aud", name=a.label,
                            language=a.language, default=a.default) for a in view.spec.audio]
    body = render_master(variants, audio, version=min(6, profile.hls_version)).encode()
    result = (body, _etag(body))
    view.rendered[key] = result
    return result


def _gap_uri(spec: service.ChannelSpec, track: str, holes: set[tuple[int, str]], profile: DeviceProfile):  # noqa: ANN202
    return outage_uri(spec, track, holes) if profile.outage == SLATE else None


def _media_spec(spec: service.ChannelSpec, track: str, **extra) -> MediaPlaylistSpec:  # noqa: ANN003
    """Return how a track's media playlists are written (URIs relative to the playlist)."""
    seg_set, rendition = track.split("/", 1)
    return MediaPlaylistSpec(
        target_duration=spec.target_duration_s,
        segment_ext=service.SEGMENT_EXT[seg_set],
        uri_prefix=f"{rendition}/",
        init_uri=(lambda s: f"{rendition}/init-{s.run.inits[track]}.mp4"
                  if track in s.run.inits else None) if seg_set == "cmaf" else (lambda s: None),
        key_uri=(lambda s: f"keys/{s.seq // spec.key_period_segments}.key") if spec.key_period_segments else None,
        **extra)


def _etag(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=8).hexdigest().encode() + b'"'
