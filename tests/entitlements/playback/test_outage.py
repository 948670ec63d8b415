"""The door while Redis or the database is away follows its stated policy: closed, or open for what can be checked.

The process is told a service is away, which is what the door acts on; the real outages, with a
player through the door, are in tests/faults.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from entitlements.playback.models import PlaybackDecisionLog, PlaybackSession
from entitlements.playback.outage import outage_door
from tests.entitlements.conftest import bearer, login
from tests.support.outages import service_away
from tests.support.waiting import wait_for


@pytest.fixture
def household(http, make_channel, make_package, make_subscriber):  # noqa: ANN001, ANN201
    channels = [make_channel()["id"], make_channel()["id"]]
    package = make_package(channels=channels, max_streams=1)
    sub = make_subscriber(packages=[package["code"]])
    return {"channels": channels, "phone": login(http, sub["customer_number"]).json(),
            "tablet": login(http, sub["customer_number"], device={"type": "tablet", "name": "Tab", "model": "X"}).json()}


def play(http, tokens: dict, channel_id: str):  # noqa: ANN001, ANN201
    return http.post("/v1/playback", headers=bearer(tokens), json={"content": {"type": "channel", "id": channel_id}})


def test_redis_away_closed_refuses_what_needs_stream_counting(http, rt, household, monkeypatch) -> None:  # noqa: ANN001
    assert play(http, household["phone"], household["channels"][0]).status_code == 200
    service_away(monkeypatch, rt, "redis")
    resp = play(http, household["tablet"], household["channels"][0])  # a second stream: must be counted
    assert (resp.status_code, resp.json()["error"]["code"]) == (503, "STREAMS_UNAVAILABLE"), resp.text
    assert int(resp.headers["retry-after"]) > 0


def test_redis_away_open_admits_without_the_stream_limit_and_says_so(http, rt, household, monkeypatch) -> None:  # noqa: ANN001
    first = play(http, household["phone"], household["channels"][0]).json()
    refused = play(http, household["tablet"], household["channels"][0])  # one stream only
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "CONCURRENCY_LIMIT"), refused.text
    monkeypatch.setattr(rt.settings, "playback_outage_policy", "open")
    service_away(monkeypatch, rt, "redis")
    resp = play(http, household["tablet"], household["channels"][0])
    assert resp.status_code == 200, resp.text
    with rt.db.session(write=False) as s:
        decision = s.scalars(select(PlaybackDecisionLog).where(
            PlaybackDecisionLog.session_id == resp.json()["session_id"])).one()
    assert (decision.outcome, decision.reason) == ("allowed", "STREAMS_UNCOUNTED")
    assert resp.json()["session_id"] != first["session_id"]


def test_database_away_closed_refuses(http, rt, household, monkeypatch) -> None:  # noqa: ANN001
    assert play(http, household["phone"], household["channels"][0]).status_code == 200
    service_away(monkeypatch, rt, "database")
    resp = play(http, household["phone"], household["channels"][0])
    assert (resp.status_code, resp.json()["error"]["code"]) == (503, "DATABASE_UNAVAILABLE")
    assert int(resp.headers["retry-after"]) > 0


def test_database_away_open_admits_a_start_it_decided_lately_and_the_audit_catches_up(
        http, rt, household, monkeypatch) -> None:  # noqa: ANN001
    ch, other = household["channels"]
    assert play(http, household["phone"], ch).status_code == 200  # decided with the database
    monkeypatch.setattr(rt.settings, "playback_outage_policy", "open")
    service_away(monkeypatch, rt, "database")
    again = play(http, household["phone"], ch)  # the player rejoins during the outage
    assert again.status_code == 200, again.text
    body = again.json()
    assert http.get(body["url"]).status_code == 200  # the origin admits its token
    unknown = play(http, household["phone"], other)  # never decided here: nothing can say it is allowed
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (503, "DATABASE_UNAVAILABLE")
    forged = http.post("/v1/playback", headers={"Authorization": "Bearer nonsense"},
                       json={"content": {"type": "channel", "id": ch}})
    assert forged.status_code == 401
    monkeypatch.undo()  # the database is back (and the policy closed again: the door is not asked here)

    def audited() -> bool:
        with rt.db.session(write=False) as s:
            session = s.get(PlaybackSession, body["session_id"])
            decision = s.scalars(select(PlaybackDecisionLog).where(
                PlaybackDecisionLog.session_id == body["session_id"])).first()
        return session is not None and decision is not None and decision.reason == "OUTAGE_REMEMBERED"

    wait_for(audited, 10, "the outage start to be written to the database")
    assert not outage_door(rt).journal.exists()
    assert http.post(f"/v1/playback/{body['session_id']}/heartbeat", headers=bearer(household["phone"])).status_code == 204
