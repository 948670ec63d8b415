"""A 6-hour time-shift window plays and seeks in hls.js and Shaka Player, and stays small on reload."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import PASSWORD, assert_plays, new_subscriber, play
from tests.support.long_window import CODECS, LongWindowChannel

pytestmark = pytest.mark.browser
SIX_HOURS = 6 * 3600


@pytest.fixture(scope="module")
def long_channel(rt, http, admin, tmp_path_factory):  # noqa: ANN001, ANN201
    """A channel with six hours of real, looped 240p history, growing, in a package."""
    cid = f"br-6h-{uuid.uuid4().hex[:8]}"
    body = {"id": cid, "name": "Six hours", "segment_duration_ms": 6000, "timeshift_window_s": SIX_HOURS + 600,
            "renditions": [{"name": "240p", "width": 426, "height": 240, "video_bitrate_kbps": 60,
                            "audio_bitrate_kbps": 0, "codecs": CODECS}]}
    assert http.post("/v1/admin/channels", json=body, headers=admin).status_code == 201
    channel = LongWindowChannel(rt, cid, tmp_path_factory.mktemp("six-hours"), history_s=SIX_HOURS)
    channel.store()
    channel.start()
    code = f"br6h{uuid.uuid4().hex[:8]}"
    assert http.post("/v1/admin/packages", headers=admin, json={
        "code": code, "name": "Six hours", "kind": "base", "channels": [cid], "max_devices": 20}).status_code == 201
    yield {"id": cid, "package": code}
    channel.stop()


@pytest.mark.parametrize("player", ["hls", "shaka"])
def test_a_six_hour_time_shift_plays_and_seeks_five_hours_back(http, rt, server, long_channel, player,  # noqa: ANN001
                                                              monkeypatch) -> None:
    monkeypatch.setattr(rt.settings, "open_playback", False)
    number, _ = new_subscriber(http, long_channel["package"])
    result = play(f"{server}/demo/?player={player}&nolist=1&autoplay=0", login=number, password=PASSWORD,
                  content=f"channel:{long_channel['id']}", mode="timeshift", window=SIX_HOURS, watch=5,
                  seek_to=3600)
    assert_plays(result)
    assert result["window"] > SIX_HOURS - 60, f"the player does not see six hours: {result}"
    # The seek went to an hour after the window's start: five hours behind the live edge.
    assert result["seek"]["target"] < result["seek"]["seekable"][1] - 4.9 * 3600, result
    full = http.get(urlsplit(result["src"]).path.replace("master.m3u8", "240p.m3u8"),
                    params={"window": SIX_HOURS})
    assert full.text.count("#EXTINF") >= SIX_HOURS // 6 - 5 and "CAN-SKIP-UNTIL" in full.text
    if player == "hls":  # hls.js asks for delta updates by default; Shaka only in its low-latency mode
        assert result["deltaRequests"] > 0, result
