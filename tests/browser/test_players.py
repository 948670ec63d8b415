"""Real players beyond the matrix: the test page's own lists, a recording's private copy, a
recording still in progress, and a title's audio languages and subtitles."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import PASSWORD, assert_plays, new_subscriber, play
from tests.support.waiting import wait_for

pytestmark = pytest.mark.browser


def test_the_page_lists_channels_and_titles_and_plays_them_through_the_door(rt, server, household,  # noqa: ANN001
                                                                           live_channel, vod_title, http,
                                                                           monkeypatch) -> None:
    """Clicking a channel of the list, a locked one, and a card of the VOD rows, as a viewer would."""
    monkeypatch.setattr(rt.settings, "open_playback", False)
    number, _ = new_subscriber(http, household["base"])
    page = f"{server}/demo/?player=hls&autoplay=0"
    played = play(page, login=number, password=PASSWORD, channel=live_channel, watch=4)
    assert "/p/" in played["src"], played
    assert_plays(played, seek=False)
    refused = play(page, login=number, password=PASSWORD, channel=household["locked_channel"])
    assert refused["ok"] and refused["denied"]["code"] == "NOT_ENTITLED", refused
    assert household["addon"] in refused["shown"], refused
    film = play(page, login=number, password=PASSWORD, title=vod_title["id"], watch=4)
    assert f"/vod/{vod_title['asset']}/cmaf/master.m3u8" in film["src"] and "/p/" in film["src"], film
    assert_plays(film, seek=False)


def _record(http, admin, headers: dict, channel: str, start, end, *, private: bool) -> str:  # noqa: ANN001
    """Record [start, end) with no padding (as a private copy when asked); return the recording's id."""
    rights = f"/v1/admin/channels/{channel}/rights"
    http.put(rights, headers=admin, json={"recording_copy": "private" if private else "shared"}).raise_for_status()
    try:
        rec = http.post("/v1/me/recordings", headers=headers, json={
            "channel_id": channel, "start": start.isoformat(), "end": end.isoformat(), "pad_before_s": 0,
            "pad_after_s": 0})
    finally:  # the other tests record the channel with shared copies
        http.put(rights, headers=admin, json={"recording_copy": "shared"}).raise_for_status()
    assert rec.status_code == 201 and rec.json()["state"] == "recording", rec.text
    return rec.json()["id"]


@pytest.mark.parametrize("player", ["hls", "shaka"])
def test_player_plays_a_recordings_private_copy(http, admin, rt, server, household, live_channel, player,  # noqa: ANN001
                                                monkeypatch) -> None:
    monkeypatch.setattr(rt.settings, "open_playback", False)
    number, headers = new_subscriber(http, household["base"])
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rec_id = _record(http, admin, headers, live_channel, now - dt.timedelta(seconds=22),
                     now - dt.timedelta(seconds=8), private=True)
    door = lambda: http.post("/v1/playback", headers=headers, json={  # noqa: E731
        "content": {"type": "recording", "id": rec_id}, "mode": "recording"}).json()
    src = urlsplit(wait_for(lambda: (lambda r: r if "/copy-" in r.get("url", "") else None)(door()), 30,
                            "the recording's private copy made")["url"]).path
    media = http.playlist(src.replace("master.m3u8", "360p.m3u8")).text
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in media and "#EXT-X-ENDLIST" in media, media
    result = play(f"{server}/demo/?player={player}&nolist=1&autoplay=0", login=number, password=PASSWORD,
                  content=f"recording:{rec_id}", mode="recording", watch=5, seek_back=3)
    assert "/copy-" in result["src"], result
    assert_plays(result)
    assert abs(result["duration"] - 14) <= 2 and result["started"] < 3, result


@pytest.mark.parametrize("player", ["hls", "shaka"])
def test_player_plays_a_recording_in_progress_from_its_start(http, admin, rt, server, household, live_channel,  # noqa: ANN001
                                                              player, monkeypatch) -> None:
    monkeypatch.setattr(rt.settings, "open_playback", False)
    number, headers = new_subscriber(http, household["base"])
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    # No padding: the playlist's start offset is a millisecond, as Shaka Player reads 0 as "none".
    rec_id = _record(http, admin, headers, live_channel, now - dt.timedelta(seconds=20),
                     now + dt.timedelta(minutes=2), private=False)
    result = play(f"{server}/demo/?player={player}&nolist=1&autoplay=0", login=number, password=PASSWORD,
                  content=f"recording:{rec_id}", mode="recording", watch=6)
    media = http.playlist(urlsplit(result["src"]).path.replace("master.m3u8", "360p.m3u8")).text
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in media and "#EXT-X-ENDLIST" not in media, media
    assert_plays(result, seek=False)
    assert result["started"] < 5, result  # from the recording's start, not the live edge 20 s later


@pytest.mark.parametrize("player", ["hls", "shaka"])
def test_player_switches_a_titles_audio_and_shows_subtitles(http, rt, server, household, vod_title, player,  # noqa: ANN001
                                                           monkeypatch) -> None:
    monkeypatch.setattr(rt.settings, "open_playback", False)
    number, _ = new_subscriber(http, household["base"])
    result = play(f"{server}/demo/?player={player}&nolist=1&autoplay=0", login=number, password=PASSWORD,
                  content=f"title:{vod_title['id']}", mode="vod", watch=5, tracks=1, seek_back=4)
    assert_plays(result)
    tracks = result["tracks"]
    assert sorted(tracks["audio"]) == ["en", "pl"] and tracks["before"] == "pl" and tracks["after"] == "en", tracks
    assert tracks["subtitles"] == ["pl"] and "pl" in tracks["showing"], tracks
    assert any("Żółw idzie do szkoły" in c for c in tracks["cues"]), tracks
