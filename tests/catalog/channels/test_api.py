"""Channel administration over HTTP: roles, validation, and JSON errors with stable codes."""

from __future__ import annotations

import uuid

import pytest

from catalog.channels import service
from catalog.channels.schemas import ChannelCreate, RenditionSpec
from infra import staff
from tests.support.channels import channel_body


def _id() -> str:
    return f"c-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def keys(rt) -> dict[str, dict[str, str]]:  # noqa: ANN001
    """Headers of a viewer, an operator and an admin key."""
    out = {}
    with rt.db.session() as s:
        for role in staff.ROLES:
            out[role] = {"X-API-Key": staff.create_key(db_session=s, name=f"test {role}", role=role)}
    return out


def test_create_read_update_disable_delete(http, admin) -> None:  # noqa: ANN001
    cid = _id()
    created = http.post("/v1/admin/channels", json=channel_body(cid, number=None), headers=admin)
    assert created.status_code == 201
    body = created.json()
    assert body["target_duration_s"] == 2 and body["audio_frame_aligned"] is True
    assert [r["name"] for r in body["renditions"]] == ["360p", "240p"]
    assert http.get(f"/v1/admin/channels/{cid}", headers=admin).json()["name"] == f"Channel {cid}"
    patched = http.patch(f"/v1/admin/channels/{cid}", json={"name": "Renamed", "timeshift_window_s": 600},
                         headers=admin)
    assert patched.status_code == 200 and patched.json()["name"] == "Renamed"
    assert http.post(f"/v1/admin/channels/{cid}/disable", headers=admin).json()["enabled"] is False
    assert http.post(f"/v1/admin/channels/{cid}/enable", headers=admin).json()["enabled"] is True
    listed = http.get("/v1/admin/channels", params={"limit": 500}, headers=admin).json()
    assert cid in [c["id"] for c in listed["items"]] and listed["total"] >= 1
    assert http.delete(f"/v1/admin/channels/{cid}", headers=admin).status_code == 204
    gone = http.get(f"/v1/admin/channels/{cid}", headers=admin)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "CHANNEL_NOT_FOUND"


def test_roles_are_enforced(http, keys) -> None:  # noqa: ANN001
    cid = _id()
    none = http.post("/v1/admin/channels", json=channel_body(cid))
    assert none.status_code == 401 and none.json()["error"]["code"] == "STAFF_AUTH_REQUIRED"
    wrong = http.get("/v1/admin/channels", headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401
    low = http.post("/v1/admin/channels", json=channel_body(cid), headers=keys["operator"])
    assert low.status_code == 403 and low.json()["error"]["code"] == "STAFF_ROLE_TOO_LOW"
    assert http.post("/v1/admin/channels", json=channel_body(cid), headers=keys["admin"]).status_code == 201
    assert http.get(f"/v1/admin/channels/{cid}", headers=keys["viewer"]).status_code == 200
    assert http.post(f"/v1/admin/channels/{cid}/disable", headers=keys["viewer"]).status_code == 403
    assert http.post(f"/v1/admin/channels/{cid}/disable", headers=keys["operator"]).status_code == 200
    assert http.get(f"/v1/admin/channels/{cid}/ingest", headers=keys["operator"]).status_code == 403


BAD_BODIES = [
    ({"id": "Bad Id!"}, "VALIDATION_ERROR"),
    ({"id": "../etc"}, "VALIDATION_ERROR"),
    ({"surprise": 1}, "VALIDATION_ERROR"),
    ({"segment_duration_ms": 2000}, "VALIDATION_ERROR"),  # 2 s is 50 frames at 25 fps...
    ({"segment_duration_ms": 1930}, "VALIDATION_ERROR"),  # ...1.93 s is not a whole frame count
    ({"segment_sets": ["ts"]}, "VALIDATION_ERROR"),
    ({"segment_sets": ["dash"]}, "VALIDATION_ERROR"),
    ({"renditions": []}, "VALIDATION_ERROR"),
    ({"target_duration_s": 1}, "VALIDATION_ERROR"),
    ({"name": 12}, "VALIDATION_ERROR"),
    ({"timeshift_window_s": -5}, "VALIDATION_ERROR"),
    ({"logo_url": "javascript:alert(1)"}, "VALIDATION_ERROR"),
]


@pytest.mark.parametrize("override,code", BAD_BODIES)
def test_bad_channel_bodies_get_422_with_a_code(http, admin, override, code) -> None:  # noqa: ANN001
    body = channel_body(_id())
    body.update(override)
    if override == {"segment_duration_ms": 2000}:
        # 2000 ms is valid at 25 fps: make it invalid with a 30 fps rung instead.
        body["renditions"][0]["frame_rate"] = 29.97
    resp = http.post("/v1/admin/channels", json=body, headers=admin)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == code
    assert resp.json()["error"]["details"]["errors"]


def test_malformed_json_huge_numbers_and_conflicts(http, admin) -> None:  # noqa: ANN001
    bad = http.post("/v1/admin/channels", content=b'{"id": "x",', headers={**admin, "content-type": "application/json"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "MALFORMED_JSON"
    cid = _id()
    assert http.post("/v1/admin/channels", json=channel_body(cid, number=4242), headers=admin).status_code == 201
    dup = http.post("/v1/admin/channels", json=channel_body(cid), headers=admin)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "CHANNEL_EXISTS"
    taken = http.post("/v1/admin/channels", json=channel_body(_id(), number=4242), headers=admin)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "CHANNEL_NUMBER_TAKEN"
    huge = http.post("/v1/admin/channels", json=channel_body(_id(), number=10**30), headers=admin)
    assert huge.status_code == 422
    unknown = http.patch("/v1/admin/channels/missing-one", json={"name": "x"}, headers=admin)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "CHANNEL_NOT_FOUND"
    nothing = http.get("/v1/no/such/route")
    assert nothing.status_code == 404 and nothing.json()["error"]["code"] == "NOT_FOUND"
    verb = http.put("/healthz")
    assert verb.status_code == 405 and verb.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


# Renditions ffmpeg's x264 cannot encode: refused with 422, the error naming the field.
BAD_RENDITIONS = [
    ({"width": 641}, "width"), ({"height": 361}, "height"), ({"width": 0}, "width"), ({"height": -2}, "height"),
    ({"width": 7682}, "width"), ({"height": 4322}, "height"), ({"width": 10**12}, "width"),
    ({"frame_rate": 0}, "frame_rate"), ({"frame_rate": -25}, "frame_rate"), ({"frame_rate": 120.5}, "frame_rate"),
    ({"frame_rate": 0.5}, "frame_rate"), ({"frame_rate": 1e308}, "frame_rate"), ({"frame_rate": 25.0001}, "frame_rate"),
    ({"frame_rate": "NaN"}, "frame_rate"), ({"frame_rate": "Infinity"}, "frame_rate"),
    ({"video_bitrate_kbps": 0}, "video_bitrate_kbps"), ({"video_bitrate_kbps": 10**7}, "video_bitrate_kbps"),
    ({"audio_bitrate_kbps": -1}, "audio_bitrate_kbps"), ({"audio_bitrate_kbps": 5000}, "audio_bitrate_kbps"),
]


@pytest.mark.parametrize(("change", "field"), BAD_RENDITIONS, ids=[str(c) for c, _ in BAD_RENDITIONS])
def test_renditions_x264_cannot_encode_are_refused_naming_the_field(http, admin, change: dict, field: str) -> None:  # noqa: ANN001
    body = channel_body(_id(), segment_sets=["cmaf", "ts"])
    body["renditions"][0].update(change)
    resp = http.post("/v1/admin/channels", json=body, headers=admin)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "VALIDATION_ERROR", resp.text
    errors = resp.json()["error"]["details"]["errors"]
    assert [e["loc"][-1] for e in errors] == [field], errors
    assert http.get(f"/v1/admin/channels/{body['id']}", headers=admin).status_code == 404


def test_a_ladder_at_two_frame_rates_is_refused(http, admin) -> None:  # noqa: ANN001
    body = channel_body(_id(), segment_duration_ms=2000)
    body["renditions"][0]["frame_rate"], body["renditions"][1]["frame_rate"] = 25, 50
    resp = http.post("/v1/admin/channels", json=body, headers=admin)
    assert resp.status_code == 422 and "frame_rate" in resp.json()["error"]["details"]["errors"][0]["msg"], resp.text


def create_unchecked_channel(rt, channel_id: str, rendition: dict, **overrides) -> None:  # noqa: ANN001, ANN003
    """Record a channel as an older release accepted it, past today's rendition checks."""

    checked = ChannelCreate.model_validate(channel_body(channel_id, **overrides)).model_dump()
    unchecked = RenditionSpec.model_construct(**{**RenditionSpec(name="x", width=640, height=360,
                                                                 video_bitrate_kbps=800).model_dump(), **rendition})
    with rt.db.session() as s:
        service.create(db_session=s, channel_in=ChannelCreate.model_construct(**{**checked, "renditions": [unchecked]}))


def test_a_channel_accepted_before_the_checks_still_reads(http, admin, rt) -> None:  # noqa: ANN001
    cid = _id()
    create_unchecked_channel(rt, cid, {"name": "odd", "width": 641, "height": 361})
    resp = http.get(f"/v1/admin/channels/{cid}", headers=admin)
    assert resp.status_code == 200 and resp.json()["renditions"][0]["width"] == 641, resp.text
    assert cid in [c["id"] for c in http.get("/v1/admin/channels", params={"limit": 500}, headers=admin).json()["items"]]
