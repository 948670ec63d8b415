"""Helpers of the entitlement tests: a signing billing client, subscribers and packages."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from entitlements.accounts.billing import signature
from tests.support.http import Client
from tests.support.run import BILLING_KEY_ID, BILLING_SECRET

PASSWORD = "correct horse battery"
PHONE = {"type": "mobile", "name": "Anna's phone", "model": "Pixel 9"}


class Billing:
    """A billing system: signs each request, sends an Idempotency-Key with each change."""

    def __init__(self, http: Client, key_id: str = BILLING_KEY_ID, secret: str = BILLING_SECRET) -> None:
        self.http, self.key_id, self.secret = http, key_id, secret

    def headers(self, method: str, target: str, body: bytes, *, timestamp: int | None = None,
                request_id: str | None = None) -> dict[str, str]:
        """Return the signature headers of a request."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        h = {"X-SmartGo-Key-Id": self.key_id, "X-SmartGo-Timestamp": ts,
             "X-SmartGo-Signature": signature(self.secret, ts, method, target, body, request_id),
             "Content-Type": "application/json"}
        if request_id is not None:
            h["Idempotency-Key"] = request_id
        return h

    def send(self, method: str, target: str, body: object = None, *, request_id: str | None = "auto",
             **kwargs) -> httpx.Response:  # noqa: ANN003
        """Send a signed request; changes get a fresh Idempotency-Key unless one is given."""
        raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        if request_id == "auto":
            request_id = uuid.uuid4().hex if method != "GET" else None
        return self.http.request(method, target, content=raw,
                                 headers=self.headers(method, target, raw, request_id=request_id, **kwargs))


@pytest.fixture
def billing(http: Client) -> Billing:
    """The billing system's client."""
    return Billing(http)


@pytest.fixture
def make_package(http: Client, admin: dict) -> Callable[..., dict]:
    """Create a package with a unique code."""

    def make(kind: str = "base", channels: list[str] | None = None, **limits) -> dict:  # noqa: ANN003
        code = f"p{uuid.uuid4().hex[:10]}"
        resp = http.post("/v1/admin/packages", headers=admin,
                         json={"code": code, "name": f"Package {code}", "kind": kind,
                               "channels": channels or [], **limits})
        assert resp.status_code == 201, resp.text
        return resp.json()

    return make


@pytest.fixture
def make_subscriber(billing: Billing) -> Callable[..., dict]:
    """Create a subscriber through billing with a password (and packages, if given)."""

    def make(packages: list[str] | None = None, **fields) -> dict:  # noqa: ANN003
        number = f"C{uuid.uuid4().hex[:10].upper()}"
        body = {"email": f"{number.lower()}@example.com", "password": PASSWORD, **fields}
        resp = billing.send("PUT", f"/v1/billing/subscribers/{number}", body)
        assert resp.status_code == 201, resp.text
        if packages:
            resp = billing.send("PUT", f"/v1/billing/subscribers/{number}/packages",
                                {"packages": [{"code": c} for c in packages]})
            assert resp.status_code == 200, resp.text
        return resp.json()

    return make


def login(http: Client, login_name: str, password: str = PASSWORD, device: dict | None = None) -> httpx.Response:
    """Sign in from a device (a new phone unless given)."""
    return http.post("/v1/auth/login", json={"login": login_name, "password": password,
                                             "device": device or PHONE})


def bearer(tokens: dict) -> dict[str, str]:
    """Return the Authorization header of a token pair."""
    return {"Authorization": f"Bearer {tokens['access_token']}"}
