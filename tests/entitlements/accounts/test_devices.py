"""Devices: registered at first login, limited per account, listed, renamed and removed."""

from __future__ import annotations

from tests.entitlements.conftest import bearer, login

TV = {"type": "smart_tv", "name": "Living room", "model": "Samsung QE55 (Tizen 7)"}


def test_a_device_is_registered_once_and_recognised_by_its_id(http, make_subscriber) -> None:  # noqa: ANN001
    sub = make_subscriber()
    first = login(http, sub["customer_number"], device=TV).json()
    again = login(http, sub["customer_number"], device={**TV, "id": first["device_id"]}).json()
    assert again["device_id"] == first["device_id"]
    devices = http.get("/v1/me/devices", headers=bearer(again)).json()
    assert [(d["type"], d["name"], d["model"], d["current"]) for d in devices] == \
        [("smart_tv", "Living room", "Samsung QE55 (Tizen 7)", True)]


def test_device_limit_comes_from_the_packages_and_names_the_devices(http, make_subscriber,  # noqa: ANN001
                                                                   make_package) -> None:
    base = make_package(max_devices=2)
    sub = make_subscriber(packages=[base["code"]])
    for _ in range(2):
        assert login(http, sub["customer_number"]).status_code == 200
    third = login(http, sub["customer_number"], device=TV)
    assert third.status_code == 403
    err = third.json()["error"]
    assert err["code"] == "DEVICE_LIMIT" and err["details"]["limit"] == 2
    assert len(err["details"]["devices"]) == 2 and {"id", "name", "type"} <= set(err["details"]["devices"][0])


def test_rename_and_remove_a_device_revokes_its_tokens(http, make_subscriber) -> None:  # noqa: ANN001
    sub = make_subscriber()
    phone = login(http, sub["customer_number"]).json()
    tv = login(http, sub["customer_number"], device=TV).json()
    renamed = http.patch(f"/v1/me/devices/{tv['device_id']}", json={"name": "Bedroom"}, headers=bearer(phone))
    assert renamed.status_code == 200 and renamed.json()["name"] == "Bedroom"
    assert http.delete(f"/v1/me/devices/{tv['device_id']}", headers=bearer(phone)).status_code == 204
    assert http.get("/v1/me", headers=bearer(tv)).status_code == 401
    assert http.post("/v1/auth/refresh", json={"refresh_token": tv["refresh_token"]}).status_code == 401
    assert [d["id"] for d in http.get("/v1/me/devices", headers=bearer(phone)).json()] == [phone["device_id"]]


def test_another_accounts_device_is_not_found(http, make_subscriber) -> None:  # noqa: ANN001
    mine = login(http, make_subscriber()["customer_number"]).json()
    other_sub = make_subscriber()
    theirs = login(http, other_sub["customer_number"]).json()
    for method, kwargs in (("PATCH", {"json": {"name": "x"}}), ("DELETE", {})):
        resp = http.request(method, f"/v1/me/devices/{theirs['device_id']}", headers=bearer(mine), **kwargs)
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "DEVICE_NOT_FOUND"
    # Logging in with someone else's device id does not take their device.
    resp = login(http, make_subscriber()["customer_number"], device={**TV, "id": theirs["device_id"]})
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "DEVICE_NOT_FOUND"
    assert http.get("/v1/me", headers=bearer(theirs)).status_code == 200
    bad = http.delete("/v1/me/devices/../../admin", headers=bearer(mine))
    assert bad.status_code in (404, 422) and "error" in bad.json()
