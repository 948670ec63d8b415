"""The one HLS playlist writer (RFC 8216): live and window playlists from timeline segments, VOD
playlists from an asset's index, master playlists for both. Pure functions, no I/O."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


class PlaylistSegment(Protocol):
    """What a media playlist needs of a segment (a timeline entry, or a VOD index entry)."""

    @property
    def seq(self) -> int: ...
    @property
    def start_us(self) -> int: ...
    @property
    def duration_us(self) -> int: ...
    @property
    def discontinuity(self) -> bool: ...
    @property
    def gap(self) -> bool: ...
    @property
    def disc_count(self) -> int: ...


# EXT-X-MAP in a media playlist without I-FRAMES-ONLY needs version 6 (RFC 8216 section 7);
# EXT-X-GAP is from rfc8216bis and older players ignore unknown tags (section 4.1).
HLS_VERSION_CMAF = 7
HLS_VERSION_TS = 3
HLS_VERSION_SKIP = 9  # a playlist holding EXT-X-SKIP (rfc8216bis 4.4.5.2)


# RFC 8216 4.2 and 4.3: attributes whose value is a quoted-string. Every other attribute we write is
# an enumerated-string (TYPE, DEFAULT, AUTOSELECT, FORCED, METHOD, PRECISE: never quoted), a decimal
# (BANDWIDTH, SKIPPED-SEGMENTS), a decimal-floating-point (FRAME-RATE, TIME-OFFSET, CAN-SKIP-UNTIL)
# or a decimal-resolution (RESOLUTION), all written bare.
QUOTED_ATTRIBUTES = frozenset({
    "URI", "CODECS", "NAME", "GROUP-ID", "LANGUAGE", "ASSOC-LANGUAGE", "CHANNELS", "AUDIO", "VIDEO", "SUBTITLES",
    "CLOSED-CAPTIONS", "INSTREAM-ID", "CHARACTERISTICS", "KEYFORMAT", "KEYFORMATVERSIONS", "DATA-ID", "VALUE",
})


def quoted_string(value: str) -> str:
    """Return a quoted-string (RFC 8216 4.2): no double quote, carriage return or line feed inside."""
    return '"' + value.replace('"', "'").replace("\n", " ").replace("\r", " ") + '"'


def attribute_list(pairs: Sequence[tuple[str, object]]) -> str:
    """Return an attribute list, each value quoted or bare as RFC 8216 types its attribute (None: left out)."""
    out = []
    for name, value in pairs:
        if value is None:
            continue
        if isinstance(value, bool):
            text = "YES" if value else "NO"
        else:
            text = quoted_string(str(value)) if name in QUOTED_ATTRIBUTES else str(value)
        out.append(f"{name}={text}")
    return ",".join(out)


def tag(name: str, *pairs: tuple[str, object]) -> str:
    """Return a playlist tag line with an attribute list: ``#NAME:A=1,B="x"``."""
    return f"#{name}:{attribute_list(pairs)}"


def media_header(*, version: int, target_duration: int, media_sequence: int = 0,
                 discontinuity_sequence: int | None = None, playlist_type: str | None = None,
                 independent: bool = True) -> list[str]:
    """Return the lines that open a media playlist, in the order every playlist of ours writes them."""
    out = ["#EXTM3U", f"#EXT-X-VERSION:{version}", f"#EXT-X-TARGETDURATION:{target_duration}",
           f"#EXT-X-MEDIA-SEQUENCE:{media_sequence}"]
    if discontinuity_sequence is not None:
        out.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}")
    if playlist_type:
        out.append(f"#EXT-X-PLAYLIST-TYPE:{playlist_type}")
    if independent:
        out.append("#EXT-X-INDEPENDENT-SEGMENTS")
    return out


def format_pdt(t_us: int) -> str:
    """Format a UTC time in µs as an EXT-X-PROGRAM-DATE-TIME value with milliseconds."""
    secs, us = divmod(t_us, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{us // 1000:03d}Z"


def format_duration(d_us: int) -> str:
    """Format an EXTINF duration with microsecond precision (RFC 8216 4.3.2.1)."""
    whole, frac = divmod(d_us, 1_000_000)
    return f"{whole}.{frac:06d}"


@dataclass(frozen=True, slots=True)
class MediaPlaylistSpec:
    """What a media playlist needs besides its segments."""

    target_duration: int
    segment_ext: str  # "m4s" or "ts"
    uri_prefix: str  # prepended to "{seq}.{ext}", e.g. "360p/"
    init_uri: Callable[[PlaylistSegment], str | None]  # EXT-X-MAP URI for a segment, None for TS
    playlist_type: str | None = None  # None (live), "EVENT" or "VOD"
    endlist: bool = False
    start_offset_s: float | None = None  # EXT-X-START TIME-OFFSET, when asked for
    key_uri: Callable[[PlaylistSegment], str | None] | None = None  # AES-128 key URI of a segment, if encrypted
    skip_until_s: float | None = None  # CAN-SKIP-UNTIL advertised: delta updates offered (rfc8216bis)
    delta: bool = False  # render as a Playlist Delta Update (the player sent _HLS_skip)
    # What a gap entry plays instead (a slate, another rendition's segment), None: an EXT-X-GAP entry.
    gap_uri: Callable[[PlaylistSegment], str | None] | None = None


def skipped_count(segments: Sequence[PlaylistSegment], skip_until_s: float) -> int:
    """Return how many leading segments a delta update replaces: those ending before the Skip Boundary.

    Every segment that starts or ends within skip_until_s of the playlist's end is kept, so what
    is listed always spans at least the boundary (rfc8216bis 6.2.5.1).
    """
    if not segments:
        return 0
    boundary = segments[-1].end_us - int(skip_until_s * 1_000_000)
    n = 0
    while n < len(segments) - 1 and segments[n].end_us <= boundary:
        n += 1
    return n


def render_media(segments: Sequence[PlaylistSegment], spec: MediaPlaylistSpec) -> str:
    """Render a media playlist whose segment URIs are ``{prefix}{seq}.{ext}``, relative to it."""
    first = segments[0] if segments else None
    cmaf = spec.segment_ext == "m4s"
    offer_skip = spec.skip_until_s is not None and not spec.endlist
    skipped = skipped_count(segments, spec.skip_until_s) if offer_skip and spec.delta else 0
    version = HLS_VERSION_SKIP if skipped else HLS_VERSION_CMAF if cmaf else HLS_VERSION_TS
    out = media_header(version=version, target_duration=spec.target_duration,
                       media_sequence=first.seq if first else 0,
                       discontinuity_sequence=first.disc_count if first else 0, playlist_type=spec.playlist_type)
    if offer_skip:
        out.append(tag("EXT-X-SERVER-CONTROL", ("CAN-SKIP-UNTIL", f"{spec.skip_until_s:.1f}")))
    if spec.start_offset_s is not None:
        out.append(tag("EXT-X-START", ("TIME-OFFSET", f"{spec.start_offset_s:.3f}"), ("PRECISE", True)))
    if skipped:
        # The kept segments' own EXT-X-MAP and EXT-X-KEY follow: the loop below starts with none.
        out.append(tag("EXT-X-SKIP", ("SKIPPED-SEGMENTS", skipped)))
    current_map: str | None = None
    current_key: str | None = None
    ext = spec.segment_ext
    prefix = spec.uri_prefix
    for seg in segments[skipped:]:
        uri = spec.gap_uri(seg) if seg.gap and spec.gap_uri is not None else None
        gap = seg.gap and uri is None
        # The first segment's discontinuity is already counted in DISCONTINUITY-SEQUENCE.
        if seg.discontinuity and seg is not first:
            out.append("#EXT-X-DISCONTINUITY")
        if not gap:
            map_uri = spec.init_uri(seg)
            if map_uri and map_uri != current_map:
                # An EXT-X-MAP under an AES-128 key would be encrypted too (RFC 8216 4.3.2.4):
                # init segments stay clear, so the key is lifted around the map.
                if current_key is not None:
                    out.append(tag("EXT-X-KEY", ("METHOD", "NONE")))
                    current_key = None
                out.append(tag("EXT-X-MAP", ("URI", map_uri)))
                current_map = map_uri
            key_uri = spec.key_uri(seg) if spec.key_uri else None
            if key_uri != current_key:
                # No IV attribute: each segment's IV is its media sequence number (RFC 8216 5.2).
                out.append(tag("EXT-X-KEY", ("METHOD", "AES-128"), ("URI", key_uri)) if key_uri
                           else tag("EXT-X-KEY", ("METHOD", "NONE")))
                current_key = key_uri
        out.append(f"#EXT-X-PROGRAM-DATE-TIME:{format_pdt(seg.start_us)}")
        out.append(f"#EXTINF:{format_duration(seg.duration_us)},")
        if gap:
            out.append("#EXT-X-GAP")
        out.append(uri or f"{prefix}{seg.seq}.{ext}")
    if spec.endlist:
        out.append("#EXT-X-ENDLIST")
    out.append("")
    return "\n".join(out)


@dataclass(frozen=True, slots=True)
class VariantSpec:
    """One EXT-X-STREAM-INF entry."""

    uri: str
    bandwidth: int
    average_bandwidth: int
    codecs: str
    width: int
    height: int
    frame_rate: float
    audio_group: str | None = None
    subtitles_group: str | None = None


@dataclass(frozen=True, slots=True)
class AudioMediaSpec:
    """One EXT-X-MEDIA TYPE=AUDIO entry (RFC 8216 4.3.4.1)."""

    uri: str
    group: str
    name: str
    language: str
    default: bool
    channels: int = 2


@dataclass(frozen=True, slots=True)
class SubtitlesMediaSpec:
    """One EXT-X-MEDIA TYPE=SUBTITLES entry (RFC 8216 4.3.4.1): never chosen unless asked for."""

    uri: str
    group: str
    name: str
    language: str


@dataclass(frozen=True, slots=True)
class IFrameVariantSpec:
    """One EXT-X-I-FRAME-STREAM-INF entry (RFC 8216 4.3.4.3)."""

    uri: str
    bandwidth: int
    codecs: str
    width: int
    height: int


def render_master(variants: Sequence[VariantSpec], audio: Sequence[AudioMediaSpec] = (), *, version: int = 6,
                  subtitles: Sequence[SubtitlesMediaSpec] = (), iframes: Sequence[IFrameVariantSpec] = ()) -> str:
    """Render a master playlist: audio and subtitle renditions, variants by falling bandwidth, then I-frame
    variants as given (version: at most what the device accepts; nothing in a master needs more than 1)."""
    out = ["#EXTM3U", f"#EXT-X-VERSION:{version}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for a in audio:
        out.append(tag("EXT-X-MEDIA", ("TYPE", "AUDIO"), ("GROUP-ID", a.group), ("NAME", a.name),
                       ("LANGUAGE", a.language), ("DEFAULT", a.default), ("AUTOSELECT", True),
                       ("CHANNELS", a.channels), ("URI", a.uri)))
    for s in subtitles:
        out.append(tag("EXT-X-MEDIA", ("TYPE", "SUBTITLES"), ("GROUP-ID", s.group), ("NAME", s.name),
                       ("LANGUAGE", s.language), ("DEFAULT", False), ("AUTOSELECT", True), ("FORCED", False),
                       ("URI", s.uri)))
    for v in sorted(variants, key=lambda v: -v.bandwidth):
        out.append(tag("EXT-X-STREAM-INF", ("BANDWIDTH", v.bandwidth), ("AVERAGE-BANDWIDTH", v.average_bandwidth),
                       ("CODECS", v.codecs), ("RESOLUTION", f"{v.width}x{v.height}"),
                       ("FRAME-RATE", f"{v.frame_rate:.3f}"), ("AUDIO", v.audio_group),
                       ("SUBTITLES", v.subtitles_group)))
        out.append(v.uri)
    for i in iframes:
        out.append(tag("EXT-X-I-FRAME-STREAM-INF", ("BANDWIDTH", i.bandwidth), ("CODECS", i.codecs),
                       ("RESOLUTION", f"{i.width}x{i.height}"), ("URI", i.uri)))
    out.append("")
    return "\n".join(out)


@dataclass(frozen=True, slots=True)
class VodEntry:
    """One segment of a VOD media playlist: its length, URI and, for an I-frame, its byte range."""

    duration_us: int
    uri: str
    byterange: tuple[int, int] | None = None  # (offset, length)


def render_vod_playlist(entries: Sequence[VodEntry], *, version: int, target_duration: int,
                     map_uri: str | None = None, iframes_only: bool = False, independent: bool = True) -> str:
    """Render a complete VOD media playlist (PLAYLIST-TYPE VOD, ENDLIST) of the entries, in order."""
    out = media_header(version=version, target_duration=target_duration, playlist_type="VOD",
                       independent=independent)
    if iframes_only:
        out.append("#EXT-X-I-FRAMES-ONLY")
    if map_uri is not None:
        out.append(tag("EXT-X-MAP", ("URI", map_uri)))
    for e in entries:
        out.append(f"#EXTINF:{format_duration(e.duration_us)},")
        if e.byterange is not None:
            out.append(f"#EXT-X-BYTERANGE:{e.byterange[1]}@{e.byterange[0]}")
        out.append(e.uri)
    out += ["#EXT-X-ENDLIST", ""]
    return "\n".join(out)
