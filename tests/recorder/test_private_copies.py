"""Private copies: a channel whose rights ask for them gives each recording a copy of its own."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import urlsplit

import m3u8
import pytest
from sqlalchemy import select

from recorder import jobs as recorder_jobs
from recorder import service
from recorder.models import Recording, StoredCopy
from streaming.copies import service as copies
from streaming.timeline.models import TimelinePin
from streaming.timeline.retention import purge
from streaming.timeline.runs import make_run
from tests.entitlements.conftest import bearer, login
from tests.recorder.conftest import fill_archive
from tests.recorder.test_recording_playback import play, record
from tests.support.ffmpeg import pushed_channel
from tests.support.waiting import wait_for

S = 1_000_000


def test_a_copy_index_reads_back_as_it_was_written() -> None:
    runs = [make_run(first_seq=0, start_us=10 * S, count=3, duration_us=2 * S),
            make_run(first_seq=3, start_us=16 * S, count=2, durations=bytes([0, 30, 132, 128, 0, 29, 0, 0]),
                     discontinuity=True, disc_count=1, session=2, enc_offset=3, inits={"cmaf/360p": "ab" * 8})]
    holes = {(4, "cmaf/240p")}
    assert copies.decode_index(copies.encode_index(runs, holes)) == (runs, holes)


def _copy_of(rt, recording_id: str) -> StoredCopy:  # noqa: ANN001
    with rt.db.session(write=False) as s:
        rec = s.get(Recording, recording_id)
        copy = s.get(StoredCopy, rec.copy_id) if rec.copy_id else None
        s.expunge_all()
        return copy


def _viewer(http, make_package, make_subscriber, channel_id: str) -> dict:  # noqa: ANN001
    package = make_package(channels=[channel_id], recording_hours=2)
    return bearer(login(http, make_subscriber(packages=[package["code"]])["customer_number"]).json())


@pytest.mark.ffmpeg
def test_each_recording_plays_from_its_own_copy_which_goes_with_it(  # noqa: ANN001
        http, admin, rt, server, make_package, make_subscriber) -> None:
    with pushed_channel(http, admin, server, "prv", segments=7, timeout_s=60) as cid:
        assert http.put(f"/v1/admin/channels/{cid}/rights", headers=admin,
                        json={"recording_copy": "private"}).json()["recording_copy"] == "private"
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        span = {"channel_id": cid, "start": (now - dt.timedelta(seconds=12)).isoformat(),
                "end": (now - dt.timedelta(seconds=2)).isoformat()}
        viewers = [_viewer(http, make_package, make_subscriber, cid) for _ in range(2)]
        recs = [record(http, v, **span).json() for v in viewers]
        with rt.db.session() as s:
            for rec in recs:
                assert service.finalize(rt, db_session=s, recording_id=rec["id"], now=now + dt.timedelta(minutes=1)) \
                    == "completed"
        made = [_copy_of(rt, rec["id"]) for rec in recs]
        assert made[0].id != made[1].id and {c.private_for for c in made} == {r["id"] for r in recs}
        for copy in made:
            recorder_jobs.make_private_copy(rt, copy.id)
        made = [_copy_of(rt, rec["id"]) for rec in recs]
        assert all(c.copied_at is not None and c.bytes > 0 for c in made)
        with rt.db.session(write=False) as s:  # the archive is no longer held for them
            assert not s.scalars(select(TimelinePin).where(TimelinePin.owner.in_([f"copy:{c.id}" for c in made]))).all()

        # The first subscriber plays from their copy: every object the playlists name is under it.
        url = play(http, viewers[0], recs[0]["id"]).json()["url"]
        assert f"/copy-{made[0].id}/" in url
        media = urlsplit(url).path.replace("master.m3u8", "360p.m3u8")
        playlist = m3u8.loads(http.playlist(media, resolve=True).text)
        assert playlist.is_endlist and abs(sum(seg.duration for seg in playlist.segments) - 10) <= 2
        stored = set(rt.store.list(copies.copy_prefix(made[0].id)))
        assert copies.index_key(made[0].id) in stored
        assert len([k for k in stored if k.endswith(".m4s")]) >= 2 * len(playlist.segments)  # 360p and 240p
        # Another subscriber's token does not open this copy.
        other = urlsplit(play(http, viewers[1], recs[1]["id"]).json()["url"]).path
        token = other.split("/")[2]
        assert http.get(f"/p/{token}/{urlsplit(url).path.split('/', 3)[3]}").status_code in (403, 404)
        # The archive may now purge the originals: the copies play on from their own objects.
        purge(rt, now_us=int((time.time() + 40 * 86400) * S), channel_ids=[cid])
        again = urlsplit(play(http, viewers[1], recs[1]["id"]).json()["url"]).path
        assert m3u8.loads(http.playlist(again.replace("master.m3u8", "240p.m3u8"), resolve=True).text).is_endlist

        # Deleting the recording frees its quota at once and its copy's storage by the job.
        assert http.delete(f"/v1/me/recordings/{recs[0]['id']}", headers=viewers[0]).status_code == 204
        assert _copy_of(rt, recs[0]["id"]) is None
        recorder_jobs.reconcile_recordings(rt)
        wait_for(lambda: not list(rt.store.list(copies.copy_prefix(made[0].id))), 10, "the copy's objects deleted")
        with rt.db.session(write=False) as s:
            assert s.get(StoredCopy, made[0].id) is None
            assert s.get(StoredCopy, made[1].id) is not None
        assert list(rt.store.list(copies.copy_prefix(made[1].id)))


def test_a_private_copy_holds_the_archive_until_it_is_made(http, admin, rt, make_channel,  # noqa: ANN001
                                                                   make_package, make_subscriber) -> None:
    cid = make_channel()["id"]
    assert http.put(f"/v1/admin/channels/{cid}/rights", headers=admin, json={"recording_copy": "private"}).status_code \
        == 200
    viewer = _viewer(http, make_package, make_subscriber, cid)
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
    rec = record(http, viewer, channel_id=cid, start=start.isoformat(),
                 end=(start + dt.timedelta(minutes=30)).isoformat()).json()
    copy = _copy_of(rt, rec["id"])
    assert copy.private_for == rec["id"] and copy.copied_at is None
    with rt.db.session(write=False) as s:
        pin = s.get(TimelinePin, (f"copy:{copy.id}", cid))
        assert (pin.start_us, pin.end_us) == service.window_us(s.get(Recording, rec["id"]))
    # Nothing to copy before the recording finishes.
    with rt.db.session(write=False) as s:
        assert copy.id not in service.copies_to_make(db_session=s)


def test_a_copy_its_recording_left_while_it_was_being_made_leaves_nothing(  # noqa: ANN001
        http, admin, rt, make_channel, make_package, make_subscriber, monkeypatch) -> None:
    # The test server's own periodic pass is kept off copies here: the order of steps is the test's.
    monkeypatch.setattr(service, "copies_to_make", lambda **_: [])
    cid = make_channel()["id"]
    assert http.put(f"/v1/admin/channels/{cid}/rights", headers=admin, json={"recording_copy": "private"}).status_code \
        == 200
    t0 = (int(time.time()) - 120) * S
    fill_archive(rt, cid, t0, 10)
    viewer = _viewer(http, make_package, make_subscriber, cid)
    at = lambda us: dt.datetime.fromtimestamp(us / S, dt.UTC).isoformat()  # noqa: E731
    rec = record(http, viewer, channel_id=cid, start=at(t0 + 2 * S), end=at(t0 + 16 * S)).json()
    with rt.db.session() as s:
        assert service.finalize(rt, db_session=s, recording_id=rec["id"], now=dt.datetime.now(dt.UTC)) == "completed"
    copy_id = _copy_of(rt, rec["id"]).id
    make_copy = copies.make_copy

    def deleted_meanwhile(rt_, **kwargs) -> int:  # noqa: ANN001, ANN003
        # The subscriber deletes the recording, and a reconcile pass deletes the released copy
        # (nothing stored yet) and its row, before this job copies anything.
        assert http.delete(f"/v1/me/recordings/{rec['id']}", headers=viewer).status_code == 204
        recorder_jobs.reconcile_recordings(rt_)
        return make_copy(rt_, **kwargs)

    monkeypatch.setattr(copies, "make_copy", deleted_meanwhile)
    assert recorder_jobs.make_private_copy(rt, copy_id) == 0
    assert list(rt.store.list(copies.copy_prefix(copy_id))) == []
    with rt.db.session(write=False) as s:
        assert s.get(StoredCopy, copy_id) is None
        assert s.get(TimelinePin, (f"copy:{copy_id}", cid)) is None
