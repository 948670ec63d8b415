"""Table-driven tests of streaming.hls_input: encoder playlists, sequence numbers, byte sniffers."""

from __future__ import annotations

import struct

import pytest

from streaming.hls_input import (
    EncoderPlaylistError, EncoderSegment, encoder_sequence, looks_like_fmp4_media, looks_like_init,
    looks_like_ts, parse_encoder_playlist, parse_pdt,
)

US = 1_000_000
T0 = 1_700_002_800 * US  # 2023-11-14T23:00:00Z

# What ffmpeg's hls muxer writes with -hls_flags program_date_time: PDT *after* EXTINF, "+0000".
FFMPEG = """\
#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:12
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init_0.mp4"
#EXTINF:1.920000,
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:00.000+0000
seg_12.m4s
#EXTINF:1.920000,
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:01.920+0000
seg_13.m4s
#EXT-X-DISCONTINUITY
#EXTINF:2.000000,
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:10.000+0000
seg_14.m4s
#EXTINF:1.000000,
seg_15.m4s
#EXT-X-ENDLIST
"""
FFMPEG_SEGMENTS = [
    EncoderSegment("seg_12.m4s", 12, 1_920_000, T0, False),
    EncoderSegment("seg_13.m4s", 13, 1_920_000, T0 + 1_920_000, False),
    EncoderSegment("seg_14.m4s", 14, 2_000_000, T0 + 10 * US, True),
    EncoderSegment("seg_15.m4s", 15, 1_000_000, T0 + 12 * US, False),  # PDT carried forward
]

# PDT *before* EXTINF, "Z" and "+01:00" zones, CRLF line ends, a comment, blank lines, titles.
PDT_FIRST = (
    "#EXTM3U\r\n#EXT-X-TARGETDURATION:6\r\n\r\n"
    "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:00.5Z\r\n#EXTINF:6.006,title\r\nindex_1080p_0007.ts\r\n"
    "# a comment\r\n#EXT-X-DISCONTINUITY\r\n"
    "#EXT-X-PROGRAM-DATE-TIME:2023-11-15T00:01:00.000+01:00\r\n#EXTINF:5.5,\r\nindex_1080p_0008.ts\r\n"
)
PDT_FIRST_SEGMENTS = [
    EncoderSegment("index_1080p_0007.ts", 7, 6_006_000, T0 + 500_000, False),
    EncoderSegment("index_1080p_0008.ts", 8, 5_500_000, T0 + 60 * US, True),
]

NO_PDT = "#EXTM3U\n#EXTINF:2,\na/b/seg9.m4s\n#EXT-X-DISCONTINUITY\n#EXTINF:2.5,\na/b/seg10.m4s\n"
NO_PDT_SEGMENTS = [
    EncoderSegment("a/b/seg9.m4s", 9, 2_000_000, None, False),
    EncoderSegment("a/b/seg10.m4s", 10, 2_500_000, None, True),
]


@pytest.mark.parametrize(("text", "expected"), [
    (FFMPEG, FFMPEG_SEGMENTS),
    (PDT_FIRST, PDT_FIRST_SEGMENTS),
    (NO_PDT, NO_PDT_SEGMENTS),
    ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n", []),
], ids=["ffmpeg", "pdt-before-extinf", "no-pdt", "empty"])
def test_parse_encoder_playlist(text: str, expected: list[EncoderSegment]) -> None:
    assert parse_encoder_playlist(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("", "no #EXTM3U"),
    ("#EXT-X-VERSION:3\n#EXTM3U\n#EXTINF:2,\nseg_1.m4s\n", "no #EXTM3U"),
    ("\ufeff#EXTM3U\n", "no #EXTM3U"),
    ("#EXTM3U\nseg_1.m4s\n", "has no EXTINF"),
    ("#EXTM3U\n#EXTINF:2,\nseg_1.m4s\nseg_2.m4s\n", "'seg_2.m4s' has no EXTINF"),
    ("#EXTM3U\n#EXTINF:-1.0,\nseg_1.m4s\n", "EXTINF must be positive"),
    ("#EXTM3U\n#EXTINF:0,\nseg_1.m4s\n", "EXTINF must be positive"),
    ("#EXTM3U\n#EXTINF:abc,\nseg_1.m4s\n", "bad EXTINF"),
    ("#EXTM3U\n#EXTINF:nan,\nseg_1.m4s\n", "bad EXTINF"),
    ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n360p/index.m3u8\n", "master playlist"),
    ("#EXTM3U\n#EXTINF:2,\nsegment.m4s\n", "carries no sequence number"),
    ("#EXTM3U\n#EXTINF:2,\n#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:00.000\nseg_1.m4s\n",
     "bad PROGRAM-DATE-TIME"),
    ("#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n#EXTINF:2,\nseg_1.m4s\n", "bad PROGRAM-DATE-TIME"),
], ids=["empty", "extm3u-not-first", "bom", "no-extinf", "extinf-used-twice", "negative-extinf",
        "zero-extinf", "text-extinf", "nan-extinf", "master", "uri-without-digits", "pdt-without-zone",
        "pdt-garbage"])
def test_bad_playlists_raise(text: str, message: str) -> None:
    with pytest.raises(EncoderPlaylistError, match=message):
        parse_encoder_playlist(text)


@pytest.mark.parametrize("value", ["inf", "1e400"])
def test_infinite_extinf_is_an_encoder_playlist_error(value: str) -> None:
    with pytest.raises(EncoderPlaylistError):
        parse_encoder_playlist(f"#EXTM3U\n#EXTINF:{value},\nseg_1.m4s\n")


@pytest.mark.parametrize(("value", "expected"), [
    ("2023-11-14T23:00:00Z", T0),
    ("2023-11-14T23:00:00.000Z", T0),
    ("2023-11-14T23:00:00.5Z", T0 + 500_000),
    ("2023-11-14T23:00:00.123456Z", T0 + 123_456),
    ("2023-11-14T23:00:01.920+0000", T0 + 1_920_000),
    ("2023-11-14T23:00:00+00:00", T0),
    ("2023-11-15T00:00:00.250+01:00", T0 + 250_000),
    ("2023-11-14T18:00:00-0500", T0),
    (" 1970-01-01T00:00:00Z ", 0),
])
def test_parse_pdt(value: str, expected: int) -> None:
    assert parse_pdt(value) == expected


def test_parse_pdt_without_zone() -> None:
    with pytest.raises(EncoderPlaylistError, match="without a time zone"):
        parse_pdt("2023-11-14T23:00:00.000")


@pytest.mark.parametrize(("name", "expected"), [
    ("seg_12.m4s", 12),
    ("index_1080p_0007.ts", 7),
    ("init.mp4", None),
    ("a/b/seg9.m4s", 9),
    ("seg_0.m4s", 0),
    ("360p/seg_5", 5),
    ("2023/seg.m4s", None),  # digits in folders do not count
    ("seg_1.mp4v2", 1),  # nor digits in the extension
    ("chunk-stream0-00042.m4s", 42),
])
def test_encoder_sequence(name: str, expected: int | None) -> None:
    assert encoder_sequence(name) == expected


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


INIT = box(b"ftyp", b"iso6\0\0\0\0iso6cmfc") + box(b"moov", box(b"mvhd", bytes(100)) + box(b"trak"))
MEDIA = box(b"styp", b"msdh\0\0\0\0msdhmsix") + box(b"moof", box(b"mfhd", bytes(8))) + box(b"mdat", b"x" * 64)
SIDX_MEDIA = box(b"sidx", bytes(24)) + box(b"moof") + box(b"mdat", b"y")
MOOF_MEDIA = box(b"moof", box(b"mfhd", bytes(8))) + box(b"mdat", b"x" * 64)  # no styp: allowed
TS = b"".join(b"\x47" + bytes([i]) * 187 for i in range(10))


@pytest.mark.parametrize(("data", "init", "media", "ts"), [
    (INIT, True, False, False),
    (MEDIA, False, True, False),
    (SIDX_MEDIA, False, True, False),
    (MOOF_MEDIA, False, True, False),
    (TS, False, False, True),
    (TS[:188], False, False, True),
    (b"", False, False, False),
    (b"\0\0\0\x08ftyp", False, False, False),  # ftyp without moov
    (box(b"ftyp") + bytes(5000) + box(b"moov"), False, False, False),  # moov beyond the first 4 KiB
    (box(b"moov") + box(b"ftyp"), False, False, False),
    (box(b"styp") + box(b"moof"), False, False, False),  # no mdat
    (box(b"styp") + box(b"mdat"), False, False, False),  # no moof
    (box(b"mdat") + box(b"moof"), False, False, False),  # mdat is not a first box
    (TS[:-1], False, False, False),  # not a whole number of packets
    (TS[:188] + b"\x48" + TS[189:376], False, False, False),  # lost sync on packet 2
    (b"G" * 188, False, False, True),  # 0x47 is "G"
    (b"<html>" + bytes(370), False, False, False),
], ids=["init", "styp-media", "sidx-media", "moof-media", "ts", "one-ts-packet", "empty", "ftyp-only", "moov-too-far",
        "moov-first", "no-mdat", "no-moof", "mdat-first", "ts-short", "ts-bad-sync", "all-G", "html"])
def test_sniffers(data: bytes, init: bool, media: bool, ts: bool) -> None:
    assert (looks_like_init(data), looks_like_fmp4_media(data), looks_like_ts(data)) == (init, media, ts)

