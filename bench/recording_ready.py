"""How soon a recording plays in full after its programme ends (target: within two segment durations).

    .venv/bin/python -m bench.recording_ready --mode distributed --runs 20

A channel is pushed live over HTTP ingest like an encoder does (a 1.92 s CMAF segment of two
renditions as soon as it is complete). For each run a signed-in subscriber records a range
ending a few seconds ahead, takes the recording's URL from POST /v1/playback, and polls its
media playlist every 20 ms. Measured: from the range's end (wall clock) to the first playlist
that is complete (ENDLIST) and covers the whole range; reported as seconds and as a multiple
of the segment duration (the baseline the issue names).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import threading
import time
from urllib.parse import urlsplit

import httpx
import m3u8

from bench.accounts import PASSWORD, make_subscriber
from bench.common import ADMIN, create_channel, machine, percentile, start_server
from bench.playlist_throughput import keep_pushing

SEGMENT_S = 1.92


def _viewer(url: str, channel_id: str) -> dict:
    httpx.post(f"{url}/v1/admin/packages", headers={"X-API-Key": ADMIN}, json={
        "code": "rec", "name": "Recordings", "kind": "base", "channels": [channel_id], "recording_hours": 100},
        timeout=60).raise_for_status()
    make_subscriber(url, "R0000001", ["rec"])
    tokens = httpx.post(f"{url}/v1/auth/login", json={"login": "R0000001", "password": PASSWORD,
                                                      "device": {"type": "web", "name": "bench"}}, timeout=60).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _one_run(client: httpx.Client, url: str, viewer: dict, channel_id: str, length_s: int) -> dict:
    end = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=4)
    start = end - dt.timedelta(seconds=length_s)
    rec = client.post(f"{url}/v1/me/recordings", headers=viewer, json={
        "channel_id": channel_id, "start": start.isoformat(), "end": end.isoformat(),
        "pad_before_s": 0, "pad_after_s": 0})
    rec.raise_for_status()
    door = client.post(f"{url}/v1/playback", headers=viewer,
                       json={"content": {"type": "recording", "id": rec.json()["id"]}, "mode": "recording"})
    door.raise_for_status()
    media = url + urlsplit(door.json()["url"]).path.replace("master.m3u8", "360p.m3u8")
    deadline = time.time() + length_s + 30
    while time.time() < deadline:
        text = client.get(media).text
        if "#EXT-X-ENDLIST" in text:
            ready = time.time() - end.timestamp()
            playlist = m3u8.loads(text)
            covered = sum(s.duration for s in playlist.segments)
            client.delete(f"{url}/v1/me/recordings/{rec.json()['id']}", headers=viewer)
            return {"ready_s": ready, "covered_s": covered, "range_s": length_s}
        time.sleep(0.02)
    raise RuntimeError("the recording never completed")


def bench_ready(args: argparse.Namespace) -> dict:
    """Measure, run after run, how long after its end a recording's playlist is complete."""
    srv = start_server(args.mode)
    stop = threading.Event()
    pusher = None
    runs = []
    try:
        password = create_channel(srv.url, "recready")
        pusher = threading.Thread(target=keep_pushing, args=(srv.url, "recready", password, stop), daemon=True)
        pusher.start()
        viewer = _viewer(srv.url, "recready")
        time.sleep(args.length + 4)  # the first range is already on the timeline
        with httpx.Client(timeout=30) as client:
            for _ in range(args.runs):
                runs.append(_one_run(client, srv.url, viewer, "recready", args.length))
    finally:
        stop.set()
        if pusher is not None:
            pusher.join(timeout=5)
        srv.stop()
    ready = [r["ready_s"] for r in runs]
    short = [r for r in runs if abs(r["covered_s"] - r["range_s"]) > SEGMENT_S]
    return {"bench": "recording_ready", "mode": args.mode, "runs": len(runs), "range_s": args.length,
            "segment_s": SEGMENT_S, "median_s": round(sorted(ready)[len(ready) // 2], 3),
            "p95_s": round(percentile(ready, 95), 3), "max_s": round(max(ready), 3),
            "max_in_segments": round(max(ready) / SEGMENT_S, 3),
            "runs_not_covering_the_range": len(short), "target": "<= 2 segment durations", "machine": machine()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=["embedded", "distributed"], default="distributed")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--length", type=int, default=12, help="seconds each recorded range lasts")
    print(json.dumps(bench_ready(p.parse_args()), indent=2))


if __name__ == "__main__":
    main()
