"""Table-driven tests of streaming.formats.hls_input: encoder playlists and sequence numbers."""

from __future__ import annotations

import pytest

from streaming.formats.hls_input import (
    MAX_ENCODER_SEQUENCE,
    EncoderPlaylistError,
    EncoderSegment,
    EncoderSequenceError,
    encoder_sequence,
    parse_encoder_playlist,
    parse_pdt,
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
    ("#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:10000-01-01T00:00:00Z\n#EXTINF:2,\nseg_1.m4s\n", "bad PROGRAM-DATE-TIME"),
    ("#EXTM3U\n#EXTINF:0.0000001,\nseg_1.m4s\n", "EXTINF must be positive"),
    ("#EXTM3U\n#EXTINF:2,\nseg_12345678901234567890123456.m4s\n", "larger than"),
    ("#EXTM3U\n#EXTINF:2,\nseg_" + "9" * 5000 + ".m4s\n", "larger than"),
    ("#EXTM3U\n#EXTINF:2,\n" + "x" * 100_000 + "\n", "carries no sequence number"),
], ids=["empty", "extm3u-not-first", "bom", "no-extinf", "extinf-used-twice", "negative-extinf",
        "zero-extinf", "text-extinf", "nan-extinf", "master", "uri-without-digits", "pdt-without-zone",
        "pdt-garbage", "pdt-year-10000", "extinf-below-a-microsecond", "26-digit-sequence",
        "5000-digit-sequence", "huge-line"])
def test_bad_playlists_raise(text: str, message: str) -> None:
    with pytest.raises(EncoderPlaylistError, match=message) as err:
        parse_encoder_playlist(text)
    assert len(str(err.value)) < 400  # a message never echoes a whole upload


@pytest.mark.parametrize("pdt", ["9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00+01:00"])
def test_absurd_but_well_formed_dates_parse_and_are_left_to_publishing(pdt: str) -> None:
    # Whether such a time may place the segment is the wall clock's call (ingest_state.segment_start).
    (segment,) = parse_encoder_playlist(f"#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:{pdt}\n#EXTINF:2,\nseg_1.m4s\n")
    assert segment.pdt_us == parse_pdt(pdt)


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


@pytest.mark.parametrize(("name", "expected"), [
    (f"seg_{MAX_ENCODER_SEQUENCE}.m4s", MAX_ENCODER_SEQUENCE),
    ("seg_1765000000000000.m4s", 1_765_000_000_000_000),  # ffmpeg's epoch_us numbering (2025)
    ("seg_20240101120000.ts", 20240101120000),  # ffmpeg's "datetime" numbering
    ("seg_000000000000000000000000042.m4s", 42),  # leading zeros are not magnitude
    (f"seg_{MAX_ENCODER_SEQUENCE + 1}.m4s", EncoderSequenceError),
    ("seg_12345678901234567890123456.m4s", EncoderSequenceError),  # the 26 digits of issue 19
    ("seg_" + "9" * 5000 + ".m4s", EncoderSequenceError),  # past Python's 4300-digit int limit
    ("seg_\u0663.m4s", None),  # an Arabic-Indic three is not a sequence number
])
def test_encoder_sequence_is_bounded(name: str, expected: int | type | None) -> None:
    if isinstance(expected, type):
        with pytest.raises(expected, match="larger than"):
            encoder_sequence(name)
    else:
        assert encoder_sequence(name) == expected
