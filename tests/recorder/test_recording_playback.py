"""Recordings finish by the job (completed, partial with its gaps, failed) and play through the door."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import urlsplit

import m3u8
import pytest

from infra.notify import outbox
from recorder import service
from recorder.models import Recording, StoredCopy
from streaming.timeline import service as streaming_service
from streaming.timeline.runs import make_run
from tests.entitlements.conftest import bearer, login
from tests.support.ffmpeg import pushed_channel
from tests.support.waiting import wait_for

S = 1_000_000
SEGMENT_S = 1.92


def record(http, viewer, **body):  # noqa: ANN001, ANN003, ANN201
    return http.post("/v1/me/recordings", headers=viewer, json={"pad_before_s": 0, "pad_after_s": 0, **body})


def play(http, viewer, recording_id: str):  # noqa: ANN001, ANN201
    return http.post("/v1/playback", headers=viewer,
                     json={"content": {"type": "recording", "id": recording_id}, "mode": "recording"})


@pytest.mark.ffmpeg
def test_a_recording_plays_while_recording_and_in_full_right_after_it_ends(  # noqa: ANN001
        http, admin, server, billing, make_package, make_subscriber) -> None:
    with pushed_channel(http, admin, server, "rec", segments=4) as cid:
        package = make_package(channels=[cid], recording_hours=2)
        sub = make_subscriber(packages=[package["code"]])
        viewer = bearer(login(http, sub["customer_number"]).json())
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        end = now + dt.timedelta(seconds=6)
        rec = record(http, viewer, channel_id=cid, start=(now - dt.timedelta(seconds=6)).isoformat(),
                     end=end.isoformat())
        assert rec.status_code == 201 and rec.json()["state"] == "recording", rec.text
        started = play(http, viewer, rec.json()["id"])
        assert started.status_code == 200, started.text
        media = urlsplit(started.json()["url"]).path.replace("master.m3u8", "360p.m3u8")
        first = m3u8.loads(http.playlist(media).text)
        assert first.playlist_type == "event" and not first.is_endlist
        while dt.datetime.now(dt.UTC) < end:
            time.sleep(0.05)
        whole = wait_for(lambda: (lambda t: t if "#EXT-X-ENDLIST" in t else None)(http.playlist(media).text), 15,
                         "the recording complete")
        in_full_after = (dt.datetime.now(dt.UTC) - end).total_seconds()
        assert in_full_after <= 2 * SEGMENT_S, in_full_after
        assert abs(sum(s.duration for s in m3u8.loads(whole).segments) - 12) <= SEGMENT_S
        done = wait_for(lambda: (lambda r: r if r["state"] != "recording" else None)(
            http.get(f"/v1/me/recordings/{rec.json()['id']}", headers=viewer).json()), 30, "the job to finish it")
        assert done["state"] == "completed" and done["gaps"] == [], done
        vod = m3u8.loads(http.playlist(urlsplit(play(http, viewer, done["id"]).json()["url"]).path
                                       .replace("master.m3u8", "360p.m3u8"), resolve=True).text)
        assert vod.playlist_type == "vod" and vod.is_endlist
        # The package dropped: the recording stays, playing it is refused.
        number = sub["customer_number"]
        assert billing.send("PUT", f"/v1/billing/subscribers/{number}/packages", {"packages": []}).status_code == 200
        refused = play(http, viewer, done["id"])
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "NOT_ENTITLED"
        assert http.get(f"/v1/me/recordings/{done['id']}", headers=viewer).status_code == 200


def test_finishing_says_partial_with_its_gaps_or_failed(http, rt, make_channel, make_package, make_subscriber) -> None:  # noqa: ANN001
    cid = make_channel(timeshift_window_s=60)["id"]
    t0 = (int(time.time()) // 60 * 60 - 3600) * S
    a = make_run(first_seq=0, start_us=t0, count=10, duration_us=2 * S)
    gap = make_run(first_seq=10, start_us=a.end_us, count=5, duration_us=2 * S, gap=True)
    b = make_run(first_seq=15, start_us=gap.end_us, count=10, duration_us=2 * S, discontinuity=True, disc_count=1)
    with rt.db.session() as s:
        streaming_service.write_runs(db_session=s, channel_id=cid, runs=[a, gap, b])
    viewer = bearer(login(http, make_subscriber(packages=[make_package(channels=[cid], recording_hours=1)["code"]])
                          ["customer_number"]).json())
    at = lambda us: dt.datetime.fromtimestamp(us / S, dt.UTC).isoformat()  # noqa: E731
    partial = record(http, viewer, channel_id=cid, start=at(t0 + 4 * S), end=at(t0 + 44 * S)).json()
    nothing = record(http, viewer, channel_id=cid, start=at(t0 + 120 * S), end=at(t0 + 180 * S)).json()
    now = dt.datetime.now(dt.UTC)
    with rt.db.session() as s:
        empty_copy = s.get(Recording, nothing["id"]).copy_id
        assert service.finalize(rt, db_session=s, recording_id=partial["id"], now=now) == "partial"
        assert service.finalize(rt, db_session=s, recording_id=nothing["id"], now=now) == "failed"
        assert service.finalize(rt, db_session=s, recording_id=partial["id"], now=now) == "partial"  # idempotent
    with rt.db.session(write=False) as s:  # a failed recording holds no copy, so no pin on the archive
        assert s.get(Recording, nothing["id"]).copy_id is None
        assert s.get(StoredCopy, empty_copy) is None
    got = http.get(f"/v1/me/recordings/{partial['id']}", headers=viewer).json()
    gap_start, gap_end = (dt.datetime.fromisoformat(x).timestamp() for x in got["gaps"][0])
    assert (gap_start, gap_end) == (t0 / S + 20, t0 / S + 30), got["gaps"]

    with rt.db.session(write=False) as s:
        events = {(m.kind, m.payload["recording_id"], m.payload["state"]) for m in outbox(db_session=s)
                  if m.kind.startswith("recording.")}
    assert {("recording.completed", partial["id"], "partial"), ("recording.failed", nothing["id"], "failed")} <= events
    assert len([e for e in events if e[1] == partial["id"]]) == 1, "finishing twice announced once"
    failed = http.get(f"/v1/me/recordings/{nothing['id']}", headers=viewer).json()
    assert failed["state"] == "failed" and "off the air" in failed["failure_reason"]
    refused = play(http, viewer, nothing["id"])
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "NOT_RECORDED"
    playlist = http.playlist(urlsplit(play(http, viewer, partial["id"]).json()["url"]).path
                             .replace("master.m3u8", "360p.m3u8")).text
    assert playlist.count("#EXT-X-GAP") == 5 and "#EXT-X-DISCONTINUITY\n" in playlist
