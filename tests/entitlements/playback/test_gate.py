"""The origin admits playlists and segments only with a valid, in-scope, running session's token."""

from __future__ import annotations

import subprocess
import time
import uuid
from urllib.parse import urlsplit

import m3u8
import pytest

from entitlements.accounts.tokens import PlaybackGrant, PlaybackTokens
from streaming.ffmpeg import ffmpeg_exe
from tests.entitlements.conftest import bearer, login
from tests.support.channels import channel_body
from tests.support.ffmpeg import pushed_channel
from tests.support.waiting import wait_for

pytestmark = pytest.mark.ffmpeg


@pytest.fixture(scope="module")
def pushed(http, admin, server):  # noqa: ANN001, ANN201
    """A channel pushed live by ffmpeg for the whole module."""
    with pushed_channel(http, admin, server, "tok") as cid:
        yield cid


@pytest.fixture
def closed(rt, monkeypatch):  # noqa: ANN001, ANN201
    """The origin as it runs in production: no playback without a token."""
    monkeypatch.setattr(rt.settings, "open_playback", False)


@pytest.fixture
def viewer(http, pushed, make_package, make_subscriber):  # noqa: ANN001, ANN201
    package = make_package(channels=[pushed], max_streams=3)
    sub = make_subscriber(packages=[package["code"]])
    tokens = login(http, sub["customer_number"]).json()
    return {"sub": sub, "tokens": tokens, "package": package}


def _start(http, viewer: dict, channel: str, mode: str = "live") -> dict:  # noqa: ANN001
    resp = http.post("/v1/playback", headers=bearer(viewer["tokens"]),
                     json={"content": {"type": "channel", "id": channel}, "mode": mode})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _path(url: str) -> str:
    return urlsplit(url).path


def test_a_session_url_plays_through_relative_uris(http, closed, pushed, viewer, server) -> None:  # noqa: ANN001
    start = _start(http, viewer, pushed)
    master_path = _path(start["url"])
    master = m3u8.loads(http.playlist(master_path, resolve=True).text)
    media_path = master_path.rsplit("/", 1)[0] + "/" + master.playlists[0].uri
    media = http.playlist(media_path, resolve=True)  # every segment and init URI serves
    assert ".m4s" in media.text and "/p/" not in media.text  # the same bytes for every viewer
    # A real HLS client follows the tokenized URL.
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", server + master_path, "-t", "3",
                           "-c", "copy", "-f", "null", "-"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Without a token the same playlist is refused.
    bare = http.get(f"/live/{pushed}/cmaf/master.m3u8")
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "PLAYBACK_TOKEN_REQUIRED"


def test_forged_truncated_resigned_expired_and_foreign_tokens_are_refused(http, rt, closed, pushed, viewer,  # noqa: ANN001
                                                                         admin) -> None:
    start = _start(http, viewer, pushed)
    token = _path(start["url"]).split("/")[2]
    body, mac = token.split(".")
    forged_mac = mac[:5] + ("A" if mac[5] != "A" else "B") + mac[6:]
    # The last character carries 2 bits and 4 padding bits: flipping only padding is refused too.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    padded = mac[:-1] + alphabet[alphabet.index(mac[-1]) ^ 1]
    other_key = PlaybackTokens("some-other-server-key-" + "x" * 10)
    grant = PlaybackGrant(start["session_id"], viewer["sub"]["id"], viewer["tokens"]["device_id"],
                          f"channel:{pushed}", "live", int(time.time()) + 600)
    expired = PlaybackTokens(rt.settings.secret_key).sign(
        PlaybackGrant(*list(grant.__dict__.values())[:5], expires_at=int(time.time()) - 1))
    cases = {
        "forged": f"{body}.{forged_mac}",
        "padding bits": f"{body}.{padded}",
        "truncated": token[: len(token) // 2],
        "re-signed": other_key.sign(grant),
        "expired": expired,
        "not base64": "!!!." + mac,
    }
    for what, bad in cases.items():
        for suffix in ("master.m3u8", "360p.m3u8", "360p/1.m4s", "keys/0.key"):
            resp = http.get(f"/p/{bad}/live/{pushed}/cmaf/{suffix}")
            assert resp.status_code == 403, (what, suffix, resp.text)
            assert resp.json()["error"]["code"] == "PLAYBACK_TOKEN_INVALID", (what, resp.text)
    # A genuine token of another channel.
    other = f"tok2-{uuid.uuid4().hex[:6]}"
    assert http.post("/v1/admin/channels", json=channel_body(other), headers=admin).status_code == 201
    scoped = http.get(f"/p/{token}/live/{other}/cmaf/master.m3u8")
    assert scoped.status_code == 403 and scoped.json()["error"]["code"] == "PLAYBACK_TOKEN_SCOPE"
    # A live session may not ask for a time-shift window.
    wide = http.get(f"/p/{token}/live/{pushed}/cmaf/360p.m3u8?window=3000")
    assert wide.status_code == 403 and wide.json()["error"]["code"] == "RIGHTS"
    shift = _path(_start(http, viewer, pushed, mode="timeshift")["url"])
    assert http.playlist(shift.replace("master.m3u8", "360p.m3u8") + "?window=3000").status_code == 200


def test_a_stopped_stream_and_a_removed_package_are_refused_within_seconds(http, billing, closed, pushed,  # noqa: ANN001
                                                                         viewer) -> None:
    media = _path(_start(http, viewer, pushed)["url"]).replace("master.m3u8", "360p.m3u8")
    assert http.playlist(media).status_code == 200
    other_device = login(http, viewer["sub"]["customer_number"]).json()
    stream = http.get("/v1/me/streams", headers=bearer(other_device)).json()[0]
    assert http.delete(f"/v1/playback/{stream['session_id']}", headers=bearer(other_device)).status_code == 204
    t0 = time.monotonic()
    wait_for(lambda: http.get(media).status_code == 403, 10, "the stopped session refused")
    assert http.get(media).json()["error"]["code"] == "PLAYBACK_SESSION_ENDED"
    stopped_after = time.monotonic() - t0

    media = _path(_start(http, viewer, pushed)["url"]).replace("master.m3u8", "360p.m3u8")
    assert http.playlist(media).status_code == 200
    number = viewer["sub"]["customer_number"]
    t0 = time.monotonic()
    assert billing.send("PUT", f"/v1/billing/subscribers/{number}/packages", {"packages": []}).status_code == 200
    wait_for(lambda: http.get(media).status_code == 403, 10, "the session of a removed package refused")
    assert max(stopped_after, time.monotonic() - t0) < 10


def test_catalogue_changes_reach_running_sessions(http, admin, closed, pushed, viewer) -> None:  # noqa: ANN001
    """A package losing the channel, the channel's rights changing, a package's device limit cut."""
    code = viewer["package"]["code"]

    def running() -> str:
        media = _path(_start(http, viewer, pushed)["url"]).replace("master.m3u8", "360p.m3u8")
        assert http.playlist(media).status_code == 200
        return media

    def refused(media: str, what: str) -> float:
        t0 = time.monotonic()
        wait_for(lambda: http.get(media).status_code == 403, 10, what)
        assert http.get(media).json()["error"]["code"] == "PLAYBACK_SESSION_ENDED"
        return time.monotonic() - t0

    media = running()
    assert http.put(f"/v1/admin/packages/{code}/channels", headers=admin, json={"channels": []}).status_code == 200
    assert refused(media, "the session of a channel its package lost refused") < 10
    assert http.put(f"/v1/admin/packages/{code}/channels", headers=admin,
                    json={"channels": [pushed]}).status_code == 200

    media = running()
    try:
        assert http.put(f"/v1/admin/channels/{pushed}/rights", headers=admin,
                        json={"device_types": ["smart_tv"]}).status_code == 200
        assert refused(media, "a phone's session on a channel now licensed for TVs only refused") < 10
    finally:
        assert http.put(f"/v1/admin/channels/{pushed}/rights", headers=admin, json={}).status_code == 200

    first = running()
    second_device = login(http, viewer["sub"]["customer_number"]).json()
    resp = http.post("/v1/playback", headers=bearer(second_device),
                     json={"content": {"type": "channel", "id": pushed}})
    assert resp.status_code == 200, resp.text
    second = _path(resp.json()["url"]).replace("master.m3u8", "360p.m3u8")
    assert http.playlist(second).status_code == 200
    assert http.patch(f"/v1/admin/packages/{code}", headers=admin, json={"max_devices": 1}).status_code == 200
    assert refused(second, "the session of a device past the new limit refused") < 10
    assert http.get(first).status_code == 200, "the first device is within the limit and plays on"


def test_playlist_fetches_keep_the_stream_alive(http, rt, closed, pushed, viewer, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(rt.settings, "stream_lease_s", 5.0)
    start = _start(http, viewer, pushed)
    media = _path(start["url"]).replace("master.m3u8", "360p.m3u8")
    streams = lambda: [s["session_id"] for s in http.get("/v1/me/streams", headers=bearer(viewer["tokens"])).json()]  # noqa: E731
    end = time.monotonic() + 9
    while time.monotonic() < end:  # no heartbeat: only the player's reloads
        assert http.get(media).status_code == 200
        time.sleep(1)
    assert streams() == [start["session_id"]]
    wait_for(lambda: streams() == [], 15, "the stream to lapse once the player stops")
