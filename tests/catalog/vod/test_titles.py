"""Content ops on VOD titles over HTTP: roles, the audit log, and bad input that changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.catalog.conftest import make_asset, make_title, title_body

BASE = "/v1/admin/vod/titles"


def code(resp) -> str:  # noqa: ANN001
    return resp.json()["error"]["code"]


def test_describe_publish_and_delete_with_a_full_history(http, rt, staff_keys, make_package) -> None:  # noqa: ANN001
    editor, publisher = staff_keys["editor"], staff_keys["publisher"]
    title = make_title(http, editor, credits=[{"role": "director", "name": "Agnieszka Holland"}])
    url = f"{BASE}/{title['id']}"
    assert title["status"] == "draft" and title["version"] == 1 and set(title["texts"]) == {"pol", "eng"}
    patched = http.patch(url, json={"year": 2021, "age_rating": "12", "device_types": ["web", "mobile"]},
                         headers={**editor, "If-Match": '"1"'})
    assert patched.status_code == 200, patched.text
    assert patched.json()["year"] == 2021 and patched.headers["etag"] == '"2"'
    text = http.put(f"{url}/texts/eng", json={"title": "The Turtle", "synopsis": "Slow."}, headers=editor)
    assert text.status_code == 200 and text.json()["texts"]["eng"]["title"] == "The Turtle"
    package = make_package()["code"]
    assert http.put(f"{url}/packages", json={"packages": [package]}, headers=editor).json()["packages"] == [package]
    asset = make_asset(rt)
    assert http.put(f"{url}/asset", json={"asset_id": asset}, headers=editor).json()["asset_id"] == asset
    published = http.post(f"{url}/publish", headers=publisher).json()
    assert published["status"] == "published" and published["published_at"]
    assert http.post(f"{url}/unpublish", headers=publisher).json()["status"] == "unpublished"
    again = http.post(f"{url}/publish", headers=publisher).json()
    assert again["published_at"] == published["published_at"], "published_at is the first publication"
    assert http.get(BASE, params={"q": "turtle", "kind": "movie"}, headers=staff_keys["viewer"]).json()["items"][0][
        "id"] == title["id"]
    assert http.delete(url, headers=staff_keys["admin"]).status_code == 204
    assert code(http.get(url, headers=editor)) == "TITLE_NOT_FOUND"
    changes = http.get(f"{url}/history", headers=staff_keys["viewer"]).json()["items"]
    assert [c["action"] for c in changes] == ["created", "updated", "texts", "packages", "asset", "published",
                                              "unpublished", "published", "deleted"]
    assert all(c["at"] for c in changes)
    assert changes[0]["actor"].startswith("vod editor") and changes[5]["actor"].startswith("vod publisher")
    assert changes[1]["changes"] == {"year": [2020, 2021], "age_rating": [None, "12"],
                                     "device_types": [None, ["web", "mobile"]]}
    assert changes[2]["changes"]["texts.eng"][1] == {"title": "The Turtle", "synopsis": "Slow.", "short_synopsis": None}
    assert changes[3]["changes"] == {"packages": [[], [package]]}
    assert changes[4]["changes"] == {"asset_id": [None, asset]}


def test_roles_are_ranked(http, rt, staff_keys) -> None:  # noqa: ANN001
    body = title_body()
    url = f"{BASE}/{body['id']}"
    assert code(http.post(BASE, json=body)) == "STAFF_AUTH_REQUIRED"
    assert code(http.post(BASE, json=body, headers=staff_keys["viewer"])) == "STAFF_ROLE_TOO_LOW"
    assert http.post(BASE, json=body, headers=staff_keys["editor"]).status_code == 201
    assert http.get(url, headers=staff_keys["viewer"]).status_code == 200
    assert http.patch(url, json={"year": 1999}, headers=staff_keys["viewer"]).status_code == 403
    http.put(f"{url}/asset", json={"asset_id": make_asset(rt)}, headers=staff_keys["editor"])
    assert http.post(f"{url}/publish", headers=staff_keys["editor"]).status_code == 403
    assert http.post(f"{url}/publish", headers=staff_keys["publisher"]).status_code == 200
    assert http.delete(url, headers=staff_keys["publisher"]).status_code == 403
    assert http.delete(url, headers=staff_keys["admin"]).status_code == 204


LATER = dt.datetime(2030, 1, 2, tzinfo=dt.UTC).isoformat()
EARLIER = dt.datetime(2030, 1, 1, tzinfo=dt.UTC).isoformat()


@pytest.mark.parametrize("patch, expected", [
    ({"year": "last year"}, "VALIDATION_ERROR"),
    ({"year": 1700}, "VALIDATION_ERROR"),
    ({"year": 2021.5}, "VALIDATION_ERROR"),
    ({"age_rating": "13"}, "VALIDATION_ERROR"),
    ({"age_rating": 12}, "VALIDATION_ERROR"),
    ({"genres": "drama"}, "VALIDATION_ERROR"),
    ({"genres": ["Drama Films"]}, "VALIDATION_ERROR"),
    ({"credits": [{"name": "No Role"}]}, "VALIDATION_ERROR"),
    ({"countries": ["Poland"]}, "VALIDATION_ERROR"),
    ({"device_types": ["toaster"]}, "VALIDATION_ERROR"),
    ({"download": "offline"}, "VALIDATION_ERROR"),
    ({"duration_s": -5}, "VALIDATION_ERROR"),
    ({"available_from": "2030-01-01T00:00:00"}, "VALIDATION_ERROR"),  # no time zone
    ({"available_from": LATER, "available_to": EARLIER}, "VALIDATION_ERROR"),
    ({"available_to": EARLIER}, "INVALID_WINDOW"),  # before the stored start
    ({"status": "published"}, "VALIDATION_ERROR"),  # unknown field: publishing has its own route
    ({"original_title": "bad\x00text"}, "VALIDATION_ERROR"),
])
def test_bad_metadata_is_refused_and_changes_nothing(http, staff_keys, patch, expected) -> None:  # noqa: ANN001
    title = make_title(http, staff_keys["editor"], available_from=LATER)
    url = f"{BASE}/{title['id']}"
    resp = http.patch(url, json=patch, headers=staff_keys["editor"])
    assert resp.status_code == 422 and code(resp) == expected, resp.text
    assert http.get(url, headers=staff_keys["viewer"]).json() == title
    assert len(http.get(f"{url}/history", headers=staff_keys["viewer"]).json()["items"]) == 1


@pytest.mark.parametrize("overrides, status, expected", [
    ({"id": "Bad Id"}, 422, "VALIDATION_ERROR"),
    ({"kind": "trailer"}, 422, "VALIDATION_ERROR"),
    ({"kind": "season"}, 422, "INVALID_PARENT"),
    ({"kind": "episode", "parent_id": "no-such-series"}, 422, "INVALID_PARENT"),
    ({"texts": {"polish": {"title": "x"}}}, 422, "VALIDATION_ERROR"),
    ({"texts": {"pol": {"title": ""}}}, 422, "VALIDATION_ERROR"),
])
def test_bad_titles_are_not_created(http, staff_keys, overrides, status, expected) -> None:  # noqa: ANN001
    body = title_body(**overrides)
    resp = http.post(BASE, json=body, headers=staff_keys["editor"])
    assert resp.status_code == status and code(resp) == expected, resp.text
    if "id" not in overrides:
        assert http.get(f"{BASE}/{body['id']}", headers=staff_keys["viewer"]).status_code == 404


def test_series_hold_seasons_and_episodes_in_order(http, staff_keys) -> None:  # noqa: ANN001
    editor = staff_keys["editor"]
    series = make_title(http, editor, kind="series")
    season = make_title(http, editor, kind="season", parent_id=series["id"], position=1)
    for n in (2, 1):
        make_title(http, editor, kind="episode", parent_id=season["id"], position=n)
    movie = make_title(http, editor)
    wrong = http.post(BASE, json=title_body(kind="episode", parent_id=movie["id"]), headers=editor)
    assert code(wrong) == "INVALID_PARENT"
    listed = http.get(BASE, params={"parent_id": season["id"]}, headers=editor).json()
    assert listed["total"] == 2
    assert http.put(f"{BASE}/{series['id']}/asset", json={"asset_id": "a" * 32}, headers=editor).status_code == 409
    assert http.delete(f"{BASE}/{series['id']}", headers=staff_keys["admin"]).status_code == 204
    assert http.get(BASE, params={"parent_id": season["id"]}, headers=editor).json()["total"] == 0


def test_what_cannot_be_published_or_sold_changes_nothing(http, rt, staff_keys, make_package) -> None:  # noqa: ANN001
    editor, publisher = staff_keys["editor"], staff_keys["publisher"]
    title = make_title(http, editor)
    url = f"{BASE}/{title['id']}"
    none = http.post(f"{url}/publish", headers=publisher)
    assert none.status_code == 409 and code(none) == "TITLE_NOT_PLAYABLE"
    unknown_asset = http.put(f"{url}/asset", json={"asset_id": "f" * 32}, headers=editor)
    assert unknown_asset.status_code == 422 and code(unknown_asset) == "UNKNOWN_ASSET"
    http.put(f"{url}/asset", json={"asset_id": make_asset(rt, state="processing")}, headers=editor)
    busy = http.post(f"{url}/publish", headers=publisher)
    assert busy.status_code == 409 and busy.json()["error"]["details"]["asset_state"] == "processing"
    unknown = http.put(f"{url}/packages", json={"packages": [make_package()["code"], "no-such-package"]},
                       headers=editor)
    assert unknown.status_code == 422 and code(unknown) == "UNKNOWN_PACKAGE"
    assert unknown.json()["error"]["details"]["packages"] == ["no-such-package"]
    stale = http.patch(url, json={"year": 1990}, headers={**editor, "If-Match": '"1"'})
    assert stale.status_code == 412 and code(stale) == "TITLE_VERSION_MISMATCH"
    after = http.get(url, headers=editor).json()
    assert after["status"] == "draft" and after["published_at"] is None and after["packages"] == []
    assert after["year"] == title["year"]
    actions = [c["action"] for c in http.get(f"{url}/history", headers=editor).json()["items"]]
    assert actions == ["created", "asset"]
