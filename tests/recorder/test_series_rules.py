"""Series rules: new episodes or all, keeping at most N, new episodes from the guide, quota."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.entitlements.conftest import bearer, login
from tests.support.guide import import_programmes, programme_ids
from tests.support.waiting import wait_for

NOW = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)


def episode(hours: float, n: int) -> tuple:
    start = NOW + dt.timedelta(hours=hours)
    return (start, start + dt.timedelta(hours=1), f"Klan {n}", {"progid": f"KLAN{n:04d}"})


@pytest.fixture
def series(http, admin, make_channel, make_package, make_subscriber):  # noqa: ANN001, ANN201
    cid = make_channel()["id"]
    import_programmes(http, admin, cid, [episode(-3, 1), episode(1, 2), episode(2, 3),
                                         (NOW + dt.timedelta(hours=4), NOW + dt.timedelta(hours=5), "Film", {})])
    package = make_package(channels=[cid], recording_hours=10)
    viewer = bearer(login(http, make_subscriber(packages=[package["code"]])["customer_number"]).json())
    ids = programme_ids(http, viewer, cid, NOW - dt.timedelta(hours=4), NOW + dt.timedelta(hours=6))
    return {"channel": cid, "ids": ids, "viewer": viewer, "package": package}


def titles(http, viewer) -> list[str]:  # noqa: ANN001
    return sorted(r["title"] for r in http.get("/v1/me/recordings", headers=viewer).json()["items"])


def test_a_rule_records_new_episodes_keeps_at_most_n_and_follows_the_guide(http, admin, series) -> None:  # noqa: ANN001
    v = series["viewer"]
    resp = http.post("/v1/me/series-rules", headers=v, json={"programme_id": series["ids"]["Klan 2"],
                                                              "pad_before_s": 0, "pad_after_s": 0})
    assert resp.status_code == 201, resp.text
    rule = resp.json()
    assert (rule["series_id"], rule["scope"], rule["recordings"]) == ("KLAN", "new", 2)
    assert titles(http, v) == ["Klan 2", "Klan 3"]
    again = http.post("/v1/me/series-rules", headers=v, json={"programme_id": series["ids"]["Klan 3"]})
    assert again.status_code == 409 and again.json()["error"]["code"] == "SERIES_RULE_EXISTS"
    kept = http.patch(f"/v1/me/series-rules/{rule['id']}", headers=v, json={"keep_at_most": 1}).json()
    assert kept["recordings"] == 1 and titles(http, v) == ["Klan 3"]  # the oldest went first
    # A new episode on the guide is recorded by the rule, and the limit holds.
    import_programmes(http, admin, series["channel"], [episode(6, 4)])
    wait_for(lambda: titles(http, v) == ["Klan 4"], 10, "the rule's job to record the new episode")
    assert [r["recordings"] for r in http.get("/v1/me/series-rules", headers=v).json()] == [1]
    assert http.delete(f"/v1/me/series-rules/{rule['id']}", headers=v).status_code == 204
    assert titles(http, v) == [], "the rule's episodes not begun are gone with it"
    assert http.delete(f"/v1/me/series-rules/{rule['id']}", headers=v).json()["error"]["code"] == "SERIES_RULE_NOT_FOUND"


def test_all_episodes_within_the_quota_and_rules_that_match_nothing(http, series, make_subscriber) -> None:  # noqa: ANN001
    tight = bearer(login(http, make_subscriber(packages=[series["package"]["code"]])["customer_number"]).json())
    rule = http.post("/v1/me/series-rules", headers=tight, json={
        "channel_id": series["channel"], "series_id": "KLAN", "scope": "all", "pad_before_s": 0, "pad_after_s": 0})
    assert rule.status_code == 201 and rule.json()["recordings"] == 3, rule.text
    assert titles(http, tight) == ["Klan 1", "Klan 2", "Klan 3"]
    for body in ({"channel_id": series["channel"], "series_id": "NOPE"}, {"programme_id": series["ids"]["Film"]}):
        resp = http.post("/v1/me/series-rules", headers=tight, json=body)
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "SERIES_NOT_FOUND", resp.text
    bad = http.post("/v1/me/series-rules", headers=tight, json={"series_id": "KLAN"})
    assert bad.status_code == 422


def test_a_rule_skips_episodes_the_quota_cannot_hold(http, series, make_package, make_subscriber) -> None:  # noqa: ANN001
    small = make_package(channels=[series["channel"]], recording_hours=1)
    viewer = bearer(login(http, make_subscriber(packages=[small["code"]])["customer_number"]).json())
    rule = http.post("/v1/me/series-rules", headers=viewer, json={
        "channel_id": series["channel"], "series_id": "KLAN", "scope": "all", "pad_before_s": 0, "pad_after_s": 0})
    assert rule.status_code == 201, rule.text
    assert rule.json()["recordings"] == 1 and rule.json()["skipped_for_quota"] == 2
