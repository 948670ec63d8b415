"""What ingest reads from encoders: their media playlists and the kind of bytes they send.

Encoder playlists are an input, never what players get: we read them only to learn each
segment's duration, wall-clock time and discontinuities (RFC 8216 section 4.3).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_DIGITS = re.compile(r"(\d+)(?!.*\d)")
FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_TS_PACKET = 188
_FMP4_MEDIA_BOXES = {b"styp", b"moof", b"sidx", b"emsg", b"prft"}


class EncoderPlaylistError(ValueError):
    """The encoder's playlist cannot be understood."""


@dataclass(frozen=True, slots=True)
class EncoderSegment:
    """A segment as the encoder announced it."""

    uri: str
    encseq: int
    duration_us: int
    pdt_us: int | None
    discontinuity: bool


def encoder_sequence(filename: str) -> int | None:
    """Return the encoder's sequence number: the last run of digits in a segment file name."""
    m = _DIGITS.search(filename.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    return int(m.group(1)) if m else None


def parse_pdt(value: str) -> int:
    """Parse an EXT-X-PROGRAM-DATE-TIME value (ISO 8601 with offset) into UTC µs."""
    text = value.strip().replace("Z", "+00:00")
    # Encoders write offsets as +0000 as well as +00:00; fromisoformat takes both on 3.11.
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise EncoderPlaylistError(f"PROGRAM-DATE-TIME without a time zone: {value!r}")
    delta = parsed - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def parse_encoder_playlist(text: str) -> list[EncoderSegment]:
    """Parse an encoder's media playlist into its segments."""
    lines = [ln.strip() for ln in text.splitlines()]
    if not lines or lines[0] != "#EXTM3U":
        raise EncoderPlaylistError("not an HLS playlist (no #EXTM3U)")
    out: list[EncoderSegment] = []
    duration_us: int | None = None
    pdt_us: int | None = None
    disc = False
    for line in lines[1:]:
        if not line:
            continue
        if line.startswith("#EXTINF:"):
            value = line[8:].split(",", 1)[0]
            try:
                duration_us = round(float(value) * 1_000_000)
            except (ValueError, OverflowError) as err:
                raise EncoderPlaylistError(f"bad EXTINF {value!r}") from err
            if duration_us <= 0:
                raise EncoderPlaylistError(f"EXTINF must be positive, got {value!r}")
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            try:
                pdt_us = parse_pdt(line.split(":", 1)[1])
            except ValueError as err:
                raise EncoderPlaylistError(f"bad PROGRAM-DATE-TIME {line!r}") from err
        elif line == "#EXT-X-DISCONTINUITY":
            disc = True
        elif line.startswith("#EXT-X-STREAM-INF"):
            raise EncoderPlaylistError("a master playlist was pushed where a media playlist belongs")
        elif line.startswith("#"):
            continue
        else:
            if duration_us is None:
                raise EncoderPlaylistError(f"segment {line!r} has no EXTINF")
            encseq = encoder_sequence(line)
            if encseq is None:
                raise EncoderPlaylistError(f"segment name {line!r} carries no sequence number")
            out.append(EncoderSegment(line, encseq, duration_us, pdt_us, disc))
            if pdt_us is not None:
                pdt_us += duration_us
            duration_us = None
            disc = False
    return out


def _box_type(data: bytes, offset: int = 0) -> bytes | None:
    if len(data) < offset + 8:
        return None
    return data[offset + 4 : offset + 8]


def looks_like_init(data: bytes) -> bool:
    """Tell whether bytes are a CMAF/fMP4 initialisation segment (ftyp ... moov)."""
    return _box_type(data) == b"ftyp" and b"moov" in data[:4096]


def looks_like_fmp4_media(data: bytes) -> bool:
    """Tell whether bytes start like an fMP4 media segment."""
    return _box_type(data) in _FMP4_MEDIA_BOXES and b"moof" in data[:8192] and b"mdat" in data


def looks_like_ts(data: bytes) -> bool:
    """Tell whether bytes are MPEG-TS: sync bytes every 188 bytes."""
    if len(data) < _TS_PACKET or len(data) % _TS_PACKET != 0:
        return False
    return all(data[i] == 0x47 for i in range(0, min(len(data), _TS_PACKET * 8), _TS_PACKET))
