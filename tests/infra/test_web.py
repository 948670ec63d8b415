"""Every input answered: bodies that are not JSON, numbers and times out of range, NUL in the URL."""

from __future__ import annotations

import json
import socket
import uuid

import pytest

from infra.composition.web import http_code
from infra.validation import INT32_MAX
from tests.entitlements.conftest import PASSWORD, Billing, bearer, login
from tests.support.http import Client


@pytest.fixture(scope="module")
def callers(http: Client, admin: dict[str, str]) -> dict[str, str]:
    """Headers that pass both staff and subscriber authentication (a subscriber made through billing)."""
    number = f"CWEB{uuid.uuid4().hex[:10].upper()}"
    made = Billing(http).send("PUT", f"/v1/billing/subscribers/{number}",
                              {"email": f"{number.lower()}@example.com", "password": PASSWORD})
    assert made.status_code == 201, made.text
    tokens = login(http, number)
    assert tokens.status_code == 200, tokens.text
    return {**admin, **bearer(tokens.json())}


@pytest.mark.parametrize("body,content_type,status,code", [
    (b'{"id": "x",', "application/json", 422, "MALFORMED_JSON"),
    (b'{"id": "\xff\xfe"}', "application/json", 422, "MALFORMED_JSON"),  # not UTF-8
    (b"\xff\xfe\x00{", "application/json", 422, "MALFORMED_JSON"),
    (b"[" * 200_000 + b"]" * 200_000, "application/json", 422, "MALFORMED_JSON"),  # nested past the parser
    (b'{"id": "x"}', "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b'{"id": "x"}', None, 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b"id=x", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b'{"id": "x"}', "application/json; charset=utf-8", 422, "VALIDATION_ERROR"),  # JSON, just not valid
    (b'{"id": "x"}', "application/merge-patch+json", 422, "VALIDATION_ERROR"),
])
def test_a_body_that_is_not_json_has_its_own_code(http: Client, admin: dict, body: bytes, content_type: str | None,
                                                  status: int, code: str) -> None:
    headers = {**admin, **({"content-type": content_type} if content_type else {})}
    resp = http.post("/v1/admin/channels", content=body, headers=headers)
    assert resp.status_code == status and resp.json()["error"]["code"] == code, resp.text[:300]


@pytest.mark.parametrize("status,code", [
    (400, "BAD_REQUEST"), (404, "NOT_FOUND"), (405, "METHOD_NOT_ALLOWED"), (406, "NOT_ACCEPTABLE"),
    (413, "PAYLOAD_TOO_LARGE"), (415, "UNSUPPORTED_MEDIA_TYPE"), (431, "REQUEST_HEADER_FIELDS_TOO_LARGE"),
])
def test_statuses_answered_outside_the_domain_have_named_codes(status: int, code: str) -> None:
    assert http_code(status) == code


def _integer_query_parameters(doc: dict) -> list[tuple[str, str, str]]:
    return [(path, p["name"], str(p["schema"]["maximum"]))
            for path, item in doc["paths"].items() if "{" not in path and "get" in item
            for p in item["get"].get("parameters", []) if p["in"] == "query" and p["schema"].get("type") == "integer"]


def test_every_integer_query_parameter_refuses_numbers_past_its_bound(http: Client, callers: dict) -> None:
    """The class, not the example: a 2**63 offset was a 500 on SQLite."""
    params = _integer_query_parameters(http.get("/openapi.json").json())
    assert ("/v1/admin/channels", "offset", str(INT32_MAX)) in params
    for path, name, _ in params:
        for value in (2**63, 2**64, -(2**63) - 1, 10**30):
            extra = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"} if path == "/v1/guide" else {}
            resp = http.get(path, params={name: value, **extra}, headers=callers)
            assert resp.status_code == 422 and resp.json()["error"]["code"] == "VALIDATION_ERROR", (path, name,
                                                                                                   resp.text)


@pytest.mark.parametrize("path", [
    "/v1/admin/channels?enabled=true&x=%00", "/v1/admin/vod/titles?q=a%00b", "/v1/me/recordings?series=%00",
    "/v1/admin/channels/a%00b", "/v1/admin/channels/x/status?y%00=1",
])
def test_a_nul_in_the_url_is_refused_on_either_database(http: Client, callers: dict, path: str) -> None:
    """PostgreSQL refuses a NUL in text, SQLite stores it: refused before either sees it."""
    resp = http.get(path, headers=callers)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "VALIDATION_ERROR", resp.text


@pytest.mark.parametrize("when", [
    "9999-12-31T23:59:00Z",  # plus the duration: past what a datetime holds
    "0001-01-01T00:00:00+01:00",  # in UTC: before year 1
    "2026-01-01T00:00:00",  # no offset: whose wall clock?
])
def test_times_out_of_range_are_refused(http: Client, callers: dict, when: str) -> None:
    play = http.post("/v1/playback", headers=callers, json={"content": {"type": "channel", "id": "x"},
                                                            "mode": "bytime", "start": when, "duration_s": 3600})
    assert play.status_code == 422 and play.json()["error"]["code"] == "VALIDATION_ERROR", play.text
    number = f"CWEB{uuid.uuid4().hex[:10].upper()}"
    billing = Billing(http)
    assert billing.send("PUT", f"/v1/billing/subscribers/{number}", {"email": f"{number.lower()}@example.com"}
                        ).status_code == 201
    grant = billing.send("PUT", f"/v1/billing/subscribers/{number}/packages",
                         {"packages": [{"code": "none", "valid_from": when}]})
    assert grant.status_code == 422 and grant.json()["error"]["code"] == "VALIDATION_ERROR", grant.text
    record = http.post("/v1/me/recordings", headers=callers,
                       json={"channel_id": "x", "start": when, "end": "2026-01-01T01:00:00Z"})
    assert record.status_code == 422 and record.json()["error"]["code"] == "VALIDATION_ERROR", record.text


@pytest.mark.parametrize("request_head", [
    b"GET /v1/guide?channels=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",  # over the parser's 64 KiB
    b"GET /v1/channels HTTP/1.1\r\nHost: x\r\nX-Note: a\x00b\r\n\r\n",
])
def test_a_request_the_http_parser_cannot_read_is_answered_in_json(server: str, request_head: bytes) -> None:
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request_head)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"content-type: application/json" in head, head
    assert json.loads(body)["error"]["code"] == "MALFORMED_REQUEST"
