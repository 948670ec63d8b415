"""Large mezzanines in parts, straight to storage (presigned on S3, signed API URLs on the local folder)."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest

from streaming.vod import service as assets
from tests.streaming.vod.test_ingest import wait_done
from tests.support.http import Client
from tests.support.mezzanine import make_mezzanine

pytestmark = pytest.mark.ffmpeg
PART = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:  # noqa: ANN001
    """A grainy mezzanine of about 13 MB: three parts of 5 MiB."""
    return make_mezzanine(tmp_path_factory.mktemp("big") / "big.mp4", seconds=3.0, noise=True)


def start(http: Client, admin: dict, path: Path, **extra) -> dict:  # noqa: ANN003
    resp = http.post("/v1/admin/vod/uploads", headers=admin,
                     json={"filename": path.name, "size": path.stat().st_size, "part_size": PART, **extra})
    assert resp.status_code == 201, resp.text
    return resp.json()


def send_parts(plan: dict, path: Path) -> list[dict]:
    """PUT each part to its URL, as a client does with presigned URLs; return the parts with their ETags."""
    data, done = path.read_bytes(), []
    for part in plan["parts"]:
        n = part["part_number"]
        resp = httpx.put(part["url"], content=data[(n - 1) * PART: n * PART], timeout=60)
        assert resp.status_code == 200, resp.text
        done.append({"part_number": n, "etag": resp.headers["etag"]})
    return done


def test_a_file_uploaded_in_parts_is_ingested_once(http: Client, admin: dict, rt, big: Path) -> None:  # noqa: ANN001
    plan = start(http, admin, big)
    assert plan["asset"]["state"] == "uploading" and len(plan["parts"]) == 3 and plan["part_size"] == PART
    parts = send_parts(plan, big)
    asset_id = plan["asset"]["id"]
    done = http.post(f"/v1/admin/vod/uploads/{asset_id}/complete", json={"parts": parts}, headers=admin)
    assert done.status_code == 200 and done.json()["state"] == "queued", done.text
    asset = wait_done(http, admin, asset_id)
    assert asset["state"] == "ready", asset
    assert not list(rt.store.list("multipart/"))  # the parts are joined and gone
    # The same file again, in parts: the API never saw the bytes, ingest finds the twin by its hash.
    twin = start(http, admin, big)
    http.post(f"/v1/admin/vod/uploads/{twin['asset']['id']}/complete", json={"parts": send_parts(twin, big)},
              headers=admin)
    again = wait_done(http, admin, twin["asset"]["id"])
    assert again["state"] == "failed" and again["error_code"] == "DUPLICATE_UPLOAD", again
    assert asset_id in again["error"]
    assert not rt.store.exists(assets.source_key(twin["asset"]["id"]))


def test_bad_completions_and_part_urls_are_refused(http: Client, admin: dict, rt, big: Path) -> None:  # noqa: ANN001
    plan = start(http, admin, big)
    asset_id = plan["asset"]["id"]
    parts = send_parts(plan, big)
    url = f"/v1/admin/vod/uploads/{asset_id}/complete"
    for bad in ([parts[1], parts[0], parts[2]], parts[:1] + parts[2:],
                [parts[0], {"part_number": 2, "etag": '"' + "0" * 32 + '"'}, parts[2]]):
        resp = http.post(url, json={"parts": bad}, headers=admin)
        assert resp.status_code in (400, 422), resp.text
    assert http.post(url, json={"parts": []}, headers=admin).status_code == 422
    assert http.post(f"/v1/admin/vod/uploads/{'a' * 32}/complete", json={"parts": parts},
                     headers=admin).json()["error"]["code"] == "ASSET_NOT_FOUND"
    # An API part URL is its own credential: a changed signature or part number is refused.
    forged = f"/v1/admin/vod/uploads/{asset_id}/parts/1?expires=9999999999&signature={'0' * 64}"
    assert http.put(forged, content=b"x").status_code in (401, 409)
    for body, code in (({"filename": "x.mp4", "size": 0}, "VALIDATION_ERROR"),
                       ({"filename": "x.mp4", "size": 10, "part_size": 1024}, "VALIDATION_ERROR"),
                       ({"filename": "x.mp4", "size": 10**12, "part_size": PART}, "INVALID_INPUT")):
        assert http.post("/v1/admin/vod/uploads", json=body, headers=admin).json()["error"]["code"] == code
    aborted = http.delete(f"/v1/admin/vod/uploads/{asset_id}", headers=admin)
    assert aborted.status_code == 200 and aborted.json()["state"] == "cancelled"
    assert http.post(url, json={"parts": parts}, headers=admin).json()["error"]["code"] == "ASSET_STATE_CONFLICT"
    assert not list(rt.store.list("multipart/")) and not rt.store.exists(assets.source_key(asset_id))


def test_an_aborted_upload_answers_every_later_step_with_409_and_cannot_be_retried(http: Client, admin: dict,
                                                                                    rt) -> None:  # noqa: ANN001
    data = random.Random(7).randbytes(PART + 1000)
    plan = http.post("/v1/admin/vod/uploads", headers=admin,
                     json={"filename": "aborted.mp4", "size": len(data), "part_size": PART}).json()
    asset_id, base = plan["asset"]["id"], f"/v1/admin/vod/uploads/{plan['asset']['id']}"
    first = httpx.put(plan["parts"][0]["url"], content=data[:PART], timeout=60)
    assert first.status_code == 200
    aborted = http.delete(base, headers=admin)
    assert aborted.status_code == 200 and aborted.json()["state"] == "cancelled"
    assert aborted.json()["error_code"] == "UPLOAD_ABORTED"
    parts = [{"part_number": 1, "etag": first.headers["etag"]}, {"part_number": 2, "etag": '"' + "0" * 32 + '"'}]
    answers = {
        "abort again": http.delete(base, headers=admin),
        "complete": http.post(f"{base}/complete", json={"parts": parts}, headers=admin),
        "cancel": http.post(f"/v1/admin/vod/assets/{asset_id}/cancel", headers=admin),
        "retry": http.post(f"/v1/admin/vod/assets/{asset_id}/retry", headers=admin),
    }
    for step, resp in answers.items():
        assert resp.status_code == 409, (step, resp.text)
    assert answers["retry"].json()["error"]["code"] == "MEZZANINE_MISSING"
    late = httpx.put(plan["parts"][1]["url"], content=data[PART:], timeout=60)
    # A part URL of ours answers 409; a presigned one is the store's to refuse (S3: NoSuchUpload).
    assert late.status_code == 409 if "/v1/admin/vod/uploads/" in plan["parts"][1]["url"] else late.status_code >= 400
    asset = http.get(f"/v1/admin/vod/assets/{asset_id}", headers=admin).json()
    assert asset["state"] == "cancelled" and asset["attempt"] == 0, asset  # never handed to ingest
    assert not list(rt.store.list("multipart/")) and not rt.store.exists(assets.source_key(asset_id))


def test_parts_that_join_into_another_size_spend_the_upload_and_fail_the_asset(http: Client, admin: dict,
                                                                                rt) -> None:  # noqa: ANN001
    data = random.Random(8).randbytes(PART + 2000)
    plan = http.post("/v1/admin/vod/uploads", headers=admin,
                     json={"filename": "short.mp4", "size": len(data), "part_size": PART}).json()
    asset_id, base = plan["asset"]["id"], f"/v1/admin/vod/uploads/{plan['asset']['id']}"
    parts = []
    for part, chunk in zip(plan["parts"], (data[:PART], data[PART:-1000])):  # the last part is short
        resp = httpx.put(part["url"], content=chunk, timeout=60)
        parts.append({"part_number": part["part_number"], "etag": resp.headers["etag"]})
    short = http.post(f"{base}/complete", json={"parts": parts}, headers=admin)
    assert short.status_code == 400 and short.json()["error"]["code"] == "UPLOAD_INCOMPLETE", short.text
    asset = http.get(f"/v1/admin/vod/assets/{asset_id}", headers=admin).json()
    assert asset["state"] == "failed" and asset["error_code"] == "UPLOAD_INCOMPLETE", asset
    for resp in (http.post(f"{base}/complete", json={"parts": parts}, headers=admin), http.delete(base, headers=admin),
                 http.post(f"/v1/admin/vod/assets/{asset_id}/retry", headers=admin)):
        assert resp.status_code == 409, resp.text
    assert not rt.store.exists(assets.source_key(asset_id)) and not list(rt.store.list("multipart/"))
