"""Several origins, one truth: two `smartgo api` behind HAProxy, two packagers, two workers.

One stack of our own (tests/support/fault_stack.py with tests/support/balancer.py): the
balancer hashes each session's `/p/{token}/` prefix onto one origin and health-checks
`/readyz`. A player polls its live playlist through the balancer every second. Asserted: the
session stays on one origin; killing that origin costs the player at most one fetch and its
playlist never goes backwards; a rolling restart (SIGTERM, drain, start) of every origin in
turn costs it nothing; an ended session is refused at every origin; streams are counted
across origins; two origins serving the same playlist lag each other by less than a segment.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.balancer import haproxy_missing
from tests.support.fault_stack import ADMIN, PASSWORD, SEGMENT_S, FaultStack, PlayerFetch

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(haproxy_missing() and os.environ.get("SMARTGO_FAULT_TESTS") != "required",
                       reason="needs Debian's haproxy"),
]
DRAIN_S = 2.0


@pytest.fixture(scope="module")
def stack() -> Iterator[FaultStack]:
    """Two origins behind HAProxy, two packagers, two workers, playing."""
    running = FaultStack(apis=2, workers=2, packagers=2, drain_s=DRAIN_S)
    try:
        yield running.start()
    finally:
        running.close()


def _never_backwards(fetches: list[PlayerFetch]) -> list[tuple]:
    """Return each pair of answered fetches where the playlist went back (sequence, discontinuity, newest segment)."""
    ok = [f for f in fetches if f.status == 200]
    return [(a.origin, b.origin, a.sequence, b.sequence, a.discontinuity, b.discontinuity, a.last_end, b.last_end)
            for a, b in zip(ok, ok[1:])
            if b.sequence < a.sequence or (b.discontinuity or 0) < (a.discontinuity or 0)
            or (a.last_end and b.last_end and b.last_end < a.last_end)]


def _fetches_after(stack: FaultStack, since: float, count: int) -> list[PlayerFetch]:
    return stack.wait(lambda: len(f := stack.player.between(since, time.time())) >= count and f, 30,
                      f"{count} player fetches")


def _at(origin: str, url: str) -> str:
    """The same playback URL, asked of one origin directly."""
    return origin + httpx.URL(url).raw_path.decode()


def _restart(stack: FaultStack, name: str) -> None:
    stack.processes[name].start()
    stack.wait(lambda: name in stack.balancer.up(), 60, f"{name} to be back in the balancer")


def test_a_session_stays_on_one_origin(stack: FaultStack) -> None:
    fetches = _fetches_after(stack, time.time(), 4)
    assert {f.status for f in fetches} == {200}, fetches
    assert len({f.origin for f in fetches}) == 1, fetches


def test_killing_its_origin_costs_a_player_at_most_one_fetch_and_nothing_goes_back(stack: FaultStack) -> None:
    serving = _fetches_after(stack, time.time(), 1)[-1].origin
    began = time.time()
    stack.processes[serving].kill()
    after = stack.wait(lambda: len([f for f in stack.player.between(began, time.time())
                                    if f.status == 200 and f.origin != serving]) >= 5
                       and stack.player.between(began - 3, time.time()), 30, "the player on the other origin")
    print(json.dumps([(round(f.at - began, 2), f.status, f.origin, f.sequence) for f in after]))
    assert len([f for f in after if f.status != 200]) <= 1, after
    assert not _never_backwards(after), _never_backwards(after)
    _restart(stack, serving)


def test_a_rolling_restart_of_every_origin_costs_players_nothing(stack: FaultStack) -> None:
    began = time.time()
    for name in stack.origins:
        stack.processes[name].stop()  # SIGTERM: /readyz answers 503 for DRAIN_S while it serves on, then it exits
        assert name not in stack.balancer.up()
        _restart(stack, name)
    fetches = stack.player.between(began, time.time())
    print(json.dumps([(round(f.at - began, 2), f.status, f.origin, f.sequence) for f in fetches]))
    assert len(fetches) >= 4 and {f.status for f in fetches} == {200}, fetches
    assert not _never_backwards(fetches), _never_backwards(fetches)
    assert all(f.segment_status == 200 for f in fetches if f.segment_status is not None), fetches


def _signed_in(stack: FaultStack, origin: str, customer: str, device: str) -> dict:
    tokens = httpx.post(f"{origin}/v1/auth/login", timeout=20, json={
        "login": customer, "password": PASSWORD, "device": {"type": "mobile", "name": device}})
    tokens.raise_for_status()
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


def _start(origin: str, auth: dict, channel_id: str) -> httpx.Response:
    return httpx.post(f"{origin}/v1/playback", headers=auth, timeout=20,
                      json={"content": {"type": "channel", "id": channel_id}})


def test_an_ended_session_is_refused_at_every_origin(stack: FaultStack) -> None:
    first, second = stack.origins.values()
    auth = _signed_in(stack, first, stack.customer, "tablet")
    start = _start(first, auth, stack.channel_id)
    assert start.status_code == 200, start.text
    media = start.json()["url"].replace("master.m3u8", "360p.m3u8")
    stack.wait(lambda: all(httpx.get(_at(o, media), timeout=5).status_code == 200 for o in (first, second)), 20,
               "the session to play at both origins")
    stopped = time.monotonic()
    assert httpx.delete(f"{second}/v1/playback/{start.json()['session_id']}", headers=auth,
                        timeout=20).status_code == 204
    refused = stack.wait(lambda: [httpx.get(_at(o, media), timeout=5).status_code for o in (first, second)]
                         == [403, 403] and time.monotonic() - stopped, 10, "both origins to refuse")
    print(f"refused everywhere {refused:.2f} s after the stop")


def test_streams_are_counted_across_origins(stack: FaultStack) -> None:
    first, second = stack.origins.values()
    code, customer = f"one{uuid.uuid4().hex[:6]}", f"C{uuid.uuid4().hex[:8].upper()}"
    httpx.post(f"{first}/v1/admin/packages", headers={"X-API-Key": ADMIN}, timeout=20, json={
        "code": code, "name": "One stream", "kind": "base", "channels": [stack.channel_id],
        "max_streams": 1}).raise_for_status()
    stack.billing("PUT", f"/v1/billing/subscribers/{customer}",
                  {"email": f"{customer.lower()}@example.com", "password": PASSWORD}).raise_for_status()
    stack.billing("PUT", f"/v1/billing/subscribers/{customer}/packages",
                  {"packages": [{"code": code}]}).raise_for_status()
    phone, tv = _signed_in(stack, first, customer, "phone"), _signed_in(stack, second, customer, "tv")
    assert _start(first, phone, stack.channel_id).status_code == 200
    refused = _start(second, tv, stack.channel_id)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "CONCURRENCY_LIMIT", refused.text


def test_two_origins_lag_each_other_by_less_than_a_segment(stack: FaultStack) -> None:
    """What a player behind plain round-robin could see: the same playlist at each origin."""
    media = stack.player.media_url
    seen: dict[str, dict[int, float]] = {o: {} for o in stack.origins.values()}
    stop = threading.Event()

    def poll(origin: str) -> None:
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                resp = http.get(_at(origin, media))
                if resp.status_code == 200 and "#EXTINF" in resp.text:
                    sequence = int(re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", resp.text).group(1))
                    seen[origin].setdefault(sequence + resp.text.count("#EXTINF") - 1, time.monotonic())
                stop.wait(0.05)

    pollers = [threading.Thread(target=poll, args=(o,), daemon=True) for o in seen]
    for t in pollers:
        t.start()
    try:
        stack.wait(lambda: min(len(s) for s in seen.values()) >= 6, 30, "six new segments at both origins")
    finally:
        stop.set()
        for t in pollers:
            t.join(10)
    first, second = seen.values()
    common = sorted(set(first) & set(second))[1:]  # the first one seen was already there
    lags = [abs(first[n] - second[n]) for n in common]
    print(json.dumps({"segments": len(common), "worst_lag_s": round(max(lags), 3)}))
    assert len(common) >= 4 and max(lags) < SEGMENT_S, lags
