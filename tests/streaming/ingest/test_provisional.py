"""Publishing while the database is away: from memory, over the bus, caught up from the journal.

The real outage (PostgreSQL killed and frozen) is in tests/faults; here the ingest process is told
the database is away, which is what it acts on, so the machinery is checked in every pass.
"""

from __future__ import annotations

import re
import threading
import time

import pytest

from infra.db import DatabaseUnavailable
from streaming.ingest import service as ingest_service
from streaming.ingest.provisional import ProvisionalChannel, journal_key, provisional
from streaming.ingest.service import INGEST_DB_TIMEOUT_S
from streaming.ingest.state import ChannelIngest, PendingEntry, TrackIngest
from streaming.timeline import service
from streaming.timeline.runs import make_run, pack_durations
from tests.streaming.ingest.test_ingest import Pusher
from tests.support.outages import service_away
from tests.support.waiting import wait_for

pytestmark = pytest.mark.ffmpeg


def test_a_journal_reads_back_what_was_written() -> None:
    track = TrackIngest("cmaf/360p", 2, 41, "abc", False, [[42, 1920000, None, False]],
                        [PendingEntry(2, 41, 1000, "abc", 5, 1920000, None, False)], 900000, 800000,
                        {1: [12800, 512, "vide"]})
    chan = ChannelIngest("ch", 2, 7, 123, {"cmaf/360p": track}, packager_epoch=3)
    uniform = make_run(first_seq=10, start_us=1_000_000, count=5, duration_us=1_920_000, session=2, enc_offset=-30,
                       inits={"cmaf/360p": "abc"})
    varied = make_run(first_seq=15, start_us=uniform.end_us, count=2, durations=pack_durations([1_900_000, 1_950_000]),
                      discontinuity=True, disc_count=1)
    carried = ProvisionalChannel(chan, varied, 5, 10, {10: uniform, 15: varied}, [(16, "cmaf/240p")])
    again = ProvisionalChannel.from_journal(carried.journal())
    assert again.runs == carried.runs and again.tail == varied and again.holes == [(16, "cmaf/240p")]
    assert list(again.runs[15].duration_list()) == [1_900_000, 1_950_000]
    assert again.chan == chan and (again.base_version, again.replace_first_seq) == (5, 10)


def _last_seq(text: str) -> int:
    return max(int(s) for s in re.findall(r"360p/(\d+)\.m4s", text))


def _pushing(http, make_channel, sample_hls) -> tuple[Pusher, str]:  # noqa: ANN001
    """Return a pusher on a new channel that has published its first segment, and the channel's id."""
    pusher = Pusher(http, make_channel(), sample_hls)
    pusher.init()
    pusher.segment(0)
    return pusher, pusher.channel["id"]


def test_segments_publish_from_memory_while_the_database_is_away_and_the_index_catches_up(
        http, rt, make_channel, sample_hls, monkeypatch) -> None:  # noqa: ANN001
    pusher, cid = _pushing(http, make_channel, sample_hls)
    pusher.segment(1)
    assert _last_seq(http.playlist(f"/live/{cid}/cmaf/360p.m3u8").text) == 1  # a player is watching
    with rt.db.session(write=False) as s:
        before = service.timeline_version(db_session=s, channel_id=cid)[0]
    service_away(monkeypatch, rt, "database")
    pusher.segment(2)
    pusher.segment(3)
    timelines = provisional(rt)
    assert timelines.carrying(cid)
    # Players see them at once: the origin took the runs from the bus.
    text = wait_for(lambda: (t := http.playlist(f"/live/{cid}/cmaf/360p.m3u8").text) and _last_seq(t) == 3 and t,
                    5, "segment 3 in the live playlist")
    assert "#EXT-X-GAP" not in text
    assert http.get(f"/live/{cid}/cmaf/240p/3.m4s").status_code == 200
    with rt.db.session(write=False) as s:  # the index has not moved, the journal says what happened
        assert service.timeline_version(db_session=s, channel_id=cid)[0] == before
    assert ProvisionalChannel.from_journal(rt.store.get(journal_key(cid)).data).chan.version == before + 2
    monkeypatch.undo()  # the database is back
    wait_for(lambda: not timelines.carrying(cid), 10, "the index to catch up")
    with rt.db.session(write=False) as s:
        assert service.timeline_version(db_session=s, channel_id=cid)[0] == before + 2
        runs = service.runs_from_seq(db_session=s, channel_id=cid, first_seq=0)
    assert [r.last_seq for r in runs][-1] == 3 and not any(r.gap for r in runs)
    assert not rt.store.exists(journal_key(cid))
    pusher.segment(4)  # and ingest goes on in the database
    wait_for(lambda: _last_seq(http.playlist(f"/live/{cid}/cmaf/360p.m3u8").text) == 4, 5, "segment 4 live")
    with rt.db.session(write=False) as s:
        assert service.tail_run(db_session=s, channel_id=cid).last_seq == 4


def test_a_process_that_does_not_hold_the_newest_state_refuses_rather_than_forks_the_timeline(
        http, rt, make_channel, sample_hls, monkeypatch) -> None:  # noqa: ANN001
    pusher, cid = _pushing(http, make_channel, sample_hls)
    timelines = provisional(rt)
    timelines.newest[cid] = 10**9  # another process published a newer version meanwhile
    service_away(monkeypatch, rt, "database")
    resp = pusher.put("360p", "seg_1.m4s")
    assert (resp.status_code, resp.json()["error"]["code"]) == (503, "DATABASE_UNAVAILABLE")
    assert resp.headers["retry-after"]
    assert not timelines.carrying(cid)


def test_a_database_that_fails_again_right_after_the_catch_up_leaves_ingest_in_memory_not_stuck(
        http, rt, make_channel, sample_hls, monkeypatch) -> None:  # noqa: ANN001
    pusher, cid = _pushing(http, make_channel, sample_hls)
    timelines = provisional(rt)
    monkeypatch.setattr(timelines, "catch_up_all", lambda: None)  # the next ingest call catches up
    with monkeypatch.context() as away:
        service_away(away, rt, "database")
        pusher.segment(1)
    assert timelines.carrying(cid)
    # The database answers the catch-up, then drops the ingest transaction right after it.
    session, dropped = rt.db.session, []

    def flaky(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if kwargs.get("timeout_s") == INGEST_DB_TIMEOUT_S and kwargs.get("write", True) and not dropped:
            dropped.append(True)
            raise DatabaseUnavailable("database unavailable, retry")
        return session(*args, **kwargs)

    monkeypatch.setattr(rt.db, "session", flaky)
    # A thread that may not come back (it used to wait for ever on its own lock) must not keep
    # the test process from exiting: a daemon.
    call = threading.Thread(target=ingest_service.publish_due, args=(rt, cid, time.time_ns() // 1000), daemon=True)
    call.start()
    call.join(10)
    assert not call.is_alive(), "ingest stuck on the channel's lock"
    assert dropped and timelines.carrying(cid)  # caught up, then carried again from memory
    with rt.db.session(write=False) as s:
        assert service.tail_run(db_session=s, channel_id=cid).last_seq == 1
