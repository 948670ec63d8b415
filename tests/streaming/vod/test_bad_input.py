"""VOD ingest refuses what cannot be a title, with a clear code, and leaves nothing behind in storage."""

from __future__ import annotations

import datetime as dt
import random
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from infra import staff
from infra.db import new_id
from infra.runtime import runtime
from streaming.ffmpeg import ffmpeg_exe
from streaming.vod import ingest as vod_ingest
from streaming.vod import jobs as vod_jobs
from streaming.vod import service as assets
from streaming.vod.subtitles import MAX_SUBTITLE_BYTES
from tests.streaming.vod.test_ingest import upload, wait_done
from tests.support.http import Client
from tests.support.mezzanine import make_mezzanine
from tests.support.waiting import wait_for

pytestmark = pytest.mark.ffmpeg


def stored(rt, asset_id: str) -> list[str]:  # noqa: ANN001
    """Return what storage holds of an asset's ladder."""
    return list(rt.store.list(f"vod/{asset_id}/"))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:  # noqa: ANN001
    """Broken and odd mezzanines made by real ffmpeg."""
    d = tmp_path_factory.mktemp("bad")
    good = make_mezzanine(d / "good.mp4", seconds=6.0, audio=("pol",))
    (d / "truncated.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    (d / "notes.txt").write_text("this is not a film\n" * 100)
    make_mezzanine(d / "silent.mp4", seconds=4.0, audio=())
    make_mezzanine(d / "short.mp4", seconds=1.0, audio=("eng",))
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=duration=5",
                    str(d / "tone.m4a")], check=True, timeout=60)
    return {p.stem: p for p in d.iterdir()}


@pytest.mark.parametrize(("name", "code"), [
    ("notes", "MEDIA_UNREADABLE"), ("truncated", "MEDIA_TRUNCATED"), ("silent", "NO_AUDIO_STREAM"),
    ("short", "MEDIA_TOO_SHORT"), ("tone", "NO_VIDEO_STREAM"),
])
def test_unplayable_files_fail_with_a_reason_and_store_nothing(http: Client, admin: dict, rt, files: dict,  # noqa: ANN001
                                                                name: str, code: str) -> None:
    resp = upload(http, admin, files[name])
    assert resp.status_code == 201, resp.text
    asset = wait_done(http, admin, resp.json()["id"])
    assert asset["state"] == "failed" and asset["error_code"] == code, asset
    assert asset["error"]
    assert stored(rt, asset["id"]) == []
    # A failed asset can be retried, and fails again for the same reason.
    again = http.post(f"/v1/admin/vod/assets/{asset['id']}/retry", headers=admin)
    assert again.status_code == 200 and again.json()["state"] == "queued"
    assert wait_done(http, admin, asset["id"])["error_code"] == code


def test_an_empty_upload_is_refused_and_nothing_is_recorded(http: Client, admin: dict) -> None:
    before = http.get("/v1/admin/vod/assets", headers=admin).json()["total"]
    resp = http.post("/v1/admin/vod/assets", params={"filename": "empty.mp4"}, content=b"", headers=admin)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "UPLOAD_INCOMPLETE"
    assert http.get("/v1/admin/vod/assets", headers=admin).json()["total"] == before


def test_an_upload_cut_off_midway_records_nothing(http: Client, admin: dict, server: str, rt) -> None:  # noqa: ANN001
    before = http.get("/v1/admin/vod/assets", headers=admin).json()["total"]
    url = urlsplit(server)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/admin/vod/assets?filename=cut.mp4 HTTP/1.1\r\nHost: x\r\n"
                     + f"X-API-Key: {admin['X-API-Key']}\r\nContent-Length: 1000000\r\n\r\n".encode() + b"\0" * 300_000)
        wait_for(lambda: any(p.name.startswith("smartgo-upload-") for p in Path(tempfile.gettempdir()).iterdir()), 10,
                 "the upload under way")
    # The client went away with 300 kB of 1 MB sent: the server drops the partial file.
    wait_for(lambda: not any(p.name.startswith("smartgo-upload-") for p in Path(tempfile.gettempdir()).iterdir()), 10,
             "the partial upload dropped")
    assert http.get("/v1/admin/vod/assets", headers=admin).json()["total"] == before
    assert not [k for k in rt.store.list(assets.SOURCE_PREFIX) if not _known(http, admin, k)]


def _known(http: Client, admin: dict, key: str) -> bool:
    return http.get(f"/v1/admin/vod/assets/{key.split('/')[1]}", headers=admin).status_code == 200


def test_file_names_with_folders_and_odd_characters_never_reach_a_key(http: Client, admin: dict, files: dict) -> None:
    resp = upload(http, admin, files["good"], "../../etc/pass\x07wd/..\\..\\Film: 2024?.mp4")
    assert resp.status_code == 201, resp.text
    asset = resp.json()
    assert asset["filename"] == "Film: 2024?.mp4"
    assert wait_done(http, admin, asset["id"])["state"] == "ready"
    assert http.post("/v1/admin/vod/assets", params={"filename": ""}, content=b"x", headers=admin).status_code == 422


def test_cancel_stops_the_transcode_and_retry_finishes_it(http: Client, admin: dict, rt, tmp_path: Path) -> None:  # noqa: ANN001
    path = make_mezzanine(tmp_path / "long.mp4", seconds=40.0, audio=("pol", "eng"))
    asset_id = upload(http, admin, path).json()["id"]
    wait_for(lambda: http.get(f"/v1/admin/vod/assets/{asset_id}", headers=admin).json()["progress"] > 0, 60,
             "the transcode under way")
    resp = http.post(f"/v1/admin/vod/assets/{asset_id}/cancel", headers=admin)
    assert resp.status_code == 200 and resp.json()["state"] == "cancelled"
    # The job notices within about a second, stops ffmpeg, removes its work folder and then deletes
    # what it stored (in that order: the deletion is not done when the folder is gone).
    wait_for(lambda: not any(p.name.startswith("smartgo-vod-" + asset_id[:8]) for p in Path("/tmp").iterdir()), 20,
             "the work folder removed")
    wait_for(lambda: stored(rt, asset_id) == [], 10, "what the cancelled try stored deleted")
    assert http.post(f"/v1/admin/vod/assets/{asset_id}/cancel", headers=admin).json()["error"]["code"] == \
        "ASSET_STATE_CONFLICT"
    assert http.post(f"/v1/admin/vod/assets/{asset_id}/retry", headers=admin).status_code == 200
    done = wait_done(http, admin, asset_id, timeout_s=180)
    assert done["state"] == "ready" and done["attempt"] == 2
    assert stored(rt, asset_id)


def test_bad_labels_and_subtitles_are_refused(http: Client, admin: dict, files: dict) -> None:
    asset_id = upload(http, admin, files["good"], "labels.mp4").json()["id"]
    base = f"/v1/admin/vod/assets/{asset_id}"
    for body in ({"audio": [{"language": "Polish", "label": "x"}]}, {"audio": [{"language": "pol", "label": ""}]},
                 {"audio": [{"language": "pol", "label": "a", "default": True},
                            {"language": "eng", "label": "b", "default": True}]},
                 {"audio": "pol"}, {"tracks": []}):
        resp = http.put(f"{base}/audio", json=body, headers=admin)
        assert resp.status_code == 422, (body, resp.text)
    for content in (b"", b"\x00\x01binary", b"1\n00:00:05,000 --> 00:00:01,000\nbackwards\n", b"just text"):
        resp = http.put(f"{base}/subtitles/pol", params={"label": "Polski"}, content=content, headers=admin)
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "INVALID_SUBTITLES", resp.text
    assert http.put(f"{base}/subtitles/pl", params={"label": "x"}, content=b"", headers=admin).status_code == 422
    missing = http.put(f"/v1/admin/vod/assets/{'f' * 32}/subtitles/pol", params={"label": "x"},
                       content=b"1\n00:00:01,000 --> 00:00:02,000\nhi\n", headers=admin)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ASSET_NOT_FOUND"


def _random_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


@pytest.mark.parametrize("content", [
    _random_bytes(4096, 1), _random_bytes(64, 2), b"\x81\x8d\x8f\x90\x98" * 50,  # not text in any encoding we read
    b"1\n00:00:01,000 --> 00:00:02,000\n\x01\x02hi\n",  # control bytes: binary
    b"1\n00:99:01,000 --> 00:99:02,000\nminute 99\n",  # a time that is none
    b"\xff\xfe" + "1\n00:00:01,000 --> 00:00:02,000\n".encode("utf-16-le") + b"\x00\xd8",  # broken UTF-16
], ids=["random-4k", "random-64", "undefined-cp1250", "control-bytes", "minute-99", "broken-utf16"])
def test_sidecar_bytes_that_are_not_subtitles_answer_422_and_store_nothing(http: Client, admin: dict, rt,  # noqa: ANN001
                                                                            files: dict, content: bytes) -> None:
    asset_id = _subtitle_target(http, admin, files)
    resp = http.put(f"/v1/admin/vod/assets/{asset_id}/subtitles/eng", params={"label": "English"}, content=content,
                    headers=admin)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "INVALID_SUBTITLES", resp.text
    assert not rt.store.exists(f"vod/{asset_id}/subs/subs-eng.vtt")
    assert all(t["kind"] != "subtitles" or t["language"] != "eng"
               for t in http.get(f"/v1/admin/vod/assets/{asset_id}", headers=admin).json()["tracks"])


def test_huge_sidecars_and_sidecars_for_unknown_assets_are_refused_before_the_body(http: Client, admin: dict, rt,  # noqa: ANN001
                                                                                   files: dict) -> None:

    asset_id = _subtitle_target(http, admin, files)
    huge = b"1\n00:00:01,000 --> 00:00:02,000\nhi\n\n" * (MAX_SUBTITLE_BYTES // 30)
    url = f"/v1/admin/vod/assets/{asset_id}/subtitles/deu"
    declared = http.put(url, params={"label": "Deutsch"}, content=huge, headers=admin)
    chunked = http.put(url, params={"label": "Deutsch"}, content=iter([huge[:1 << 20]] * 6), headers=admin)
    for resp in (declared, chunked):
        assert resp.status_code == 413 and resp.json()["error"]["code"] == "PAYLOAD_TOO_LARGE", resp.text
    assert not rt.store.exists(f"vod/{asset_id}/subs/subs-deu.vtt")
    # An unknown asset answers 404 whatever the body: random bytes, or more than the limit.
    for content in (_random_bytes(2048, 3), huge[: MAX_SUBTITLE_BYTES - 1]):
        missing = http.put(f"/v1/admin/vod/assets/{'e' * 32}/subtitles/pol", params={"label": "x"}, content=content,
                           headers=admin)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "ASSET_NOT_FOUND", missing.text
    assert not list(rt.store.list(f"vod/{'e' * 32}/"))


def _subtitle_target(http: Client, admin: dict, files: dict) -> str:
    """Return the id of an uploaded asset (queued or ready: both take subtitles)."""
    resp = upload(http, admin, files["good"], "subtitled.mp4")
    assert resp.status_code in (200, 201), resp.text
    return resp.json()["id"]


def test_content_ops_roles(http: Client, admin: dict, files: dict) -> None:

    keys = {}
    with http_runtime() as s:
        for role in ("viewer", "editor"):
            keys[role] = {"X-API-Key": staff.create_key(db_session=s, name=f"vod-{role}", role=role)}
    assert upload(http, keys["viewer"], files["good"], "viewer.mp4").json()["error"]["code"] == "STAFF_ROLE_TOO_LOW"
    assert http.get("/v1/admin/vod/assets", headers=keys["viewer"]).status_code == 200
    assert upload(http, keys["editor"], files["good"], "editor.mp4").status_code in (200, 201)
    assert http.get("/v1/admin/vod/assets").json()["error"]["code"] == "STAFF_AUTH_REQUIRED"


def http_runtime():  # noqa: ANN201
    """A write session on the runtime under test."""

    return runtime().db.session()


def test_an_asset_is_deleted_with_everything_stored_unless_a_title_uses_it(http: Client, admin: dict, rt,  # noqa: ANN001
                                                                            tmp_path: Path) -> None:
    path = make_mezzanine(tmp_path / "deleted.mp4", seconds=3.0, audio=("pol",), size="320x180")
    asset_id = upload(http, admin, path).json()["id"]
    assert wait_done(http, admin, asset_id)["state"] == "ready"
    assert http.put(f"/v1/admin/vod/assets/{asset_id}/subtitles/pol", params={"label": "Polski"},
                    content=b"1\n00:00:01,000 --> 00:00:02,000\nhi\n", headers=admin).status_code == 200
    title = f"del-{asset_id[:8]}"
    assert http.post("/v1/admin/vod/titles", json={"id": title, "kind": "movie"}, headers=admin).status_code == 201
    assert http.put(f"/v1/admin/vod/titles/{title}/asset", json={"asset_id": asset_id}, headers=admin).status_code == 200
    refused = http.delete(f"/v1/admin/vod/assets/{asset_id}", headers=admin)
    assert refused.status_code == 409 and refused.json()["error"]["details"]["titles"] == [title]
    assert http.put(f"/v1/admin/vod/titles/{title}/asset", json={"asset_id": None}, headers=admin).status_code == 200
    assert http.delete(f"/v1/admin/vod/assets/{asset_id}", headers=admin).status_code == 204
    assert stored(rt, asset_id) == [] and not rt.store.exists(assets.source_key(asset_id))
    assert http.get(f"/v1/admin/vod/assets/{asset_id}", headers=admin).status_code == 404


def _asset_row(rt, state: str, **values) -> str:  # noqa: ANN001, ANN003
    """Record an asset as an upload would (with no mezzanine stored); return its id."""


    asset_id = new_id()
    with rt.db.session() as s:
        row = assets.create(db_session=s, asset_id=asset_id, filename="never.mp4", size=10, sha256=None,
                            created_by="test", now=dt.datetime.now(dt.UTC), audio_labels=[], state=state)
        for key, value in values.items():
            setattr(row, key, value)
    return asset_id


def _row(rt, asset_id: str):  # noqa: ANN001, ANN202
    with rt.db.session(write=False) as s:
        row = assets.get(db_session=s, asset_id=asset_id)
        return row.state, row.error_code, row.attempt


def test_an_asset_whose_file_is_gone_fails_once_and_is_not_queued_again(http: Client, admin: dict, rt) -> None:  # noqa: ANN001

    asset_id = _asset_row(rt, "queued")
    vod_ingest.ingest_asset(rt, asset_id)  # or the server's own reconcile pass got there first
    wait_for(lambda: _row(rt, asset_id)[0] == "failed", 20, "the asset failed")
    state, code, attempt = _row(rt, asset_id)
    assert code == "MEZZANINE_MISSING" and attempt == 1
    for _ in range(2):
        vod_jobs.reconcile_assets(rt)
        with rt.db.session(write=False) as s:
            assert asset_id not in assets.to_ingest(db_session=s, now=dt.datetime.now(dt.UTC))
    assert _row(rt, asset_id) == ("failed", "MEZZANINE_MISSING", 1)
    retry = http.post(f"/v1/admin/vod/assets/{asset_id}/retry", headers=admin)
    assert retry.status_code == 409 and retry.json()["error"]["code"] == "MEZZANINE_MISSING"


def test_an_asset_whose_worker_died_on_every_try_fails_with_a_reason(http: Client, admin: dict, rt) -> None:  # noqa: ANN001

    # Its worker died (killed by the file, say) on its last try: the heartbeat went stale.
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=assets.STALE_AFTER_S * 3)
    asset_id = _asset_row(rt, "processing", tries=assets.MAX_TRIES, attempt=assets.MAX_TRIES, heartbeat_at=long_ago,
                          error="MemoryError: ")
    for _ in range(2):
        vod_jobs.reconcile_assets(rt)
        with rt.db.session(write=False) as s:
            assert asset_id not in assets.to_ingest(db_session=s, now=dt.datetime.now(dt.UTC))
    wait_for(lambda: _row(rt, asset_id)[0] == "failed", 10, "the asset failed")
    assert _row(rt, asset_id) == ("failed", "INGEST_GAVE_UP", assets.MAX_TRIES)  # never taken again
    asset = http.get(f"/v1/admin/vod/assets/{asset_id}", headers=admin).json()
    assert f"stopped {assets.MAX_TRIES} times" in asset["error"] and "MemoryError" in asset["error"], asset
    assert vod_ingest.ingest_asset(rt, asset_id) == "failed"
    assert _row(rt, asset_id)[2] == assets.MAX_TRIES
