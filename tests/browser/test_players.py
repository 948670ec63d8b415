"""Real players beyond the matrix: the test page's own lists, a recording's private copy, a
recording still in progress, and a title's audio languages and subtitles."""

from __future__ import annotations

import datetime as dt
import threading
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import PASSWORD, assert_plays, new_subscriber, play, play_selected, seen
from tests.support.http import Client
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]  # the first test's setup plays them all

# The channel's recording-copy right is switched for one recording at a time.
_RIGHTS = threading.Lock()


def _record(http, admin, headers: dict, channel: str, start, end, *, private: bool) -> str:  # noqa: ANN001
    """Record [start, end) with no padding (as a private copy when asked); return the recording's id."""
    rights = f"/v1/admin/channels/{channel}/rights"
    with _RIGHTS:
        http.put(rights, headers=admin, json={"recording_copy": "private" if private else "shared"}).raise_for_status()
        try:
            rec = http.post("/v1/me/recordings", headers=headers, json={
                "channel_id": channel, "start": start.isoformat(), "end": end.isoformat(), "pad_before_s": 0,
                "pad_after_s": 0})
        finally:  # the other tests record the channel with shared copies
            http.put(rights, headers=admin, json={"recording_copy": "shared"}).raise_for_status()
    assert rec.status_code == 201 and rec.json()["state"] == "recording", rec.text
    return rec.json()["id"]


@pytest.fixture(scope="module")
def played(request, admin, rt, server, household, live_channel, vod_title) -> dict:  # noqa: ANN001
    """Play what this module's selected tests ask for, a few players at a time; each test then
    asserts on what its own play saw."""
    page = f"{server}/demo/?autoplay=0"

    def lists() -> dict:
        """Clicking a channel of the list, a locked one, and a card of the VOD rows, as a viewer would."""
        with Client(server) as http:
            number, _ = new_subscriber(http, household["base"])
        return {"channel": play(page + "&player=hls", login=number, password=PASSWORD, channel=live_channel, watch=4),
                "locked": play(page + "&player=hls", login=number, password=PASSWORD,
                               channel=household["locked_channel"]),
                "film": play(page + "&player=hls", login=number, password=PASSWORD, title=vod_title["id"], watch=4)}

    def private_copy(player: str) -> dict:
        with Client(server) as http:
            number, headers = new_subscriber(http, household["base"])
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            rec_id = _record(http, admin, headers, live_channel, now - dt.timedelta(seconds=22),
                             now - dt.timedelta(seconds=8), private=True)
            door = lambda: http.post("/v1/playback", headers=headers, json={  # noqa: E731
                "content": {"type": "recording", "id": rec_id}, "mode": "recording"}).json()
            src = urlsplit(wait_for(lambda: (lambda r: r if "/copy-" in r.get("url", "") else None)(door()), 30,
                                    "the recording's private copy made")["url"]).path
            media = http.playlist(src.replace("master.m3u8", "360p.m3u8")).text
        return {"media": media, "result": play(f"{page}&player={player}&nolist=1", login=number, password=PASSWORD,
                                               content=f"recording:{rec_id}", mode="recording", watch=5,
                                               seek_back=3)}

    def in_progress(player: str) -> dict:
        with Client(server) as http:
            number, headers = new_subscriber(http, household["base"])
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            # No padding: the playlist's start offset is a millisecond, as Shaka Player reads 0 as "none".
            rec_id = _record(http, admin, headers, live_channel, now - dt.timedelta(seconds=20),
                             now + dt.timedelta(minutes=2), private=False)
            result = play(f"{page}&player={player}&nolist=1", login=number, password=PASSWORD,
                          content=f"recording:{rec_id}", mode="recording", watch=6)
            media = http.playlist(urlsplit(result["src"]).path.replace("master.m3u8", "360p.m3u8")).text
        return {"media": media, "result": result}

    def tracks(player: str) -> dict:
        with Client(server) as http:
            number, _ = new_subscriber(http, household["base"])
        return play(f"{page}&player={player}&nolist=1", login=number, password=PASSWORD,
                    content=f"title:{vod_title['id']}", mode="vod", watch=5, tracks=1, seek_back=4)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rt.settings, "open_playback", False)
        return play_selected(request, {
            "test_the_page_lists_channels_and_titles_and_plays_them_through_the_door": lists,
            "test_player_plays_a_recordings_private_copy": private_copy,
            "test_player_plays_a_recording_in_progress_from_its_start": in_progress,
            "test_player_switches_a_titles_audio_and_shows_subtitles": tracks})


def test_the_page_lists_channels_and_titles_and_plays_them_through_the_door(played, request, household,  # noqa: ANN001
                                                                           vod_title) -> None:
    saw = seen(played, request)
    assert "/p/" in saw["channel"]["src"], saw["channel"]
    assert_plays(saw["channel"], seek=False)
    refused = saw["locked"]
    assert refused["ok"] and refused["denied"]["code"] == "NOT_ENTITLED", refused
    assert household["addon"] in refused["shown"], refused
    film = saw["film"]
    assert f"/vod/{vod_title['asset']}/cmaf/master.m3u8" in film["src"] and "/p/" in film["src"], film
    assert_plays(film, seek=False)


@pytest.mark.parametrize("player", ["hls", "shaka"])
def test_player_plays_a_recordings_private_copy(played, request, player) -> None:  # noqa: ANN001
    saw = seen(played, request)
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in saw["media"] and "#EXT-X-ENDLIST" in saw["media"], saw["media"]
    result = saw["result"]
    assert "/copy-" in result["src"], result
    assert_plays(result)
    assert abs(result["duration"] - 14) <= 2 and result["started"] < 3, result


@pytest.mark.parametrize("player", ["hls", "shaka"])
def test_player_plays_a_recording_in_progress_from_its_start(played, request, player) -> None:  # noqa: ANN001
    saw = seen(played, request)
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in saw["media"] and "#EXT-X-ENDLIST" not in saw["media"], saw["media"]
    assert_plays(saw["result"], seek=False)
    assert saw["result"]["started"] < 5, saw["result"]  # from the recording's start, not the live edge 20 s later


@pytest.mark.parametrize("player", ["hls", "shaka"])
def test_player_switches_a_titles_audio_and_shows_subtitles(played, request, player) -> None:  # noqa: ANN001
    result = seen(played, request)
    assert_plays(result)
    tracks = result["tracks"]
    assert sorted(tracks["audio"]) == ["en", "pl"] and tracks["before"] == "pl" and tracks["after"] == "en", tracks
    assert tracks["subtitles"] == ["pl"] and "pl" in tracks["showing"], tracks
    assert any("Żółw idzie do szkoły" in c for c in tracks["cues"]), tracks
