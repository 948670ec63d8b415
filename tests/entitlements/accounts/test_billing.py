"""The billing integration: signed, idempotent, audited changes that become events at once."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid

from entitlements.accounts.passwords import hash_password
from entitlements.accounts.service import ACCOUNT_TOPIC
from tests.entitlements.conftest import Billing, bearer, login


def _number() -> str:
    return f"C{uuid.uuid4().hex[:10].upper()}"


def test_create_update_and_read_a_subscriber(billing, http) -> None:  # noqa: ANN001
    number = _number()
    created = billing.send("PUT", f"/v1/billing/subscribers/{number}",
                           {"email": f"{number}@Example.com", "password": "first password"})
    assert created.status_code == 201, created.text
    assert created.json()["email"] == f"{number.lower()}@example.com" and created.json()["has_password"]
    updated = billing.send("PUT", f"/v1/billing/subscribers/{number}", {"device_limit": 3})
    assert updated.status_code == 200 and updated.json()["device_limit"] == 3
    assert updated.json()["email"] == f"{number.lower()}@example.com"  # untouched fields stay
    read = billing.send("GET", f"/v1/billing/subscribers/{number}")
    assert read.status_code == 200 and read.json() == updated.json()
    assert login(http, number, "first password").status_code == 200


def test_a_password_hash_from_self_care_is_taken_as_it_is(billing, http) -> None:  # noqa: ANN001

    number = _number()
    resp = billing.send("PUT", f"/v1/billing/subscribers/{number}", {"password_hash": hash_password("from portal 1")})
    assert resp.status_code == 201
    assert login(http, number, "from portal 1").status_code == 200
    costly = "$argon2id$v=19$m=4194304,t=10,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
    bad = billing.send("PUT", f"/v1/billing/subscribers/{_number()}", {"password_hash": costly})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "WEAK_PASSWORD"


def test_the_same_request_id_changes_nothing_twice(billing, http, admin) -> None:  # noqa: ANN001
    number, rid = _number(), uuid.uuid4().hex
    body = {"email": f"{number.lower()}@example.com"}
    first = billing.send("PUT", f"/v1/billing/subscribers/{number}", body, request_id=rid)
    time.sleep(1.01)  # a retry is signed again, with a new timestamp
    retry = billing.send("PUT", f"/v1/billing/subscribers/{number}", body, request_id=rid)
    assert first.status_code == retry.status_code == 201 and retry.json() == first.json()
    assert retry.headers.get("Idempotent-Replayed") == "true"
    other = billing.send("PUT", f"/v1/billing/subscribers/{number}", {"device_limit": 2}, request_id=rid)
    assert other.status_code == 409 and other.json()["error"]["code"] == "IDEMPOTENCY_MISMATCH"
    changes = http.get(f"/v1/admin/subscribers/{number}/changes", headers=admin).json()
    assert changes["total"] == 1 and changes["items"][0]["request_id"] == rid
    missing = billing.send("PUT", f"/v1/billing/subscribers/{number}", body, request_id=None)
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "REQUEST_ID_REQUIRED"


def test_unsigned_forged_stale_and_replayed_requests_are_refused(billing, http) -> None:  # noqa: ANN001
    target = f"/v1/billing/subscribers/{_number()}"
    raw = json.dumps({"email": "x@example.com"}).encode()
    unsigned = http.put(target, content=raw, headers={"Content-Type": "application/json", "Idempotency-Key": "a"})
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "BILLING_AUTH_REQUIRED"
    forged = Billing(http, secret="not-the-secret-at-all").send("PUT", target, raw)
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "BAD_SIGNATURE"
    unknown_key = Billing(http, key_id="crm-2").send("PUT", target, raw)
    assert unknown_key.json()["error"]["code"] == "BAD_SIGNATURE"
    stale = billing.send("PUT", target, raw, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 401 and stale.json()["error"]["code"] == "STALE_REQUEST"
    headers = billing.headers("PUT", target, raw, request_id="r-" + uuid.uuid4().hex)
    assert http.put(target, content=raw, headers=headers).status_code == 201
    replay = http.put(target, content=raw, headers=headers)
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "REPLAYED_REQUEST"
    for tampered in ({"content": raw.replace(b"x@", b"y@"), "headers": headers},
                     {"content": raw, "headers": {**headers, "Idempotency-Key": "another"}}):
        assert http.put(target, **tampered).json()["error"]["code"] == "BAD_SIGNATURE"
    # Players and staff keys are not billing credentials.
    assert http.get(target).status_code == 401


def test_packages_with_validity_dates_set_the_combined_limits(billing, http, make_package,  # noqa: ANN001
                                                             make_subscriber) -> None:
    base = make_package(max_devices=3, max_streams=2, recording_hours=50)
    bigger = make_package(max_devices=5, max_streams=3, recording_hours=100)
    streams = make_package(kind="addon", max_streams=2)
    future = make_package(kind="addon", recording_hours=500)
    sub = make_subscriber()
    number = sub["customer_number"]
    now = dt.datetime.now(dt.UTC)
    resp = billing.send("PUT", f"/v1/billing/subscribers/{number}/packages", {"packages": [
        {"code": base["code"]}, {"code": bigger["code"]}, {"code": streams["code"], "valid_to": (now + dt.timedelta(days=30)).isoformat()},
        {"code": future["code"], "valid_from": (now + dt.timedelta(days=1)).isoformat()}]})
    assert resp.status_code == 200, resp.text
    assert {p["code"] for p in resp.json()["packages"]} == {base["code"], bigger["code"], streams["code"], future["code"]}
    me = http.get("/v1/me", headers=bearer(login(http, number).json())).json()
    assert {p["code"] for p in me["packages"]} == {base["code"], bigger["code"], streams["code"]}
    # Largest base wins (5 devices, 3 streams, 100 h); the add-on adds 2 streams; the future one not yet.
    assert me["limits"] == {"max_devices": 5, "max_streams": 5, "recording_hours": 100}
    dropped = billing.send("PUT", f"/v1/billing/subscribers/{number}/packages", {"packages": [{"code": base["code"]}]})
    assert [p["code"] for p in dropped.json()["packages"]] == [base["code"]]


def test_bad_package_requests_change_nothing(billing, make_package, make_subscriber) -> None:  # noqa: ANN001
    base = make_package()
    sub = make_subscriber(packages=[base["code"]])
    target = f"/v1/billing/subscribers/{sub['customer_number']}/packages"
    now = dt.datetime.now(dt.UTC)
    cases = [
        ({"packages": [{"code": "no-such-package"}]}, 422, "UNKNOWN_PACKAGE"),
        ({"packages": [{"code": base["code"], "valid_from": now.isoformat(),
                        "valid_to": (now - dt.timedelta(days=1)).isoformat()}]}, 422, "INVALID_VALIDITY"),
        ({"packages": [{"code": base["code"], "valid_from": "2026-12-01T00:00:00"}]}, 422, "VALIDATION_ERROR"),
        ({"packages": [{"code": base["code"]}, {"code": base["code"]}]}, 422, "INVALID_VALIDITY"),
        ({"packages": "all"}, 422, "VALIDATION_ERROR"),
        ({"packages": [], "extra": 1}, 422, "VALIDATION_ERROR"),
    ]
    for body, status, code in cases:
        resp = billing.send("PUT", target, body)
        assert (resp.status_code, resp.json()["error"]["code"]) == (status, code), (body, resp.text)
    after = billing.send("GET", f"/v1/billing/subscribers/{sub['customer_number']}").json()
    assert [p["code"] for p in after["packages"]] == [base["code"]]
    unknown = billing.send("PUT", "/v1/billing/subscribers/NOBODY1/packages", {"packages": []})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "SUBSCRIBER_NOT_FOUND"


def test_suspend_and_resume_are_audited_and_published(billing, http, admin, rt, make_subscriber) -> None:  # noqa: ANN001
    sub = make_subscriber()
    number = sub["customer_number"]
    seen: list[dict] = []
    arrived = threading.Event()

    def on_event(topic: str, message: dict) -> None:
        if topic == ACCOUNT_TOPIC + sub["id"]:
            seen.append(message)
            arrived.set()

    rt.bus.subscribe(ACCOUNT_TOPIC, on_event)
    try:
        resp = billing.send("POST", f"/v1/billing/subscribers/{number}/suspend", {"reason": "unpaid invoice 2026/11"})
        assert resp.status_code == 200 and resp.json()["status"] == "suspended"
        assert arrived.wait(5), "no event for the suspension"
        assert seen[-1]["action"] == "suspended" and seen[-1]["status"] == "suspended"
        me = http.get("/v1/me", headers=bearer(login(http, number).json())).json()
        assert me["status"] == "suspended" and me["status_reason"] == "unpaid invoice 2026/11"
        arrived.clear()
        assert billing.send("POST", f"/v1/billing/subscribers/{number}/resume").json()["status"] == "active"
        assert arrived.wait(5) and seen[-1]["action"] == "resumed"
    finally:
        rt.bus.unsubscribe(on_event)
    changes = http.get(f"/v1/admin/subscribers/{number}/changes", headers=admin).json()["items"]
    assert [c["action"] for c in changes[:2]] == ["resumed", "suspended"]
    assert changes[1]["before"]["status"] == "active" and changes[1]["after"]["status"] == "suspended"
    assert changes[1]["actor"].startswith("billing:") and "$argon2" not in json.dumps(changes)
    assert billing.send("POST", f"/v1/billing/subscribers/{number}/resume", {"x": 1}).status_code == 422
