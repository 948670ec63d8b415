"""Packager placement across real processes, and the one-command demo."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from streaming.packager.node import LEASE_PREFIX
from tests.support.channels import channel_body, channel_status
from tests.support.processes import smartgo_env
from tests.support.run import REAL
from tests.support.waiting import wait_for

pytestmark = pytest.mark.ffmpeg
ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _packager(settings, server: str) -> subprocess.Popen:  # noqa: ANN001
    env = smartgo_env(settings, SMARTGO_INGEST_URL=server, SMARTGO_PACKAGER_LEASE_S="2", SMARTGO_LOG_LEVEL="INFO")
    return subprocess.Popen([sys.executable, "-m", "infra.composition.cli", "packager"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _live_on_one_of(http, admin, procs: list[subprocess.Popen], prefix: str) -> tuple[str, dict, subprocess.Popen]:  # noqa: ANN001
    """Create a test-pattern channel and wait until one of the packager processes has it live."""
    cid = f"{prefix}-{uuid.uuid4().hex[:8]}"
    assert http.post("/v1/admin/channels", json=channel_body(cid, source_url="testcard:"),
                     headers=admin).status_code == 201
    status = wait_for(lambda: (s := channel_status(http, admin, cid))
                      ["state"] == "live" and s, 60, "the channel live")
    return cid, status, next(p for p in procs if p.pid == int(status["node"].split("-")[-2]))


@pytest.mark.skipif(not REAL["redis"], reason="two packager processes share leases through Redis; "
                    "the embedded mode runs one process (covered in test_packager.py)")
def test_killing_a_packager_process_moves_its_channels(http, admin, settings, server) -> None:  # noqa: ANN001
    procs = [_packager(settings, server), _packager(settings, server)]
    try:
        cid, status, owner = _live_on_one_of(http, admin, procs, "pp")
        survivor = next(p for p in procs if p is not owner)
        seqs = lambda: http.get(f"/live/{cid}/cmaf/360p.m3u8").text.count(".m4s")  # noqa: E731
        version = lambda: http.get(f"/v1/admin/channels/{cid}/timeline", headers=admin).json()["version"]  # noqa: E731
        before = version()
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        killed = time.monotonic()
        moved = wait_for(lambda: (s := channel_status(http, admin, cid))
                         ["node"] != status["node"] and s, 20, "another node to take the channel")
        assert int(moved["node"].split("-")[-2]) == survivor.pid
        # The killed node's ffmpeg died with it: one encoder feeds the channel, never two.
        encoders = lambda: subprocess.run(["pgrep", "-f", f"/ingest/{cid}/"], capture_output=True,  # noqa: E731
                                          text=True).stdout.split()
        wait_for(lambda: len(encoders()) == 1, 10, "exactly one ffmpeg for the channel")
        wait_for(lambda: version() > before + 1, 30, "new segments from the surviving node")
        # Still one encoder after those segments (a supervisor restarting ffmpeg on a loaded
        # machine may leave none for an instant; two would be the bug).
        assert len(encoders()) <= 1
        wait_for(lambda: len(encoders()) == 1, 10, "exactly one ffmpeg for the channel after the move")
        assert time.monotonic() - killed < 20
        assert seqs() >= 3
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()


@pytest.mark.skipif(not REAL["redis"], reason="two packager processes share leases through Redis")
def test_a_packager_given_sigterm_lets_its_channels_go_at_once_and_exits_cleanly(http, admin, rt,
                                                                                   server) -> None:  # noqa: ANN001
    procs = [_packager(rt.settings, server), _packager(rt.settings, server)]
    try:
        cid, status, owner = _live_on_one_of(http, admin, procs, "pt")
        owner.send_signal(signal.SIGTERM)
        drained = time.monotonic()
        assert owner.wait(20) == 0
        # At most ffmpeg's grace for its last segment (5 s) and the process's own teardown.
        assert time.monotonic() - drained < 15
        # Its leases were given back, not left to lapse: the moment it is gone, the channel's
        # lease is free or already the other node's.
        assert rt.leases.holder(LEASE_PREFIX + cid) != status["node"]
        moved = wait_for(lambda: (s := channel_status(http, admin, cid))
                         ["node"] != status["node"] and s, 20, "the other node to take the channel")
        # The drained node's last report ("stopped") never lands on top of the new owner's.
        assert moved["state"] != "stopped"
        before = http.get(f"/v1/admin/channels/{cid}/timeline", headers=admin).json()["version"]
        wait_for(lambda: http.get(f"/v1/admin/channels/{cid}/timeline", headers=admin).json()["version"] > before,
                 30, "segments from the other node")
        assert channel_status(http, admin, cid)["node"] == moved["node"]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


@pytest.mark.once  # the demo is embedded whatever the pass: its own process, folder and SQLite
def test_demo_runs_everything_and_stops_cleanly_on_ctrl_c(tmp_path) -> None:  # noqa: ANN001
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTGO_")}
    env["SMARTGO_DATA_DIR"] = str(tmp_path / "demo")
    proc = subprocess.Popen([sys.executable, "-m", "infra.composition.cli", "demo", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def channels() -> list | None:
            try:
                return httpx.get(f"{base}/v1/channels", timeout=2).json()
            except httpx.HTTPError:
                return None

        live = wait_for(lambda: (c := channels()) and len(c) == 2 and all(x["state"] == "live" for x in c) and c,
                        90, "both demo channels live")
        assert {c["id"] for c in live} == {"demo-1", "demo-2"}
        page = httpx.get(f"{base}/demo/")
        assert page.status_code == 200 and "hls.min.js" in page.text
        assert httpx.get(f"{base}/live/demo-1/cmaf/master.m3u8").text.count("#EXT-X-MEDIA:TYPE=AUDIO") == 2
        # The seeded subscribers sign in, with the packages the demo gave them.
        tokens = httpx.post(f"{base}/v1/auth/login", json={
            "login": "piotr@example.com", "password": "demo-piotr-2",
            "device": {"type": "web", "name": "demo test"}}).json()
        me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
        assert {p["code"] for p in me["packages"]} == {"comfort", "hbo", "sports"}
        assert me["limits"] == {"max_devices": 5, "max_streams": 4, "recording_hours": 70}
        # The demo's guide is around now: the programme on air starts over from its beginning.
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        now = dt.datetime.now(dt.UTC)
        grid = httpx.get(f"{base}/v1/guide", headers=auth, params={
            "channels": "demo-1", "start": now.isoformat(), "end": (now + dt.timedelta(seconds=1)).isoformat()}).json()
        [on_air] = grid["items"]
        start = httpx.post(f"{base}/v1/playback", headers=auth,
                           json={"content": {"type": "programme", "id": on_air["id"]}, "mode": "startover"})
        assert start.status_code == 200, start.text
        path = start.json()["url"].split("/p/", 1)[1].replace("master.m3u8", "360p.m3u8")
        media = httpx.get(f"{base}/p/{path}").text
        assert "#EXT-X-PLAYLIST-TYPE:EVENT" in media
        # The demo film is ingested at the first start and published once ready; it plays through the door.
        rows = wait_for(lambda: (r := httpx.get(f"{base}/v1/vod/rows", headers=auth).json()) and any(
            c["id"] == "demo-film" for row in r["rows"] for c in row["items"]) and r, 90, "the demo film published")
        assert rows["rows"][0]["id"] == "new"
        film = httpx.post(f"{base}/v1/playback", headers=auth, json={"content": {"type": "title", "id": "demo-film"},
                                                                     "mode": "vod"})
        assert film.status_code == 200, film.text
        master = httpx.get(film.json()["url"]).text
        assert master.count("#EXT-X-MEDIA:TYPE=AUDIO") == 2 and "TYPE=SUBTITLES" in master
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=40)
    assert proc.returncode == 0, out[-3000:]
    assert "test page:" in out and "1000001 or anna@example.com" in out
    leftover = subprocess.run(["pgrep", "-f", f"127.0.0.1:{port}/ingest"], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "ffmpeg processes survived the demo"
