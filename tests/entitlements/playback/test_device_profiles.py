"""Every device profile, end to end: the door picks it from the registered device, and the origin
shapes the playlists it gets (segment set, window, HLS version, outages, where playback starts)."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

import m3u8
import pytest

from streaming.formats.device_profiles import PROFILES, SLATE, DeviceProfile
from streaming.packager.slate import PTS_WRAP, first_pts, make_slates
from streaming.timeline import service
from streaming.timeline.models import SegmentHole
from streaming.timeline.runs import make_run
from tests.entitlements.conftest import bearer, login
from tests.support.channels import channel_body

S = 1_000_000
HISTORY_S = 3 * 3600
OUTAGE = (10, 20)  # the outage: 10 segments of 2 s, ending this many segments before the live edge
ASKED_WINDOW_S = 10_800


@pytest.fixture(scope="module")
def archive(rt, http, admin):  # noqa: ANN001, ANN201
    """A CMAF+TS channel with three hours of history: an outage near the live edge and one segment
    the 360p track lacks; its slates made; a package granting it."""


    cid = f"ch-{uuid.uuid4().hex[:10]}"
    resp = http.post("/v1/admin/channels", headers=admin, json=channel_body(
        cid, segment_sets=["cmaf", "ts"], segment_duration_ms=2000, timeshift_window_s=6 * 3600))
    assert resp.status_code == 201, resp.text
    end = int(time.time()) // 2 * 2 * S
    count, after = HISTORY_S // 2 - OUTAGE[0] - OUTAGE[1], OUTAGE[1]
    start = end - HISTORY_S * S
    inits = {f"cmaf/{r}": "a" * 16 for r in ("360p", "240p")}
    before = make_run(first_seq=0, start_us=start, count=count, duration_us=2 * S, inits=inits)
    outage = make_run(first_seq=count, start_us=before.end_us, count=OUTAGE[0], duration_us=2 * S, gap=True,
                      discontinuity=True, disc_count=1, session=-1)
    back = make_run(first_seq=outage.last_seq + 1, start_us=outage.end_us, count=after, duration_us=2 * S,
                    discontinuity=True, disc_count=2, session=1, inits=inits)
    hole = count - 5
    with rt.db.session() as s:
        service.write_runs(db_session=s, channel_id=cid, runs=[before, outage, back])
        s.add_all([SegmentHole(channel_id=cid, seq=hole, track=f"{seg_set}/360p") for seg_set in ("cmaf", "ts")])
    assert make_slates(rt, cid) and not make_slates(rt, cid), "slates are made once"
    pkg = f"p{uuid.uuid4().hex[:10]}"
    resp = http.post("/v1/admin/packages", headers=admin,
                     json={"code": pkg, "name": pkg, "kind": "base", "channels": [cid], "max_devices": 20})
    assert resp.status_code == 201, resp.text
    return {"channel": cid, "package": pkg, "outage": outage, "hole": hole}


def _device(p: DeviceProfile) -> dict:
    """A device this profile covers, as its app registers it at sign-in."""
    version = p.min_version or ((p.below_version[0] - 1,) if p.below_version else (1,))
    types = {"browser": "web", "stb": "stb", "ios": "mobile", "android": "mobile"}
    device = {"type": types.get(p.platform or "", "smart_tv"), "name": p.label[:40]}
    if p.platform:
        device |= {"platform": p.platform, "os_version": ".".join(map(str, version))}
    return device


def _uris(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.code)
def test_each_profile_is_chosen_at_the_door_and_shapes_what_the_origin_sends(
        http, make_subscriber, archive, profile: DeviceProfile) -> None:  # noqa: ANN001
    sub = make_subscriber(packages=[archive["package"]])
    tokens = login(http, sub["customer_number"], device=_device(profile)).json()
    resp = http.post("/v1/playback", headers=bearer(tokens),
                     json={"content": {"type": "channel", "id": archive["channel"]}, "mode": "timeshift"})
    assert resp.status_code == 200, resp.text
    start = resp.json()
    assert (start["device_profile"], start["segment_set"]) == (profile.code, profile.segment_set)
    shaped = f"{profile.path_part}/{profile.segment_set}" if profile.path_part else profile.segment_set
    assert start["url"].endswith(f"/live/{archive['channel']}/{shaped}/master.m3u8")

    master_url = urlsplit(start["url"]).path
    master = http.playlist(master_url).text  # every fetch is held to RFC 8216 by the test client
    assert int(m3u8.loads(master).version) <= profile.hls_version
    variant = master_url.rsplit("/", 1)[0] + "/360p.m3u8"
    media_text = http.playlist(variant, params={"window": ASKED_WINDOW_S}).text
    media = m3u8.loads(media_text)
    assert int(media.version) <= profile.hls_version
    span = sum(s.duration for s in media.segments)
    longest = min(profile.max_window_s or ASKED_WINDOW_S, ASKED_WINDOW_S)
    assert longest - 4 <= span <= longest + 2, (span, longest)
    assert ("CAN-SKIP-UNTIL" in media_text) == profile.delta_updates

    outage = archive["outage"]
    uris = _uris(media_text)
    if profile.outage == SLATE:
        # (The live edge may show a slate or two as well: the history ends when the test began.)
        slates = [u for u in uris if "/slate-" in u and int(u.split("-")[1][:-3]) <= outage.last_seq]
        assert slates == [f"360p/slate-{q}.ts" for q in range(outage.first_seq, outage.last_seq + 1)]
        assert "#EXT-X-GAP" not in media_text
        assert f"240p/{archive['hole']}.ts" in uris, "the missing 360p segment is played from 240p"
        # The slate is timed to its place on the wall clock, so the outage plays as one stream.
        slate = http.get(variant.rsplit("/", 1)[0] + "/" + slates[1])
        assert slate.status_code == 200 and slate.headers["content-type"] == "video/mp2t"
        assert first_pts(slate.content) == outage.segment(outage.first_seq + 1).start_us * 9 // 100 % PTS_WRAP
    else:
        gaps = [int(s.uri.rsplit("/", 1)[1].split(".")[0]) for s in media.segments if s.gap_tag]
        expected = [archive["hole"], *range(outage.first_seq, outage.last_seq + 1)]
        assert gaps[:len(expected)] == expected  # the hole and the outage (and perhaps the live edge)
        assert not any("slate-" in u for u in uris)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.code)
def test_each_profile_starts_a_padded_window_where_the_programme_starts(http, archive, profile) -> None:  # noqa: ANN001
    """A catch-up window with 60 s of padding: EXT-X-START where honoured, else the playlist begins there."""
    ws = archive["outage"].start_us // S - 3600
    shaped = f"{profile.path_part}/{profile.segment_set}" if profile.path_part else profile.segment_set
    text = http.playlist(f"/window/{archive['channel']}/{ws}/{ws + 1800}/vod-60/{shaped}/360p.m3u8").text
    playlist = m3u8.loads(text)
    first_pdt = playlist.segments[0].current_program_date_time.timestamp()
    if profile.honours_start:
        assert "#EXT-X-START:TIME-OFFSET=60.000" in text and first_pdt == ws
    else:
        assert "EXT-X-START" not in text and ws + 60 - 2 < first_pdt <= ws + 60


def test_staff_set_a_device_profile_and_the_next_playback_uses_it(http, admin, make_subscriber, archive) -> None:  # noqa: ANN001
    sub = make_subscriber(packages=[archive["package"]])
    tokens = login(http, sub["customer_number"], device={"type": "smart_tv", "name": "TV", "platform": "tizen",
                                                         "os_version": "6.5"}).json()
    devices = http.get(f"/v1/admin/subscribers/{sub['customer_number']}/devices", headers=admin).json()
    assert [(d["platform"], d["os_version"], d["device_profile"], d["profile_set_by_staff"]) for d in devices] == [
        ("tizen", "6.5", "tizen", False)]
    device_id = devices[0]["id"]
    bad = http.put(f"/v1/admin/devices/{device_id}/profile", headers=admin, json={"profile": "no-such"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "UNKNOWN_DEVICE_PROFILE"
    missing = http.put(f"/v1/admin/devices/{'0' * 32}/profile", headers=admin, json={"profile": "stb"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "DEVICE_NOT_FOUND"
    put = http.put(f"/v1/admin/devices/{device_id}/profile", headers=admin, json={"profile": "tizen-legacy"})
    assert put.status_code == 200 and put.json()["device_profile"] == "tizen-legacy"

    def play() -> dict:
        resp = http.post("/v1/playback", headers=bearer(tokens),
                         json={"content": {"type": "channel", "id": archive["channel"]}})
        assert resp.status_code == 200, resp.text
        return resp.json()

    assert play()["url"].endswith("/dev-tizen-legacy/ts/master.m3u8")
    assert http.put(f"/v1/admin/devices/{device_id}/profile", headers=admin, json={"profile": None}).status_code == 200
    assert play()["url"].endswith("/dev-tizen/cmaf/master.m3u8")
    # The profile table is there for customer care to read.
    table = http.get("/v1/admin/device-profiles", headers=admin).json()
    assert [p["code"] for p in table] == [p.code for p in PROFILES]
    assert next(p for p in table if p["code"] == "tizen-legacy")["versions"] == "< 4"


def test_a_ts_only_device_is_told_a_cmaf_only_channel_is_not_available(http, make_channel, make_subscriber,
                                                                         make_package) -> None:  # noqa: ANN001
    channel = make_channel()
    sub = make_subscriber(packages=[make_package(channels=[channel["id"]])["code"]])
    tv = login(http, sub["customer_number"], device={"type": "smart_tv", "name": "old TV", "platform": "tizen",
                                                     "os_version": "3.0"}).json()
    resp = http.post("/v1/playback", headers=bearer(tv), json={"content": {"type": "channel", "id": channel["id"]}})
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "NOT_AVAILABLE"
    # An app that knows its player copes with CMAF may still ask for it.
    asked = http.post("/v1/playback", headers=bearer(tv), json={"content": {"type": "channel", "id": channel["id"]},
                                                                 "segment_set": "cmaf"})
    assert asked.status_code == 200 and asked.json()["url"].endswith("/dev-tizen-legacy/cmaf/master.m3u8")
    # A set-top box (registered with no platform, as before device profiles) prefers TS but plays CMAF.
    box = login(http, sub["customer_number"], device={"type": "stb", "name": "box"}).json()
    resp = http.post("/v1/playback", headers=bearer(box), json={"content": {"type": "channel", "id": channel["id"]}})
    assert resp.status_code == 200 and (resp.json()["device_profile"], resp.json()["segment_set"]) == ("stb", "cmaf")


def test_an_unknown_profile_in_a_playlist_path_is_a_clear_error(http, archive) -> None:  # noqa: ANN001
    resp = http.get(f"/live/{archive['channel']}/dev-nope/cmaf/master.m3u8")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "DEVICE_PROFILE_NOT_FOUND"
    assert http.get(f"/live/{archive['channel']}/cmaf/360p/slate-5.ts").json()["error"]["code"] == "SEGMENT_NOT_FOUND"
    bad = http.get(f"/live/{archive['channel']}/ts/360p/slate-5.ts")
    assert bad.status_code == 404 and bad.json()["error"]["code"] == "SEGMENT_NOT_FOUND"
