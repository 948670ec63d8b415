"""What ingest reads from encoders: their media playlists and their segments' file names.

Encoder playlists are an input, never what players get: we read them only to learn each
segment's duration, wall-clock time and discontinuities (RFC 8216 section 4.3). What the
segments themselves must be is streaming/ingest/media_check.py's business.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

# The last run of digits, found in the reversed name so that matching stays linear.
_LAST_DIGITS_REVERSED = re.compile(r"[^0-9]*([0-9]+)")
# The largest encoder sequence number ingest takes: exact in a JSON number anywhere (2^53 - 1),
# far inside the BIGINT columns it lands in (ingest_tracks.last_encseq, segment_runs.enc_offset)
# on SQLite and PostgreSQL, and above what encoders write (ffmpeg's -hls_start_number_source
# epoch_us gives 16 digits: 1.7e15 today, 9.0e15 in the year 2255).
MAX_ENCODER_SEQUENCE = 2**53 - 1
FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


class EncoderPlaylistError(ValueError):
    """The encoder's playlist cannot be understood."""


class EncoderSequenceError(ValueError):
    """A segment name's sequence number is larger than the timeline can hold."""


@dataclass(frozen=True, slots=True)
class EncoderSegment:
    """A segment as the encoder announced it."""

    uri: str
    encseq: int
    duration_us: int
    pdt_us: int | None
    discontinuity: bool


def encoder_sequence(filename: str) -> int | None:
    """Return the encoder's sequence number: the last run of digits in a segment file name.

    None when the name has no digits; EncoderSequenceError above MAX_ENCODER_SEQUENCE.
    """
    m = _LAST_DIGITS_REVERSED.match(filename.rsplit("/", 1)[-1].rsplit(".", 1)[0][::-1])
    if m is None:
        return None
    digits = m.group(1)[::-1].lstrip("0") or "0"
    # Python refuses to convert more than 4300 digits, so the length is judged first.
    if len(digits) > len(str(MAX_ENCODER_SEQUENCE)) or int(digits) > MAX_ENCODER_SEQUENCE:
        raise EncoderSequenceError(f"sequence number {_quote(digits)} in {_quote(filename)} is larger "
                                   f"than {MAX_ENCODER_SEQUENCE}")
    return int(digits)


def _quote(text: str) -> str:
    """Quote client text for an error message, cut short: messages never echo a whole upload."""
    return repr(text[:120] + ("..." if len(text) > 120 else ""))


def parse_pdt(value: str) -> int:
    """Parse an EXT-X-PROGRAM-DATE-TIME value (ISO 8601 with offset) into UTC µs."""
    text = value.strip().replace("Z", "+00:00")
    # Encoders write offsets as +0000 as well as +00:00; fromisoformat takes both on 3.11.
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise EncoderPlaylistError(f"PROGRAM-DATE-TIME without a time zone: {_quote(value)}")
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
                raise EncoderPlaylistError(f"bad EXTINF {_quote(value)}") from err
            if duration_us <= 0:
                raise EncoderPlaylistError(f"EXTINF must be positive, got {_quote(value)}")
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            try:
                pdt_us = parse_pdt(line.split(":", 1)[1])
            except ValueError as err:
                raise EncoderPlaylistError(f"bad PROGRAM-DATE-TIME {_quote(line)}") from err
        elif line == "#EXT-X-DISCONTINUITY":
            disc = True
        elif line.startswith("#EXT-X-STREAM-INF"):
            raise EncoderPlaylistError("a master playlist was pushed where a media playlist belongs")
        elif line.startswith("#"):
            continue
        else:
            if duration_us is None:
                raise EncoderPlaylistError(f"segment {_quote(line)} has no EXTINF")
            try:
                encseq = encoder_sequence(line)
            except EncoderSequenceError as err:
                raise EncoderPlaylistError(str(err)) from err
            if encseq is None:
                raise EncoderPlaylistError(f"segment name {_quote(line)} carries no sequence number")
            out.append(EncoderSegment(line, encseq, duration_us, pdt_us, disc))
            if pdt_us is not None:
                pdt_us += duration_us
            duration_us = None
            disc = False
    return out

