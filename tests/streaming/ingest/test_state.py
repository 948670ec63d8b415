"""Ingest bookkeeping as pure data: sessions, timing, and what publishes when."""

from __future__ import annotations

import pytest

from streaming.formats.hls_input import EncoderSegment
from streaming.ingest.errors import DuplicateSegment, OutOfOrderSegment
from streaming.ingest.state import (
    ABANDON_FACTOR,
    ChannelIngest,
    PendingEntry,
    PublishRules,
    TrackIngest,
    decide_session,
    publish_ready,
    receive_init,
    receive_playlist,
    receive_segment,
)
from streaming.timeline.runs import Run, make_run

TRACKS = ("cmaf/360p", "cmaf/240p")
SEG = 1_920_000
RULES = PublishRules(tracks=TRACKS, nominal_us=SEG, target_us=2_000_000, deadline_us=3_000_000,
                     hold_us=6_000_000)
T0 = 1_800_000_000_000_000


def _chan(**tracks: TrackIngest) -> ChannelIngest:
    state = {t: TrackIngest(t) for t in TRACKS}
    state.update({t.track: t for t in tracks.values()})
    return ChannelIngest("ch", last_session=1, version=0, last_publish_us=0, tracks=state)


@pytest.mark.parametrize(("track", "encseq", "expected"), [
    (TrackIngest("cmaf/360p"), 0, 1),  # first segment: the channel's session
    (TrackIngest("cmaf/360p", session=1, last_encseq=5), 6, 1),  # the next one
    (TrackIngest("cmaf/360p", session=1, last_encseq=50, init_since_segment=True), 0, 2),  # restart
    (TrackIngest("cmaf/360p", session=1, last_encseq=50), 3, 2),  # far behind: restart
])
def test_decide_session(track: TrackIngest, encseq: int, expected: int) -> None:
    assert decide_session(_chan(), track, encseq) == expected


def test_another_track_that_restarted_first_opens_the_session_this_one_joins() -> None:
    chan = _chan()
    chan.last_session = 3
    assert decide_session(chan, TrackIngest("cmaf/360p", session=2, last_encseq=40), 0) == 3


@pytest.mark.parametrize(("encseq", "error"), [(5, DuplicateSegment), (4, DuplicateSegment),
                                               (3, OutOfOrderSegment)])
def test_late_and_repeated_segments_are_refused(encseq: int, error: type) -> None:
    track = TrackIngest("cmaf/360p", session=1, last_encseq=5,
                        pending=[PendingEntry(1, 4, 10, None, T0)])
    with pytest.raises(error):
        decide_session(_chan(), track, encseq)


def test_timing_from_the_playlist_that_came_first_wins_over_the_segments_own() -> None:
    track = TrackIngest("cmaf/360p", session=1, last_encseq=-1)
    receive_playlist(track, [EncoderSegment("seg_0.m4s", 0, 1_900_000, T0, False)], 2_500_000)
    assert receive_segment(_chan(), track, session=1, encseq=0, size=10, now_us=T0, duration_us=SEG)
    assert (track.pending[0].duration_us, track.pending[0].pdt_us) == (1_900_000, T0)


def test_a_segment_timed_by_its_own_boxes_has_no_wall_clock_from_the_encoder() -> None:
    track = TrackIngest("cmaf/360p")
    assert receive_segment(_chan(), track, session=1, encseq=0, size=10, now_us=T0, duration_us=SEG)
    assert (track.pending[0].duration_us, track.pending[0].pdt_us) == (SEG, None)
    assert not receive_segment(_chan(), track, session=1, encseq=1, size=10, now_us=T0)


def test_a_playlist_refuses_segments_longer_than_the_target_duration() -> None:
    track = TrackIngest("cmaf/360p", session=1, last_encseq=1,
                        pending=[PendingEntry(1, 0, 10, None, T0), PendingEntry(1, 1, 10, None, T0)])
    rejected = receive_playlist(track, [EncoderSegment("seg_0.m4s", 0, SEG, None, False),
                                        EncoderSegment("seg_1.m4s", 1, 2_600_000, None, False)], 2_500_000)
    assert [p.encseq for p in rejected] == [1]
    assert [(p.encseq, p.duration_us) for p in track.pending] == [(0, SEG)]
    assert track.announced == []  # nothing announced by a playlist that broke the rules


def test_a_new_init_forgets_what_the_old_session_announced() -> None:
    track = TrackIngest("cmaf/360p", announced=[[7, SEG, None, False]])
    receive_init(track, "abcd", {1: [12800, 0, "vide"]})
    assert (track.announced, track.init_since_segment, track.init_timing) == ([], True, {1: [12800, 0, "vide"]})


def _pending(encseq: int, *, timed: bool = True, received: int = T0) -> PendingEntry:
    return PendingEntry(1, encseq, 480_000, "init", received, SEG if timed else None, None, False)


def _with(t360: list[PendingEntry], t240: list[PendingEntry]) -> ChannelIngest:
    return _chan(a=TrackIngest("cmaf/360p", pending=t360), b=TrackIngest("cmaf/240p", pending=t240))


def test_a_segment_publishes_once_every_track_has_it_timed() -> None:
    chan = _with([_pending(0)], [_pending(0, timed=False)])
    assert publish_ready(chan, RULES, lambda: None, now_us=T0 + 1000).count == 0
    chan.tracks["cmaf/240p"].pending[0].duration_us = SEG
    out = publish_ready(chan, RULES, lambda: None, now_us=T0 + 2000)
    assert (out.count, out.holes, chan.version) == (1, [], 1)
    assert out.tail.count == 1 and out.tail.start_us == T0 - SEG  # ended when it arrived
    assert all(not t.pending for t in chan.tracks.values())
    assert chan.tracks["cmaf/360p"].peak_bps == 480_000 * 8 * 1_000_000 // SEG


def test_past_the_deadline_a_segment_publishes_without_the_late_track() -> None:
    chan = _with([_pending(0)], [])
    assert publish_ready(chan, RULES, lambda: None, now_us=T0 + RULES.deadline_us - 1).count == 0
    out = publish_ready(chan, RULES, lambda: None, now_us=T0 + RULES.deadline_us + 1)
    assert out.count == 1 and out.holes == [(0, "cmaf/240p")]


def test_segments_never_timed_are_dropped_after_a_while() -> None:
    chan = _with([_pending(0, timed=False)], [_pending(0, timed=False)])
    out = publish_ready(chan, RULES, lambda: None, now_us=T0 + ABANDON_FACTOR * RULES.target_us + 1)
    assert (out.count, len(out.dropped), chan.version) == (0, 2, 0)
    assert all(not t.pending for t in chan.tracks.values())


def test_publishing_stops_at_the_first_segment_that_is_not_ready() -> None:
    chan = _with([_pending(0), _pending(1), _pending(2)], [_pending(0), _pending(1, timed=False), _pending(2)])
    loads: list[int] = []

    def tail() -> Run:
        loads.append(1)
        # Encoder segments -18..-10 as our 9..17, so encoder segment 0 continues the run as 18.
        return make_run(first_seq=9, start_us=T0 - 10 * SEG, count=9, duration_us=SEG, session=1,
                        enc_offset=18, inits={t: "init" for t in TRACKS})

    out = publish_ready(chan, RULES, tail, now_us=T0 + 1000)
    assert out.count == 1 and loads == [1]
    assert (out.tail.first_seq, out.tail.last_seq, list(out.runs)) == (9, 18, [9])  # the tail grew
    assert [p.encseq for p in chan.tracks["cmaf/360p"].pending] == [1, 2]


# -- timing that contradicts the channel's clock (issue 19) ---------------------------------

US = 1_000_000
HALF = SEG // 2  # RULES.ahead_us
TAIL_END = T0  # the tail ends at T0: the encoder's last segment ended then


def _tail() -> Run:
    return make_run(first_seq=0, start_us=TAIL_END - 10 * SEG, count=10, duration_us=SEG, session=1,
                    enc_offset=-10, inits={t: "init" for t in TRACKS})


def _arriving(*, received: int, pdt: int | None, encseq: int = 20, session: int = 1) -> ChannelIngest:
    entries = [PendingEntry(session, encseq, 480_000, "init", received, SEG, pdt, False) for _ in TRACKS]
    return _with([entries[0]], [entries[1]])


@pytest.mark.parametrize(("received", "pdt", "start"), [
    # The encoder's own next segment, on time: its PROGRAM-DATE-TIME is the truth.
    (TAIL_END + SEG + 300_000, TAIL_END, TAIL_END),
    # An encoder a little behind real time keeps its own clock.
    (TAIL_END + SEG + 20 * US, TAIL_END, TAIL_END),
    # A real outage: the encoder comes back at wall-clock time; the hole becomes gaps.
    (TAIL_END + 30 * US, TAIL_END + 30 * US - SEG, TAIL_END + 30 * US - SEG),
    # Its clock 4 s ahead (a stray pusher, or a clock jump): timed by arrival instead,
    # contiguous with the tail.
    (TAIL_END + SEG + 300_000, TAIL_END + 4 * US, TAIL_END),
    # Hours ahead, year 9999: the same.
    (TAIL_END + SEG + 300_000, TAIL_END + 3 * 3600 * US, TAIL_END),
    (TAIL_END + SEG + 300_000, 253_402_300_799 * US, TAIL_END),
    # Behind the tail (clock stepped back by seconds or hours, year 1): timed by arrival,
    # contiguous: no discontinuity for every segment that follows.
    (TAIL_END + SEG + 300_000, TAIL_END - 5 * US, TAIL_END),
    (TAIL_END + SEG + 300_000, TAIL_END - 2 * 3600 * US, TAIL_END),
    (TAIL_END + SEG + 300_000, -62_135_596_800 * US, TAIL_END),
    # A segment that arrived faster than real time after the tail (another pusher's, between
    # the encoder's own): it would end ahead of the wall clock, so it is refused.
    (TAIL_END + 300_000, None, None),
    (TAIL_END + 300_000, TAIL_END + 4 * US, None),
    (TAIL_END + SEG - HALF - 1, None, None),
    # ... unless it ends within the tolerance of its arrival.
    (TAIL_END + SEG - HALF, None, TAIL_END),
], ids=["on-time", "lagging", "after-an-outage", "pdt-4s-ahead", "pdt-hours-ahead", "pdt-year-9999",
        "pdt-5s-behind-tail", "pdt-hours-behind", "pdt-year-1", "arrived-too-soon", "too-soon-with-future-pdt",
        "just-too-soon", "just-in-time"])
def test_the_wall_clock_bounds_where_a_segment_starts(received: int, pdt: int | None, start: int | None) -> None:
    chan = _arriving(received=received, pdt=pdt)
    chan.last_publish_us = received - SEG
    out = publish_ready(chan, RULES, _tail, now_us=received + 1000)
    if start is None:
        assert (out.count, len(out.refused), chan.version) == (0, 2, 0)
        assert all(not t.pending for t in chan.tracks.values())
        return
    assert out.count == 1 and not out.refused
    new = out.runs[max(out.runs)]
    assert new.end_us - SEG == start if new.first_seq == 0 else new.start_us == start
    assert out.tail.end_us <= received + HALF  # never ahead of the wall clock


def _stream(chan: ChannelIngest, encseqs: range, *, arrival0: int, pdt0: int | None, session: int = 1,
            tail: Run | None = None) -> tuple[Run | None, list[int]]:
    """Push an encoder's segments one by one at real-time pace; return the tail and the refused."""
    refused = []
    for i, encseq in enumerate(encseqs):
        received = arrival0 + i * SEG
        for t in chan.tracks.values():
            t.pending.append(PendingEntry(session, encseq, 480_000, "init", received, SEG,
                                          None if pdt0 is None else pdt0 + i * SEG, False))
        out = publish_ready(chan, RULES, lambda: tail, now_us=received + 1000)
        refused += sorted({p.encseq for _, p in out.refused})
        tail = out.tail or tail
    return tail, refused


@pytest.mark.parametrize("pdt_timed", [True, False], ids=["external-encoder", "our-packager"])
def test_a_stray_segment_never_moves_the_live_edge_and_the_encoder_carries_on(pdt_timed: bool) -> None:
    """Issue 19: one segment pushed with the channel's credentials by another pusher moved
    PROGRAM-DATE-TIME ~4 s ahead of wall clock until the encoder restarted."""
    chan = _with([], [])
    arrival0 = T0 + SEG + 200_000
    tail, refused = _stream(chan, range(10, 15), arrival0=arrival0, pdt0=T0 if pdt_timed else None)
    assert refused == []
    edge = tail.end_us
    # Another pusher, its own numbering and a clock 4 s ahead, 0.3 s after segment 14.
    stray_arrival = arrival0 + 4 * SEG + 300_000
    for t in chan.tracks.values():
        t.pending.append(PendingEntry(1, 900, 480_000, "init", stray_arrival, SEG,
                                      edge + 4 * US if pdt_timed else None, False))
    out = publish_ready(chan, RULES, lambda: tail, now_us=stray_arrival + 1000)
    assert (out.count, sorted({p.encseq for _, p in out.refused})) == (0, [900])
    # The encoder's own next segments land where its clock says: no drift, no gap, no
    # discontinuity.
    tail2, refused = _stream(chan, range(15, 25), arrival0=arrival0 + 5 * SEG,
                             pdt0=T0 + 5 * SEG if pdt_timed else None, tail=tail)
    assert refused == []
    assert (tail2.first_seq, tail2.start_us, tail2.count) == (tail.first_seq, tail.start_us, 15)
    assert tail2.end_us == edge + 10 * SEG


@pytest.mark.parametrize("jump_us", [4 * US, 3 * 3600 * US, -5 * US, -3 * 3600 * US],
                         ids=["+4s", "+3h", "-5s", "-3h"])
def test_an_encoder_whose_clock_jumps_keeps_publishing_in_one_run(jump_us: int) -> None:
    chan = _with([], [])
    arrival0 = T0 + SEG + 200_000
    tail, _ = _stream(chan, range(0, 5), arrival0=arrival0, pdt0=T0)
    tail, refused = _stream(chan, range(5, 20), arrival0=arrival0 + 5 * SEG, pdt0=T0 + 5 * SEG + jump_us, tail=tail)
    assert refused == []
    # One run: no gaps, no discontinuity per segment, the edge at real time.
    assert (tail.first_seq, tail.count, tail.discontinuity) == (0, 20, False)
    assert tail.end_us == T0 + 20 * SEG
