"""Bad input to the entitlement APIs: a clear 4xx JSON error with a stable code, never a 5xx."""

from __future__ import annotations

import pytest

from tests.entitlements.conftest import PHONE


@pytest.mark.parametrize("body,code", [
    (b"{not json", "MALFORMED_JSON"),
    (b'{"login": 5, "password": "x", "device": {"type": "mobile", "name": "p"}}', "VALIDATION_ERROR"),
    (b'{"login": "a", "password": "x"}', "VALIDATION_ERROR"),
    (b'{"login": "a", "password": "x", "device": {"type": "toaster", "name": "p"}}', "VALIDATION_ERROR"),
    (b'{"login": "a", "password": "x", "device": {"type": "mobile", "name": "p", "id": "../x"}}', "VALIDATION_ERROR"),
    (b'{"login": "a", "password": "x", "device": {"type": "mobile", "name": "p"}, "admin": true}', "VALIDATION_ERROR"),
    (b'[]', "VALIDATION_ERROR"),
])
def test_login_bodies(http, body, code) -> None:  # noqa: ANN001
    resp = http.post("/v1/auth/login", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == code, resp.text


def test_huge_bodies_are_refused_before_parsing(http) -> None:  # noqa: ANN001
    big = b'{"login": "' + b"a" * (2 * 1024 * 1024) + b'", "password": "x", "device": {}}'
    resp = http.post("/v1/auth/login", content=big, headers={"content-type": "application/json"})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

    def chunks():  # noqa: ANN202
        for _ in range(40):
            yield b"x" * 65536

    streamed = http.post("/v1/auth/refresh", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_overlong_fields_and_wrong_methods(http) -> None:  # noqa: ANN001
    resp = http.post("/v1/auth/login", json={"login": "a" * 300, "password": "x", "device": PHONE})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "VALIDATION_ERROR"
    resp = http.get("/v1/auth/login")
    assert resp.status_code == 405 and resp.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    resp = http.post("/v1/auth/refresh", json={"refresh_token": "x" * 201})
    assert resp.status_code == 422


@pytest.mark.parametrize("path,body", [
    ("/v1/auth/login", {"login": "a\u0000b", "password": "x", "device": PHONE}),
    ("/v1/auth/login", {"login": "a", "password": "x", "device": {**PHONE, "name": "TV\u001b[2J"}}),
    ("/v1/auth/password-reset", {"login": "\u0000"}),
    ("/v1/auth/refresh", {"refresh_token": "abc\u0000"}),
    ("/v1/auth/password-reset/confirm", {"token": "../../x", "new_password": "long enough"}),
])
def test_control_characters_are_refused_not_stored(http, path, body) -> None:  # noqa: ANN001
    resp = http.post(path, json=body)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "VALIDATION_ERROR", resp.text


def test_control_characters_in_channel_names_are_refused(http, admin) -> None:  # noqa: ANN001
    for name, logo in (("bad\u0000name", None), ("ok", "https://cdn/\u0000.png")):
        resp = http.post("/v1/admin/channels", headers=admin, json={
            "id": "nul-name", "name": name, "logo_url": logo, "segment_duration_ms": 1920,
            "renditions": [{"name": "360p", "width": 640, "height": 360, "video_bitrate_kbps": 800}]})
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "VALIDATION_ERROR", resp.text
