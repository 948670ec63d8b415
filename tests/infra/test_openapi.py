"""The OpenAPI document: every operation's error answers with the body we send, inputs bounded.

The schemathesis run (test_schemathesis.py) holds the document to the real answers; these tests
hold it to its own rules, and the analysis behind it (infra/raises.py) to what the code raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from catalog.channels.errors import ChannelNotFound
from catalog.vod import images as vod_images
from catalog.vod.errors import ImageNotFound
from entitlements.accounts import auth
from entitlements.accounts.errors import InvalidCredentials, LoginThrottled, OAuthError
from entitlements.playback import service as playback
from entitlements.playback.errors import PlaybackDenied
from infra.errors import NotFound
from infra.raises import code_argument, raised_errors
from infra.validation import INT64_MAX
from tests.support.http import Client

ERROR_REF = "#/components/schemas/ErrorResponse"


@pytest.fixture(scope="module")
def doc(http: Client) -> dict:
    """The served OpenAPI document."""
    resp = http.get("/openapi.json")
    assert resp.status_code == 200
    return resp.json()


def operations(doc: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield method.upper(), path, op


def codes(op: dict, status: int) -> set[str] | None:
    """Return the codes an operation documents for a status (None: any string)."""
    schema = op["responses"][str(status)]["content"]["application/json"]["schema"]
    found: set[str] = set()
    for variant in schema.get("anyOf", [schema]):
        code = variant.get("properties", {}).get("error", {})
        code = code.get("properties", {}).get("code", code)  # ErrorResponse, or RFC 6749's flat error
        if "enum" not in code:
            return None
        found |= set(code["enum"])
    return found


def test_every_error_answer_has_the_error_body_we_send(doc: dict) -> None:
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert doc["components"]["schemas"]["ErrorResponse"]["required"] == ["error"]
    for method, path, op in operations(doc):
        statuses = {int(s) for s in op["responses"]}
        assert {422, 503} <= statuses, f"{method} {path}"
        for status in statuses - set(range(200, 400)):
            schema = op["responses"][str(status)]["content"]["application/json"]["schema"]
            refs = [v.get("$ref") or v.get("allOf", [{}])[0].get("$ref") for v in schema.get("anyOf", [schema])]
            oauth = path == "/v1/auth/device/token" and status == 400
            assert oauth or ERROR_REF in refs, f"{method} {path} {status}: {schema}"


@pytest.mark.parametrize("method,path,status,expected", [
    ("POST", "/v1/admin/channels", 401, {"STAFF_AUTH_REQUIRED"}),
    ("POST", "/v1/admin/channels", 403, {"STAFF_ROLE_TOO_LOW"}),
    ("POST", "/v1/admin/channels", 409, {"CHANNEL_EXISTS", "CHANNEL_NUMBER_TAKEN"}),
    ("POST", "/v1/admin/channels", 413, {"PAYLOAD_TOO_LARGE"}),
    ("POST", "/v1/admin/channels", 415, {"UNSUPPORTED_MEDIA_TYPE"}),
    ("POST", "/v1/admin/channels", 422, {"VALIDATION_ERROR", "MALFORMED_JSON", "INVALID_INPUT"}),
    ("PATCH", "/v1/admin/channels/{channel_id}", 422, {"INVALID_CHANNEL"}),  # imported inside the function
    ("GET", "/v1/admin/channels/{channel_id}", 404, {"CHANNEL_NOT_FOUND"}),
    ("POST", "/v1/auth/login", 401, {"INVALID_CREDENTIALS"}),
    ("POST", "/v1/auth/login", 429, {"LOGIN_THROTTLED"}),  # raised by a method of a local object
    ("GET", "/v1/me", 401, {"AUTH_REQUIRED", "INVALID_ACCESS_TOKEN"}),
    ("GET", "/v1/billing/subscribers/{customer_number}", 401,
     {"BILLING_AUTH_REQUIRED", "BAD_SIGNATURE", "STALE_REQUEST"}),
    ("GET", "/v1/billing/subscribers/{customer_number}", 409, {"REPLAYED_REQUEST"}),
    ("GET", "/v1/vod/images/{path}", 404, {"IMAGE_NOT_FOUND", "OBJECT_NOT_FOUND"}),  # rt.store.get
    ("PUT", "/v1/admin/vod/titles/{title_id}/images/{kind}", 422,  # run_in_threadpool(vod_images.render, ...)
     {"VALIDATION_ERROR", "INVALID_INPUT", "INVALID_IMAGE", "INVALID_TITLE", "INVALID_OBJECT_KEY"}),
    ("POST", "/v1/auth/device/token", 400, {"unsupported_grant_type", "invalid_request", "invalid_grant",
                                            "expired_token", "slow_down", "authorization_pending", "access_denied"}),
    ("POST", "/v1/playback", 403, None),  # refusals carry the decision's reason
])
def test_statuses_and_codes_follow_what_the_code_raises(doc: dict, method: str, path: str, status: int,
                                                        expected: set[str] | None) -> None:
    op = doc["paths"][path][method.lower()]
    assert str(status) in op["responses"], sorted(op["responses"])
    found = codes(op, status)
    assert (found is None) if expected is None else (found is not None and expected <= found), found


def test_security_is_documented_per_caller(doc: dict) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert set(schemes) == {"StaffApiKey", "SubscriberToken", "BillingSignature"}
    for method, path, op in operations(doc):
        names = {name for requirement in op.get("security", []) for name in requirement}
        if path.startswith("/v1/admin/") and "/parts/" not in path:
            assert names == {"StaffApiKey"}, f"{method} {path}"
        elif path.startswith("/v1/billing/"):
            assert names == {"BillingSignature"}, f"{method} {path}"
        elif path.startswith(("/v1/me", "/v1/playback", "/v1/guide", "/v1/vod/titles", "/v1/vod/rows",
                              "/v1/vod/search")):
            assert names == {"SubscriberToken"}, f"{method} {path}"
        if names:
            assert {"401"} <= set(op["responses"]), f"{method} {path}"


def _numbers_and_texts(schema: dict, doc: dict, where: str, seen: tuple[str, ...] = ()) -> Iterator[tuple[str, dict]]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name not in seen:
            yield from _numbers_and_texts(doc["components"]["schemas"][name], doc, where, (*seen, name))
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            yield from _numbers_and_texts(sub, doc, where, seen)
    if schema.get("type") in ("integer", "number", "string"):
        yield where, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _numbers_and_texts(sub, doc, f"{where}.{name}", seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _numbers_and_texts(schema[key], doc, f"{where}[]", seen)


def _inputs(doc: dict) -> Iterator[tuple[str, str, dict]]:
    for method, path, op in operations(doc):
        for p in op.get("parameters", []):
            for where, schema in _numbers_and_texts(p["schema"], doc, f"{method} {path} {p['in']}:{p['name']}"):
                yield p["in"], where, schema
        for media, content in op.get("requestBody", {}).get("content", {}).items():
            for where, schema in _numbers_and_texts(content["schema"], doc, f"{method} {path} body"):
                yield "body", where, schema


def test_every_number_from_outside_is_bounded(doc: dict) -> None:
    """A number a client sends fits the database: no 2**63 OFFSET on SQLite; no NaN or infinity (bounds refuse them)."""
    unbounded = []
    for _, where, schema in _inputs(doc):
        if schema["type"] not in ("integer", "number"):
            continue
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if low is None or high is None or low < -INT64_MAX - 1 or high > INT64_MAX:
            unbounded.append(where)
    assert not unbounded


BOUNDED_PATTERN = re.compile(r"^\^.*\$$")


def test_every_text_parameter_is_bounded(doc: dict) -> None:
    """Path, query and header text has a length limit, a bounded pattern, a format or a set of values."""
    unbounded = []
    for location, where, schema in _inputs(doc):
        if location == "body" or schema["type"] != "string" or {"enum", "maxLength", "format"} & set(schema):
            continue
        pattern = schema.get("pattern", "")
        if not (BOUNDED_PATTERN.match(pattern) and not re.search(r"[*+]|\{\d+,\}", pattern)):
            unbounded.append(where)
    assert not unbounded


HEAD_LIMIT = 64 * 1024  # what the HTTP parser reads of a request's head (measured: 65,506 bytes pass)


def _ascii_only(pattern: str) -> bool:
    classes = re.findall(r"\[[^\]]*\]", pattern)
    outside = re.sub(r"\[[^\]]*\]", "", pattern).replace("\\.", "")
    return bool(pattern) and not any(c.startswith("[^") for c in classes) and "." not in outside


def test_every_url_the_document_allows_fits_the_http_parser(doc: dict) -> None:
    """The longest values of an operation's URL parameters, percent-encoded, leave room for its headers."""
    too_long = {}
    for method, path, op in operations(doc):
        longest = len(path)
        for p in op.get("parameters", []):
            if p["in"] not in ("query", "path"):
                continue
            for _, schema in _numbers_and_texts(p["schema"], doc, ""):
                per_char = 3 if _ascii_only(schema.get("pattern", "")) else 12  # %XX, or 4 UTF-8 bytes of them
                longest += len(p["name"]) + 2 + (schema["maxLength"] * per_char if "maxLength" in schema else 200)
        if longest > HEAD_LIMIT * 3 // 4:
            too_long[f"{method} {path}"] = longest
    assert not too_long


# -- the analysis behind the document --------------------------------------------------------------
@pytest.mark.parametrize("function,raises,not_raised", [
    (auth.check_credentials, {InvalidCredentials, LoginThrottled}, set()),  # LoginThrottle().check: a method
    (vod_images.public_key, {ImageNotFound}, set()),
    (playback.recheck_account, set(), {ChannelNotFound}),  # caught around the call: except NotFound
])
def test_raised_errors_follow_calls_methods_and_handlers(function, raises, not_raised) -> None:  # noqa: ANN001
    found = set(raised_errors(function).errors)
    assert raises <= found and not (not_raised & found), found


def test_errors_that_take_their_code_when_raised_are_known_by_their_literals() -> None:
    found = raised_errors(auth.poll_device_token)
    assert code_argument(OAuthError) == 0 and code_argument(PlaybackDenied) == 0
    assert code_argument(ChannelNotFound) is None and code_argument(NotFound) is None
    oauth = {c for cls, codes in found.errors.items() if issubclass(cls, OAuthError) for c in codes or ()}
    assert oauth == {"unsupported_grant_type", "invalid_request", "invalid_grant", "expired_token", "slow_down",
                     "authorization_pending", "access_denied"}
    denied = raised_errors(playback.request_playback)
    assert denied.codes_of(PlaybackDenied) is None  # PlaybackDenied(decision.reason ...): not a literal
