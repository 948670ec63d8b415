"""Catch-up on both sides of the October DST change plays the programme that aired.

The sample week is moved to end two days ago (each local time and its offset kept as written,
so 02:34 +0200 is still followed by 02:04 +0100), and the channel's timeline over that night
is written straight into the index (no encoder pushes two days in the past).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import m3u8
import pytest

from streaming.timeline import service as streaming_service
from streaming.timeline.runs import make_run
from tests.entitlements.conftest import bearer, login
from tests.support.guide import programme_ids, upload

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample-dst-week.xml"
DST_NIGHT = dt.datetime(2026, 10, 25, tzinfo=dt.UTC)
SEGMENT_US = 2_000_000


def shifted_sample(days: int) -> bytes:
    """The sample with every date moved by whole days, offsets untouched."""
    def move(m: re.Match) -> str:
        t = dt.datetime.strptime(m.group(1), "%Y%m%d%H%M%S") + dt.timedelta(days=days)
        return t.strftime("%Y%m%d%H%M%S") + m.group(2)

    return re.sub(r"(\d{14})( [+-]\d{4})", move, SAMPLE.read_text(encoding="utf-8")).encode()


@pytest.fixture
def dst_channel(http, admin, rt, make_channel, make_package, make_subscriber, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setattr(rt.settings, "catchup_pad_before_s", 0)
    monkeypatch.setattr(rt.settings, "catchup_pad_after_s", 0)
    days = (dt.datetime.now(dt.UTC).date() - DST_NIGHT.date()).days - 2
    night = DST_NIGHT + dt.timedelta(days=days)
    channel = make_channel(timeshift_window_s=3600)
    cid = channel["id"]
    # Six hours of index around the moved night: 00:00 UTC minus three hours to plus three.
    start_us = int((night - dt.timedelta(hours=3)).timestamp() * 1e6)
    per_hour = 3600 * 1_000_000 // SEGMENT_US
    runs = [make_run(first_seq=i * per_hour, start_us=start_us + i * 3600 * 1_000_000, count=per_hour,
                     duration_us=SEGMENT_US, inits={"cmaf/360p": "0" * 16, "cmaf/240p": "0" * 16})
            for i in range(6)]
    with rt.db.session() as s:
        streaming_service.write_runs(db_session=s, channel_id=cid, runs=runs)
    source = f"src-{uuid.uuid4().hex[:8]}"
    assert http.post("/v1/admin/epg/sources", headers=admin, json={
        "id": source, "name": "moved sample", "time_zone": "Europe/Warsaw",
        "channel_map": {"tvp1.pl": cid}}).status_code == 201
    upload(http, admin, source, shifted_sample(days))
    package = make_package(channels=[cid])
    viewer = bearer(login(http, make_subscriber(packages=[package["code"]])["customer_number"]).json())
    return cid, night, viewer


@pytest.mark.parametrize("local, utc_start, minutes, title", [
    ("02:24 +0200", (0, 24), 10, "Pogoda"),  # before the change (CEST)
    ("02:34 +0200 to 02:04 +0100", (0, 34), 30, "Wiadomości"),  # across it: 30 minutes, not -30
    ("02:04 +0100", (1, 4), None, None),  # after it (CET): the second 02:xx hour
])
def test_catch_up_on_each_side_of_the_dst_change(http, dst_channel, local, utc_start, minutes, title) -> None:  # noqa: ANN001
    cid, night, viewer = dst_channel
    start = night + dt.timedelta(hours=utc_start[0], minutes=utc_start[1])
    grid = http.get("/v1/guide", headers=viewer, params={
        "channels": cid, "start": start.isoformat(), "end": (start + dt.timedelta(seconds=1)).isoformat()}).json()
    [programme] = [p for p in grid["items"] if p["start"].startswith(start.strftime("%Y-%m-%dT%H:%M"))]
    assert title is None or programme["title"] == title
    end = dt.datetime.fromisoformat(programme["end"])
    assert minutes is None or end - start == dt.timedelta(minutes=minutes)
    resp = http.post("/v1/playback", headers=viewer,
                     json={"content": {"type": "programme", "id": programme["id"]}, "mode": "catchup"})
    assert resp.status_code == 200, resp.text
    assert dt.datetime.fromisoformat(resp.json()["window_start"]) == start
    pl = m3u8.loads(http.playlist(urlsplit(resp.json()["url"]).path.replace("master.m3u8", "360p.m3u8")).text)
    assert pl.playlist_type == "vod" and pl.is_endlist
    assert abs((pl.segments[0].program_date_time - start).total_seconds()) <= 1
    assert abs(sum(s.duration for s in pl.segments) - (end - start).total_seconds()) <= 2
    ids = programme_ids(http, viewer, cid, start - dt.timedelta(hours=1), start + dt.timedelta(hours=1))
    assert programme["id"] in ids.values()


def test_by_time_over_a_programme_keeps_its_rights(http, admin, dst_channel) -> None:  # noqa: ANN001
    cid, night, viewer = dst_channel
    start = night + dt.timedelta(minutes=34)  # "Wiadomości" across the change, rated AL
    grid = http.get("/v1/guide", headers=viewer, params={
        "channels": cid, "start": start.isoformat(), "end": (start + dt.timedelta(seconds=1)).isoformat()}).json()
    [programme] = [p for p in grid["items"] if p["start"].startswith(start.strftime("%Y-%m-%dT%H:%M"))]
    window = {"start": start.isoformat(), "duration_s": 600}
    body = {"content": {"type": "channel", "id": cid}, "mode": "bytime", **window}
    assert http.post("/v1/playback", headers=viewer, json=body).status_code == 200
    assert http.put(f"/v1/admin/programmes/{programme['id']}/rights", headers=admin,
                    json={"catchup": False}).status_code == 200
    refused = http.post("/v1/playback", headers=viewer, json=body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "RIGHTS", refused.text
