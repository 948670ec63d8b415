"""Window playlists as data: membership, outages inside a programme, how they end and start."""

from __future__ import annotations

import m3u8
import pytest

from streaming.formats.hls import MediaPlaylistSpec, render_media
from streaming.formats.windows import Window
from streaming.timeline.runs import make_run
from streaming.timeline.windows import (
    MIN_EVENT_OFFSET_S,
    ArchiveRuns,
    contains,
    window_segments,
)

T0 = 1_790_000_000  # seconds
D = 2_000_000  # a 2 s segment
TRACK = "cmaf/360p"


def runs_with_outage():  # noqa: ANN201
    """Ten segments, a 6 s outage (gap entries), then the encoder back after a discontinuity."""
    a = make_run(first_seq=0, start_us=T0 * 1_000_000, count=10, duration_us=D, inits={TRACK: "a" * 16})
    gap = make_run(first_seq=10, start_us=a.end_us, count=3, duration_us=D, gap=True)
    b = make_run(first_seq=13, start_us=gap.end_us, count=10, duration_us=D, discontinuity=True, disc_count=1,
                 session=1, inits={TRACK: "b" * 16})
    return [a, gap, b]


def render(window: Window, holes: set = frozenset()) -> m3u8.M3U8:  # noqa: ANN001
    planned = window_segments(window, runs_with_outage(), set(holes), TRACK, [])
    text = render_media(planned.segments, MediaPlaylistSpec(
        target_duration=2, segment_ext="m4s", uri_prefix="360p/",
        init_uri=lambda s: f"360p/init-{s.run.inits[TRACK]}.mp4" if TRACK in s.run.inits else None,
        playlist_type=planned.playlist_type, endlist=planned.endlist, start_offset_s=planned.start_offset_s))
    return m3u8.loads(text), text


def test_an_outage_inside_the_window_gives_gaps_and_a_discontinuity_in_place() -> None:
    pl, text = render(Window("c", T0 + 4, T0 + 40, "vod", 0))
    uris = [s.uri for s in pl.segments]
    assert uris[0] == "360p/2.m4s" and uris[-1] == "360p/19.m4s"
    assert text.count("#EXT-X-GAP") == 3 and "360p/10.m4s" in text
    assert text.count("#EXT-X-DISCONTINUITY\n") == 1
    # The timeline is not shifted: every segment starts where the one before ended, gaps included.
    starts = [s.program_date_time.timestamp() for s in pl.segments]
    assert starts == [T0 + 4 + 2 * i for i in range(len(starts))]
    assert pl.playlist_type == "vod" and pl.is_endlist


def test_a_missing_rendition_is_a_gap_on_that_track_only() -> None:
    _, text = render(Window("c", T0, T0 + 10, "vod", 0), holes={(3, TRACK), (4, "cmaf/240p")})
    block = text.split("360p/3.m4s")[0].rsplit("#EXTINF", 1)[1]
    assert "#EXT-X-GAP" in block and text.count("#EXT-X-GAP") == 1


@pytest.mark.parametrize("start, end, seqs", [
    (0, 10, [0, 1, 2, 3, 4]),
    (1, 9, [0, 1, 2, 3]),  # segment 0's middle (1 s) is inside, segment 4's (9 s) is not
    (2, 10, [1, 2, 3, 4]),  # segment 0's middle is before the start
])
def test_a_segment_belongs_to_a_window_when_its_middle_does(start: int, end: int, seqs: list[int]) -> None:
    window = Window("c", T0 + start, T0 + end, "vod", 0)
    assert [s.seq for s in runs_with_outage()[0].segments() if contains(window, s)] == seqs


def test_event_windows_end_only_when_over_and_start_at_the_programme() -> None:
    runs = runs_with_outage()
    open_ = window_segments(Window("c", T0 + 30, T0 + 60, "event", 4), runs, set(), TRACK, [])
    assert open_.playlist_type == "EVENT" and not open_.endlist
    assert open_.start_offset_s == pytest.approx(4.0)
    over = window_segments(Window("c", T0 + 30, T0 + 45, "event", 0), runs, set(), TRACK, [])
    # No padding still starts at the start, not at the live edge (and the tag never goes away).
    assert over.endlist and over.start_offset_s == MIN_EVENT_OFFSET_S  # 0 reads as "none" in Shaka
    unpadded = window_segments(Window("c", T0 + 30, T0 + 60, "event", 0), runs, set(), TRACK, [])
    assert not unpadded.endlist and unpadded.start_offset_s == MIN_EVENT_OFFSET_S
    live = window_segments(Window("c", T0 + 30, T0 + 60, "live", 0), runs, set(), TRACK, [])
    assert live.playlist_type is None and not live.endlist


def test_archived_windows_are_kept_least_recently_used() -> None:
    archive = ArchiveRuns(max_windows=2)
    w = [Window("c", T0 + i, T0 + 100, "vod", 0) for i in range(3)]
    for window in w:
        archive.put(window, runs_with_outage(), set())
    assert archive.get(w[0]) is None and archive.get(w[2]) is not None
    archive.forget("c")
    assert archive.get(w[2]) is None
