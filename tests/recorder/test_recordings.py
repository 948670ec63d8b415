"""Scheduling recordings: one shared copy, quota, rights, entitlement, and the bad requests."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from recorder import service
from recorder.models import Recording, StoredCopy
from streaming.timeline.models import TimelinePin
from tests.entitlements.conftest import bearer, login
from tests.support.guide import import_programmes, programme_ids

NOW = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)


@pytest.fixture
def guide(http, admin, make_channel, make_package, make_subscriber):  # noqa: ANN001, ANN201
    """A channel with a guide around now, a package with 3 recording hours, two signed-in subscribers."""
    cid = make_channel()["id"]
    programmes = [(NOW + dt.timedelta(hours=1), NOW + dt.timedelta(hours=2), "Mecz", {}),
                  (NOW - dt.timedelta(minutes=10), NOW + dt.timedelta(minutes=20), "Na żywo", {}),
                  (NOW - dt.timedelta(hours=3), NOW - dt.timedelta(hours=2), "Wczoraj", {}),
                  (NOW + dt.timedelta(hours=3), NOW + dt.timedelta(hours=4), "Bez nagrań", {"recording": "false"})]
    import_programmes(http, admin, cid, programmes)
    package = make_package(channels=[cid], recording_hours=3)
    viewers = [bearer(login(http, make_subscriber(packages=[package["code"]])["customer_number"]).json())
               for _ in range(2)]
    ids = programme_ids(http, viewers[0], cid, NOW - dt.timedelta(hours=4), NOW + dt.timedelta(hours=5))
    return {"channel": cid, "ids": ids, "viewers": viewers}


def record(http, viewer, **body):  # noqa: ANN001, ANN003, ANN201
    return http.post("/v1/me/recordings", headers=viewer, json={"pad_before_s": 0, "pad_after_s": 0, **body})


def code(resp) -> str:  # noqa: ANN001
    return resp.json()["error"]["code"]


def test_a_programme_is_recorded_once_per_subscriber_and_stored_once(http, rt, guide) -> None:  # noqa: ANN001
    a, b = guide["viewers"]
    first = record(http, a, programme_id=guide["ids"]["Mecz"])
    assert first.status_code == 201 and first.json()["state"] == "scheduled", first.text
    again = record(http, a, programme_id=guide["ids"]["Mecz"])
    assert again.status_code == 409 and code(again) == "RECORDING_EXISTS"
    assert again.json()["error"]["details"]["recording_id"] == first.json()["id"]
    assert record(http, b, programme_id=guide["ids"]["Mecz"]).status_code == 201
    with rt.db.session(write=False) as s:
        copies = s.scalars(select(StoredCopy).where(StoredCopy.channel_id == guide["channel"])).all()
        pins = s.scalar(select(func.count()).select_from(TimelinePin).where(TimelinePin.channel_id == guide["channel"]))
    assert len(copies) == 1 and pins == 1, "one stored copy, one pin, for both subscribers"
    assert copies[0].end_us - copies[0].start_us == 3600 * 1_000_000
    # Deleting frees quota at once; the copy stays while the other subscriber keeps theirs.
    assert http.get("/v1/me/recordings/quota", headers=a).json()["scheduled_hours"] == 1.0
    assert http.delete(f"/v1/me/recordings/{first.json()['id']}", headers=a).status_code == 204
    assert http.get("/v1/me/recordings/quota", headers=a).json() == {
        "hours": 3.0, "used_hours": 0.0, "scheduled_hours": 0.0, "free_hours": 3.0}
    with rt.db.session(write=False) as s:
        assert s.scalar(select(func.count()).select_from(StoredCopy).where(StoredCopy.channel_id == guide["channel"])) == 1
    [kept] = http.get("/v1/me/recordings", headers=b).json()["items"]
    assert http.delete(f"/v1/me/recordings/{kept['id']}", headers=b).status_code == 204
    with rt.db.session(write=False) as s:
        assert s.scalar(select(func.count()).select_from(StoredCopy).where(StoredCopy.channel_id == guide["channel"])) == 0
        assert s.scalar(select(func.count()).select_from(TimelinePin).where(TimelinePin.channel_id == guide["channel"])) == 0
    # Deleted, it may be recorded again.
    assert record(http, a, programme_id=guide["ids"]["Mecz"]).status_code == 201


def test_on_air_aired_and_range_recordings_and_the_list(http, guide) -> None:  # noqa: ANN001
    a = guide["viewers"][0]
    on_air = record(http, a, programme_id=guide["ids"]["Na żywo"])
    aired = record(http, a, programme_id=guide["ids"]["Wczoraj"])
    rng = record(http, a, channel_id=guide["channel"], start=(NOW - dt.timedelta(minutes=30)).isoformat(),
                 end=(NOW - dt.timedelta(minutes=20)).isoformat())
    assert [r.status_code for r in (on_air, aired, rng)] == [201, 201, 201], [r.text for r in (on_air, aired, rng)]
    assert on_air.json()["state"] == "recording"
    page = http.get("/v1/me/recordings", headers=a, params={"order": "start", "limit": 2}).json()
    assert page["total"] == 3 and [r["title"] for r in page["items"]][0] == "Wczoraj" and len(page["items"]) == 2
    only = http.get("/v1/me/recordings", headers=a, params={"state": "recording"}).json()["items"]
    assert {r["id"] for r in only} >= {on_air.json()["id"]}
    quota = http.get("/v1/me/recordings/quota", headers=a).json()
    assert quota["used_hours"] == pytest.approx(0.5 + 1 + 0.17, abs=0.02)


def test_quota_rights_and_entitlement_are_checked(http, admin, guide, make_subscriber) -> None:  # noqa: ANN001
    a = guide["viewers"][0]
    big = record(http, a, channel_id=guide["channel"], start=(NOW + dt.timedelta(hours=5)).isoformat(),
                 end=(NOW + dt.timedelta(hours=8, minutes=30)).isoformat())
    assert big.status_code == 403 and code(big) == "QUOTA_EXCEEDED", big.text
    details = big.json()["error"]["details"]
    assert details["free_hours"] == 3.0 and details["needed_hours"] == 3.5
    forbidden = record(http, a, programme_id=guide["ids"]["Bez nagrań"])
    assert forbidden.status_code == 403 and code(forbidden) == "RIGHTS"
    outsider = bearer(login(http, make_subscriber()["customer_number"]).json())
    refused = record(http, outsider, programme_id=guide["ids"]["Mecz"])
    assert refused.status_code == 403 and code(refused) == "NOT_ENTITLED"


@pytest.mark.parametrize("body, status, error", [
    ({"channel_id": "CH", "start": "2026-12-01T10:00:00Z", "end": "2026-12-01T11:00:00Z"}, 422, "VALIDATION_ERROR"),
    ({"programme_id": "x", "channel_id": "a", "start": "2026-12-01T10:00:00Z", "end": "2026-12-01T11:00:00Z"},
     422, "VALIDATION_ERROR"),
    ({"start": "2026-12-01T10:00:00Z"}, 422, "VALIDATION_ERROR"),
    ({"programme_id": "0" * 32}, 404, "PROGRAMME_NOT_FOUND"),
    ({"programme_id": "x", "pad_after_s": -1}, 422, "VALIDATION_ERROR"),
    ({"programme_id": "x", "colour": "red"}, 422, "VALIDATION_ERROR"),
])
def test_malformed_and_unknown_requests(http, guide, body, status, error) -> None:  # noqa: ANN001
    resp = http.post("/v1/me/recordings", headers=guide["viewers"][0], json=body)
    assert resp.status_code == status and code(resp) == error, resp.text


def test_ranges_too_long_or_before_the_archive_and_other_accounts_ids(http, guide) -> None:  # noqa: ANN001
    a, b = guide["viewers"]
    long = record(http, a, channel_id=guide["channel"], start=(NOW + dt.timedelta(hours=1)).isoformat(),
                  end=(NOW + dt.timedelta(hours=8)).isoformat())
    assert long.status_code == 422 and code(long) == "INVALID_RECORDING_RANGE"
    old = record(http, a, channel_id=guide["channel"], start=(NOW - dt.timedelta(days=30)).isoformat(),
                 end=(NOW - dt.timedelta(days=30) + dt.timedelta(hours=1)).isoformat())
    assert old.status_code == 422 and code(old) == "INVALID_RECORDING_RANGE" and "earliest" in old.json()["error"]["details"]
    mine = record(http, a, programme_id=guide["ids"]["Mecz"]).json()["id"]
    for method in ("get", "delete"):
        other = getattr(http, method)(f"/v1/me/recordings/{mine}", headers=b)
        assert other.status_code == 404 and code(other) == "RECORDING_NOT_FOUND"
    assert http.get(f"/v1/me/recordings/{mine}", headers=a).json()["title"] == "Mecz"
    assert http.get("/v1/me/recordings", headers=a, params={"order": "sideways"}).status_code == 422


def test_recordings_follow_their_programmes_on_the_guide(http, admin, rt, guide) -> None:  # noqa: ANN001
    a = guide["viewers"][0]
    match = record(http, a, programme_id=guide["ids"]["Mecz"]).json()
    live = record(http, a, programme_id=guide["ids"]["Na żywo"]).json()
    cid = guide["channel"]
    # The guide moves the match ten minutes later and extends the programme on air.
    import_programmes(http, admin, cid, [
        (NOW - dt.timedelta(minutes=10), NOW + dt.timedelta(minutes=40), "Na żywo", {}),
        (NOW + dt.timedelta(hours=1, minutes=10), NOW + dt.timedelta(hours=2, minutes=10), "Mecz", {})])
    moved = http.get(f"/v1/me/recordings/{match['id']}", headers=a).json()
    assert dt.datetime.fromisoformat(moved["start"]) == NOW + dt.timedelta(hours=1, minutes=10)
    extended = http.get(f"/v1/me/recordings/{live['id']}", headers=a).json()
    assert dt.datetime.fromisoformat(extended["end"]) == NOW + dt.timedelta(minutes=40)
    with rt.db.session(write=False) as s:
        spans = sorted((c.end_us - c.start_us) // 60_000_000 for c in s.scalars(
            select(StoredCopy).where(StoredCopy.channel_id == cid)))
        pins = s.scalar(select(func.count()).select_from(TimelinePin).where(TimelinePin.channel_id == cid))
    assert spans == [50, 60] and pins == 2, "the copies follow; the old ones are released"
    # Then the match is taken off the guide: its recording fails, saying why.
    import_programmes(http, admin, cid, [(NOW + dt.timedelta(hours=1), NOW + dt.timedelta(hours=2, minutes=30),
                                          "Magazyn", {})])
    cancelled = http.get(f"/v1/me/recordings/{match['id']}", headers=a).json()
    assert cancelled["state"] == "failed" and cancelled["failure_reason"] == "the programme was cancelled"
    assert http.get("/v1/me/recordings/quota", headers=a).json()["scheduled_hours"] == 0.0


def test_recordings_past_their_retention_are_deleted_and_their_copy_released(http, rt, guide) -> None:  # noqa: ANN001

    a = guide["viewers"][0]
    rec = record(http, a, programme_id=guide["ids"]["Wczoraj"]).json()
    assert dt.datetime.fromisoformat(rec["expires_at"]) > NOW + dt.timedelta(days=300)
    with rt.db.session() as s:
        s.get(Recording, rec["id"]).expires_at = NOW - dt.timedelta(seconds=1)
    with rt.db.session() as s:
        assert service.expire(db_session=s, now=NOW) >= 1
    assert http.get(f"/v1/me/recordings/{rec['id']}", headers=a).status_code == 404
    with rt.db.session(write=False) as s:
        assert s.scalar(select(func.count()).select_from(StoredCopy).where(StoredCopy.channel_id == guide["channel"])) == 0
