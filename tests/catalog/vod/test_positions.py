"""Continue watching: resume on another device; finished or hidden titles leave the row."""

from __future__ import annotations

import pytest

from catalog.vod.player import is_finished
from tests.catalog.conftest import publish_title
from tests.entitlements.conftest import bearer, login

TV = {"type": "smart_tv", "name": "Living room", "model": "Bravia"}


@pytest.mark.parametrize("position, duration, reported, finished", [
    (0, 6000, False, False), (5939, 6000, False, False), (5940, 6000, False, True),  # 60 s < 5 %
    (1139, 1200, False, False), (1140, 1200, False, True),  # 5 % of 20 min is 60 s
    (570, 600, False, True), (569, 600, False, False),  # 5 % of 10 min is 30 s
    (100, None, False, False), (100, None, True, True), (10, 6000, True, True),
])
def test_finished_rule(position, duration, reported, finished) -> None:  # noqa: ANN001
    assert is_finished(position, duration, reported) is finished


def _row(http, headers) -> list[str]:  # noqa: ANN001
    rows = {r["id"]: r for r in http.get("/v1/vod/rows", headers=headers).json()["rows"]}
    return [t["id"] for t in rows.get("continue_watching", {"items": []})["items"]]


def test_resume_on_another_device_and_leave_the_row_when_finished(http, rt, staff_keys, make_subscriber) -> None:  # noqa: ANN001
    admin = staff_keys["admin"]
    number = make_subscriber()["customer_number"]
    phone, tv = bearer(login(http, number).json()), bearer(login(http, number, device=TV).json())
    first, second, hidden = (publish_title(http, rt, admin, duration_s=6000)["id"] for _ in range(3))
    put = http.put(f"/v1/me/vod/positions/{first}", json={"position_s": 1234}, headers=phone)
    assert put.status_code == 200 and put.json()["finished"] is False, put.text
    resumed = http.get(f"/v1/me/vod/positions/{first}", headers=tv).json()
    assert resumed["position_s"] == 1234 and resumed["duration_s"] == 6000
    assert http.get(f"/v1/vod/titles/{first}", headers=tv).json()["watch_position"]["position_s"] == 1234
    http.put(f"/v1/me/vod/positions/{second}", json={"position_s": 10}, headers=tv)
    http.put(f"/v1/me/vod/positions/{hidden}", json={"position_s": 10}, headers=tv)
    http.post(f"/v1/admin/vod/titles/{hidden}/unpublish", headers=admin)
    assert _row(http, phone) == [second, first], "newest first, hidden titles left out"
    http.put(f"/v1/me/vod/positions/{first}", json={"position_s": 5990}, headers=tv)
    assert _row(http, phone) == [second]
    done = http.put(f"/v1/me/vod/positions/{second}", json={"position_s": 30, "finished": True}, headers=phone)
    assert done.json()["finished"] is True and _row(http, tv) == []
    other = bearer(login(http, make_subscriber()["customer_number"]).json())
    missing = http.get(f"/v1/me/vod/positions/{first}", headers=other)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "POSITION_NOT_FOUND"


def test_bad_positions_are_refused(http, rt, staff_keys, make_subscriber) -> None:  # noqa: ANN001
    viewer = bearer(login(http, make_subscriber()["customer_number"]).json())
    series = publish_title(http, rt, staff_keys["admin"], kind="series")["id"]
    movie = publish_title(http, rt, staff_keys["admin"])["id"]
    for body in ({"position_s": -1}, {"position_s": "soon"}, {"position_s": 1, "extra": 1}, {}):
        resp = http.put(f"/v1/me/vod/positions/{movie}", json=body, headers=viewer)
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert http.put(f"/v1/me/vod/positions/{series}", json={"position_s": 1}, headers=viewer).status_code == 409
    assert http.put("/v1/me/vod/positions/no-such", json={"position_s": 1}, headers=viewer).status_code == 404
    assert http.put(f"/v1/me/vod/positions/{movie}", json={"position_s": 1}).status_code == 401
