"""TV sign-in by code (RFC 8628): the TV polls, a signed-in phone confirms the code."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from entitlements.accounts.auth import DEVICE_CODE_GRANT
from entitlements.accounts.models import DeviceAuthorization
from entitlements.accounts.tokens import sha256_hex
from tests.entitlements.conftest import PASSWORD, bearer, login


def _poll(http, device_code: str, *, form: bool = True):  # noqa: ANN001, ANN202
    data = {"grant_type": DEVICE_CODE_GRANT, "device_code": device_code}
    return http.post("/v1/auth/device/token", data=data) if form else http.post("/v1/auth/device/token", json=data)


def _age_last_poll(rt, device_code: str, seconds: float = 60) -> None:  # noqa: ANN001
    """Move the last poll into the past, as if the TV had waited its interval."""
    with rt.db.session() as s:
        s.execute(update(DeviceAuthorization)
                  .where(DeviceAuthorization.device_code_sha256 == sha256_hex(device_code))
                  .values(last_polled_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)))


def test_tv_signs_in_with_a_code_confirmed_on_a_phone(http, rt, make_subscriber) -> None:  # noqa: ANN001
    sub = make_subscriber()
    phone = login(http, sub["customer_number"]).json()
    start = http.post("/v1/auth/device/code", json={"type": "smart_tv", "name": "Salon", "model": "LG OLED65 webOS 23"})
    assert start.status_code == 200, start.text
    code = start.json()
    assert len(code["user_code"]) == 9 and code["user_code"][4] == "-" and code["interval"] >= 1
    assert code["verification_uri_complete"].endswith(code["user_code"])
    pending = _poll(http, code["device_code"])
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    # Typed on the phone in lower case without the dash: still the code.
    typed = code["user_code"].replace("-", "").lower()
    ok = http.post("/v1/auth/device/approve", json={"user_code": typed}, headers=bearer(phone))
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    _age_last_poll(rt, code["device_code"])
    tokens = _poll(http, code["device_code"])
    assert tokens.status_code == 200, tokens.text
    devices = http.get("/v1/me/devices", headers=bearer(tokens.json())).json()
    assert {(d["type"], d["name"]) for d in devices} == {("mobile", "Anna's phone"), ("smart_tv", "Salon")}
    _age_last_poll(rt, code["device_code"])
    reused = _poll(http, code["device_code"])  # single use
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_polling_too_fast_gets_slow_down_with_a_longer_interval(http, rt) -> None:  # noqa: ANN001
    code = http.post("/v1/auth/device/code").json()
    assert _poll(http, code["device_code"]).json()["error"] == "authorization_pending"
    fast = _poll(http, code["device_code"], form=False)
    assert fast.status_code == 400 and fast.json()["error"] == "slow_down"
    with rt.db.session(write=False) as s:
        row = s.get(DeviceAuthorization, sha256_hex(code["device_code"]))
        assert row.interval_s == code["interval"] + 5


def test_expired_denied_and_unknown_codes(http, rt, make_subscriber) -> None:  # noqa: ANN001
    phone = login(http, make_subscriber()["customer_number"]).json()
    code = http.post("/v1/auth/device/code").json()
    assert http.post("/v1/auth/device/approve", json={"user_code": code["user_code"], "approve": False},
                     headers=bearer(phone)).json()["status"] == "denied"
    assert _poll(http, code["device_code"]).json()["error"] == "access_denied"
    late = http.post("/v1/auth/device/code").json()
    with rt.db.session() as s:
        s.execute(update(DeviceAuthorization).where(
            DeviceAuthorization.device_code_sha256 == sha256_hex(late["device_code"]))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert _poll(http, late["device_code"]).json()["error"] == "expired_token"
    gone = http.post("/v1/auth/device/approve", json={"user_code": late["user_code"]}, headers=bearer(phone))
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "USER_CODE_NOT_FOUND"
    assert _poll(http, "sgd_nope").json()["error"] == "invalid_grant"
    wrong_grant = http.post("/v1/auth/device/token", data={"grant_type": "password", "device_code": "x"})
    assert wrong_grant.json()["error"] == "unsupported_grant_type"
    not_json = http.post("/v1/auth/device/token", content=b"[1,2", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["error"] == "invalid_request"
    anonymous = http.post("/v1/auth/device/approve", json={"user_code": code["user_code"]})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "AUTH_REQUIRED"


def test_a_tv_code_can_be_confirmed_on_the_sign_in_page(http, rt, make_subscriber) -> None:  # noqa: ANN001

    sub = make_subscriber()
    code = http.post("/v1/auth/device/code").json()
    page = http.get("/activate", params={"user_code": code["user_code"]})
    assert page.status_code == 200 and code["user_code"] in page.text and "<form" in page.text
    wrong = http.post("/activate", data={"user_code": code["user_code"], "login": sub["email"], "password": "nope"})
    assert wrong.status_code == 401 and "INVALID_CREDENTIALS" in wrong.text
    hostile = http.get("/activate", params={"user_code": "<script>"})
    assert "<script>" not in hostile.text
    ok = http.post("/activate", data={"user_code": code["user_code"], "login": sub["email"], "password": PASSWORD})
    assert ok.status_code == 200 and "signed in" in ok.text
    _age_last_poll(rt, code["device_code"])
    assert _poll(http, code["device_code"]).status_code == 200


def test_the_verification_uri_points_where_the_tv_reached_us(http, server) -> None:  # noqa: ANN001
    code = http.post("/v1/auth/device/code").json()
    assert code["verification_uri"] == f"{server}/activate"
    assert http.get(code["verification_uri_complete"]).status_code == 200
