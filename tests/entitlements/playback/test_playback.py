"""The playback door: one decision per request, with a reason the app can act on."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, func, select

from entitlements.accounts import service
from entitlements.packages.models import SubscriberPackage
from entitlements.playback import facts as facts_module
from entitlements.playback import service as playback
from entitlements.playback.models import PlaybackDecisionLog, PlaybackSession
from tests.entitlements.conftest import PASSWORD, bearer, login

TV = {"type": "smart_tv", "name": "TV", "model": "Tizen 7"}


@pytest.fixture
def household(http, admin, make_channel, make_package, make_subscriber):  # noqa: ANN001, ANN201
    """A channel, a package granting it (2 streams), a subscriber holding it, signed in on a phone."""
    channel = make_channel()
    package = make_package(channels=[channel["id"]], max_streams=2, max_devices=4)
    sub = make_subscriber(packages=[package["code"]])
    phone = login(http, sub["customer_number"]).json()
    return {"channel": channel, "package": package, "sub": sub, "phone": phone}


def play(http, tokens: dict, channel_id: str, **body):  # noqa: ANN001, ANN003, ANN201
    return http.post("/v1/playback", headers=bearer(tokens),
                     json={"content": {"type": "channel", "id": channel_id}, **body})


def reason(resp) -> str:  # noqa: ANN001
    assert resp.status_code in (403, 404, 422, 429), resp.text
    return resp.json()["error"]["code"]


def test_an_entitled_subscriber_gets_a_signed_url(http, household) -> None:  # noqa: ANN001
    resp = play(http, household["phone"], household["channel"]["id"])
    assert resp.status_code == 200, resp.text
    start = resp.json()
    assert f"/live/{household['channel']['id']}/cmaf/master.m3u8" in start["url"] and "/p/" in start["url"]
    assert start["heartbeat_every_s"] >= 5
    streams = http.get("/v1/me/streams", headers=bearer(household["phone"])).json()
    assert [(s["session_id"], s["current"]) for s in streams] == [(start["session_id"], True)]


def test_not_entitled_names_the_packages_that_would_grant_it(http, household, make_channel, make_package) -> None:  # noqa: ANN001
    other = make_channel()
    hbo = make_package(kind="addon", channels=[other["id"]])
    resp = play(http, household["phone"], other["id"])
    assert reason(resp) == "NOT_ENTITLED" and resp.json()["error"]["details"]["packages"] == [hbo["code"]]
    assert reason(play(http, household["phone"], "no-such-channel")) == "NOT_AVAILABLE"


def test_suspended_accounts_are_refused(http, billing, household) -> None:  # noqa: ANN001
    number = household["sub"]["customer_number"]
    assert billing.send("POST", f"/v1/billing/subscribers/{number}/suspend", {"reason": "unpaid"}).status_code == 200
    assert reason(play(http, household["phone"], household["channel"]["id"])) == "ACCOUNT_SUSPENDED"


def test_rights_devices_and_places(http, admin, household) -> None:  # noqa: ANN001
    ch = household["channel"]["id"]
    put = http.put(f"/v1/admin/channels/{ch}/rights", headers=admin, json={"timeshift": False,
                   "device_types": ["smart_tv", "stb"]})
    assert put.status_code == 200, put.text
    assert reason(play(http, household["phone"], ch, mode="timeshift")) == "RIGHTS"
    assert reason(play(http, household["phone"], ch)) == "DEVICE_NOT_ALLOWED"
    tv = login(http, household["sub"]["customer_number"], device=TV).json()
    assert play(http, tv, ch).status_code == 200
    assert reason(play(http, tv, ch, mode="startover")) == "INVALID_MODE"
    # Where: this test's address (127.0.0.1) is in Poland by the operator's table.
    assert http.put("/v1/admin/geo", headers=admin, json={"csv": "127.0.0.0/8,PL\n::1/128,PL"}).status_code == 200
    http.put(f"/v1/admin/channels/{ch}/rights", headers=admin, json={"countries": ["DE", "AT"]})
    denied = play(http, tv, ch)
    assert reason(denied) == "GEO_BLOCKED" and denied.json()["error"]["details"]["country"] == "PL"
    http.put(f"/v1/admin/channels/{ch}/rights", headers=admin, json={"countries": ["PL"]})
    assert play(http, tv, ch).status_code == 200
    bad = http.put("/v1/admin/geo", headers=admin, json={"csv": "not-a-network,PL"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "INVALID_GEO_TABLE"


def test_parental_threshold_needs_the_pin_with_limited_tries(http, admin, household) -> None:  # noqa: ANN001
    ch, phone = household["channel"]["id"], household["phone"]
    http.put(f"/v1/admin/channels/{ch}/rights", headers=admin, json={"age_rating": 18})
    kid = http.post("/v1/me/profiles", headers=bearer(phone), json={"name": "Zosia", "parental_threshold": 12}).json()
    assert play(http, phone, ch).status_code == 200  # no profile: the account holder
    assert reason(play(http, phone, ch, profile_id=kid["id"])) == "PARENTAL_PIN_REQUIRED"
    assert reason(play(http, phone, ch, profile_id=kid["id"], pin="1234")) == "PIN_NOT_SET"
    assert http.put("/v1/me/pin", headers=bearer(phone), json={"password": "wrong", "pin": "4321"}).status_code == 401
    assert http.put("/v1/me/pin", headers=bearer(phone), json={"password": PASSWORD, "pin": "4321"}).status_code == 204
    assert play(http, phone, ch, profile_id=kid["id"], pin="4321").status_code == 200
    loosen = http.patch(f"/v1/me/profiles/{kid['id']}", headers=bearer(phone), json={"parental_threshold": 18})
    assert reason(loosen) == "PIN_INVALID"
    codes = [reason(play(http, phone, ch, profile_id=kid["id"], pin="0000")) for _ in range(5)]
    assert codes[:3] == ["PIN_INVALID"] * 3 and codes[-1] == "PIN_LOCKED"
    assert reason(play(http, phone, ch, profile_id=kid["id"], pin="4321")) == "PIN_LOCKED"
    other = login(http, household["sub"]["customer_number"]).json()  # same account, other device
    assert http.get("/v1/me/profiles", headers=bearer(other)).json()[0]["id"] == kid["id"]


def test_streams_are_counted_handed_over_and_stopped(http, household) -> None:  # noqa: ANN001
    ch, number = household["channel"]["id"], household["sub"]["customer_number"]
    phone, tv, tablet = household["phone"], login(http, number, device=TV).json(), login(http, number).json()
    first = play(http, phone, ch).json()
    # Changing channel on the same device hands the stream over: it never counts twice.
    again = play(http, phone, ch).json()
    assert again["replaced_session_id"] == first["session_id"]
    assert play(http, tv, ch).status_code == 200
    full = play(http, tablet, ch)
    assert reason(full) == "CONCURRENCY_LIMIT"
    streams = full.json()["error"]["details"]["streams"]
    assert {s["device_id"] for s in streams} == {phone["device_id"], tv["device_id"]}
    # The tablet stops the phone's stream and plays.
    assert http.delete(f"/v1/playback/{again['session_id']}", headers=bearer(tablet)).status_code == 204
    assert play(http, tablet, ch).status_code == 200
    hb = http.post(f"/v1/playback/{again['session_id']}/heartbeat", headers=bearer(phone))
    assert reason(hb) == "SESSION_ENDED"


def test_other_accounts_sessions_and_profiles_are_not_found(http, household, make_subscriber) -> None:  # noqa: ANN001
    mine = play(http, household["phone"], household["channel"]["id"]).json()
    stranger = login(http, make_subscriber()["customer_number"]).json()
    for method, path in (("DELETE", f"/v1/playback/{mine['session_id']}"),
                         ("POST", f"/v1/playback/{mine['session_id']}/heartbeat")):
        assert reason(http.request(method, path, headers=bearer(stranger))) == "PLAYBACK_SESSION_NOT_FOUND"
    kid = http.post("/v1/me/profiles", headers=bearer(household["phone"]), json={"name": "K"}).json()
    assert reason(play(http, stranger, household["channel"]["id"], profile_id=kid["id"])) == "PROFILE_NOT_FOUND"
    assert http.post(f"/v1/playback/{mine['session_id']}/heartbeat",
                     headers=bearer(household["phone"])).status_code == 204


def test_fewer_devices_after_a_downgrade_refuses_the_newest(http, billing, household) -> None:  # noqa: ANN001
    number = household["sub"]["customer_number"]
    tv = login(http, number, device=TV).json()
    billing.send("PUT", f"/v1/billing/subscribers/{number}", {"device_limit": 1})
    assert reason(play(http, tv, household["channel"]["id"])) == "DEVICE_LIMIT"
    assert play(http, household["phone"], household["channel"]["id"]).status_code == 200


def test_a_package_change_ends_running_sessions_and_every_decision_is_audited(http, admin, billing,  # noqa: ANN001
                                                                             household) -> None:
    number = household["sub"]["customer_number"]
    start = play(http, household["phone"], household["channel"]["id"]).json()
    assert billing.send("PUT", f"/v1/billing/subscribers/{number}/packages", {"packages": []}).status_code == 200
    hb = http.post(f"/v1/playback/{start['session_id']}/heartbeat", headers=bearer(household["phone"]))
    assert reason(hb) == "SESSION_ENDED" and "NOT_ENTITLED" in hb.json()["error"]["message"]
    assert reason(play(http, household["phone"], household["channel"]["id"])) == "NOT_ENTITLED"
    log = http.get("/v1/admin/playback-decisions", params={"customer_number": number}, headers=admin).json()
    assert [(d["outcome"], d["reason"]) for d in log] == [("denied", "NOT_ENTITLED"), ("allowed", None)]
    assert log[1]["session_id"] == start["session_id"] and log[0]["address"] == "127.0.0.1"


def test_old_decisions_and_sessions_are_purged(http, rt, household) -> None:  # noqa: ANN001



    start = play(http, household["phone"], household["channel"]["id"]).json()
    sub_id = household["sub"]["id"]

    def count(model) -> int:  # noqa: ANN001
        with rt.db.session(write=False) as s:
            return s.scalar(select(func.count()).select_from(model).where(model.subscriber_id == sub_id))

    assert count(PlaybackDecisionLog) == 1 and count(PlaybackSession) == 1
    rt.job_specs["entitlements.purge_playback_records"].func(rt)  # nothing is old yet
    assert count(PlaybackDecisionLog) == 1

    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=rt.settings.playback_decision_retention_days + 1)
    with rt.db.session() as s:
        gone = playback.purge_old(rt, db_session=s, now=later)
    assert gone["decisions"] >= 1 and gone["sessions"] >= 1
    assert count(PlaybackDecisionLog) == 0 and count(PlaybackSession) == 0
    assert start["session_id"]


@pytest.mark.parametrize("body,code", [
    (b"{nope", "MALFORMED_JSON"),
    (b'{"content": {"type": "channel"}}', "VALIDATION_ERROR"),
    (b'{"content": {"type": "film", "id": "x"}}', "VALIDATION_ERROR"),
    (b'{"content": {"type": "channel", "id": "../etc"}}', "VALIDATION_ERROR"),
    (b'{"content": {"type": "channel", "id": "a"}, "mode": "forever"}', "VALIDATION_ERROR"),
    (b'{"content": {"type": "channel", "id": "a"}, "pin": "12ab"}', "VALIDATION_ERROR"),
    (b'{"content": {"type": "channel", "id": "a"}, "admin": true}', "VALIDATION_ERROR"),
])
def test_malformed_playback_requests(http, household, body, code) -> None:  # noqa: ANN001
    resp = http.post("/v1/playback", content=body, headers={**bearer(household["phone"]),
                                                            "content-type": "application/json"})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == code, resp.text


def test_account_facts_are_cached_until_the_account_changes(http, rt, billing, household, make_package) -> None:  # noqa: ANN001


    sub_id, code = household["sub"]["id"], household["package"]["code"]

    def facts() -> frozenset:
        with rt.db.session(write=False) as s:
            return facts_module.account_facts(rt, db_session=s,
                                              sub=service.get_subscriber(db_session=s, subscriber_id=sub_id))[0]

    assert facts() == {code}
    with rt.db.session() as s:  # behind the service's back: the cache cannot know
        s.execute(delete(SubscriberPackage).where(SubscriberPackage.subscriber_id == sub_id))
    assert facts() == {code}, "the cached facts should have been used"
    extra = make_package(kind="addon")
    number = household["sub"]["customer_number"]
    assert billing.send("PUT", f"/v1/billing/subscribers/{number}/packages",
                        {"packages": [{"code": code}, {"code": extra["code"]}]}).status_code == 200
    assert facts() == {code, extra["code"]}  # an account change is seen at once


def test_a_forged_token_is_refused_and_the_genuine_one_still_starts(http, household) -> None:  # noqa: ANN001
    forged = dict(household["phone"], access_token=household["phone"]["access_token"][:-4] + "AAAA")
    resp = play(http, forged, household["channel"]["id"])
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "INVALID_ACCESS_TOKEN"
    assert play(http, household["phone"], household["channel"]["id"]).status_code == 200


def test_a_revoked_sign_in_is_refused_at_the_door(http, household) -> None:  # noqa: ANN001
    tv = login(http, household["sub"]["customer_number"]).json()
    assert http.post("/v1/auth/logout", headers=bearer(tv)).status_code == 204
    resp = play(http, tv, household["channel"]["id"])
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "INVALID_ACCESS_TOKEN"
