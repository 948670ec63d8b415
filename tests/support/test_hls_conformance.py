from datetime import datetime, timedelta, timezone

import pytest

from .hls_conformance import (
    ConformanceError,
    PlaylistHistory,
    Violation,
    assert_conformant,
    check_master,
    check_media,
    segment_urls,
)

BASE = "http://origin.test/live/ch1/720p/index.m3u8"
MASTER_URL = "http://origin.test/live/ch1/master.m3u8"

LIVE = """\
#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:100
#EXT-X-DISCONTINUITY-SEQUENCE:3
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00.000Z
#EXTINF:4.000,
seg100.m4s
#EXTINF:4.000,
seg101.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI="init2.mp4"
#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:30.000+00:00
#EXTINF:3.960,
seg102.m4s
#EXT-X-GAP
#EXTINF:4.000,
seg103.m4s
# a comment is fine
#EXTINF:4.2,
seg104.m4s
"""

MASTER = """\
#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-STREAM-INF:BANDWIDTH=3000000,AVERAGE-BANDWIDTH=2500000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=25.000
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1200000,AVERAGE-BANDWIDTH=1000000,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=25
360p/index.m3u8
"""


def sub(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def rules(violations: list[Violation]) -> set[str]:
    return {v.rule for v in violations}


def test_valid_live_playlist_has_no_violations():
    assert check_media(LIVE, base_url=BASE) == []


def test_valid_vod_event_and_byterange_playlists():
    vod = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:6,\na.ts\n#EXT-X-ENDLIST\n"
    event = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXTINF:5.5,\na.ts\n"
    ranges = ("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-BYTERANGE:100@0\n#EXTINF:6,\nall.ts\n"
              "#EXT-X-BYTERANGE:100@100\n#EXTINF:6,\nall.ts\n")
    assert check_media(vod) == check_media(event) == check_media(ranges) == []


def test_pdt_drift_within_tolerance_is_accepted():
    text = sub(LIVE, "seg100.m4s\n", "seg100.m4s\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:04.040Z\n")
    assert check_media(text) == []


def test_valid_master_has_no_violations():
    assert check_master(MASTER, base_url=MASTER_URL) == []


MEDIA_CASES = [
    ("4.3.1.1-extm3u", sub(LIVE, "#EXTM3U\n", "\ufeff#EXTM3U\n")),
    ("4.3.1.1-extm3u", sub(LIVE, "#EXTM3U\n", "")),
    ("4.1-newline", LIVE.replace("\n", "\r\n")),
    ("4.1-newline", LIVE.rstrip("\n")),
    ("4.1-whitespace", sub(LIVE, "seg101.m4s", "seg101.m4s ")),
    ("4.1-unknown-tag", sub(LIVE, "#EXT-X-GAP\n", "#EXT-X-CUE-OUT:30\n#EXT-X-GAP\n")),
    ("m3u8-parse", sub(LIVE, "#EXTINF:4.000,\nseg101", "#EXTINF:four,\nseg101")),
    ("4.3.1.2-version", sub(LIVE, "#EXT-X-VERSION:6\n", "#EXT-X-VERSION:6\n#EXT-X-VERSION:6\n")),
    ("4.3.1.2-version", sub(LIVE, "#EXT-X-VERSION:6", "#EXT-X-VERSION:six")),
    ("4.3.4-mixed", sub(LIVE, "#EXT-X-GAP\n", "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\"\n#EXT-X-GAP\n")),
    ("4.3.3.1-targetduration", sub(LIVE, "#EXT-X-TARGETDURATION:4\n", "")),
    ("4.3.3.1-targetduration", sub(LIVE, "#EXT-X-TARGETDURATION:4\n", "#EXT-X-TARGETDURATION:4\n" * 2)),
    ("4.3.3.1-targetduration", sub(LIVE, "#EXT-X-TARGETDURATION:4", "#EXT-X-TARGETDURATION:4.0")),
    ("4.3.3.1-extinf-over-target", sub(LIVE, "#EXTINF:4.2,", "#EXTINF:4.5,")),
    ("4.3.3.2-media-sequence", sub(LIVE, "#EXT-X-MEDIA-SEQUENCE:100", "#EXT-X-MEDIA-SEQUENCE:-1")),
    ("4.3.3.2-media-sequence", sub(sub(LIVE, "#EXT-X-MEDIA-SEQUENCE:100\n", ""), "seg100.m4s\n",
                                   "seg100.m4s\n#EXT-X-MEDIA-SEQUENCE:100\n")),
    ("4.3.3.3-discontinuity-sequence", sub(LIVE, "SEQUENCE:3", "SEQUENCE:x")),
    ("4.3.3.3-discontinuity-sequence", sub(sub(LIVE, "#EXT-X-DISCONTINUITY-SEQUENCE:3\n", ""), "seg100.m4s\n",
                                           "seg100.m4s\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n")),
    ("4.3.2.1-extinf", sub(LIVE, "#EXTINF:4.000,\nseg101", "#EXTINF:0,\nseg101")),
    ("4.3.2.1-extinf", sub(LIVE, "#EXTINF:4.000,\nseg101", "#EXTINF:4,\n#EXTINF:4,\nseg101")),
    ("4.3.2.1-extinf", LIVE + "#EXTINF:4.0,\n"),
    ("4.3.2.1-uri-without-extinf", LIVE + "seg105.m4s\n"),
    ("4.3.2-dangling-tag", LIVE + "#EXT-X-DISCONTINUITY\n"),
    ("4.3.2.6-pdt-format", sub(LIVE, "2024-05-01T12:00:00.000Z", "2024-05-01T12:00:00.000")),
    ("4.3.2.6-pdt-format", sub(LIVE, "2024-05-01T12:00:00.000Z", "yesterday")),
    ("4.3.2.6-pdt-continuity",
     sub(LIVE, "seg100.m4s\n", "seg100.m4s\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:04.500Z\n")),
    ("4.3.2.6-pdt-backwards", sub(LIVE, "12:00:30.000+00:00", "11:59:00.000+00:00")),
    ("4.3.2.6-pdt-backwards", sub(LIVE, "seg100.m4s\n", "seg100.m4s\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:00Z\n")),
    ("4.3.3.5-playlist-type", sub(LIVE, "#EXT-X-VERSION:6\n", "#EXT-X-VERSION:6\n#EXT-X-PLAYLIST-TYPE:LIVE\n")),
    ("4.3.3.5-vod-endlist", sub(LIVE, "#EXT-X-VERSION:6\n", "#EXT-X-VERSION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n")),
    ("4.3.2.5-map", sub(LIVE, '#EXT-X-MAP:URI="init.mp4"', "#EXT-X-MAP:BYTERANGE=\"10@0\"")),
    ("4.3.2.5-map", LIVE + '#EXT-X-MAP:URI="late.mp4"\n'),
    ("7-version", sub(LIVE, "#EXT-X-VERSION:6", "#EXT-X-VERSION:5")),
    ("7-version", sub(LIVE, "#EXT-X-VERSION:6\n", "")),
    ("4.3.2.1-uri-without-extinf", sub(LIVE, "#EXT-X-GAP\n#EXTINF:4.000,\n", "#EXT-X-GAP\n")),
    ("origin-duplicate-uri", sub(LIVE, "seg101.m4s", "seg100.m4s")),
    ("origin-uri-host", sub(LIVE, "seg101.m4s", "http://elsewhere.test/seg101.m4s")),
    ("origin-uri-host", sub(LIVE, "init.mp4", "ftp://origin.test/init.mp4")),
]


@pytest.mark.parametrize("rule,text", MEDIA_CASES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(MEDIA_CASES)])
def test_media_rule_is_reported(rule, text):
    assert rule in rules(check_media(text, base_url=BASE))


def test_gap_segments_may_repeat_a_uri_and_are_not_downloaded():
    text = sub(LIVE, "seg103.m4s", "seg101.m4s")
    assert check_media(text, base_url=BASE) == []
    assert segment_urls(text, BASE) == [
        "http://origin.test/live/ch1/720p/" + name
        for name in ("init.mp4", "seg100.m4s", "seg101.m4s", "init2.mp4", "seg102.m4s", "seg104.m4s")
    ]


def test_path_only_base_allows_relative_uris_only():
    assert check_media(LIVE, base_url="/live/ch1/720p/index.m3u8") == []
    absolute = sub(LIVE, "seg101.m4s", "http://origin.test/seg101.m4s")
    assert "origin-uri-host" in rules(check_media(absolute, base_url="/live/ch1/720p/index.m3u8"))


STREAM = ('#EXT-X-STREAM-INF:BANDWIDTH=1200000,AVERAGE-BANDWIDTH=1000000,CODECS="avc1.4d401e,mp4a.40.2",'
          "RESOLUTION=640x360,FRAME-RATE=25")
MASTER_CASES = [
    ("4.3.1.1-extm3u", MASTER[len("#EXTM3U\n"):]),
    ("4.1-unknown-tag", sub(MASTER, "#EXT-X-INDEPENDENT-SEGMENTS", "#EXT-X-FOO")),
    ("4.3.4.2-bandwidth", sub(MASTER, "BANDWIDTH=1200000,", "")),
    ("4.3.4.2-bandwidth", sub(MASTER, "BANDWIDTH=1200000,", "BANDWIDTH=0,")),
    ("4.3.4.2-average-bandwidth", sub(MASTER, "AVERAGE-BANDWIDTH=1000000,", "")),
    ("4.3.4.2-average-bandwidth", sub(MASTER, "AVERAGE-BANDWIDTH=1000000", "AVERAGE-BANDWIDTH=1300000")),
    ("4.3.4.2-codecs", sub(MASTER, ',CODECS="avc1.4d401e,mp4a.40.2"', "")),
    ("4.3.4.2-codecs", sub(MASTER, 'CODECS="avc1.4d401e,mp4a.40.2"', "CODECS=avc1.4d401e")),
    ("4.3.4.2-resolution", sub(MASTER, "RESOLUTION=640x360,", "")),
    ("4.3.4.2-resolution", sub(MASTER, "RESOLUTION=640x360", "RESOLUTION=360p")),
    ("4.3.4.2-frame-rate", sub(MASTER, ",FRAME-RATE=25\n", "\n")),
    ("4.3.4.2-frame-rate", sub(MASTER, "FRAME-RATE=25\n", "FRAME-RATE=fast\n")),
    ("4.3.4.2-stream-inf", sub(MASTER, "FRAME-RATE=25\n", "FRAME-RATE=25,FRAME-RATE=25\n")),
    ("4.3.4.2-stream-inf", "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n"),
    ("4.3.4.2-stream-inf-uri", MASTER.replace("360p/index.m3u8\n", "")),
    ("4.3.4.2-stream-inf-uri", sub(MASTER, "720p/index.m3u8\n", "")),
    ("4.3.4.2-orphan-uri", MASTER + "extra.m3u8\n"),
    ("origin-duplicate-uri", sub(MASTER, "360p/index.m3u8", "720p/index.m3u8")),
    ("origin-uri-host", sub(MASTER, "360p/index.m3u8", "https://cdn.other.test/360p/index.m3u8")),
    ("4.3.4-mixed", MASTER + "#EXTINF:4,\n"),
    ("4.3.4-mixed", sub(MASTER, "#EXT-X-INDEPENDENT-SEGMENTS", "#EXT-X-TARGETDURATION:4")),
]


@pytest.mark.parametrize("rule,text", MASTER_CASES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(MASTER_CASES)])
def test_master_rule_is_reported(rule, text):
    assert rule in rules(check_master(text, base_url=MASTER_URL))


T0 = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)


def live(msn, names, *, dsn=0, discs=(), target=4, ptype=None, endlist=False, dur=4.0, pdt_shift=0.0):
    """A conformant live playlist; names[i] has media sequence msn+i and starts at T0 + 4*(msn+i) s."""
    lines = ["#EXTM3U", f"#EXT-X-TARGETDURATION:{target}", f"#EXT-X-MEDIA-SEQUENCE:{msn}",
             f"#EXT-X-DISCONTINUITY-SEQUENCE:{dsn}"]
    lines += [f"#EXT-X-PLAYLIST-TYPE:{ptype}"] if ptype else []
    for i, name in enumerate(names):
        if name in discs:
            lines.append("#EXT-X-DISCONTINUITY")
        pdt = T0 + timedelta(seconds=4 * (msn + i) + pdt_shift)
        lines += [f"#EXT-X-PROGRAM-DATE-TIME:{pdt.isoformat(timespec='milliseconds')}", f"#EXTINF:{dur:.3f},", name]
    return "\n".join(lines + (["#EXT-X-ENDLIST"] if endlist else [])) + "\n"


HISTORY_OK = [
    ("slide with a discontinuity leaving the head",
     [live(10, ["a", "b", "c"], dsn=3, discs={"a", "c"}), live(11, ["b", "c", "d"], dsn=4, discs={"c"}),
      live(13, ["d", "e", "f"], dsn=5)]),
    ("append then endlist, then identical reloads",
     [live(0, ["a", "b"]), live(0, ["a", "b", "c"], endlist=True), live(0, ["a", "b", "c"], endlist=True)]),
    ("event appends", [live(0, ["a"], ptype="EVENT"), live(0, ["a", "b", "c"], ptype="EVENT")]),
    ("window slid past everything we saw", [live(0, ["a", "b"], dsn=0, discs={"b"}), live(9, ["x", "y"], dsn=1)]),
]


@pytest.mark.parametrize("name,versions", HISTORY_OK, ids=[n for n, _ in HISTORY_OK])
def test_history_accepts_valid_reloads(name, versions):
    history = PlaylistHistory()
    for text in versions:
        history.assert_ok(BASE, text)


HISTORY_BAD = [
    ("6.2.1-discontinuity-sequence",
     [live(10, ["a", "b", "c"], dsn=3, discs={"a"}), live(11, ["b", "c", "d"], dsn=3)]),
    ("6.2.1-discontinuity-sequence",
     [live(0, ["a", "b"], dsn=0, discs={"b"}), live(9, ["x", "y"], dsn=0)]),
    ("6.2.1-msn-uri", [live(10, ["a", "b", "c"]), live(11, ["b", "X", "d"])]),
    ("6.2.1-head-removal", [live(10, ["a", "b", "c"]), live(11, ["X", "c", "d"])]),
    ("6.2.1-head-removal", [live(10, ["a", "b", "c"]), live(10, ["a", "b"])]),
    ("6.2.1-targetduration", [live(10, ["a", "b"]), live(10, ["a", "b", "c"], target=5)]),
    ("6.2.1-media-sequence", [live(10, ["a", "b"]), live(9, ["z", "a", "b"])]),
    ("6.2.1-segment-changed", [live(10, ["a", "b"]), live(10, ["a", "b"], dur=3.5)]),
    ("6.2.1-segment-changed", [live(10, ["a", "b"]), live(10, ["a", "b"], pdt_shift=2)]),
    ("6.2.1-segment-changed", [live(10, ["a", "b"]), live(10, ["a", "b", "c"], discs={"b"})]),
    ("6.2.1-endlist", [live(0, ["a", "b"], endlist=True), live(0, ["a", "b", "c"], endlist=True)]),
    ("6.2.1-event-append", [live(0, ["a", "b", "c"], ptype="EVENT"), live(1, ["b", "c", "d"], ptype="EVENT")]),
    ("6.2.1-event-append", [live(0, ["a", "b", "c"], ptype="EVENT"), live(0, ["a", "c", "d"], ptype="EVENT")]),
    ("6.2.1-playlist-type", [live(0, ["a"], ptype="EVENT"), live(0, ["a", "b"])]),
]


@pytest.mark.parametrize("rule,versions", HISTORY_BAD, ids=[f"{r}-{i}" for i, (r, _) in enumerate(HISTORY_BAD)])
def test_history_rule_is_reported(rule, versions):
    history = PlaylistHistory()
    for text in versions[:-1]:
        assert history.check(BASE, text) == []
    assert rule in rules(history.check(BASE, versions[-1]))


def test_history_is_kept_per_url():
    history = PlaylistHistory()
    history.assert_ok(BASE, live(10, ["a", "b"]))
    history.assert_ok(BASE.replace("720p", "360p"), live(3, ["x", "y"]))
    history.assert_ok(BASE, live(11, ["b", "c"]))


def test_assert_conformant_dispatches_and_reports():
    assert_conformant(MASTER_URL, MASTER)
    assert_conformant(BASE, LIVE)
    with pytest.raises(ConformanceError) as err:
        assert_conformant(MASTER_URL, sub(MASTER, "RESOLUTION=640x360,", ""))
    assert "[4.3.4.2-resolution]" in str(err.value) and "360p/index.m3u8" in str(err.value)
    assert isinstance(err.value, AssertionError)

    history = PlaylistHistory()
    assert_conformant(BASE, live(10, ["a", "b"]), history)
    with pytest.raises(ConformanceError) as err:
        assert_conformant(BASE, live(10, ["a", "b"], target=6), history)
    assert [v.rule for v in err.value.violations] == ["6.2.1-targetduration"]
