"""The packager: real ffmpeg from test-pattern and broken sources into our ingest."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from pathlib import Path

import m3u8
import pytest

from streaming.ffmpeg import ffmpeg_exe
from streaming.packager.node import LEASE_PREFIX
from tests.support.channels import channel_body, channel_status
from tests.support.nodes import NodeThread
from tests.support.waiting import wait_for

pytestmark = pytest.mark.ffmpeg
AUDIO = [{"name": "pol", "language": "pol", "label": "Polski", "default": True},
         {"name": "org", "language": "eng", "label": "Original"}]


def _channel(http, admin, **overrides) -> str:  # noqa: ANN001, ANN003
    cid = f"pk-{uuid.uuid4().hex[:8]}"
    body = channel_body(cid, **overrides)
    assert http.post("/v1/admin/channels", json=body, headers=admin).status_code == 201
    return cid


def _last_seq(http, cid: str) -> int:  # noqa: ANN001
    text = http.get(f"/live/{cid}/cmaf/360p.m3u8").text
    seqs = [int(s) for s in re.findall(r"360p/(\d+)\.m4s", text)]
    return max(seqs) if seqs else -1


@pytest.fixture
def node(rt, server):  # noqa: ANN001, ANN201
    n = NodeThread(rt, server, f"node-{uuid.uuid4().hex[:6]}").start()
    yield n
    n.stop()


def test_a_test_pattern_channel_goes_live_with_labelled_audio(http, admin, node, server, tmp_path) -> None:  # noqa: ANN001
    cid = _channel(http, admin, source_url="testcard:", audio_tracks=AUDIO)
    wait_for(lambda: channel_status(http, admin, cid)["state"] == "live", 40, "the channel to go live")
    wait_for(lambda: _last_seq(http, cid) >= 2, 20, "three segments")
    master = m3u8.loads(http.playlist(f"/live/{cid}/cmaf/master.m3u8", resolve=True).text)
    audio = {m.language: m for m in master.media if m.type == "AUDIO"}
    assert set(audio) == {"pol", "eng"} and audio["pol"].default == "YES" and audio["pol"].name == "Polski"
    for p in master.playlists:
        assert p.stream_info.audio == "aud"
    http.playlist(f"/live/{cid}/cmaf/pol.m3u8", resolve=True)
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", f"{server}/live/{cid}/cmaf/master.m3u8",
                           "-map", "0:v:0", "-map", "0:a", "-t", "3", "-c", "copy", "-y",
                           str(tmp_path / "out.mkv")], capture_output=True, timeout=60)
    log = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, log[-2000:]
    assert re.search(r"Stream #\d+:\d+\(pol\): Audio: aac", log) and re.search(r"Stream #\d+:\d+\(eng\): Audio: aac", log)
    status = channel_status(http, admin, cid)
    assert status["current_source"] == "primary" and status["node"] == node.node.node_id
    # Disabling the channel stops its packaging.
    assert http.post(f"/v1/admin/channels/{cid}/disable", headers=admin).status_code == 200
    wait_for(lambda: channel_status(http, admin, cid)["state"] == "stopped", 20, "the channel to stop")
    assert cid not in node.holds()


def test_a_broken_source_goes_down_with_a_reason_and_others_keep_running(http, admin, node) -> None:  # noqa: ANN001
    good = _channel(http, admin, source_url="testcard:")
    bad = _channel(http, admin, source_url="file:///nonexistent/smartgo-missing.ts")
    wait_for(lambda: channel_status(http, admin, good)["state"] == "live", 40, "the good channel to go live")
    down = wait_for(lambda: (s := channel_status(http, admin, bad))["state"] == "down" and s, 40, "the bad channel down")
    assert down["reason"] and "not found" in down["reason"] and down["restarts"] >= 3
    before = _last_seq(http, good)
    time.sleep(4)
    assert _last_seq(http, good) >= before + 1  # the sick channel disturbed nothing
    assert channel_status(http, admin, good)["state"] == "live"
    # The live window of the dead channel still advances with gaps? It never had a segment:
    # its playlist stays empty but valid.
    http.playlist(f"/live/{bad}/cmaf/360p.m3u8")


def test_failover_to_the_backup_source(http, admin, node) -> None:  # noqa: ANN001
    cid = _channel(http, admin, source_url="file:///nonexistent/primary.ts", backup_source_url="testcard:")
    status = wait_for(lambda: (s := channel_status(http, admin, cid))["current_source"] == "backup"
                      and s["state"] == "degraded" and s["reason"] == "running on the backup source" and s,
                      60, "failover to the backup")
    assert status["restarts"] >= 3
    wait_for(lambda: _last_seq(http, cid) >= 1, 20, "segments from the backup")
    http.playlist(f"/live/{cid}/cmaf/360p.m3u8", resolve=True)


def test_two_nodes_never_share_a_channel_and_a_dead_nodes_channel_moves(http, admin, rt, server) -> None:  # noqa: ANN001
    a = NodeThread(rt, server, "node-a").start()
    b = NodeThread(rt, server, "node-b").start()
    try:
        cid = _channel(http, admin, source_url="testcard:")
        wait_for(lambda: channel_status(http, admin, cid)["state"] == "live", 40, "the channel live")
        holders = [n for n in (a, b) if cid in n.holds()]
        assert len(holders) == 1
        owner, other = (a, b) if holders[0] is a else (b, a)
        assert rt.leases.holder(LEASE_PREFIX + cid) == owner.node.node_id
        time.sleep(3)  # several renewals later, still one owner
        assert [n for n in (a, b) if cid in n.holds()] == [owner]
        last = _last_seq(http, cid)
        killed_at = time.monotonic()
        owner.crash()
        wait_for(lambda: cid in other.holds(), 3 * 2, "the other node to take the channel (3 TD)")
        took = time.monotonic() - killed_at
        wait_for(lambda: _last_seq(http, cid) > last + 1, 20, "a new segment from the new node")
        assert took <= 3 * 2 + 0.5
        assert rt.leases.holder(LEASE_PREFIX + cid) == other.node.node_id
        http.playlist(f"/live/{cid}/cmaf/360p.m3u8")
    finally:
        b.stop() if b.thread.is_alive() else None
        a.stop() if a.thread.is_alive() else None


def _source_file(path, *, size: str = "640x360", audio: bool = True) -> str:  # noqa: ANN001
    """Encode a 6-second looping source file (H.264, GOP 1.92 s, AAC unless audio=False)."""
    args = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
            f"testsrc2=size={size}:rate=25:duration=6"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=6", "-c:a", "aac"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-g", "48", "-sc_threshold", "0",
             "-f", "mpegts", "-y", str(path)]
    subprocess.run(args, check=True, timeout=60)
    return f"file://{path}"


def test_a_ladder_bigger_than_its_source_is_degraded_with_a_reason(http, admin, node, tmp_path) -> None:  # noqa: ANN001
    source = _source_file(tmp_path / "small.ts", size="320x240")
    cid = _channel(http, admin, source_url=source)
    status = wait_for(lambda: (s := channel_status(http, admin, cid))["state"] == "degraded" and s, 40,
                      "the channel degraded")
    assert "320x240" in status["reason"] and "640x360" in status["reason"]
    wait_for(lambda: _last_seq(http, cid) >= 1, 20, "segments all the same")


def test_a_source_without_audio_goes_down_with_a_reason(http, admin, node, tmp_path) -> None:  # noqa: ANN001
    source = _source_file(tmp_path / "silent.ts", audio=False)
    cid = _channel(http, admin, source_url=source, audio_tracks=AUDIO[:1])
    status = wait_for(lambda: (s := channel_status(http, admin, cid))["state"] == "down" and s, 60,
                      "the channel down")
    assert "lacks a stream" in status["reason"]


def test_back_to_the_primary_source_when_it_recovers(http, admin, rt, server, tmp_path) -> None:  # noqa: ANN001
    primary = tmp_path / "primary.ts"
    fast = {"primary_probe_every_s": 2.0, "backoff_initial_s": 0.5}
    n = NodeThread(rt, server, f"node-{uuid.uuid4().hex[:6]}", policy=fast).start()
    try:
        cid = _channel(http, admin, source_url=f"file://{primary}", backup_source_url="testcard:")
        wait_for(lambda: channel_status(http, admin, cid)["current_source"] == "backup", 40, "failover")
        _source_file(primary)  # the primary comes back
        status = wait_for(lambda: (s := channel_status(http, admin, cid))["current_source"] == "primary"
                          and s["state"] == "live" and s, 60, "the switch back to the primary")
        assert status["reason"] is None
        before = _last_seq(http, cid)
        wait_for(lambda: _last_seq(http, cid) > before, 20, "segments from the primary")
    finally:
        n.stop()


def test_a_source_whose_resolution_changes_is_degraded_and_keeps_publishing(http, admin, node, tmp_path) -> None:  # noqa: ANN001
    big = _source_file(tmp_path / "big.ts")[len("file://"):]
    small = _source_file(tmp_path / "small.ts", size="320x240")[len("file://"):]
    changing = tmp_path / "changing.ts"  # MPEG-TS concatenates: 6 s at 640x360, then 320x240
    changing.write_bytes(Path(big).read_bytes() + Path(small).read_bytes())
    cid = _channel(http, admin, source_url=f"file://{changing}")
    wait_for(lambda: channel_status(http, admin, cid)["state"] == "live", 40, "the channel live")
    status = wait_for(lambda: (s := channel_status(http, admin, cid))["state"] == "degraded" and s, 40,
                      "the channel degraded by the change")
    assert status["reason"] == "source resolution changed mid-stream; renditions keep their configured sizes"
    before = _last_seq(http, cid)
    wait_for(lambda: _last_seq(http, cid) > before, 20, "segments after the change")
    master = http.playlist(f"/live/{cid}/cmaf/master.m3u8").text
    assert "RESOLUTION=640x360" in master  # the ladder keeps its configured sizes
