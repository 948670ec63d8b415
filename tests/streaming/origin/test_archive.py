"""The origin's archive: old segments through window URLs only, runs found from the index."""

from __future__ import annotations

import time

from streaming.timeline import service
from streaming.timeline.runs import make_run

S = 1_000_000


def test_a_live_url_does_not_reach_the_archive_but_a_window_url_does(http, rt, make_channel) -> None:  # noqa: ANN001
    cid = make_channel(timeshift_window_s=60)["id"]
    day_ago = (int(time.time()) - 86400) * S
    # The channel's first run (sequence 0), a day old: only the index has it.
    run = make_run(first_seq=0, start_us=day_ago, count=30, duration_us=2 * S, inits={"cmaf/360p": "a" * 16})
    with rt.db.session() as s:
        service.write_runs(db_session=s, channel_id=cid, runs=[run])
    rt.store.put(service.segment_key(cid, "cmaf/360p", 0, 5), b"old segment")
    live = http.get(f"/live/{cid}/cmaf/360p/5.m4s")
    assert live.status_code == 404 and "older than this playback's window" in live.json()["error"]["message"]
    ws = day_ago // S
    window = f"/window/{cid}/{ws}/{ws + 60}/vod-0/cmaf/360p"
    assert http.get(f"{window}/5.m4s").content == b"old segment"
    assert http.get(f"{window}/40.m4s").status_code == 404  # outside the index
    outside = f"/window/{cid}/{ws + 20}/{ws + 30}/vod-0/cmaf/360p/5.m4s"  # segment 5 is at 10..12 s
    assert http.get(outside).json()["error"]["code"] == "SEGMENT_NOT_FOUND"
    pl = http.playlist(f"{window}.m3u8").text
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in pl and pl.count(".m4s") == 30
