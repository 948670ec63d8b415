"""Retention: expired segments go (objects, then rows), pinned ranges stay, recent ones stay."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from streaming.timeline import service
from streaming.timeline.models import SegmentRun
from streaming.timeline.retention import purge
from streaming.timeline.runs import cut_run, expired_ranges, make_run, pack_durations
from streaming.timeline.service import pin_range, unpin

S = 1_000_000
D = 2 * S


def uniform(first: int = 0, start: int = 0, count: int = 10):  # noqa: ANN201
    return make_run(first_seq=first, start_us=start, count=count, duration_us=D)


@pytest.mark.parametrize("cutoff, pins, expected", [
    (0, [], []),
    (7 * S, [], [(0, 3)]),  # segments ending at 2, 4, 6 s
    (100 * S, [], [(0, 10)]),
    (100 * S, [(5 * S, 9 * S)], [(0, 2), (5, 10)]),  # the pin touches segments 2, 3 and 4
    (100 * S, [(0, 100 * S)], []),
    (100 * S, [(50 * S, 60 * S)], [(0, 10)]),  # a pin elsewhere
    (8 * S, [(1 * S, 3 * S)], [(2, 4)]),
])
def test_expired_ranges_of_a_uniform_run(cutoff: int, pins: list, expected: list) -> None:
    assert expired_ranges(uniform(), cutoff, pins) == expected


def test_expired_ranges_of_a_varied_run_and_what_is_left() -> None:
    run = make_run(first_seq=100, start_us=0, count=4, durations=pack_durations([1 * S, 2 * S, 3 * S, 4 * S]))
    drop = expired_ranges(run, 6 * S, [(1 * S, 2 * S)])  # segment 1 (1..3 s) is pinned
    assert drop == [(0, 1), (2, 3)]
    pieces = cut_run(run, drop)
    assert [(p.first_seq, p.start_us, p.count, p.end_us) for p in pieces] == [(101, 1 * S, 1, 3 * S),
                                                                              (103, 6 * S, 1, 10 * S)]
    assert [s.duration_us for p in pieces for s in p.segments()] == [2 * S, 4 * S]


def test_cutting_keeps_the_discontinuity_count_and_drops_the_flag_with_its_segment() -> None:
    run = make_run(first_seq=0, start_us=0, count=5, duration_us=D, discontinuity=True, disc_count=3)
    [rest] = cut_run(run, [(0, 2)])
    assert (rest.first_seq, rest.start_us, rest.count, rest.discontinuity, rest.disc_count) == (2, 4 * S, 3, False, 3)
    assert cut_run(run, [(0, 5)]) == []


def test_a_purge_deletes_expired_objects_keeps_pins_and_recent_ones(rt, make_channel) -> None:  # noqa: ANN001
    channel = make_channel(timeshift_window_s=60, archive_days=0)
    cid = channel["id"]
    with rt.db.session(write=False) as s:
        tracks = service.channel_spec(db_session=s, channel_id=cid).tracks
    t0 = 1_700_000_000 * S
    old, recent = uniform(0, t0, 30), uniform(30, t0 + 60 * S, 30)  # 0..60 s and 60..120 s
    with rt.db.session() as s:
        service.write_runs(db_session=s, channel_id=cid, runs=[old, recent])
        pin_range(db_session=s, owner="recording:test", channel_id=cid, start_us=t0 + 20 * S, end_us=t0 + 30 * S)
    keys = {seq: [service.segment_key(cid, t, 0, seq) for t in tracks] for seq in range(60)}
    for seq_keys in keys.values():
        for key in seq_keys:
            rt.store.put(key, b"segment")
    now = t0 + 125 * S  # keeps 60 s: everything that ended by 65 s may go, but the pin
    report = purge(rt, now_us=now, channel_ids=[cid])
    gone = {seq for seq, ks in keys.items() if not any(rt.store.exists(k) for k in ks)}
    assert gone == set(range(0, 10)) | set(range(15, 32)), sorted(gone)
    assert report.segments == 27 and report.objects == 27 * len(tracks) and report.store_requests >= 1
    with rt.db.session(write=False) as s:
        runs = [(r.first_seq, r.count) for r in s.scalars(
            select(SegmentRun).where(SegmentRun.channel_id == cid).order_by(SegmentRun.first_seq))]
    assert runs == [(10, 5), (32, 28)]
    assert purge(rt, now_us=now, channel_ids=[cid]).segments == 0  # idempotent
    with rt.db.session() as s:
        unpin(db_session=s, owner="recording:test")
    assert purge(rt, now_us=now, channel_ids=[cid]).segments == 5
    assert not any(rt.store.exists(k) for seq in range(10, 15) for k in keys[seq])
