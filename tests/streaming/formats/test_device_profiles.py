"""Device profiles as data: which device gets which profile, and how each shapes a playlist."""

from __future__ import annotations

import pytest

from streaming.formats.device_profiles import (
    BY_CODE,
    PLATFORMS,
    PROFILES,
    SLATE,
    STANDARD,
    choose_profile,
    parse_version,
    profile_of_path,
    segment_set_for,
)
from streaming.formats.hls import MediaPlaylistSpec, render_media
from streaming.origin.rendering import outage_uri
from streaming.timeline.runs import make_run
from streaming.timeline.service import ChannelSpec, RenditionView

S = 1_000_000


@pytest.mark.parametrize(("platform", "os_version", "device_type", "code"), [
    ("tizen", "2.4", "smart_tv", "tizen-legacy"),
    ("tizen", "3.0", "smart_tv", "tizen-legacy"),
    ("tizen", "4.0", "smart_tv", "tizen"),
    ("tizen", "7.0", "smart_tv", "tizen"),
    ("tizen", None, "smart_tv", "tizen-legacy"),  # no version: the family's profile that plays on any
    ("tizen", "seven", "smart_tv", "tizen-legacy"),
    ("webos", "3.5", "smart_tv", "webos-legacy"),
    ("webos", "6.0", "smart_tv", "webos"),
    ("webos", "23", "smart_tv", "webos"),
    ("android", "6.0.1", "mobile", "android-legacy"),
    ("android", "14", "mobile", "android"),
    ("ios", "13.7", "mobile", "ios-legacy"),
    ("ios", "17.2", "tablet", "ios"),
    ("tvos", "17", "stb", "tvos"),
    ("browser", None, "web", "browser"),
    (None, None, "web", "browser"),  # a web player that never said its platform
    (None, None, "stb", "stb"),
    (None, None, "smart_tv", "standard"),
    (None, None, "mobile", "standard"),
])
def test_a_device_gets_the_first_profile_that_covers_it(platform, os_version, device_type, code) -> None:  # noqa: ANN001
    assert choose_profile(platform=platform, os_version=os_version, device_type=device_type).code == code


def test_staff_override_wins_and_an_unknown_override_is_ignored() -> None:
    assert choose_profile(platform="ios", os_version="17", override="tizen-legacy").code == "tizen-legacy"
    assert choose_profile(platform="ios", os_version="17", override="gone").code == "ios"


@pytest.mark.parametrize(("text", "parsed"), [("4", (4,)), ("4.0", (4, 0)), (" 13.7.1 ", (13, 7, 1)),
                                              ("", None), (None, None), ("4.x", None), ("1.2.3.4.5", None)])
def test_versions_are_compared_as_numbers(text, parsed) -> None:  # noqa: ANN001
    assert parse_version(text) == parsed
    assert parse_version("10.0") > parse_version("9.3")


def test_the_table_is_consistent() -> None:
    assert len(BY_CODE) == len(PROFILES) and PROFILES[-1] is STANDARD
    for p in PROFILES:
        assert p.platform is None or p.platform in PLATFORMS
        # EXT-X-MAP (CMAF) needs version 6 and our CMAF playlists say 7; delta updates need 9.
        assert p.segment_set == "ts" or p.plays_cmaf, p.code
        assert p.hls_version >= 3 and p.delta_updates == (p.hls_version >= 9)
        assert p.outage != SLATE or p.segment_set == "ts", "slates are MPEG-TS clips"
        assert profile_of_path(p.path_part) is (p if p.path_part else STANDARD)
    # Every platform's versions are covered with no hole: each has a profile open at the bottom.
    for platform in PLATFORMS:
        family = [p for p in PROFILES if p.platform == platform]
        assert any(p.min_version == () for p in family), platform
        for p in family:
            if p.below_version is not None:
                assert any(q.min_version == p.below_version for q in family), (platform, p.code)
    assert profile_of_path(None) is STANDARD and profile_of_path("dev-nope") is None and profile_of_path("x") is None


def test_only_profiles_that_render_differently_get_a_path_of_their_own() -> None:
    assert STANDARD.path_part is None and BY_CODE["browser"].path_part is None and BY_CODE["ios"].path_part is None
    assert BY_CODE["tizen-legacy"].path_part == "dev-tizen-legacy"
    assert BY_CODE["ios-legacy"].path_part == "dev-ios-legacy"  # no delta updates


@pytest.mark.parametrize(("code", "offered", "asked", "chosen"), [
    ("standard", ("cmaf",), None, "cmaf"),
    ("standard", ("cmaf", "ts"), None, "cmaf"),
    ("tizen-legacy", ("cmaf", "ts"), None, "ts"),
    ("tizen-legacy", ("cmaf",), None, "ts"),  # no fMP4 HLS and no TS offered: the door refuses NOT_AVAILABLE
    ("stb", ("cmaf",), None, "cmaf"),  # prefers TS, plays CMAF
    ("stb", ("cmaf", "ts"), None, "ts"),
    ("standard", ("ts",), None, "ts"),  # every player plays TS
    ("tizen-legacy", ("cmaf", "ts"), "cmaf", "cmaf"),  # the app knows best
])
def test_the_segment_set_follows_the_profile(code, offered, asked, chosen) -> None:  # noqa: ANN001
    assert segment_set_for(BY_CODE[code], offered, asked) == chosen


def _spec() -> ChannelSpec:
    return ChannelSpec("c1", True, ("cmaf", "ts"), (RenditionView("360p", 640, 360, 25.0, "avc1", 800_000),
                                                    RenditionView("240p", 426, 240, 25.0, "avc1", 400_000)),
                       2 * S, 2, 3600)


def test_a_slate_profile_plays_slates_in_outages_and_a_sibling_for_one_missing_track() -> None:
    before = make_run(first_seq=0, start_us=0, count=5, duration_us=2 * S)
    outage = make_run(first_seq=5, start_us=10 * S, count=3, duration_us=2 * S, gap=True, discontinuity=True,
                      disc_count=1, session=-1)
    after = make_run(first_seq=8, start_us=16 * S, count=3, duration_us=2 * S, discontinuity=True, disc_count=2)
    segments = [s for r in (before, outage, after) for s in r.segments()]
    holes = {(2, "ts/360p"), (9, "ts/360p"), (9, "ts/240p")}
    segments = [s.__class__(s.seq, s.start_us, s.duration_us, s.discontinuity, True, s.run)
                if (s.seq, "ts/360p") in holes else s for s in segments]
    text = render_media(segments, MediaPlaylistSpec(2, "ts", "360p/", lambda s: None,
                                                    gap_uri=outage_uri(_spec(), "ts/360p", holes)))
    uris = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert uris == ["360p/0.ts", "360p/1.ts", "240p/2.ts", "360p/3.ts", "360p/4.ts",
                    "360p/slate-5.ts", "360p/slate-6.ts", "360p/slate-7.ts", "360p/8.ts", "360p/9.ts", "360p/10.ts"]
    # Only segment 9, which no rendition has, stays a gap entry; the outage opens and closes a discontinuity.
    assert text.count("#EXT-X-GAP") == 1 and text.count("#EXT-X-DISCONTINUITY\n") == 2
    cmaf = outage_uri(_spec(), "cmaf/360p", {(2, "cmaf/360p")})
    assert cmaf(outage.segment(5)) is None, "no CMAF slate: a CMAF profile shows gap entries"
    assert cmaf(segments[2]) is None, "a CMAF sibling would need its own EXT-X-MAP"


def test_a_missing_segment_is_played_from_the_nearest_lighter_rendition_first() -> None:
    spec = ChannelSpec("c1", True, ("cmaf", "ts"), tuple(
        RenditionView(n, w, h, 25.0, "avc1", bps) for n, w, h, bps in (
            ("720p", 1280, 720, 2_500_000), ("360p", 640, 360, 800_000), ("240p", 426, 240, 400_000))),
        2 * S, 2, 3600)
    seg = next(make_run(first_seq=0, start_us=0, count=1, duration_us=2 * S).segments())
    assert outage_uri(spec, "ts/360p", set())(seg) == "240p/0.ts"
    assert outage_uri(spec, "ts/360p", {(0, "ts/240p")})(seg) == "720p/0.ts"
    assert outage_uri(spec, "ts/240p", set())(seg) == "360p/0.ts"  # none lighter: the nearest heavier
