"""The origin serves Playlist Delta Updates to players that ask with _HLS_skip (rfc8216bis 6.2.5.1)."""

from __future__ import annotations

import time

from streaming.timeline import service
from streaming.timeline.runs import make_run

S = 1_000_000


def _channel_with_history(http, rt, make_channel, seconds: int = 200) -> str:  # noqa: ANN001
    cid = make_channel(timeshift_window_s=600)["id"]
    end = int(time.time()) * S
    run = make_run(first_seq=0, start_us=end - seconds * S, count=seconds // 2, duration_us=2 * S,
                   inits={"cmaf/360p": "a" * 16})
    with rt.db.session() as s:
        service.write_runs(db_session=s, channel_id=cid, runs=[run])
    return cid


def test_a_long_time_shift_window_offers_and_serves_delta_updates(http, rt, make_channel) -> None:  # noqa: ANN001
    cid = _channel_with_history(http, rt, make_channel)
    path = f"/live/{cid}/cmaf/360p.m3u8"
    short = http.playlist(path).text
    assert "CAN-SKIP-UNTIL" not in short, "a 20 s live window: a delta would save nothing"
    # http.playlist also fetches the delta of every playlist that offers one and checks it.
    full = http.playlist(path, params={"window": 180}).text
    assert "#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=24.0" in full
    delta = http.playlist(path, params={"window": 180, "_HLS_skip": "YES"}).text
    assert "#EXT-X-SKIP:SKIPPED-SEGMENTS=" in delta and "#EXT-X-VERSION:9" in delta
    assert len(delta) < len(full) / 5
    assert "#EXT-X-SKIP" in http.get(path, params={"window": 180, "_HLS_skip": "v2"}).text


def test_a_bad_skip_directive_is_a_clear_error(http, rt, make_channel) -> None:  # noqa: ANN001
    cid = _channel_with_history(http, rt, make_channel, seconds=60)
    resp = http.get(f"/live/{cid}/cmaf/360p.m3u8", params={"window": 60, "_HLS_skip": "maybe"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "INVALID_DELIVERY_DIRECTIVE"


def test_a_start_over_window_offers_deltas_until_it_ends(http, rt, make_channel) -> None:  # noqa: ANN001
    cid = _channel_with_history(http, rt, make_channel)
    now = int(time.time())
    growing = f"/window/{cid}/{now - 150}/{now + 600}/event-0/cmaf/360p.m3u8"
    text = http.playlist(growing).text
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text and "CAN-SKIP-UNTIL=24.0" in text
    assert "#EXT-X-SKIP" in http.playlist(growing, params={"_HLS_skip": "YES"}).text
    ended = http.playlist(f"/window/{cid}/{now - 150}/{now - 60}/vod-0/cmaf/360p.m3u8").text
    assert "#EXT-X-ENDLIST" in ended and "SERVER-CONTROL" not in ended
    assert "#EXT-X-SKIP" not in http.get(f"/window/{cid}/{now - 150}/{now - 60}/vod-0/cmaf/360p.m3u8",
                                         params={"_HLS_skip": "YES"}).text
