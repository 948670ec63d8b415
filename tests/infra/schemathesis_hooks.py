"""Schemathesis hooks: each generated request is sent as the caller its operation's OpenAPI security names.

Loaded by the schemathesis CLI (SCHEMATHESIS_HOOKS=tests.infra.schemathesis_hooks) that
tests/infra/test_schemathesis.py runs; the server and its keys come in SMARTGO_FUZZ_* variables.
With SMARTGO_FUZZ_CALLER=anonymous nothing is added: every operation is tried without credentials.

- StaffApiKey: the bootstrap admin key in X-API-Key;
- SubscriberToken: the access token of a subscriber made through billing, signed in again when
  a generated request (a logout, say) revoked it;
- BillingSignature: the request signed as a billing system signs it, over the exact bytes sent.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import threading
import time
import uuid

import requests
import schemathesis
from requests.auth import AuthBase

from entitlements.accounts.billing import signature

ENV = os.environ


class StaffKey(AuthBase):
    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["X-API-Key"] = ENV["SMARTGO_FUZZ_ADMIN_KEY"]
        return r


class SubscriberToken(AuthBase):
    """A signed-in subscriber, signed in again whenever its token stops working.

    Fuzzed requests may log it out, remove its device, or (with the values schemathesis learns
    from responses) change its password through billing or lock it out with wrong ones: then a
    new subscriber is created through billing and signed in instead.
    """

    PASSWORD = "correct horse battery"

    def __init__(self) -> None:
        self.token: str | None = None
        self.login: str | None = None
        self.lock = threading.Lock()

    def _sign_in(self) -> str:
        for _ in range(2):
            if self.login is not None:
                resp = requests.post(f"{ENV['SMARTGO_FUZZ_BASE_URL']}/v1/auth/login", timeout=30, json={
                    "login": self.login, "password": self.PASSWORD, "device": {"type": "mobile", "name": "fuzz"}})
                if resp.status_code == 200:
                    return resp.json()["access_token"]
            self.login = self._new_subscriber()
        raise AssertionError(f"cannot sign in a new subscriber: {resp.status_code} {resp.text}")

    def _new_subscriber(self) -> str:
        number = f"CFUZZ{uuid.uuid4().hex[:10].upper()}"
        body = json.dumps({"email": f"{number.lower()}@example.com", "password": self.PASSWORD,
                           "device_limit": 100}).encode()
        resp = requests.put(f"{ENV['SMARTGO_FUZZ_BASE_URL']}/v1/billing/subscribers/{number}", data=body,
                            headers={"Content-Type": "application/json"}, auth=BillingSignature(), timeout=30)
        assert resp.status_code == 201, resp.text
        return number

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        with self.lock:
            if self.token is None:
                self.token = self._sign_in()
            r.headers["Authorization"] = f"Bearer {self.token}"
        r.register_hook("response", self._revoked)
        return r

    def _revoked(self, resp: requests.Response, **_: object) -> None:
        if resp.status_code == 401 and b"INVALID_ACCESS_TOKEN" in resp.content:
            with self.lock:
                self.token = None


class BillingSignature(AuthBase):
    """Sign the request as sent; a change carries a fresh Idempotency-Key unless it has one."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        body = r.body or b""
        body = body.encode() if isinstance(body, str) else body
        if r.method != "GET":
            r.headers.setdefault("Idempotency-Key", uuid.uuid4().hex)
        stamp = str(int(time.time()))
        r.headers.update({
            "X-SmartGo-Key-Id": ENV["SMARTGO_FUZZ_BILLING_KEY_ID"], "X-SmartGo-Timestamp": stamp,
            "X-SmartGo-Signature": signature(ENV["SMARTGO_FUZZ_BILLING_SECRET"], stamp, r.method, r.path_url, body,
                                             r.headers.get("Idempotency-Key")),
        })
        return r


CALLERS: dict[str, AuthBase] = {"StaffApiKey": StaffKey(), "SubscriberToken": SubscriberToken(),
                                "BillingSignature": BillingSignature()}


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case, kwargs: dict) -> None:
    """Send the request as the caller the operation's security requirement names."""
    if ENV.get("SMARTGO_FUZZ_CALLER") == "anonymous":
        return
    for requirement in case.operation.definition.raw.get("security") or ():
        for scheme in requirement:
            kwargs["auth"] = CALLERS[scheme]
            return


SENT: collections.Counter[str] = collections.Counter()
ANSWERED: collections.Counter[int] = collections.Counter()


@schemathesis.hook
def after_call(context: schemathesis.HookContext, case: schemathesis.Case, response: schemathesis.Response) -> None:
    """Count the requests sent per operation, and the answers per status."""
    SENT[case.operation.label] += 1
    ANSWERED[response.status_code] += 1


@atexit.register
def _write_counts() -> None:
    if "SMARTGO_FUZZ_COUNTS" in ENV:
        path = ENV["SMARTGO_FUZZ_COUNTS"].format(caller=ENV.get("SMARTGO_FUZZ_CALLER", "callers"))
        with open(path, "w") as fh:
            json.dump({"sent": dict(SENT), "statuses": dict(ANSWERED)}, fh)
