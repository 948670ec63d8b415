"""The package catalogue (staff) and which packages grant a channel."""

from __future__ import annotations

import uuid

from entitlements.packages import service


def test_create_update_channels_and_delete_a_package(http, admin, rt, make_channel) -> None:  # noqa: ANN001
    ch = make_channel()
    code = f"hbo-{uuid.uuid4().hex[:6]}"
    created = http.post("/v1/admin/packages", headers=admin, json={
        "code": code, "name": "HBO", "kind": "addon", "max_streams": 1, "channels": [ch["id"]]})
    assert created.status_code == 201, created.text
    assert created.json()["channels"] == [ch["id"]] and created.json()["max_devices"] is None
    dup = http.post("/v1/admin/packages", headers=admin, json={"code": code, "name": "x", "kind": "base"})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "PACKAGE_EXISTS"
    patched = http.patch(f"/v1/admin/packages/{code}", headers=admin, json={"name": "HBO Max", "max_streams": None})
    assert patched.json()["name"] == "HBO Max" and patched.json()["max_streams"] is None
    with rt.db.session(write=False) as s:
        assert [p.code for p in service.packages_granting_channel(db_session=s, channel_id=ch["id"])] == [code]
    none = http.put(f"/v1/admin/packages/{code}/channels", headers=admin, json={"channels": []})
    assert none.json()["channels"] == []
    missing = http.put(f"/v1/admin/packages/{code}/channels", headers=admin, json={"channels": ["no-such-ch"]})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "CHANNEL_NOT_FOUND"
    assert http.get(f"/v1/admin/packages/{code}", headers=admin).json()["channels"] == []
    assert http.delete(f"/v1/admin/packages/{code}", headers=admin).status_code == 204
    assert http.get(f"/v1/admin/packages/{code}", headers=admin).json()["error"]["code"] == "PACKAGE_NOT_FOUND"


def test_a_package_someone_holds_cannot_be_deleted(http, admin, make_package, make_subscriber) -> None:  # noqa: ANN001
    package = make_package()
    make_subscriber(packages=[package["code"]])
    resp = http.delete(f"/v1/admin/packages/{package['code']}", headers=admin)
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "PACKAGE_IN_USE"
    assert resp.json()["error"]["details"]["holders"] == 1


def test_packages_need_staff_and_valid_bodies(http, admin) -> None:  # noqa: ANN001
    assert http.get("/v1/admin/packages").json()["error"]["code"] == "STAFF_AUTH_REQUIRED"
    for body in ({"code": "UPPER", "name": "x", "kind": "base"}, {"code": "a", "name": "x", "kind": "premium"},
                 {"code": "a", "name": "x", "kind": "base", "max_streams": -1},
                 {"code": "a", "name": "x", "kind": "base", "max_streams": "two"},
                 {"code": "a", "name": "x", "kind": "base", "colour": "red"}):
        resp = http.post("/v1/admin/packages", headers=admin, json=body)
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "VALIDATION_ERROR", body
