"""What players see: the availability window, filters, pagination, rows, details and entitlement."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from catalog.vod import player as vod_player
from tests.catalog.conftest import make_title, publish_title
from tests.entitlements.conftest import bearer, login
from tests.support.waiting import wait_for

ADMIN = "/v1/admin/vod/titles"


@pytest.fixture
def viewer(http, make_subscriber) -> dict:  # noqa: ANN001
    return bearer(login(http, make_subscriber()["customer_number"]).json())


def _genre() -> str:
    return f"g-{uuid.uuid4().hex[:12]}"


def _at(seconds: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).isoformat()


def _shown(http, viewer, title_id: str) -> bool:  # noqa: ANN001
    return http.get(f"/v1/vod/titles/{title_id}", headers=viewer).status_code == 200


def test_only_published_titles_inside_their_window_show(http, rt, staff_keys, viewer) -> None:  # noqa: ANN001
    genre, admin = _genre(), staff_keys["admin"]
    shown = publish_title(http, rt, admin, genres=[genre])["id"]
    future = publish_title(http, rt, admin, genres=[genre], available_from=_at(86400))["id"]
    past = publish_title(http, rt, admin, genres=[genre], available_from=_at(-86400), available_to=_at(-60))["id"]
    draft = make_title(http, admin, genres=[genre])["id"]
    gone = publish_title(http, rt, admin, genres=[genre])["id"]
    http.post(f"{ADMIN}/{gone}/unpublish", headers=admin)
    listed = http.get("/v1/vod/titles", params={"genre": genre}, headers=viewer).json()
    assert [t["id"] for t in listed["items"]] == [shown] and listed["total"] == 1
    for hidden in (future, past, draft, gone):
        resp = http.get(f"/v1/vod/titles/{hidden}", headers=viewer)
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "TITLE_NOT_FOUND"


def test_the_window_opens_and_closes_by_itself(http, rt, staff_keys, viewer) -> None:  # noqa: ANN001
    admin = staff_keys["admin"]
    opening = publish_title(http, rt, admin, available_from=_at(1.5))["id"]
    closing = publish_title(http, rt, admin, available_to=_at(1.5))["id"]
    assert not _shown(http, viewer, opening) and _shown(http, viewer, closing)
    wait_for(lambda: _shown(http, viewer, opening) and not _shown(http, viewer, closing), 10, "the windows to turn")


def test_filters_and_pagination(http, rt, staff_keys, viewer) -> None:  # noqa: ANN001
    genre, admin = _genre(), staff_keys["admin"]
    made = [publish_title(http, rt, admin, genres=[genre], age_rating=r, year=2000 + i)["id"]
            for i, r in enumerate(["AL", "7", "12", "16", "18"])]
    newest_first = made[::-1]
    pages = [http.get("/v1/vod/titles", params={"genre": genre, "offset": o, "limit": 2}, headers=viewer).json()
             for o in (0, 2, 4)]
    assert [t["id"] for p in pages for t in p["items"]] == newest_first and {p["total"] for p in pages} == {5}

    def ids(**params) -> list[str]:  # noqa: ANN003
        return [t["id"] for t in http.get("/v1/vod/titles", params={"genre": genre, **params},
                                          headers=viewer).json()["items"]]

    assert ids(age_rating="12") == made[2::-1]
    assert ids(year=2003) == [made[3]] and ids(kind="series") == []
    assert http.get("/v1/vod/titles", params={"limit": 0}, headers=viewer).status_code == 422
    assert http.get("/v1/vod/titles", params={"age_rating": "21"}, headers=viewer).status_code == 422


def test_details_children_and_entitlement(http, rt, staff_keys, make_package, make_subscriber) -> None:  # noqa: ANN001
    admin, package = staff_keys["admin"], make_package()["code"]
    series = publish_title(http, rt, admin, kind="series", texts={"pol": {"title": "Serial"},
                                                                   "eng": {"title": "Series"}})["id"]
    http.put(f"{ADMIN}/{series}/packages", json={"packages": [package]}, headers=admin)
    season = publish_title(http, rt, admin, kind="season", parent_id=series, position=1)["id"]
    episodes = [publish_title(http, rt, admin, kind="episode", parent_id=season, position=n)["id"] for n in (2, 1)]
    make_title(http, admin, kind="episode", parent_id=season, position=3)  # a draft episode stays hidden
    free = publish_title(http, rt, admin)["id"]
    paying = bearer(login(http, make_subscriber(packages=[package])["customer_number"]).json())
    other = bearer(login(http, make_subscriber()["customer_number"]).json())

    details = http.get(f"/v1/vod/titles/{series}", params={"lang": "eng"}, headers=paying).json()
    assert details["title"] == "Series" and list(details["texts"]) == ["eng"]
    assert [c["id"] for c in details["children"]] == [season]
    assert details["entitled"] is True and details["packages"] == [package]
    assert set(http.get(f"/v1/vod/titles/{series}", headers=paying).json()["texts"]) == {"pol", "eng"}
    children = http.get(f"/v1/vod/titles/{season}", headers=paying).json()["children"]
    assert [c["id"] for c in children] == episodes[::-1], "episodes in order of position"
    episode = http.get(f"/v1/vod/titles/{episodes[0]}", headers=other).json()
    assert episode["entitled"] is False and episode["packages"] == [package], "an episode is sold with its series"
    assert http.get(f"/v1/vod/titles/{free}", headers=other).json()["entitled"] is True, "no package: free"
    http.post(f"{ADMIN}/{series}/unpublish", headers=admin)
    assert not _shown(http, paying, episodes[0]), "an episode of an unpublished series is hidden"


def test_browse_rows(http, rt, staff_keys, viewer) -> None:  # noqa: ANN001
    newest = publish_title(http, rt, staff_keys["admin"], genres=["drama"])["id"]
    rows = http.get("/v1/vod/rows", headers=viewer).json()["rows"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["new"]["items"][0]["id"] == newest
    published = [t["published_at"] for t in by_id["new"]["items"]]
    assert published == sorted(published, reverse=True)
    genre_rows = [r for r in rows if r["kind"] == "genre"]
    assert genre_rows and all(r["genre"] in t["genres"] for r in genre_rows for t in r["items"])
    assert "continue_watching" not in by_id, "a new subscriber has nothing to continue"


def test_rows_follow_every_catalogue_change_at_once(http, rt, staff_keys, viewer) -> None:  # noqa: ANN001
    admin = staff_keys["admin"]
    newest = publish_title(http, rt, admin, genres=["drama"])["id"]
    assert http.get("/v1/vod/rows", headers=viewer).json()["rows"][0]["items"][0]["id"] == newest
    assert http.post(f"{ADMIN}/{newest}/unpublish", headers=admin).status_code == 200
    rows = http.get("/v1/vod/rows", headers=viewer).json()["rows"]
    assert newest not in {t["id"] for r in rows for t in r["items"]}, "the shared rows are kept per change"


def test_list_counts_at_most_count_ahead_past_its_page(http, rt, staff_keys, viewer, monkeypatch) -> None:  # noqa: ANN001

    genre = _genre()
    for _ in range(5):
        publish_title(http, rt, staff_keys["admin"], genres=[genre])
    monkeypatch.setattr(vod_player, "COUNT_AHEAD", 2)
    page = http.get("/v1/vod/titles", params={"genre": genre, "limit": 1, "offset": 1}, headers=viewer).json()
    assert (page["total"], page["total_is_lower_bound"], len(page["items"])) == (4, True, 1)
    page = http.get("/v1/vod/titles", params={"genre": genre, "limit": 2, "offset": 1}, headers=viewer).json()
    assert (page["total"], page["total_is_lower_bound"], len(page["items"])) == (5, False, 2)
