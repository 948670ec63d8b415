"""The playback decision as a table: facts in, the first reason out (in the documented order)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from entitlements.packages.rules import Rights, RightsOverride
from entitlements.playback.decision import ActiveStream, PlaybackFacts, decide

ALLOWED = PlaybackFacts(
    mode="live", content="channel:tvp1", available=True, rights=Rights(), granting_packages=frozenset({"start"}),
    account_status="active", held_packages=frozenset({"start"}), device_id="d1", device_type="mobile",
    device_within_limit=True, country="PL", parental_threshold=None, pin_ok=False, max_streams=2)
OTHER = ActiveStream("s-other", "d2", "channel:polsat")


@pytest.mark.parametrize("changes, reason, details", [
    ({}, None, {}),
    ({"available": False}, "NOT_AVAILABLE", {}),
    ({"account_status": "suspended"}, "ACCOUNT_SUSPENDED", {}),
    ({"held_packages": frozenset()}, "NOT_ENTITLED", {"packages": ["start"]}),
    ({"granting_packages": frozenset()}, "NOT_ENTITLED", {"packages": []}),
    ({"rights": Rights(live=False)}, "RIGHTS", {"mode": "live"}),
    ({"mode": "teleport"}, "RIGHTS", {"mode": "teleport"}),
    ({"mode": "catchup", "rights": Rights(catchup=False)}, "RIGHTS", {"mode": "catchup"}),
    ({"mode": "catchup", "ended_ago_s": 8 * 86400.0}, "RIGHTS", {"mode": "catchup", "catchup_days": 7}),
    ({"mode": "catchup", "ended_ago_s": 6 * 86400.0}, None, {}),
    ({"mode": "startover", "rights": Rights().overridden(RightsOverride(startover=False))}, "RIGHTS",
     {"mode": "startover"}),
    ({"rights": Rights(device_types=frozenset({"smart_tv"}))}, "DEVICE_NOT_ALLOWED",
     {"device_type": "mobile", "allowed": ["smart_tv"]}),
    ({"rights": Rights(countries=frozenset({"DE"}))}, "GEO_BLOCKED", {"country": "PL"}),
    ({"rights": Rights(countries=frozenset({"PL"})), "country": None}, "GEO_BLOCKED", {"country": None}),
    ({"device_within_limit": False}, "DEVICE_LIMIT", {}),
    ({"rights": Rights(age_rating=16), "parental_threshold": 12}, "PARENTAL_PIN_REQUIRED", {"age_rating": 16}),
    ({"rights": Rights(age_rating=16), "parental_threshold": 12, "pin_ok": True}, None, {}),
    ({"max_streams": 1, "streams": (OTHER,)}, "CONCURRENCY_LIMIT",
     {"max_streams": 1, "streams": [{"session_id": "s-other", "device_id": "d2", "content": "channel:polsat"}]}),
    ({"max_streams": None, "streams": (OTHER, OTHER)}, None, {}),
    # The first failing check gives the reason: suspension before entitlement, rights before geo.
    ({"account_status": "suspended", "held_packages": frozenset()}, "ACCOUNT_SUSPENDED", {}),
    ({"rights": Rights(live=False, countries=frozenset({"DE"}))}, "RIGHTS", {"mode": "live"}),
])
def test_decisions(changes: dict, reason: str | None, details: dict) -> None:
    decision = decide(replace(ALLOWED, **changes))
    assert (decision.allowed, decision.reason, decision.details) == (reason is None, reason, details)


def test_the_same_device_hands_its_stream_over() -> None:
    mine = ActiveStream("s-mine", "d1", "channel:polsat")
    decision = decide(replace(ALLOWED, max_streams=1, streams=(mine,)))
    assert decision.allowed and decision.replaces == "s-mine"


def test_an_override_narrows_only_what_it_sets() -> None:
    rights = Rights(catchup_days=7, timeshift_window_s=3600).overridden(RightsOverride(catchup=False, age_rating=18))
    assert (rights.catchup, rights.catchup_days, rights.timeshift_window_s, rights.age_rating) == (False, 7, 3600, 18)
    assert Rights().overridden(None) == Rights()
