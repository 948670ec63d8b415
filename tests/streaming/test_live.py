"""A live channel end to end: real ffmpeg pushes into ingest, players read the origin."""

from __future__ import annotations

import re
import subprocess
import time
import uuid

import av
import m3u8
import pytest

from infra.storage import S3ObjectStore
from streaming.ffmpeg import ffmpeg_exe
from tests.support.channels import channel_body
from tests.support.ffmpeg import LivePush
from tests.support.waiting import wait_for

pytestmark = pytest.mark.ffmpeg


def _create(http, admin, **overrides) -> dict:  # noqa: ANN001, ANN003
    channel_id = f"live-{uuid.uuid4().hex[:8]}"
    assert http.post("/v1/admin/channels", json=channel_body(channel_id, **overrides), headers=admin).status_code == 201
    creds = http.get(f"/v1/admin/channels/{channel_id}/ingest", headers=admin).json()
    return {"id": channel_id, "password": creds["password"]}


def _segments(http, path: str) -> m3u8.M3U8:  # noqa: ANN001
    return m3u8.loads(http.playlist(path).text)


@pytest.fixture(scope="module")
def live(http, admin, server):  # noqa: ANN001, ANN201
    """One channel with ffmpeg pushing a live test pattern for the whole module."""
    channel = _create(http, admin)
    push = LivePush(server, channel["id"], channel["password"]).start()
    path = f"/live/{channel['id']}/cmaf/360p.m3u8"
    try:
        wait_for(lambda: len(_segments(http, path).segments) >= 4, 40, "four live segments")
        yield channel
    finally:
        err = push.stop()
        assert "Error" not in err or "Connection" in err, err


def test_master_lists_every_rendition_with_its_attributes(http, live) -> None:  # noqa: ANN001
    master = m3u8.loads(http.playlist(f"/live/{live['id']}/cmaf/master.m3u8", resolve=True).text)
    variants = {p.uri: p.stream_info for p in master.playlists}
    assert set(variants) == {"360p.m3u8", "240p.m3u8"}
    assert variants["360p.m3u8"].resolution == (640, 360)
    assert variants["240p.m3u8"].resolution == (426, 240)
    for info in variants.values():
        assert info.bandwidth >= info.average_bandwidth > 0
        assert info.codecs and info.frame_rate == 25.0
    # BANDWIDTH is measured: the 360p rung really is heavier than the 240p one.
    assert variants["360p.m3u8"].bandwidth > variants["240p.m3u8"].bandwidth


def test_live_playlists_slide_consistently_across_reloads(http, live) -> None:  # noqa: ANN001
    path = f"/live/{live['id']}/cmaf/360p.m3u8?window=6"
    first = _segments(http, path)
    time.sleep(4.5)
    later = _segments(http, path)
    # The conformance checker in http.playlist already compared both versions (RFC 8216 6.2.1).
    assert later.media_sequence > first.media_sequence
    assert later.target_duration == 2
    last = later.segments[-1]
    age = time.time() - (last.current_program_date_time.timestamp() + last.duration)
    assert -1.0 < age < 4.0, f"live edge is {age:.1f}s old"
    # Both renditions list the same timeline.
    other = m3u8.loads(http.playlist(f"/live/{live['id']}/cmaf/240p.m3u8", resolve=True).text)
    common = {s.uri.split("/")[1] for s in later.segments} & {s.uri.split("/")[1] for s in other.segments}
    assert len(common) >= 3


def test_ffmpeg_plays_the_master_playlist_over_http(http, live, server, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "capture.ts"
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", f"{server}/live/{live['id']}/cmaf/master.m3u8",
         "-map", "0:v:0", "-map", "0:a:0", "-t", "5", "-c", "copy", "-y", str(out)],
        capture_output=True, timeout=60,
    )
    log = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert len(re.findall(r"Stream #\d+:\d+.*Video: h264.*640x360", log)) >= 1
    assert len(re.findall(r"Stream #\d+:\d+.*Video: h264.*426x240", log)) >= 1
    assert re.search(r"Audio: aac.*48000 Hz", log)
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
        assert 4.5 <= float(container.duration / 1_000_000) <= 5.6


def test_time_shift_window_is_chosen_per_request(http, live) -> None:  # noqa: ANN001
    base = f"/live/{live['id']}/cmaf/360p.m3u8"
    short = _segments(http, base + "?window=4")
    assert 3 <= len(short.segments) <= 4
    long = _segments(http, base + "?window=3600")
    assert len(long.segments) >= len(short.segments)
    assert long.segments[-1].uri == short.segments[-1].uri or long.media_sequence <= short.media_sequence
    for bad in ("?window=999999", "?window=-1", "?window=abc"):
        resp = http.get(base + bad)
        assert resp.status_code == 400
        assert resp.json()["error"]["code"] == "WINDOW_OUT_OF_RANGE"


def test_playlists_and_segments_carry_cdn_headers(http, live) -> None:  # noqa: ANN001
    resp = http.get(f"/live/{live['id']}/cmaf/360p.m3u8")
    assert resp.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert "max-age=1" in resp.headers["cache-control"]
    again = http.get(f"/live/{live['id']}/cmaf/360p.m3u8", headers={"If-None-Match": resp.headers["etag"]})
    assert again.status_code in (200, 304)
    if again.status_code == 304:
        assert again.content == b""
    seg_uri = m3u8.loads(resp.text).segments[-1].uri
    seg = http.get(f"/live/{live['id']}/cmaf/{seg_uri}")
    assert seg.status_code == 200 and "immutable" in seg.headers["cache-control"]
    init_uri = re.search(r'#EXT-X-MAP:URI="([^"]+)"', resp.text).group(1)
    init = http.get(f"/live/{live['id']}/cmaf/{init_uri}")
    assert init.status_code == 200 and init.content[4:8] == b"ftyp"


def test_outage_keeps_the_window_moving_then_recovers_with_a_discontinuity(http, admin, server) -> None:  # noqa: ANN001
    channel = _create(http, admin)
    path = f"/live/{channel['id']}/cmaf/360p.m3u8"
    push = LivePush(server, channel["id"], channel["password"]).start()
    wait_for(lambda: len(_segments(http, path).segments) >= 3, 40, "three live segments")
    push.stop()
    before = _segments(http, path)
    gapped = wait_for(lambda: (p := _segments(http, path)) and "#EXT-X-GAP" in p.dumps() and p, 15,
                      "gap entries while the source is down")
    assert gapped.media_sequence >= before.media_sequence
    last_real = max(s for s in re.findall(r"360p/(\d+)\.m4s", before.dumps()))
    push = LivePush(server, channel["id"], channel["password"]).start()
    try:
        recovered = wait_for(
            lambda: (p := http.playlist(path).text) and "#EXT-X-DISCONTINUITY\n" in p
            and p.rstrip().splitlines()[-2].startswith("#EXTINF") and p, 40, "segments after the outage")
    finally:
        push.stop()
    seqs = [int(s) for s in re.findall(r"360p/(\d+)\.m4s", recovered)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert max(seqs) > int(last_real)


def test_segments_can_be_delivered_by_redirect_to_storage(http, live, rt) -> None:  # noqa: ANN001

    text = http.playlist(f"/live/{live['id']}/cmaf/360p.m3u8").text
    seg_path = f"/live/{live['id']}/cmaf/{m3u8.loads(text).segments[-1].uri}"
    proxied = http.get(seg_path).content
    rt.settings.segment_delivery = "redirect"
    try:
        resp = http.get(seg_path)
    finally:
        rt.settings.segment_delivery = "proxy"
    if isinstance(rt.store, S3ObjectStore):
        assert resp.status_code == 302
        assert http.get(resp.headers["location"]).content == proxied
    else:  # a local folder has no URL of its own: the origin keeps serving the bytes
        assert resp.status_code == 200 and resp.content == proxied
