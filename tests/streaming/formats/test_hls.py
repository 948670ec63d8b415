"""Exact-text tests of streaming.formats.hls, with every rendered playlist run through the RFC 8216 checker."""

from __future__ import annotations

import pytest

from streaming.formats.hls import (
    MediaPlaylistSpec,
    VariantSpec,
    format_duration,
    format_pdt,
    render_master,
    render_media,
    tag,
)
from streaming.timeline.runs import US, make_run, pack_durations
from tests.support.hls_conformance import check_master, check_media

T0 = 1_700_002_800 * US  # 2023-11-14T23:00:00Z


def hand_built_runs() -> list:
    """seq 0-2: 2 s (init aaa); 3-5: 1.5/2.5/2 s after a discontinuity (init bbb);
    6-8: gap 2/2/1 s; 9-10: 2 s after a discontinuity (init ccc)."""
    return [
        make_run(first_seq=0, start_us=T0, count=3, duration_us=2 * US, session=1, inits={"360p": "aaa"}),
        make_run(first_seq=3, start_us=T0 + 6 * US, count=3,
                 durations=pack_durations([1_500_000, 2_500_000, 2_000_000]),
                 discontinuity=True, disc_count=1, session=2, inits={"360p": "bbb"}),
        make_run(first_seq=6, start_us=T0 + 12 * US, count=3,
                 durations=pack_durations([2_000_000, 2_000_000, 1_000_000]),
                 gap=True, disc_count=1, session=-1),
        make_run(first_seq=9, start_us=T0 + 17 * US, count=2, duration_us=2 * US,
                 discontinuity=True, disc_count=2, session=3, inits={"360p": "ccc"}),
    ]


def segments_from(first_seq: int) -> list:
    return [s for r in hand_built_runs() for s in r.segments() if s.seq >= first_seq]


def cmaf_init(seg) -> str | None:  # noqa: ANN001
    return f"360p/init-{seg.run.inits['360p']}.mp4" if "360p" in seg.run.inits else None


VOD_ALL = """\
#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:3
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="360p/init-aaa.mp4"
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:00.000Z
#EXTINF:2.000000,
360p/0.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:02.000Z
#EXTINF:2.000000,
360p/1.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:04.000Z
#EXTINF:2.000000,
360p/2.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="360p/init-bbb.mp4"
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:06.000Z
#EXTINF:1.500000,
360p/3.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:07.500Z
#EXTINF:2.500000,
360p/4.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:10.000Z
#EXTINF:2.000000,
360p/5.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:12.000Z
#EXTINF:2.000000,
#EXT-X-GAP
360p/6.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:14.000Z
#EXTINF:2.000000,
#EXT-X-GAP
360p/7.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:16.000Z
#EXTINF:1.000000,
#EXT-X-GAP
360p/8.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="360p/init-ccc.mp4"
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:17.000Z
#EXTINF:2.000000,
360p/9.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:19.000Z
#EXTINF:2.000000,
360p/10.m4s
#EXT-X-ENDLIST
"""

# The window starts on a segment with a discontinuity: the tag is not printed, the
# DISCONTINUITY-SEQUENCE counts it instead.
LIVE_FROM_3 = """\
#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:3
#EXT-X-MEDIA-SEQUENCE:3
#EXT-X-DISCONTINUITY-SEQUENCE:1
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-START:TIME-OFFSET=-6.000,PRECISE=YES
#EXT-X-MAP:URI="360p/init-bbb.mp4"
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:06.000Z
#EXTINF:1.500000,
360p/3.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:07.500Z
#EXTINF:2.500000,
360p/4.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:10.000Z
#EXTINF:2.000000,
360p/5.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:12.000Z
#EXTINF:2.000000,
#EXT-X-GAP
360p/6.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:14.000Z
#EXTINF:2.000000,
#EXT-X-GAP
360p/7.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:16.000Z
#EXTINF:1.000000,
#EXT-X-GAP
360p/8.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="360p/init-ccc.mp4"
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:17.000Z
#EXTINF:2.000000,
360p/9.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:19.000Z
#EXTINF:2.000000,
360p/10.m4s
"""

# The window starts inside the gap: no EXT-X-MAP until the first real segment.
LIVE_FROM_GAP = """\
#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:3
#EXT-X-MEDIA-SEQUENCE:7
#EXT-X-DISCONTINUITY-SEQUENCE:1
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:14.000Z
#EXTINF:2.000000,
#EXT-X-GAP
360p/7.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:16.000Z
#EXTINF:1.000000,
#EXT-X-GAP
360p/8.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="360p/init-ccc.mp4"
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:17.000Z
#EXTINF:2.000000,
360p/9.m4s
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:19.000Z
#EXTINF:2.000000,
360p/10.m4s
"""

# MPEG-TS: version 3 and never an EXT-X-MAP.
TS_EVENT = """\
#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:3
#EXT-X-MEDIA-SEQUENCE:1
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:02.000Z
#EXTINF:2.000000,
240p/1.ts
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:04.000Z
#EXTINF:2.000000,
240p/2.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:00:06.000Z
#EXTINF:1.500000,
240p/3.ts
"""

CASES = {
    "vod-all": (0, None, MediaPlaylistSpec(3, "m4s", "360p/", cmaf_init, "VOD", True), VOD_ALL),
    "live-from-disc": (3, None, MediaPlaylistSpec(3, "m4s", "360p/", cmaf_init, start_offset_s=-6.0),
                       LIVE_FROM_3),
    "live-from-gap": (7, None, MediaPlaylistSpec(3, "m4s", "360p/", cmaf_init), LIVE_FROM_GAP),
    "ts-event": (1, 4, MediaPlaylistSpec(3, "ts", "240p/", lambda s: None, "EVENT"), TS_EVENT),
}


@pytest.mark.parametrize("case", list(CASES))
def test_render_media_exact_text(case: str) -> None:
    first, stop, spec, expected = CASES[case]
    segs = segments_from(first)[: None if stop is None else stop - first]
    assert render_media(segs, spec) == expected


@pytest.mark.parametrize("case", list(CASES))
def test_render_media_is_conformant(case: str) -> None:
    first, stop, spec, _ = CASES[case]
    text = render_media(segments_from(first)[: None if stop is None else stop - first], spec)
    assert check_media(text, base_url="http://origin.test/live/ch1/cmaf/360p.m3u8") == []


@pytest.mark.parametrize("first", range(11))
def test_every_window_of_the_timeline_is_conformant(first: int) -> None:
    text = render_media(segments_from(first), MediaPlaylistSpec(3, "m4s", "360p/", cmaf_init))
    assert check_media(text) == []
    assert text.count("#EXT-X-DISCONTINUITY\n") == sum(1 for s in (9, 3) if s > first)
    assert f"#EXT-X-DISCONTINUITY-SEQUENCE:{segments_from(first)[0].disc_count}\n" in text


def test_render_media_without_segments() -> None:
    spec = MediaPlaylistSpec(2, "m4s", "360p/", cmaf_init)
    assert render_media([], spec) == (
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    )


@pytest.mark.parametrize(("t_us", "expected"), [
    (0, "1970-01-01T00:00:00.000Z"),
    (T0, "2023-11-14T23:00:00.000Z"),
    (T0 - 1, "2023-11-14T22:59:59.999Z"),  # truncated, never rounded up into the next second
    (1_700_000_000_123_999, "2023-11-14T22:13:20.123Z"),
    (951_782_400 * US + 7_000, "2000-02-29T00:00:00.007Z"),
])
def test_format_pdt(t_us: int, expected: str) -> None:
    assert format_pdt(t_us) == expected


@pytest.mark.parametrize(("d_us", "expected"), [
    (0, "0.000000"), (999, "0.000999"), (1_920_000, "1.920000"), (2 * US, "2.000000"),
    (6_000_001, "6.000001"), (123_456_789, "123.456789"),
])
def test_format_duration(d_us: int, expected: str) -> None:
    assert format_duration(d_us) == expected


def test_render_master_sorts_by_bandwidth_descending() -> None:
    variants = [
        VariantSpec("240p.m3u8", 440_000, 400_000, "avc1.4d401e,mp4a.40.2", 426, 240, 25.0),
        VariantSpec("720p.m3u8?token=x", 3_300_000, 3_000_000, "avc1.4d401f,mp4a.40.2", 1280, 720, 29.97),
        VariantSpec("360p.m3u8", 880_000, 800_000, "avc1.4d401e,mp4a.40.2", 640, 360, 25.0),
    ]
    text = render_master(variants)
    assert text == (
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=3300000,AVERAGE-BANDWIDTH=3000000,CODECS="avc1.4d401f,mp4a.40.2",'
        "RESOLUTION=1280x720,FRAME-RATE=29.970\n720p.m3u8?token=x\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=880000,AVERAGE-BANDWIDTH=800000,CODECS="avc1.4d401e,mp4a.40.2",'
        "RESOLUTION=640x360,FRAME-RATE=25.000\n360p.m3u8\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=440000,AVERAGE-BANDWIDTH=400000,CODECS="avc1.4d401e,mp4a.40.2",'
        "RESOLUTION=426x240,FRAME-RATE=25.000\n240p.m3u8\n"
    )
    assert check_master(text, base_url="http://origin.test/live/ch1/cmaf.m3u8") == []


@pytest.mark.parametrize("name, pairs, line", [
    # quoted-string attributes (RFC 8216 4.2), a double quote or line break inside made harmless
    ("EXT-X-MEDIA", (("TYPE", "AUDIO"), ("GROUP-ID", "aud"), ("NAME", 'Say "hi"\r\n'), ("LANGUAGE", "pl"),
                     ("DEFAULT", True), ("AUTOSELECT", False), ("CHANNELS", 2), ("URI", "a.m3u8")),
     "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Say 'hi'  \",LANGUAGE=\"pl\",DEFAULT=YES,AUTOSELECT=NO,"
     "CHANNELS=\"2\",URI=\"a.m3u8\""),
    # decimal-integer, quoted CODECS, decimal-resolution, decimal-floating-point; None left out
    ("EXT-X-STREAM-INF", (("BANDWIDTH", 900000), ("CODECS", "avc1.64001e,mp4a.40.2"), ("RESOLUTION", "640x360"),
                          ("FRAME-RATE", "25.000"), ("AUDIO", None)),
     '#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=25.000'),
    # enumerated-string METHOD bare, URI quoted
    ("EXT-X-KEY", (("METHOD", "AES-128"), ("URI", "/keys/1")), '#EXT-X-KEY:METHOD=AES-128,URI="/keys/1"'),
    ("EXT-X-START", (("TIME-OFFSET", "-12.500"), ("PRECISE", True)), "#EXT-X-START:TIME-OFFSET=-12.500,PRECISE=YES"),
    ("EXT-X-I-FRAME-STREAM-INF", (("BANDWIDTH", 1), ("CODECS", "avc1"), ("URI", "360p-iframes.m3u8")),
     '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,CODECS="avc1",URI="360p-iframes.m3u8"'),
])
def test_attributes_are_quoted_as_rfc_8216_types_them(name, pairs, line) -> None:  # noqa: ANN001
    assert tag(name, *pairs) == line
