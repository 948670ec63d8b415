"""Real players: hls.js and Shaka Player in headless Chromium play our live channel."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import channel_body
from tests.entitlements.conftest import Billing
from tests.support.ffmpeg import pushed_channel

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("play.mjs")


def _play(page_url: str, **opts) -> dict:  # noqa: ANN003
    node = shutil.which("node")
    assert node, "node is needed for the browser tests"
    args = [node, str(SCRIPT), page_url]
    for key, value in opts.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    proc = subprocess.run(args, cwd=ROOT / "web", capture_output=True, text=True, timeout=120)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"no result from the browser\n{proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1])


@pytest.fixture
def billing_client(http) -> Billing:  # noqa: ANN001
    """The billing system's signed client."""
    return Billing(http)


@pytest.fixture(scope="module")
def live_channel(http, admin, server):  # noqa: ANN001, ANN201
    """A channel pushed live by ffmpeg, with about 27 s of time-shift already recorded."""
    with pushed_channel(http, admin, server, "br", segments=14, timeout_s=60) as cid:
        yield cid


@pytest.mark.parametrize("player", ["hls", "shaka"])
def test_player_plays_live_and_seeks_back_in_the_time_shift_window(server, live_channel, player) -> None:  # noqa: ANN001
    src = f"/live/{live_channel}/cmaf/master.m3u8?window=600"
    result = _play(f"{server}/demo/?player={player}&nolist=1&src={src}", watch=8, seek_back=15)
    assert result["ok"], result
    assert not result["errors"], result
    advance = result["advance"]
    assert advance["media"] >= 0.75 * advance["wall"], f"playback does not keep up: {advance}"
    assert result["size"][0] in (640, 426), result
    seek = result["seek"]
    assert abs(seek["landed"] - seek["target"]) < 2.5, f"seek landed off: {seek}"
    assert seek["later"] > seek["landed"], f"playback stopped after the seek: {seek}"


@pytest.mark.parametrize("player", ["hls", "shaka"])
def test_a_signed_in_subscriber_plays_through_the_door_and_sees_a_refusal(http, admin, rt, billing_client,  # noqa: ANN001
                                                                         server, live_channel, player,
                                                                         monkeypatch) -> None:
    """The test page signs in, plays an entitled channel by its signed URL, and shows a refusal."""
    monkeypatch.setattr(rt.settings, "open_playback", False)
    tag = uuid.uuid4().hex[:8]
    code, other = f"br{tag}", f"br-locked-{tag}"
    assert http.post("/v1/admin/channels", json=channel_body(other), headers=admin).status_code == 201
    for body in ({"code": code, "name": "Browser", "kind": "base", "channels": [live_channel]},
                 {"code": code + "x", "name": "Extra", "kind": "addon", "channels": [other]}):
        assert http.post("/v1/admin/packages", json=body, headers=admin).status_code == 201
    number = f"BR{tag.upper()}"
    assert billing_client.send("PUT", f"/v1/billing/subscribers/{number}",
                               {"password": "browser secret 1"}).status_code == 201
    assert billing_client.send("PUT", f"/v1/billing/subscribers/{number}/packages",
                               {"packages": [{"code": code}]}).status_code == 200
    page = f"{server}/demo/?player={player}&autoplay=0"
    played = _play(page, login=number, password="browser secret 1", channel=live_channel, watch=6)
    assert played["ok"] and not played["errors"], played
    assert "/p/" in played["src"], played
    assert played["advance"]["media"] >= 0.75 * played["advance"]["wall"], played
    refused = _play(page, login=number, password="browser secret 1", channel=other)
    assert refused["ok"] and refused["denied"]["code"] == "NOT_ENTITLED", refused
    assert code + "x" in refused["shown"], refused


@pytest.fixture(scope="module")
def encrypted_channel(http, admin, server):  # noqa: ANN001, ANN201
    """An AES-128 channel pushed live by ffmpeg."""
    with pushed_channel(http, admin, server, "br-enc", segments=6, timeout_s=60, encryption="aes-128",
                        key_rotation_s=60) as cid:
        yield cid


@pytest.mark.parametrize("player", ["hls", "shaka"])
def test_player_plays_an_encrypted_channel(server, encrypted_channel, http, player) -> None:  # noqa: ANN001
    text = http.get(f"/live/{encrypted_channel}/cmaf/360p.m3u8").text
    assert "#EXT-X-KEY:METHOD=AES-128" in text
    src = f"/live/{encrypted_channel}/cmaf/master.m3u8"
    result = _play(f"{server}/demo/?player={player}&nolist=1&src={src}", watch=6)
    assert result["ok"] and not result["errors"], result
    assert result["advance"]["media"] >= 0.75 * result["advance"]["wall"], result
    assert result["size"][0] in (640, 426), result


def _window_url(http, admin, make_package, make_subscriber, channel: str, programme: tuple, mode: str) -> str:  # noqa: ANN001
    """Put a programme on the channel's guide, sign a subscriber in, return the door's URL path."""
    import datetime as dt
    from urllib.parse import urlsplit

    from tests.entitlements.conftest import bearer, login
    from tests.support.guide import import_programmes, programme_ids

    start, end, title = programme
    import_programmes(http, admin, channel, [(start, end, title, {})])
    package = make_package(channels=[channel])
    viewer = bearer(login(http, make_subscriber(packages=[package["code"]])["customer_number"]).json())
    ids = programme_ids(http, viewer, channel, start - dt.timedelta(minutes=1), end + dt.timedelta(minutes=1))
    resp = http.post("/v1/playback", headers=viewer, json={"content": {"type": "programme", "id": ids[title]},
                                                           "mode": mode})
    assert resp.status_code == 200, resp.text
    return urlsplit(resp.json()["url"]).path


@pytest.mark.parametrize("player", ["hls", "shaka"])
def test_player_plays_a_catch_up_programme(http, admin, rt, server, live_channel, make_package,  # noqa: ANN001
                                           make_subscriber, player, monkeypatch) -> None:
    import datetime as dt

    monkeypatch.setattr(rt.settings, "catchup_pad_before_s", 0)
    monkeypatch.setattr(rt.settings, "catchup_pad_after_s", 0)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    src = _window_url(http, admin, make_package, make_subscriber, live_channel,
                      (now - dt.timedelta(seconds=22), now - dt.timedelta(seconds=8), f"Catch-up {player}"), "catchup")
    result = _play(f"{server}/demo/?player={player}&nolist=1&src={src}", watch=5, seek_back=3)
    assert result["ok"] and not result["errors"], result
    assert abs(result["duration"] - 14) <= 2, result  # the programme, not a live window
    assert result["started"] < 3, result  # from its beginning
    assert result["advance"]["media"] >= 0.75 * result["advance"]["wall"], result
    assert abs(result["seek"]["landed"] - result["seek"]["target"]) < 2.5, result


@pytest.mark.parametrize("player", ["hls", "shaka"])
def test_player_starts_over_a_programme_on_air_from_its_start(http, admin, rt, server, live_channel,  # noqa: ANN001
                                                               make_package, make_subscriber, player,
                                                               monkeypatch) -> None:
    import datetime as dt

    monkeypatch.setattr(rt.settings, "catchup_pad_before_s", 4)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    src = _window_url(http, admin, make_package, make_subscriber, live_channel,
                      (now - dt.timedelta(seconds=20), now + dt.timedelta(minutes=5), f"Start-over {player}"),
                      "startover")
    result = _play(f"{server}/demo/?player={player}&nolist=1&src={src}", watch=6)
    assert result["ok"] and not result["errors"], result
    # From the programme's start (4 s into the padding), not at the live edge 20 s later.
    assert result["started"] < 9, result
    assert result["advance"]["media"] >= 0.75 * result["advance"]["wall"], result


def _recording_url(http, admin, make_package, make_subscriber, channel: str, start, end, *,  # noqa: ANN001
                   finished: bool, private: bool = False) -> str:
    """Sign in a subscriber whose package records the channel, record [start, end) with no padding,
    wait for the job to finish it (and make its private copy) when asked, and return the door's URL path."""
    from urllib.parse import urlsplit

    from tests.conftest import wait_for
    from tests.entitlements.conftest import bearer, login

    package = make_package(channels=[channel], recording_hours=1)
    viewer = bearer(login(http, make_subscriber(packages=[package["code"]])["customer_number"]).json())
    rights = f"/v1/admin/channels/{channel}/rights"
    http.put(rights, headers=admin, json={"recording_copy": "private" if private else "shared"}).raise_for_status()
    try:
        rec = http.post("/v1/me/recordings", headers=viewer, json={
            "channel_id": channel, "start": start.isoformat(), "end": end.isoformat(), "pad_before_s": 0,
            "pad_after_s": 0})
    finally:  # the module's other tests record the channel with shared copies
        http.put(rights, headers=admin, json={"recording_copy": "shared"}).raise_for_status()
    assert rec.status_code == 201 and rec.json()["state"] == "recording", rec.text
    play = lambda: http.post("/v1/playback", headers=viewer, json={  # noqa: E731
        "content": {"type": "recording", "id": rec.json()["id"]}, "mode": "recording"})
    if finished:
        done = wait_for(lambda: (lambda r: r if r["state"] != "recording" else None)(
            http.get(f"/v1/me/recordings/{rec.json()['id']}", headers=viewer).json()), 30, "the job to finish it")
        assert done["state"] in ("completed", "partial"), done
    if private:
        wait_for(lambda: "/copy-" in play().json()["url"], 30, "the recording's private copy made")
    resp = play()
    assert resp.status_code == 200, resp.text
    return urlsplit(resp.json()["url"]).path


@pytest.mark.parametrize(("player", "copy"), [("hls", "shared"), ("shaka", "shared"), ("hls", "private"),
                                             ("shaka", "private")])
def test_player_plays_a_finished_recording(http, admin, rt, server, live_channel, make_package,  # noqa: ANN001
                                           make_subscriber, player, copy, monkeypatch) -> None:
    import datetime as dt

    monkeypatch.setattr(rt.settings, "open_playback", False)  # the origin checks the door's token
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    src = _recording_url(http, admin, make_package, make_subscriber, live_channel, now - dt.timedelta(seconds=22),
                         now - dt.timedelta(seconds=8), finished=True, private=copy == "private")
    assert ("/copy-" in src) == (copy == "private"), src
    media = http.playlist(src.replace("master.m3u8", "360p.m3u8")).text
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in media and "#EXT-X-ENDLIST" in media, media
    result = _play(f"{server}/demo/?player={player}&nolist=1&src={src}", watch=5, seek_back=3)
    assert result["ok"] and not result["errors"], result
    assert abs(result["duration"] - 14) <= 2, result  # the recorded range, not a live window
    assert result["started"] < 3, result  # from its beginning
    assert result["advance"]["media"] >= 0.75 * result["advance"]["wall"], result
    assert abs(result["seek"]["landed"] - result["seek"]["target"]) < 2.5, result
    assert result["seek"]["later"] > result["seek"]["landed"], result


@pytest.mark.parametrize("player", ["hls", "shaka"])
def test_player_plays_a_recording_in_progress_from_its_start(http, admin, rt, server, live_channel,  # noqa: ANN001
                                                              make_package, make_subscriber, player,
                                                              monkeypatch) -> None:
    import datetime as dt

    monkeypatch.setattr(rt.settings, "open_playback", False)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    # No padding: the playlist's start offset is a millisecond, as Shaka Player reads 0 as "none".
    src = _recording_url(http, admin, make_package, make_subscriber, live_channel, now - dt.timedelta(seconds=20),
                         now + dt.timedelta(minutes=2), finished=False)
    media = http.playlist(src.replace("master.m3u8", "360p.m3u8")).text
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in media and "#EXT-X-ENDLIST" not in media, media
    result = _play(f"{server}/demo/?player={player}&nolist=1&src={src}", watch=6)
    assert result["ok"] and not result["errors"], result
    # From the recording's start, not at the live edge 20 s later.
    assert result["started"] < 5, result
    assert result["advance"]["media"] >= 0.75 * result["advance"]["wall"], result


@pytest.fixture(scope="module")
def vod_title(http, admin, tmp_path_factory) -> dict:  # noqa: ANN001
    """A published title on a mezzanine with Polish and English audio and Polish subtitles, ingested."""
    from tests.streaming.test_vod_ingest import upload, wait_done
    from tests.support.mezzanine import SRT_POLISH, make_mezzanine

    path = make_mezzanine(tmp_path_factory.mktemp("vod") / "browser.mp4", seconds=12.0)
    asset = upload(http, admin, path).json()
    labels = {"audio": [{"language": "pol", "label": "Polski (lektor)", "default": True},
                        {"language": "eng", "label": "Original"}]}
    assert http.put(f"/v1/admin/vod/assets/{asset['id']}/audio", json=labels, headers=admin).status_code == 200
    assert http.put(f"/v1/admin/vod/assets/{asset['id']}/subtitles/pol", params={"label": "Polski"},
                    content=SRT_POLISH.encode(), headers=admin).status_code == 200
    assert wait_done(http, admin, asset["id"])["state"] == "ready"
    title_id = f"br-film-{uuid.uuid4().hex[:8]}"
    assert http.post("/v1/admin/vod/titles", json={"id": title_id, "kind": "movie",
                                                  "texts": {"pol": {"title": "Żółw"}}}, headers=admin).status_code == 201
    assert http.put(f"/v1/admin/vod/titles/{title_id}/asset", json={"asset_id": asset["id"]},
                    headers=admin).status_code == 200
    assert http.post(f"/v1/admin/vod/titles/{title_id}/publish", headers=admin).status_code == 200
    return {"id": title_id, "asset": asset["id"]}


@pytest.mark.parametrize("player", ["hls", "shaka"])
def test_player_plays_a_vod_title_switches_audio_and_shows_subtitles(http, rt, server, vod_title, make_package,  # noqa: ANN001
                                                                     make_subscriber, player, monkeypatch) -> None:
    from urllib.parse import urlsplit

    from tests.entitlements.conftest import bearer, login

    monkeypatch.setattr(rt.settings, "open_playback", False)  # the origin checks the door's token
    viewer = bearer(login(http, make_subscriber()["customer_number"]).json())
    resp = http.post("/v1/playback", headers=viewer, json={"content": {"type": "title", "id": vod_title["id"]},
                                                           "mode": "vod"})
    assert resp.status_code == 200, resp.text
    src = urlsplit(resp.json()["url"]).path
    result = _play(f"{server}/demo/?player={player}&nolist=1&src={src}", watch=5, tracks=1, seek_back=4)
    assert result["ok"] and not result["errors"], result
    assert abs(result["duration"] - 12.0) < 0.5, result
    tracks = result["tracks"]
    assert sorted(tracks["audio"]) == ["en", "pl"] and tracks["before"] == "pl" and tracks["after"] == "en", tracks
    assert tracks["subtitles"] == ["pl"] and "pl" in tracks["showing"], tracks
    assert any("Żółw idzie do szkoły" in c for c in tracks["cues"]), tracks
    assert result["advance"]["media"] >= 0.75 * result["advance"]["wall"], result
    assert abs(result["seek"]["landed"] - result["seek"]["target"]) < 2.5, result


@pytest.mark.parametrize("player", ["hls", "shaka"])
def test_the_test_page_lists_a_title_and_plays_it_through_the_door(rt, server, vod_title, make_subscriber,  # noqa: ANN001
                                                                   player, monkeypatch) -> None:
    from tests.entitlements.conftest import PASSWORD

    monkeypatch.setattr(rt.settings, "open_playback", False)
    number = make_subscriber()["customer_number"]
    played = _play(f"{server}/demo/?player={player}&autoplay=0", login=number, password=PASSWORD,
                   title=vod_title["id"], watch=4)
    assert played["ok"] and not played["errors"], played
    assert f"/vod/{vod_title['asset']}/cmaf/master.m3u8" in played["src"] and "/p/" in played["src"], played
    assert played["advance"]["media"] >= 0.75 * played["advance"]["wall"], played
