"""Table-driven tests of streaming.timeline: runs, appends, gaps and windows as pure data."""

from __future__ import annotations

import random

import pytest

from streaming.timeline.runs import (
    CONTIGUITY_TOLERANCE_US,
    HOUR_US,
    US,
    NewSegment,
    gap_slots,
    last_segments,
    live_gap_count,
    live_gaps,
    live_gaps_valid_until,
    make_run,
    pack_durations,
    plan_append,
    segments_in,
    unpack_durations,
)

T0 = 1_700_002_800 * US  # 2023-11-14T23:00:00Z, exactly on a UTC hour boundary
NOM = 2 * US
TOL = CONTIGUITY_TOLERANCE_US
INITS = {"cmaf/360p": "aaa"}


def new(start: int, dur: int = NOM, *, session: int = 1, encseq: int = 0,
        inits: dict | None = None, disc: bool = False) -> NewSegment:
    return NewSegment(start, dur, session, encseq, dict(INITS if inits is None else inits), disc)


class Timeline:
    """Runs stored the way ingest stores them: each Append replaces the tail or extends the list."""

    def __init__(self) -> None:
        self.runs = []

    def append(self, seg: NewSegment):  # noqa: ANN201
        plan = plan_append(self.runs[-1] if self.runs else None, seg, nominal_us=NOM)
        if plan.replaces_tail:
            assert len(plan.runs) == 1
            self.runs[-1:] = plan.runs
        else:
            self.runs.extend(plan.runs)
        return plan

    def feed(self, start: int, durations: list[int]) -> None:  # back to back, one session
        for i, d in enumerate(durations):
            self.append(new(start, d, encseq=i))
            start += d

    def segments(self) -> list:
        return [s for r in self.runs for s in r.segments()]

    def layout(self) -> list[tuple[int, int, list[int]]]:
        return [(r.first_seq, r.start_us, list(r.duration_list())) for r in self.runs]


def tail_run(**over):  # noqa: ANN003, ANN201
    kw = dict(first_seq=100, start_us=T0, count=3, duration_us=NOM, discontinuity=True,
              disc_count=4, session=1, enc_offset=100, inits=dict(INITS))
    return make_run(**{**kw, **over})


def test_pack_unpack_durations_round_trip() -> None:
    blob = pack_durations([1, 0x01020304, 2**32 - 1])
    assert blob == b"\x01\x00\x00\x00\x04\x03\x02\x01\xff\xff\xff\xff"
    assert list(unpack_durations(blob)) == [1, 0x01020304, 2**32 - 1]


def test_first_append_starts_sequence_zero() -> None:
    plan = plan_append(None, new(T0 + 123, 1_920_000, session=3, encseq=7), nominal_us=NOM)
    (run,) = plan.runs
    assert (plan.seq, plan.replaces_tail) == (0, False)
    assert (run.first_seq, run.start_us, run.count, run.duration_us, run.end_us) == (0, T0 + 123, 1, 1_920_000,
                                                                                    T0 + 123 + 1_920_000)
    assert (run.discontinuity, run.disc_count, run.session, run.enc_offset, run.inits) == (False, 0, 3, -7, INITS)


@pytest.mark.parametrize(("start", "dur", "n"), [
    (T0, NOM, 2),
    (T0, 1_920_000, 10),
    (T0 - 10 * US, NOM, 10),  # a uniform run may span a UTC hour boundary
    (T0 - HOUR_US, 6 * US, 1201),  # ... or several
])
def test_equal_durations_extend_one_uniform_run(start: int, dur: int, n: int) -> None:
    tl = Timeline()
    seqs = []
    for i in range(n):
        plan = tl.append(new(start + i * dur, dur, encseq=i))
        seqs.append(plan.seq)
        assert plan.replaces_tail is (i > 0)
    (run,) = tl.runs
    assert seqs == list(range(n))
    assert (run.uniform, run.count, run.duration_us, run.durations) == (True, n, dur, None)
    assert run.end_us == start + n * dur
    assert run.last_seq == n - 1


@pytest.mark.parametrize("durs", [
    [NOM, NOM, NOM, 1_500_000],
    [1_920_000, 2_000_000, 1_960_000, 2_040_000],
    [NOM, US],
    [US, NOM, NOM, NOM],
])
def test_different_duration_in_same_hour_makes_varied_run(durs: list[int]) -> None:
    tl = Timeline()
    tl.feed(T0 + 60 * US, durs)
    (run,) = tl.runs
    assert (run.uniform, run.duration_us, run.count) == (False, None, len(durs))
    assert run.durations == pack_durations(durs)
    assert run.end_us == T0 + 60 * US + sum(durs)


@pytest.mark.parametrize(("start", "durs", "expected"), [
    # varied run crossing the hour: the first segment starting at or after T0 opens a run
    (T0 - 5 * US, [NOM, 1_500_000, 2_500_000, US, NOM],
     [(0, T0 - 5 * US, [NOM, 1_500_000, 2_500_000]), (3, T0 + US, [US, NOM])]),
    # the tail ends exactly on the boundary
    (T0 - 4 * US, [NOM, 1_500_000, 500_000, US, 3 * US],
     [(0, T0 - 4 * US, [NOM, 1_500_000, 500_000]), (3, T0, [US, 3 * US])]),
    # a uniform run spanning the hour cannot turn varied: the new duration opens a run
    (T0 - 4 * US, [NOM, NOM, NOM, US],
     [(0, T0 - 4 * US, [NOM, NOM, NOM]), (3, T0 + 2 * US, [US])]),
])
def test_varied_run_never_spans_an_hour(start: int, durs: list[int], expected: list) -> None:
    tl = Timeline()
    tl.feed(start, durs)
    assert tl.layout() == expected
    assert [(r.discontinuity, r.disc_count) for r in tl.runs] == [(False, 0)] * len(expected)
    for run in tl.runs:
        if not run.uniform:
            assert len({s.start_us // HOUR_US for s in run.segments()}) == 1


@pytest.mark.parametrize(("change", "disc"), [
    ({}, None),  # nothing changes: the tail is extended
    ({"session": 2}, True),
    ({"inits": {"cmaf/360p": "bbb"}}, True),
    ({"inits": {**INITS, "cmaf/240p": "ccc"}}, None),  # a track's first init extends the tail
    ({"disc": True}, True),
    ({"encseq": 9}, False),  # encoder skipped numbers: new run (new byte offset), no discontinuity
])
def test_what_starts_a_new_run(change: dict, disc: bool | None) -> None:
    tail = tail_run()
    plan = plan_append(tail, new(tail.end_us, NOM, **{"encseq": 3, **change}), nominal_us=NOM)
    (run,) = plan.runs
    if disc is None:
        assert (plan.replaces_tail, plan.seq, run.first_seq, run.count, run.end_us) == (
            True, 103, 100, 4, T0 + 8 * US)
        assert run.inits == {**tail.inits, **change.get("inits", {})}
        return
    assert (plan.replaces_tail, plan.seq) == (False, 103)
    assert (run.first_seq, run.start_us, run.count, run.end_us) == (103, T0 + 6 * US, 1, T0 + 8 * US)
    assert (run.discontinuity, run.disc_count) == (disc, 4 + int(disc))
    assert run.enc_offset == 103 - change.get("encseq", 3)


@pytest.mark.parametrize(("gap_us", "nominal", "expected"), [
    (0, NOM, []), (-5, NOM, []), (1, NOM, [1]), (NOM, NOM, [NOM]),
    (5 * US, NOM, [NOM, NOM, US]), (4 * US, NOM, [NOM, NOM]), (7, 3, [3, 3, 1]),
])
def test_gap_slots(gap_us: int, nominal: int, expected: list[int]) -> None:
    assert gap_slots(gap_us, nominal) == expected


@pytest.mark.parametrize(("hole", "slots"), [
    (TOL + 1, [TOL + 1]),
    (500_000, [500_000]),
    (4 * US, [NOM, NOM]),
    (5 * US, [NOM, NOM, US]),
    (7_300_000, [NOM, NOM, NOM, 1_300_000]),
])
def test_hole_becomes_gap_run_then_discontinuity(hole: int, slots: list[int]) -> None:
    tail = tail_run()
    plan = plan_append(tail, new(tail.end_us + hole, NOM, encseq=3), nominal_us=NOM)
    *gaps, run = plan.runs
    assert plan.replaces_tail is False
    assert 1 <= len(gaps) <= 2 and all(g.uniform for g in gaps)  # full slots, then a remainder
    assert (gaps[0].first_seq, gaps[0].start_us, gaps[-1].end_us) == (103, tail.end_us, tail.end_us + hole)
    durations = [d for g in gaps for d in g.duration_list()]
    assert durations == slots and sum(durations) == hole
    # The outage is a discontinuity of its own (a slate has its own timestamps); its remainder is not.
    for i, gap in enumerate(gaps):
        assert (gap.gap, gap.discontinuity, gap.disc_count, gap.session) == (True, i == 0, 5, -1)
        assert all(s.gap for s in gap.segments())
    assert [s.discontinuity for g in gaps for s in g.segments()] == [True] + [False] * (len(slots) - 1)
    assert (run.first_seq, run.start_us, run.count, run.gap) == (gaps[-1].last_seq + 1, tail.end_us + hole, 1, False)
    assert (run.discontinuity, run.disc_count, plan.seq) == (True, 6, 103 + len(slots))


@pytest.mark.parametrize("offset", [-TOL, -1, 0, 1, TOL])
def test_start_within_tolerance_is_snapped_to_tail_end(offset: int) -> None:
    tail = tail_run()
    plan = plan_append(tail, new(tail.end_us + offset, NOM, encseq=3), nominal_us=NOM)
    (run,) = plan.runs
    assert (plan.replaces_tail, run.count, run.end_us) == (True, 4, tail.end_us + NOM)
    assert run.segment(103).start_us == tail.end_us


@pytest.mark.parametrize("offset", [-TOL - 1, -2 * US, -HOUR_US])
def test_time_going_backwards_is_clamped_with_discontinuity(offset: int) -> None:
    tail = tail_run()
    plan = plan_append(tail, new(tail.end_us + offset, NOM, encseq=3), nominal_us=NOM)
    (run,) = plan.runs
    assert (plan.replaces_tail, run.first_seq, run.start_us, run.gap) == (False, 103, tail.end_us, False)
    assert (run.discontinuity, run.disc_count) == (True, 5)


def test_gap_run_spanning_an_hour_is_not_varied() -> None:
    tail = tail_run(start_us=T0 - 9 * US)  # ends at T0 - 3 s
    full, rest, real = plan_append(tail, new(T0 + 4_300_000, NOM, encseq=3), nominal_us=NOM).runs
    assert full.uniform and rest.uniform and full.gap and rest.gap
    assert (full.count, full.duration_us, rest.count, rest.duration_us) == (3, NOM, 1, 1_300_000)
    assert rest.end_us == real.start_us == T0 + 4_300_000


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_randomized_appends_keep_timeline_consistent(seed: int) -> None:
    rng = random.Random(seed)
    tl, expected = Timeline(), []
    session, encseq, inits, end = 1, 0, dict(INITS), None
    for i in range(5000):
        r = rng.random()
        if r < 0.01:
            session, encseq = session + 1, rng.randint(0, 1000)
        elif r < 0.02:
            inits = {"cmaf/360p": f"i{i}"}
        elif r < 0.025:
            encseq += rng.randint(1, 3)
        dur = NOM if rng.random() < 0.6 else rng.randint(1_500_000, 2_500_000)
        r = rng.random()
        if end is None:
            start = T0 - HOUR_US // 2
        elif r < 0.02:
            start = end + rng.randint(TOL + 1, 20 * US)
        elif r < 0.03:
            start = end - rng.randint(TOL + 1, 10 * US)
        else:
            start = end + rng.randint(-TOL, TOL)
        plan = tl.append(NewSegment(start, dur, session, encseq, dict(inits), rng.random() < 0.005))
        eff = start if end is None or start - end > TOL else end
        expected.append((plan.seq, eff, dur, encseq))
        end, encseq = eff + dur, encseq + 1

    runs, segs = tl.runs, tl.segments()
    assert runs[0].first_seq == 0 and [s.seq for s in segs] == list(range(len(segs)))
    for prev, run in zip(runs, runs[1:]):
        assert run.first_seq == prev.last_seq + 1
        assert run.start_us == prev.end_us  # holes are filled by gap runs
        assert run.disc_count == prev.disc_count + int(run.discontinuity)
        if prev.gap and not run.gap:
            assert run.discontinuity
        if prev.gap and run.gap:  # full gap slots, then the shorter remainder
            assert prev.duration_us == NOM and run.count == 1 and run.duration_us < NOM
    for run in runs:
        assert run.end_us == run.start_us + sum(run.duration_list())
        if run.gap:
            assert all(d == NOM for d in run.duration_list()[:-1]) and 0 < run.duration_list()[-1] <= NOM
        elif not run.uniform:
            assert len({s.start_us // HOUR_US for s in run.segments()}) == 1
    real = [s for s in segs if not s.gap]
    assert [(s.seq, s.start_us, s.duration_us, s.seq - s.run.enc_offset) for s in real] == expected
    assert segs[-1].end_us == end

    for _ in range(100):
        a = rng.randint(runs[0].start_us - 10 * US, end + 10 * US)
        b = a + rng.randint(1, 120 * US)
        assert [s.seq for s in segments_in(runs, a, b)] == [s.seq for s in segs if s.start_us < b and s.end_us > a]
    for span in (0, 1, NOM, 60 * US, 3600 * US):
        got = last_segments(runs, span, min_count=3)
        assert [s.seq for s in got] == [s.seq for s in segs[-len(got):]]
        assert sum(s.duration_us for s in got) >= span and len(got) >= 3
        assert len(got) == 3 or sum(s.duration_us for s in got[1:]) < span


def fixed_runs() -> list:
    """seq 0-2 uniform 2 s; 3-5 varied 1.5/2.5/2; 6-7 gap 2/2 and 8 gap 1; 9-10 uniform 2 s."""
    tl = Timeline()
    tl.feed(T0, [NOM] * 3)
    for i, d in enumerate([1_500_000, 2_500_000, NOM]):
        tl.append(new(T0 + [6, 7.5, 10][i] * US, d, session=2, encseq=i))
    tl.append(new(T0 + 17 * US, NOM, session=3, encseq=0))
    tl.append(new(T0 + 19 * US, NOM, session=3, encseq=1))
    assert tl.layout() == [(0, T0, [NOM] * 3), (3, T0 + 6 * US, [1_500_000, 2_500_000, NOM]),
                           (6, T0 + 12 * US, [NOM, NOM]), (8, T0 + 16 * US, [US]),
                           (9, T0 + 17 * US, [NOM, NOM])]
    return tl.runs


@pytest.mark.parametrize(("a", "b", "seqs"), [
    (-10, 0, []),  # before everything
    (-10, 0.001, [0]),
    (0, 6, [0, 1, 2]),  # exactly one run
    (6, 12, [3, 4, 5]),
    (5.999, 6.001, [2, 3]),  # straddling a run boundary
    (7.5, 7.6, [4]),
    (7.4, 10, [3, 4]),
    (11, 17, [5, 6, 7, 8]),
    (16.5, 17.5, [8, 9]),
    (12, 21, [6, 7, 8, 9, 10]),
    (20.999, 30, [10]),
    (21, 30, []),  # after everything
    (-100, 100, list(range(11))),
])
def test_segments_in_windows(a: float, b: float, seqs: list[int]) -> None:
    assert [s.seq for s in segments_in(fixed_runs(), T0 + round(a * US), T0 + round(b * US))] == seqs


@pytest.mark.parametrize(("span", "min_count", "seqs"), [
    (0, 3, [8, 9, 10]),
    (4 * US, 1, [9, 10]),
    (4 * US + 1, 1, [8, 9, 10]),
    (9 * US, 1, [6, 7, 8, 9, 10]),
    (10 * US, 1, [5, 6, 7, 8, 9, 10]),
    (2 * US, 3, [8, 9, 10]),
    (0, 20, list(range(11))),
    (1000 * US, 3, list(range(11))),
])
def test_last_segments(span: int, min_count: int, seqs: list[int]) -> None:
    got = last_segments(fixed_runs(), span, min_count=min_count)
    assert [s.seq for s in got] == seqs
    assert [s.start_us for s in got] == [s.start_us for s in segments_in(fixed_runs(), got[0].start_us, T0 + 21 * US)]


@pytest.mark.parametrize(("after_end_us", "count"), [
    (0, 0), (3 * US, 0), (5 * US - 1, 0), (5 * US, 1), (7 * US - 1, 1), (7 * US, 2), (24 * US + 500_000, 10),
])
def test_live_gaps(after_end_us: int, count: int) -> None:
    tail = fixed_runs()[-1]
    gaps = live_gaps(tail, now_us=tail.end_us + after_end_us, nominal_us=NOM, hold_us=3 * US)
    assert [(s.seq, s.start_us, s.duration_us) for s in gaps] == [
        (11 + k, tail.end_us + k * NOM, NOM) for k in range(count)]
    # The live edge's gap entries open a discontinuity, as the stored outage will (plan_append).
    assert all(s.gap and s.discontinuity == (k == 0) and s.disc_count == tail.disc_count + 1
               for k, s in enumerate(gaps))


@pytest.mark.parametrize("published_after_end", [0, 1_000_000, 7_000_000])
def test_live_gaps_valid_until_is_exactly_the_next_change(published_after_end: int) -> None:

    tail = make_run(first_seq=10, start_us=T0, count=5, duration_us=NOM)
    published = tail.end_us + published_after_end
    kw = {"nominal_us": NOM, "hold_us": 5 * US, "last_publish_us": published}
    now = tail.end_us
    changes = 0
    while now < tail.end_us + 40 * US:
        count = live_gap_count(tail, now_us=now, **kw)
        until = live_gaps_valid_until(tail, count, **kw)
        assert until > now
        assert live_gap_count(tail, now_us=until - 1, **kw) == count
        assert live_gap_count(tail, now_us=until, **kw) != count
        now, changes = until, changes + 1
    assert changes >= 10
