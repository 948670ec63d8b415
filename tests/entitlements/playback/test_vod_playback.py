"""VOD titles through the playback door: the same token, rights and parental rules as live."""

from __future__ import annotations

import subprocess
import uuid
from urllib.parse import urlsplit

import pytest

from streaming.ffmpeg import ffmpeg_exe
from tests.entitlements.conftest import PASSWORD, bearer, login
from tests.streaming.vod.test_ingest import ingested  # noqa: F401 - the module's ingested title

pytestmark = pytest.mark.ffmpeg
TV = {"type": "smart_tv", "name": "TV", "model": "Tizen 7"}


@pytest.fixture
def title(http, admin, ingested, make_package) -> dict:  # noqa: ANN001, F811
    """A published movie on the ingested asset, sold in an add-on package."""
    package = make_package(kind="addon")
    title_id = f"film-{uuid.uuid4().hex[:8]}"
    body = {"id": title_id, "kind": "movie", "age_rating": "12", "genres": ["family"],
            "texts": {"pol": {"title": "Żółw i zając"}, "eng": {"title": "The Tortoise and the Hare"}}}
    assert http.post("/v1/admin/vod/titles", json=body, headers=admin).status_code == 201
    assert http.put(f"/v1/admin/vod/titles/{title_id}/asset", json={"asset_id": ingested["id"]},
                    headers=admin).status_code == 200
    assert http.put(f"/v1/admin/vod/titles/{title_id}/packages", json={"packages": [package["code"]]},
                    headers=admin).status_code == 200
    resp = http.post(f"/v1/admin/vod/titles/{title_id}/publish", headers=admin)
    assert resp.status_code == 200, resp.text
    return {"id": title_id, "package": package["code"], "asset": ingested["id"]}


def play(http, tokens: dict, title_id: str, **body):  # noqa: ANN001, ANN003, ANN201
    return http.post("/v1/playback", headers=bearer(tokens),
                     json={"content": {"type": "title", "id": title_id}, "mode": "vod", **body})


def code(resp) -> str:  # noqa: ANN001
    assert resp.status_code >= 400, resp.text
    return resp.json()["error"]["code"]


def test_an_entitled_subscriber_plays_the_title_with_ffmpeg(http, server, rt, title, make_subscriber,  # noqa: ANN001
                                                            monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(rt.settings, "open_playback", False)  # the origin checks the door's token
    sub = make_subscriber(packages=[title["package"]])
    phone = login(http, sub["customer_number"]).json()
    resp = play(http, phone, title["id"])
    assert resp.status_code == 200, resp.text
    url = resp.json()["url"]
    assert f"/vod/{title['asset']}/cmaf/master.m3u8" in url and "/p/" in url
    path = urlsplit(url).path
    master = http.playlist(path).text
    assert "#EXT-X-I-FRAME-STREAM-INF" in master
    out = tmp_path / "played.mkv"
    run = subprocess.run([ffmpeg_exe(), "-hide_banner", "-y", "-i", server + path, "-map", "0:v:0", "-map", "0:a",
                          "-c", "copy", str(out)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    # Without the token, and with it on another asset, the origin refuses.
    bare = path.split("/", 3)[3]
    assert code(http.get("/" + bare)) == "PLAYBACK_TOKEN_REQUIRED"
    other = path.replace(title["asset"], "0" * 32)
    assert code(http.get(other)) == "PLAYBACK_TOKEN_SCOPE"


def test_refusals_say_why(http, admin, title, make_subscriber) -> None:  # noqa: ANN001
    stranger = login(http, make_subscriber()["customer_number"]).json()
    resp = play(http, stranger, title["id"])
    assert code(resp) == "NOT_ENTITLED" and resp.json()["error"]["details"]["packages"] == [title["package"]]
    holder = login(http, make_subscriber(packages=[title["package"]])["customer_number"], device=TV).json()
    assert code(play(http, holder, title["id"], mode="live")) == "INVALID_MODE"
    assert code(play(http, holder, "no-such-title")) == "TITLE_NOT_FOUND"
    assert http.patch(f"/v1/admin/vod/titles/{title['id']}", json={"device_types": ["mobile"]},
                      headers=admin).status_code == 200
    assert code(play(http, holder, title["id"])) == "DEVICE_NOT_ALLOWED"
    assert http.post(f"/v1/admin/vod/titles/{title['id']}/unpublish", headers=admin).status_code == 200
    assert code(play(http, holder, title["id"])) in ("NOT_AVAILABLE", "TITLE_NOT_FOUND")


def test_parental_rules_apply_to_titles(http, title, make_subscriber) -> None:  # noqa: ANN001
    sub = make_subscriber(packages=[title["package"]])
    phone = login(http, sub["customer_number"]).json()
    h = bearer(phone)
    assert http.put("/v1/me/pin", json={"password": PASSWORD, "pin": "4321"}, headers=h).status_code == 204
    kid = http.post("/v1/me/profiles", json={"name": "Kid", "parental_threshold": 7}, headers=h)
    assert kid.status_code == 201, kid.text
    profile = kid.json()["id"]
    resp = play(http, phone, title["id"], profile_id=profile)
    assert code(resp) == "PARENTAL_PIN_REQUIRED" and resp.json()["error"]["details"]["age_rating"] == 12
    assert play(http, phone, title["id"], profile_id=profile, pin="4321").status_code == 200


def test_players_that_need_mpeg_ts_get_the_ts_set(http, title, make_subscriber) -> None:  # noqa: ANN001
    holder = login(http, make_subscriber(packages=[title["package"]])["customer_number"], device=TV).json()
    resp = play(http, holder, title["id"], segment_set="ts")
    assert resp.status_code == 200, resp.text
    path = urlsplit(resp.json()["url"]).path
    assert path.endswith(f"/vod/{title['asset']}/ts/master.m3u8")
    assert "#EXT-X-MAP" not in http.playlist(path.replace("master.m3u8", "360p.m3u8"), resolve=True).text
