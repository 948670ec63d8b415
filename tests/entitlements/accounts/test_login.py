"""Sign-in with a password: tokens, rotation, reuse, logout, throttling, password reset."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from entitlements.accounts import auth
from entitlements.accounts.errors import InvalidCredentials
from entitlements.accounts.throttle import LoginThrottle
from entitlements.packages.rules import ThrottlePolicy
from infra.notify import outbox
from tests.entitlements.conftest import PASSWORD, bearer, login


def test_login_by_customer_number_or_email_gives_working_tokens(http, make_subscriber) -> None:  # noqa: ANN001
    sub = make_subscriber()
    by_number = login(http, sub["customer_number"])
    assert by_number.status_code == 200, by_number.text
    by_email = login(http, sub["email"].upper())  # e-mail is case-insensitive
    assert by_email.status_code == 200, by_email.text
    tokens = by_number.json()
    assert tokens["token_type"] == "Bearer" and 0 < tokens["expires_in"] <= 900
    me = http.get("/v1/me", headers=bearer(tokens))
    assert me.status_code == 200 and me.json()["customer_number"] == sub["customer_number"]
    assert me.json()["devices"] == 2  # each login without a device id registered a device


def test_unknown_login_and_wrong_password_look_the_same(http, rt, make_subscriber) -> None:  # noqa: ANN001
    sub = make_subscriber()
    wrong = login(http, sub["customer_number"], "not the password")
    unknown = login(http, f"nobody-{uuid.uuid4().hex[:8]}@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "INVALID_CREDENTIALS"

    def work(name: str) -> float:
        """The CPU time the check spends on this thread: a busy machine's waits do not count."""
        with rt.db.session() as s:
            start = time.thread_time()
            with pytest.raises(InvalidCredentials):
                auth.check_credentials(rt, db_session=s, login=name, password="still not it", address="198.51.100.7")
            return time.thread_time() - start

    # Fresh logins each time, so neither side reaches the throttle's delays; the two kinds take
    # turns, and the least work of each is compared.
    pairs = [(work(make_subscriber()["customer_number"]), work(f"N{uuid.uuid4().hex[:10]}")) for _ in range(7)]
    known, absent = min(k for k, _ in pairs), min(a for _, a in pairs)
    assert 0.6 < known / absent < 1.6, pairs


def test_refresh_rotates_and_a_reused_token_revokes_the_family(http, make_subscriber) -> None:  # noqa: ANN001
    sub = make_subscriber()
    first = login(http, sub["customer_number"]).json()
    second = http.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    second = second.json()
    assert second["refresh_token"] != first["refresh_token"] and second["device_id"] == first["device_id"]
    assert http.get("/v1/me", headers=bearer(second)).status_code == 200
    # The first token comes back (stolen, say): the whole family dies, the new tokens too.
    reuse = http.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401 and reuse.json()["error"]["code"] == "REFRESH_TOKEN_REUSED"
    again = http.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert again.status_code == 401 and again.json()["error"]["code"] == "INVALID_REFRESH_TOKEN"
    me = http.get("/v1/me", headers=bearer(second))
    assert me.status_code == 401 and me.json()["error"]["code"] == "INVALID_ACCESS_TOKEN"


def test_logout_and_logout_everywhere(http, make_subscriber) -> None:  # noqa: ANN001
    sub = make_subscriber()
    phone, tv, tablet = (login(http, sub["customer_number"]).json() for _ in range(3))
    assert http.post("/v1/auth/logout", headers=bearer(phone)).status_code == 204
    assert http.get("/v1/me", headers=bearer(phone)).status_code == 401
    assert http.post("/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}).status_code == 401
    assert http.get("/v1/me", headers=bearer(tv)).status_code == 200
    out = http.post("/v1/auth/logout-everywhere", headers=bearer(tv))
    assert out.status_code == 200 and out.json()["revoked"] == 2
    for tokens in (tv, tablet):
        assert http.get("/v1/me", headers=bearer(tokens)).status_code == 401


def test_missing_forged_and_foreign_tokens_are_refused(http, make_subscriber) -> None:  # noqa: ANN001
    assert http.get("/v1/me").json()["error"]["code"] == "AUTH_REQUIRED"
    tokens = login(http, make_subscriber()["customer_number"]).json()
    head, payload, sig = tokens["access_token"].split(".")
    forged = f"{head}.{payload}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"
    for bad in (forged, "junk", "a.b.c", tokens["refresh_token"]):
        resp = http.get("/v1/me", headers={"Authorization": f"Bearer {bad}"})
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "INVALID_ACCESS_TOKEN"


def test_repeated_failures_slow_down_then_lock_the_account(http, make_subscriber) -> None:  # noqa: ANN001
    sub = make_subscriber()
    codes = []
    for _ in range(3):  # the free attempts
        codes.append(login(http, sub["customer_number"], "guess").json()["error"]["code"])
    assert codes == ["INVALID_CREDENTIALS"] * 3
    throttled = login(http, sub["customer_number"], "guess")
    assert throttled.status_code == 429 and throttled.json()["error"]["code"] == "LOGIN_THROTTLED"
    assert int(throttled.headers["Retry-After"]) >= 1
    # While it must wait, even the right password is refused (else the delay protects nothing),
    # and the e-mail is the same account.
    assert login(http, sub["email"], PASSWORD).status_code == 429


def test_account_lock_holds_under_parallel_guessing(rt, make_subscriber) -> None:  # noqa: ANN001
    """At most lock_after passwords are checked however many guesses arrive at once."""

    policy = ThrottlePolicy(free_attempts=100, lock_after=5, window_s=60, lock_s=60)
    throttle = LoginThrottle(rt.cache)
    key = f"acct:test-{uuid.uuid4().hex}"

    def guess(_: int) -> bool:
        try:
            n = throttle.admit(key, policy)
        except Exception:
            return False
        throttle.failed(key, policy, n)
        return True

    with ThreadPoolExecutor(16) as pool:
        checked = sum(pool.map(guess, range(200)))
    assert checked == 5


def test_an_address_with_many_failures_is_locked_for_every_login(rt, make_subscriber, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(rt.settings, "login_address_failures", 4)
    address = f"198.51.100.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}"
    subs = [make_subscriber() for _ in range(4)]
    for sub in subs:  # one guess on each of four accounts
        with rt.db.session(write=False) as s:
            try:
                auth.check_credentials(rt, db_session=s, login=sub["customer_number"], password="x", address=address)
            except Exception as err:
                assert err.code == "INVALID_CREDENTIALS"
    with rt.db.session(write=False) as s:
        try:
            auth.check_credentials(rt, db_session=s, login=make_subscriber()["customer_number"], password=PASSWORD,
                                   address=address)
            raise AssertionError("the address should be locked")
        except Exception as err:
            assert err.code == "LOGIN_THROTTLED"
        # Another address is not affected.
        assert auth.check_credentials(rt, db_session=s, login=subs[0]["customer_number"], password=PASSWORD,
                                      address=address + "-other")


def test_password_reset_by_one_time_token_from_the_outbox(http, rt, make_subscriber) -> None:  # noqa: ANN001
    sub = make_subscriber()
    old = login(http, sub["customer_number"]).json()
    assert http.post("/v1/auth/password-reset", json={"login": sub["email"]}).status_code == 202
    unknown = http.post("/v1/auth/password-reset", json={"login": "nobody@example.com"})
    assert unknown.status_code == 202 and unknown.json() == {"status": "accepted"}
    with rt.db.session(write=False) as s:
        (message,) = outbox(db_session=s, recipient=sub["email"], kind="password_reset")
        token = message.payload["token"]
    weak = http.post("/v1/auth/password-reset/confirm", json={"token": token, "new_password": "short"})
    assert weak.status_code == 422 and weak.json()["error"]["code"] == "WEAK_PASSWORD"
    ok = http.post("/v1/auth/password-reset/confirm", json={"token": token, "new_password": "a new secret 42"})
    assert ok.status_code == 204
    used = http.post("/v1/auth/password-reset/confirm", json={"token": token, "new_password": "another one 43"})
    assert used.status_code == 422 and used.json()["error"]["code"] == "INVALID_RESET_TOKEN"
    assert http.get("/v1/me", headers=bearer(old)).status_code == 401  # signed out everywhere
    assert login(http, sub["customer_number"]).status_code == 401
    assert login(http, sub["customer_number"], "a new secret 42").status_code == 200
