"""While storage is away, pushed segments wait in the ingest spool, play from it, and are uploaded later."""

from __future__ import annotations

import pytest

from infra.storage import LocalObjectStore, S3ObjectStore
from streaming.ingest.spool import SegmentSpool, segment_spool
from streaming.timeline import service
from tests.streaming.ingest.test_ingest import Pusher
from tests.support.waiting import wait_for

pytestmark = pytest.mark.ffmpeg


def _broken_store(rt, tmp_path):  # noqa: ANN001, ANN202
    healthy = rt.store
    if isinstance(healthy, S3ObjectStore):
        return S3ObjectStore(healthy.bucket, endpoint_url="http://127.0.0.1:9", timeout_s=0.5)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    broken = LocalObjectStore(tmp_path / "spare")
    broken.root = blocker / "objects"  # writing under a file fails like a dead disk
    return broken


def test_segments_pushed_while_storage_is_away_play_from_the_spool_and_reach_storage_later(
        http, rt, make_channel, sample_hls, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    pusher = Pusher(http, make_channel(), sample_hls)
    pusher.init()
    pusher.segment(0)
    cid = pusher.channel["id"]
    healthy = rt.store
    monkeypatch.setattr(rt, "store", _broken_store(rt, tmp_path))
    pusher.segment(1)  # accepted: 200, not 503
    pusher.segment(2)
    spool = segment_spool(rt)
    keys = [service.segment_key(cid, f"cmaf/{r}", 1, n) for n in (1, 2) for r in ("360p", "240p")]
    assert all(spool.holds(k) for k in keys)
    text = http.playlist(f"/live/{cid}/cmaf/360p.m3u8").text
    assert "360p/1.m4s" in text and "360p/2.m4s" in text and "#EXT-X-GAP" not in text
    served = http.get(f"/live/{cid}/cmaf/360p/2.m4s")
    assert served.status_code == 200 and served.content == (sample_hls / "360p" / "seg_2.m4s").read_bytes()
    monkeypatch.setattr(rt, "store", healthy)  # storage is back
    wait_for(lambda: not any(spool.holds(k) for k in keys), 15, "the spool to be uploaded")
    assert all(healthy.exists(k) for k in keys)
    assert healthy.get(keys[2]).data == (sample_hls / "360p" / "seg_2.m4s").read_bytes()
    assert http.get(f"/live/{cid}/cmaf/240p/1.m4s").status_code == 200


def test_the_spool_is_bounded_and_a_restart_uploads_what_it_left(rt, tmp_path) -> None:  # noqa: ANN001
    spool = SegmentSpool(rt, tmp_path / "spool", max_bytes=10)
    spool.put("live/ch/cmaf/360p/1/0/1.m4s", b"12345")
    spool.put("live/ch/cmaf/360p/1/0/2.m4s", b"67890")
    with pytest.raises(Exception) as refused:
        spool.put("live/ch/cmaf/360p/1/0/3.m4s", b"x")
    assert getattr(refused.value, "status", None) == 503
    assert spool.used == 10
    again = SegmentSpool(rt, tmp_path / "spool", max_bytes=10)  # a new process on the same disk
    assert len(again) == 2 and again.get("live/ch/cmaf/360p/1/0/2.m4s") == b"67890"
    spool.discard(["live/ch/cmaf/360p/1/0/1.m4s"])
    assert spool.get("live/ch/cmaf/360p/1/0/1.m4s") is None and spool.used == 5
