"""The player matrix: hls.js and Shaka Player in headless Chromium play every mode through a real
sign-in on the test page and POST /v1/playback, are shown the reason of a refusal, seek, and step
down a rendition when the link is capped."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import PASSWORD, assert_plays, new_subscriber, play, play_selected, seen
from tests.support.guide import import_programmes, programme_ids
from tests.support.http import Client
from tests.support.waiting import wait_for

# The first test's setup plays the whole matrix (the fixture `played`).
pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]
PLAYERS = ["hls", "shaka"]


@dataclass
class Case:
    """What one mode plays, what it is refused, and what its playback must look like."""

    content: str
    mode: str
    denied: str
    denied_mode: str
    denied_code: str = "NOT_ENTITLED"
    window: int | None = None  # a time-shift's ?window=
    duration: float | None = None  # a complete playlist's length
    starts_before: float | None = None  # where playback must begin (EXT-X-START)


def _programme(http, admin, channel: str, headers: dict, start: dt.datetime, end: dt.datetime, title: str) -> str:  # noqa: ANN001

    import_programmes(http, admin, channel, [(start, end, title, {})])
    return programme_ids(http, headers, channel, start - dt.timedelta(minutes=1), end + dt.timedelta(minutes=1))[title]


def _recording(http, headers: dict, channel: str, start: dt.datetime, end: dt.datetime) -> str:  # noqa: ANN001
    rec = http.post("/v1/me/recordings", headers=headers, json={
        "channel_id": channel, "start": start.isoformat(), "end": end.isoformat(), "pad_before_s": 0, "pad_after_s": 0})
    assert rec.status_code == 201, rec.text
    done = wait_for(lambda: (lambda r: r if r["state"] != "recording" else None)(
        http.get(f"/v1/me/recordings/{rec.json()['id']}", headers=headers).json()), 30, "the recording finished")
    assert done["state"] in ("completed", "partial"), done
    return rec.json()["id"]


def _cases(http, admin, household, live: str, encrypted: str, title: str, headers: dict,  # noqa: ANN001
           tag: str) -> dict[str, Callable[[], Case]]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    locked = household["locked_channel"]
    return {
        "live": lambda: Case(f"channel:{live}", "live", f"channel:{locked}", "live"),
        "timeshift": lambda: Case(f"channel:{live}", "timeshift", f"channel:{locked}", "timeshift", window=600),
        "startover": lambda: Case(
            "programme:" + _programme(http, admin, live, headers, now - dt.timedelta(seconds=20),
                                      now + dt.timedelta(minutes=5), f"On air {tag}"),
            "startover", "programme:" + household["locked_on_air"], "startover", starts_before=9),
        "catchup": lambda: Case(
            "programme:" + _programme(http, admin, live, headers, now - dt.timedelta(seconds=22),
                                      now - dt.timedelta(seconds=8), f"Ended {tag}"),
            "catchup", "programme:" + household["locked_past"], "catchup", duration=14, starts_before=3),
        "recording": lambda: Case(
            "recording:" + _recording(http, headers, live, now - dt.timedelta(seconds=22), now - dt.timedelta(seconds=8)),
            "recording", "recording:" + household["neighbours_recording"], "recording",
            denied_code="RECORDING_NOT_FOUND", duration=14, starts_before=3),
        "vod": lambda: Case(f"title:{title}", "vod", f"title:{household['locked_title']}", "vod", duration=12,
                            starts_before=1),
        "encrypted": lambda: Case(f"channel:{encrypted}", "live", f"channel:{locked}", "live"),
    }


@pytest.fixture(scope="module")
def played(request, admin, rt, server, household, live_channel, encrypted_channel, vod_title) -> dict:  # noqa: ANN001
    """Play every case this module's selected tests ask for, a few players at a time, before the
    tests look at what each saw (each test then asserts on its own case)."""
    guide = threading.Lock()

    def case(player: str, mode: str, tag: str) -> tuple[str, Case, str]:
        with Client(server) as http:  # a client per thread: the checking client keeps history
            number, headers = new_subscriber(http, household["base"])
            return number, _cases(http, admin, household, live_channel, encrypted_channel, vod_title["id"], headers,
                                  f"{tag}-{player}-{mode}")[mode](), f"{server}/demo/?player={player}&nolist=1&autoplay=0"

    def through_the_door(player: str, mode: str) -> tuple[Case, dict]:
        # A programme put on the channel's guide would cut another case's programme still playing.
        with guide if mode in ("startover", "catchup") else contextlib.nullcontext():
            number, c, page = case(player, mode, "door")
            return c, play(page, login=number, password=PASSWORD, deny_content=c.denied, deny_mode=c.denied_mode,
                           content=c.content, mode=c.mode, window=c.window, watch=5, seek_back=3)

    def capped(player: str, mode: str) -> tuple[Case, dict]:
        number, c, page = case(player, mode, "abr")
        return c, play(page, login=number, password=PASSWORD, content=c.content, mode=c.mode, window=c.window,
                       watch=2, cap_kbps=650)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rt.settings, "open_playback", False)  # the origin checks the door's token
        patch.setattr(rt.settings, "catchup_pad_before_s", 0)
        patch.setattr(rt.settings, "catchup_pad_after_s", 0)
        return play_selected(request, {"test_every_mode_plays_through_the_door": through_the_door,
                                       "test_the_player_steps_down_when_the_link_is_capped": capped})


@pytest.mark.parametrize("mode", ["live", "timeshift", "startover", "catchup", "recording", "vod", "encrypted"])
@pytest.mark.parametrize("player", PLAYERS)
def test_every_mode_plays_through_the_door(http, household, played, request, player, mode) -> None:  # noqa: ANN001
    case, result = seen(played, request)
    refused = result["refused"]
    assert refused["denied"]["code"] == case.denied_code and case.denied_code in refused["shown"], refused
    if case.denied_code == "NOT_ENTITLED":  # the page says which package would give it
        assert household["addon"] in refused["shown"], refused
    assert "/p/" in result["src"], result
    assert_plays(result)
    if case.window:
        assert result["window"] > 20, f"a time-shift seeks further back than the live window: {result}"
    if case.duration is not None:
        assert abs(result["duration"] - case.duration) <= 2, result
    if case.starts_before is not None:
        assert result["started"] < case.starts_before, result
    if mode == "encrypted":
        media = http.get(urlsplit(result["src"]).path.replace("master.m3u8", "360p.m3u8")).text
        assert "#EXT-X-KEY:METHOD=AES-128" in media, media


@pytest.mark.parametrize("mode", ["live", "timeshift", "encrypted"])
@pytest.mark.parametrize("player", PLAYERS)
def test_the_player_steps_down_when_the_link_is_capped(played, request, player, mode) -> None:  # noqa: ANN001
    """360p needs about 1 Mbit/s with its audio, 240p about half: capped at 650 kbit/s, players must
    step down. (Catch-up, the recording and the title are 12 to 14 s long: over before a step; a
    start-over steps down too, but hls.js takes up to 40 s to climb to 360p from a programme's start
    first, which the suite's 10 minutes cannot spare.)"""
    _, result = seen(played, request)
    assert result["ok"] and not result["errors"], result
    abr = result["abr"]
    assert abr["before"] == 360 and abr["after"] == 240, f"no step down under the cap: {abr}"
    assert abr["advancing"], abr
