"""Playlist Delta Updates (rfc8216bis EXT-X-SKIP): rendering, and the checker that holds them to the full playlist."""

from __future__ import annotations

from dataclasses import replace

import m3u8
import pytest

from streaming.formats.hls import MediaPlaylistSpec, render_media, skipped_count
from streaming.timeline.runs import US, make_run
from tests.support.hls_conformance import PlaylistHistory, check_delta, check_media

T0 = 1_700_002_800 * US


def long_runs(first_seq: int = 100) -> list:
    """60 segments of 2 s, a new encoder session (discontinuity, new init) after the 40th."""
    return [make_run(first_seq=first_seq, start_us=T0, count=40, duration_us=2 * US, session=1,
                     disc_count=3, inits={"360p": "aaa"}),
            make_run(first_seq=first_seq + 40, start_us=T0 + 80 * US, count=20, duration_us=2 * US,
                     discontinuity=True, disc_count=4, session=2, inits={"360p": "bbb"})]


def segments(first_seq: int = 100) -> list:
    return [s for r in long_runs(first_seq) for s in r.segments()]


def _with(base: MediaPlaylistSpec, **changes) -> MediaPlaylistSpec:  # noqa: ANN003
    return replace(base, **changes)


def spec(**extra) -> MediaPlaylistSpec:  # noqa: ANN003
    return MediaPlaylistSpec(2, "m4s", "360p/", lambda s: f"360p/init-{s.run.inits['360p']}.mp4",
                             skip_until_s=24.0, **extra)


def test_a_delta_lists_the_last_segments_within_the_boundary_and_skips_the_rest() -> None:
    full, delta = render_media(segments(), spec()), render_media(segments(), spec(delta=True))
    assert "#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=24.0\n" in full and "#EXT-X-SKIP" not in full
    assert "#EXT-X-VERSION:7\n" in full and "#EXT-X-VERSION:9\n" in delta
    assert "#EXT-X-SKIP:SKIPPED-SEGMENTS=48\n" in delta, "60 segments of 2 s, 24 s kept: 12"
    parsed = m3u8.loads(delta)
    assert [s.uri for s in parsed.segments] == [f"360p/{q}.m4s" for q in range(148, 160)]
    assert parsed.media_sequence == 100 and '#EXT-X-MAP:URI="360p/init-bbb.mp4"' in delta
    assert check_media(delta) == [] and check_delta(full, delta) == []
    assert len(delta) < len(full) / 4


def test_the_first_kept_segment_carries_its_map_key_and_discontinuity() -> None:
    keyed = spec(key_uri=lambda s: f"keys/{s.seq // 10}.key")
    # 42 s kept: the boundary falls before the discontinuity at seq 140.
    delta = render_media(segments(), _with(keyed, skip_until_s=42.0, delta=True))
    full = render_media(segments(), _with(keyed, skip_until_s=42.0))
    head = delta.split("#EXTINF", 1)[0]
    assert "#EXT-X-SKIP:SKIPPED-SEGMENTS=39\n" in head
    assert '#EXT-X-MAP:URI="360p/init-aaa.mp4"' in head and '#EXT-X-KEY:METHOD=AES-128,URI="keys/13.key"' in head
    assert "#EXT-X-DISCONTINUITY\n" in delta and "#EXT-X-DISCONTINUITY-SEQUENCE:3\n" in delta
    assert check_delta(full, delta) == []


@pytest.mark.parametrize(("until", "expected"), [(24.0, 48), (23.0, 48), (25.0, 47), (120.0, 0), (500.0, 0)])
def test_skipped_count_keeps_at_least_the_boundary(until: float, expected: int) -> None:
    assert skipped_count(segments(), until) == expected


def test_no_delta_without_the_offer_or_once_the_playlist_ends() -> None:
    assert "#EXT-X-SKIP" not in render_media(segments(), _with(spec(delta=True), skip_until_s=None))
    ended = render_media(segments(), spec(delta=True, endlist=True, playlist_type="EVENT"))
    assert "#EXT-X-SKIP" not in ended and "SERVER-CONTROL" not in ended


def test_the_checker_catches_a_wrong_delta() -> None:
    full, delta = render_media(segments(), spec()), render_media(segments(), spec(delta=True))
    too_many = delta.replace("SKIPPED-SEGMENTS=48", "SKIPPED-SEGMENTS=49").replace(
        "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:01:36.000Z\n#EXTINF:2.000000,\n360p/148.m4s\n", "")
    assert {v.rule for v in check_delta(full, too_many)} == {"6.2.5.1-skip-boundary"}
    moved = delta.replace("#EXT-X-MEDIA-SEQUENCE:100", "#EXT-X-MEDIA-SEQUENCE:101")
    assert "6.2.5.1-delta" in {v.rule for v in check_delta(full, moved)}
    old_version = delta.replace("#EXT-X-VERSION:9", "#EXT-X-VERSION:7")
    assert "4.4.5.2-skip" in {v.rule for v in check_media(old_version)}
    unoffered = delta.replace("#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=24.0\n", "")
    assert "6.2.5.1-delta" in {v.rule for v in check_media(unoffered)}
    short = full.replace("CAN-SKIP-UNTIL=24.0", "CAN-SKIP-UNTIL=6.0")
    assert "4.4.3.8-server-control" in {v.rule for v in check_media(short)}


def test_successive_deltas_obey_the_reload_rules() -> None:
    history = PlaylistHistory()
    url = "http://origin.test/live/ch/cmaf/360p.m3u8?_HLS_skip=YES"
    # The window slides by one segment: the head drops, one is appended.
    first = render_media(segments()[:-1], spec(delta=True))
    second = render_media(segments()[1:], spec(delta=True))
    assert history.check(url, first) == [] and history.check(url, second) == []
    rewritten = second.replace("360p/150.m4s", "360p/999.m4s")
    assert "6.2.1-msn-uri" in {v.rule for v in history.check(url, rewritten)}
