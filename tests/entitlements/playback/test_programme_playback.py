"""Start-over, catch-up and by-time playback: through the door, rendered from the timeline, played by ffmpeg."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from urllib.parse import urlsplit

import m3u8
import pytest

from streaming.ffmpeg import ffmpeg_exe
from tests.entitlements.conftest import bearer, login
from tests.support.ffmpeg import pushed_channel
from tests.support.guide import import_programmes, programme_ids
from tests.support.waiting import wait_for

pytestmark = pytest.mark.ffmpeg
SEGMENT_S = 1.92


@pytest.fixture(scope="module")
def channel(http, admin, server):  # noqa: ANN001, ANN201
    """A channel pushed live for the whole module (long enough for programmes in its past)."""
    with pushed_channel(http, admin, server, "win", segments=9, timeout_s=60) as cid:
        yield cid


@pytest.fixture
def viewer(http, channel, make_package, make_subscriber):  # noqa: ANN001, ANN201
    package = make_package(channels=[channel], max_streams=5)
    sub = make_subscriber(packages=[package["code"]])
    return bearer(login(http, sub["customer_number"]).json())


@pytest.fixture
def no_padding(rt, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setattr(rt.settings, "catchup_pad_before_s", 0)
    monkeypatch.setattr(rt.settings, "catchup_pad_after_s", 0)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def on_guide(http, admin, viewer, channel, programmes) -> dict[str, str]:  # noqa: ANN001
    import_programmes(http, admin, channel, programmes)
    lo = min(p[0] for p in programmes) - dt.timedelta(minutes=1)
    hi = max(p[1] for p in programmes) + dt.timedelta(minutes=1)
    return programme_ids(http, viewer, channel, lo, hi)


def play(http, viewer, content: dict, mode: str, **extra):  # noqa: ANN001, ANN003
    return http.post("/v1/playback", headers=viewer, json={"content": content, "mode": mode, **extra})


def media_of(start: dict) -> str:
    return urlsplit(start["url"]).path.replace("master.m3u8", "360p.m3u8")


def code(resp) -> str:  # noqa: ANN001
    return resp.json()["error"]["code"]


def test_catch_up_is_a_complete_vod_playlist_ffmpeg_plays_for_the_programme_s_length(
        http, admin, server, channel, viewer, no_padding) -> None:  # noqa: ANN001
    t = now()
    start, end = t - dt.timedelta(seconds=14), t - dt.timedelta(seconds=4)
    ids = on_guide(http, admin, viewer, channel, [(start, end, "Wiadomości", {})])
    resp = wait_for(lambda: (lambda r: r if r.status_code != 409 else None)(
        play(http, viewer, {"type": "programme", "id": ids["Wiadomości"]}, "catchup")), 20, "catch-up ready")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["window_start"] == start.isoformat().replace("+00:00", "Z")
    pl = m3u8.loads(http.playlist(media_of(body), resolve=True).text)
    assert pl.playlist_type == "vod" and pl.is_endlist
    # A segment belongs to the window when its middle does: the edges are within half a segment.
    assert abs(pl.segments[0].program_date_time - start) <= dt.timedelta(seconds=SEGMENT_S / 2)
    total = sum(s.duration for s in pl.segments)
    assert abs(total - (end - start).total_seconds()) <= SEGMENT_S + 0.01
    run = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", server + urlsplit(body["url"]).path,
                          "-map", "0:v:0", "-f", "null", "-"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    played = [line for line in run.stderr.splitlines() if "time=" in line][-1]
    hms = played.split("time=")[1].split()[0]
    h, m, s = hms.split(":")
    seconds = int(h) * 3600 + int(m) * 60 + float(s)
    assert abs(seconds - (end - start).total_seconds()) <= SEGMENT_S, played


def test_start_over_is_an_event_playlist_that_appends_and_ends(http, admin, channel, viewer, rt, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(rt.settings, "catchup_pad_before_s", 4)
    monkeypatch.setattr(rt.settings, "catchup_pad_after_s", 0)
    t = now()
    start, end = t - dt.timedelta(seconds=8), t + dt.timedelta(seconds=5)
    ids = on_guide(http, admin, viewer, channel, [(start, end, "Mecz", {})])
    resp = play(http, viewer, {"type": "programme", "id": ids["Mecz"]}, "startover")
    assert resp.status_code == 200, resp.text
    media = media_of(resp.json())
    first = http.playlist(media).text
    pl = m3u8.loads(first)
    assert pl.playlist_type == "event" and not pl.is_endlist
    offset = float(first.split("#EXT-X-START:TIME-OFFSET=")[1].split(",")[0])
    assert abs(pl.segments[0].program_date_time + dt.timedelta(seconds=offset) - start) < dt.timedelta(seconds=0.01)
    done = wait_for(lambda: (lambda text: text if "#EXT-X-ENDLIST" in text else None)(http.playlist(media).text),
                    25, "the programme's end")
    # Append-only: what was there stays, word for word (the history check of http.playlist too).
    assert done.startswith(first.rsplit("#EXT-X-PROGRAM-DATE-TIME", 1)[0])
    assert m3u8.loads(done).playlist_type == "event"
    last = m3u8.loads(done).segments[-1]
    assert last.program_date_time + dt.timedelta(seconds=last.duration + SEGMENT_S / 2) >= end


def test_by_time_windows_live_while_open_vod_when_past(http, channel, viewer) -> None:  # noqa: ANN001
    t = now()
    past = play(http, viewer, {"type": "channel", "id": channel}, "bytime",
                start=(t - dt.timedelta(seconds=14)).isoformat(), duration_s=6)
    assert past.status_code == 200, past.text
    pl = m3u8.loads(http.playlist(media_of(past.json()), resolve=True).text)
    assert pl.playlist_type == "vod" and pl.is_endlist
    open_ = play(http, viewer, {"type": "channel", "id": channel}, "bytime",
                 start=(t - dt.timedelta(seconds=6)).isoformat(), end=(t + dt.timedelta(seconds=4)).isoformat())
    assert open_.status_code == 200, open_.text
    media = media_of(open_.json())
    pl = m3u8.loads(http.playlist(media).text)
    assert pl.playlist_type is None and not pl.is_endlist
    wait_for(lambda: "#EXT-X-ENDLIST" in http.playlist(media).text, 20, "the window's end")


@pytest.mark.parametrize("window, status, error", [
    ({"start": "2020-01-01T00:00:00Z", "duration_s": 60}, 400, "WINDOW_OUT_OF_RANGE"),  # before the archive
    ({"start": "2099-01-01T00:00:00Z", "duration_s": 60}, 400, "WINDOW_OUT_OF_RANGE"),  # the future
    ({"start": "2026-01-01T00:00:00Z", "end": "2025-01-01T00:00:00Z"}, 422, "VALIDATION_ERROR"),
    ({"start": "2026-01-01T00:00:00", "duration_s": 60}, 422, "VALIDATION_ERROR"),  # no time zone
    ({"start": "2026-01-01T00:00:00Z"}, 422, "VALIDATION_ERROR"),  # no end
    ({"duration_s": 60}, 422, "VALIDATION_ERROR"),
])
def test_by_time_windows_outside_the_archive_or_malformed_are_refused(http, channel, viewer, window, status,  # noqa: ANN001
                                                                       error) -> None:
    resp = play(http, viewer, {"type": "channel", "id": channel}, "bytime", **window)
    assert resp.status_code == status and code(resp) == error, resp.text


def test_programmes_in_the_wrong_mode_or_time_and_unknown_ones(http, admin, channel, viewer, no_padding) -> None:  # noqa: ANN001
    t = now()
    ids = on_guide(http, admin, viewer, channel, [
        (t - dt.timedelta(seconds=40), t - dt.timedelta(seconds=30), "Ended", {}),
        (t - dt.timedelta(seconds=10), t + dt.timedelta(minutes=10), "On air", {}),
        (t + dt.timedelta(minutes=10), t + dt.timedelta(minutes=20), "Later", {})])

    def as_(title: str, mode: str):  # noqa: ANN202
        return play(http, viewer, {"type": "programme", "id": ids[title]}, mode)

    assert as_("Ended", "startover").status_code == 409 and code(as_("Ended", "startover")) == "PROGRAMME_ENDED"
    assert code(as_("On air", "catchup")) == "PROGRAMME_ON_AIR"
    assert code(as_("Later", "startover")) == "PROGRAMME_NOT_STARTED"
    assert code(as_("Ended", "live")) == "INVALID_MODE"
    assert code(play(http, viewer, {"type": "channel", "id": channel}, "catchup")) == "INVALID_MODE"
    unknown = play(http, viewer, {"type": "programme", "id": "0" * 32}, "catchup")
    assert unknown.status_code == 404 and code(unknown) == "PROGRAMME_NOT_FOUND"
    details = http.get(f"/v1/guide/programmes/{ids['On air']}", headers=viewer).json()
    assert details["actions"]["start_over"] and not details["actions"]["catch_up"]
    assert details["actions"]["reasons"]["catch_up"] == "NOT_NOW"
    assert http.get(f"/v1/guide/programmes/{'0' * 32}", headers=viewer).json()["error"]["code"] == "PROGRAMME_NOT_FOUND"


def test_programme_rights_from_the_feed_and_staff(http, admin, channel, viewer, no_padding) -> None:  # noqa: ANN001
    t = now()
    ids = on_guide(http, admin, viewer, channel, [
        (t - dt.timedelta(seconds=30), t - dt.timedelta(seconds=20), "Liga", {"catchup": "false"}),
        (t - dt.timedelta(seconds=5), t + dt.timedelta(minutes=5), "Liga na żywo", {"startover": "false"})])
    denied = play(http, viewer, {"type": "programme", "id": ids["Liga"]}, "catchup")
    assert denied.status_code == 403 and code(denied) == "RIGHTS" and denied.json()["error"]["details"]["mode"] == "catchup"
    assert code(play(http, viewer, {"type": "programme", "id": ids["Liga na żywo"]}, "startover")) == "RIGHTS"
    details = http.get(f"/v1/guide/programmes/{ids['Liga']}", headers=viewer).json()
    assert details["actions"]["catch_up"] is False and details["actions"]["reasons"]["catch_up"] == "RIGHTS"
    resp = http.put(f"/v1/admin/programmes/{ids['Liga']}/rights", headers=admin, json={"catchup": True})
    assert resp.status_code == 200 and resp.json()["effective"]["catchup"] is True
    assert resp.json()["feed"] == {"catchup": False}
    assert play(http, viewer, {"type": "programme", "id": ids["Liga"]}, "catchup").status_code == 200
    # A running start-over session ends when staff forbid start-over of its programme.
    allowed = http.put(f"/v1/admin/programmes/{ids['Liga na żywo']}/rights", headers=admin, json={"startover": None})
    assert allowed.status_code == 200 and allowed.json()["effective"] == {"startover": False}
    assert http.put(f"/v1/admin/programmes/{ids['Liga na żywo']}/rights", headers=admin,
                    json={"startover": True}).status_code == 200
    start = play(http, viewer, {"type": "programme", "id": ids["Liga na żywo"]}, "startover")
    assert start.status_code == 200, start.text
    media = media_of(start.json())
    assert http.playlist(media).status_code == 200
    assert http.put(f"/v1/admin/programmes/{ids['Liga na żywo']}/rights", headers=admin,
                    json={"startover": False}).status_code == 200
    wait_for(lambda: http.get(media).status_code == 403, 10, "the start-over session refused")
    assert http.put(f"/v1/admin/programmes/{'0' * 32}/rights", headers=admin,
                    json={"catchup": True}).json()["error"]["code"] == "PROGRAMME_NOT_FOUND"


def test_a_window_token_opens_only_its_window(http, admin, channel, viewer, no_padding) -> None:  # noqa: ANN001
    t = now()
    ids = on_guide(http, admin, viewer, channel, [(t - dt.timedelta(seconds=16), t - dt.timedelta(seconds=10), "A", {})])
    resp = wait_for(lambda: (lambda r: r if r.status_code != 409 else None)(
        play(http, viewer, {"type": "programme", "id": ids["A"]}, "catchup")), 20, "catch-up ready")
    path = urlsplit(resp.json()["url"]).path
    token = path.split("/")[2]
    assert code(http.get(f"/p/{token}/live/{channel}/cmaf/360p.m3u8")) == "PLAYBACK_TOKEN_SCOPE"
    ws, we = path.split("/")[5:7]
    wider = path.replace(f"/{ws}/{we}/", f"/{int(ws) - 60}/{we}/")
    assert code(http.get(wider.replace("master.m3u8", "360p.m3u8"))) == "PLAYBACK_TOKEN_SCOPE"
    live = m3u8.loads(http.playlist(f"/live/{channel}/cmaf/360p.m3u8").text)
    outside = path.replace("master.m3u8", f"360p/{live.segments[-1].uri.rsplit('/', 1)[1]}")
    assert http.get(outside).status_code == 404 and code(http.get(outside)) == "SEGMENT_NOT_FOUND"


def test_catch_up_is_ready_within_a_segment_of_the_programme_s_end(http, admin, channel, viewer, no_padding) -> None:  # noqa: ANN001
    t = now()
    end = t + dt.timedelta(seconds=3)
    ids = on_guide(http, admin, viewer, channel, [(t - dt.timedelta(seconds=6), end, "Soon over", {})])
    while dt.datetime.now(dt.UTC) < end:
        time.sleep(0.05)
    while True:
        resp = play(http, viewer, {"type": "programme", "id": ids["Soon over"]}, "catchup")
        if resp.status_code != 409:
            break
        assert code(resp) == "CATCHUP_NOT_READY" and resp.json()["error"]["details"]["retry_after_s"] >= 1
        time.sleep(0.1)
    ready_after = (dt.datetime.now(dt.UTC) - end).total_seconds()
    assert resp.status_code == 200, resp.text
    assert m3u8.loads(http.playlist(media_of(resp.json())).text).is_endlist
    # One segment, plus the ingest's publish latency on this loaded test machine.
    assert ready_after <= SEGMENT_S + 1.5, ready_after


def test_expired_programmes_and_catch_up_days(http, admin, make_channel, make_package, make_subscriber,  # noqa: ANN001
                                             no_padding) -> None:
    cid = make_channel(archive_days=3)["id"]
    viewer = bearer(login(http, make_subscriber(packages=[make_package(channels=[cid])["code"]])["customer_number"]).json())
    t = now()
    ids = on_guide(http, admin, viewer, cid, [
        (t - dt.timedelta(days=4, hours=1), t - dt.timedelta(days=4), "Too old", {}),
        (t - dt.timedelta(days=2, hours=1), t - dt.timedelta(days=2), "Two days ago", {})])
    old = play(http, viewer, {"type": "programme", "id": ids["Too old"]}, "catchup")
    assert old.status_code == 404 and code(old) == "PROGRAMME_EXPIRED", old.text
    assert http.put(f"/v1/admin/channels/{cid}/rights", headers=admin, json={"catchup_days": 1}).status_code == 200
    rights = play(http, viewer, {"type": "programme", "id": ids["Two days ago"]}, "catchup")
    assert rights.status_code == 403 and code(rights) == "RIGHTS" and rights.json()["error"]["details"]["catchup_days"] == 1
    assert http.put(f"/v1/admin/channels/{cid}/rights", headers=admin, json={"catchup_days": 3}).status_code == 200
    nothing = play(http, viewer, {"type": "programme", "id": ids["Two days ago"]}, "catchup")
    assert nothing.status_code == 404 and code(nothing) == "NOT_RECORDED", nothing.text  # never on the air
    too_many = http.put(f"/v1/admin/channels/{cid}/rights", headers=admin, json={"catchup_days": 5})
    assert too_many.status_code == 422 and too_many.json()["error"]["details"]["limit"] == 3
