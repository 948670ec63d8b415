"""The viewer mix: one origin, two origins behind HAProxy, and nginx serving copies of the same files.

    .venv/bin/python -m bench.viewers --seconds 10 --rounds 3

What players ask at the live edge: a media playlist and a segment (about 220 kB at 800 kbit/s
for 1.92 s), alternating. wrk keeps 256 connections with a Lua script turning through the two
paths, on the open URLs (/live/...), against: one `smartgo api` process; the same process behind
HAProxy alone (the balancer's own cost on these shared cores); two such processes (the same
database, Redis and storage) behind HAProxy, round-robin; and one nginx worker serving copies of
the same playlist and segment. A channel is pushed live meanwhile (a segment every 1.92 s), and
the playlist is taken once its window is full. The four alternate in each round, the order
turning, so a drift of the machine favours none. All share the two cores with wrk, the pushes,
PostgreSQL and Redis, so only the ratios mean anything. Then the playlist is polled at both
origins every 50 ms while 15 segments are published (pushed to the first): how far apart the
two first list each one is the staleness a round-robin balancer would expose.
nginx, wrk and HAProxy come from Debian (installed if missing).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.common import create_channel, free_port, machine, start_server
from bench.playlist_throughput import ensure_tools, keep_pushing, start_nginx
from tests.support.balancer import Balancer

LUA = """
paths = {"%s", "%s"}
n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% 2) + 1])
end
"""


def wrk_mix(base: str, script: Path, seconds: int, connections: int) -> float:
    """Return requests per second of wrk running the mix against base; refuse error answers."""
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), base],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise RuntimeError(f"{base}: {bad.group(1)} error responses\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def staleness(origins: list[str], playlist: str, segments: int) -> dict:
    """Poll the playlist at every origin every 50 ms until `segments` new segments are listed at
    all of them; return, per segment, how far apart the origins first listed it (the worst a
    player behind a round-robin balancer could see one origin trail another)."""
    seen: dict[str, dict[int, float]] = {o: {} for o in origins}
    with httpx.Client(timeout=5) as http:
        while min(len(s) for s in seen.values()) < segments + 1:
            for origin in origins:
                text = http.get(origin + playlist).text
                sequence = int(re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text).group(1))
                seen[origin].setdefault(sequence + text.count("#EXTINF") - 1, time.monotonic())
            time.sleep(0.05)
    common = sorted(set.intersection(*(set(s) for s in seen.values())))[1:]  # the first was already there
    lags = [max(s[n] for s in seen.values()) - min(s[n] for s in seen.values()) for n in common]
    return {"segments": len(lags), "worst_s": round(max(lags), 3), "median_s": round(statistics.median(lags), 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=256)
    p.add_argument("--segments", type=int, default=15, help="new segments to time the origins' staleness over")
    args = p.parse_args()
    ensure_tools()
    if not shutil.which("haproxy"):
        subprocess.run(["apt-get", "install", "-y", "-q", "haproxy"], check=True, stdout=subprocess.DEVNULL)
    first = start_server("distributed")
    second = start_server("distributed", beside=first)
    stop = threading.Event()
    root = Path(tempfile.mkdtemp(prefix="smartgo-viewers-"))
    root.chmod(0o755)  # nginx workers drop root and must read the files
    nginx = balancer = alone = None
    try:
        password = create_channel(first.url, "mix")
        pusher = threading.Thread(target=keep_pushing, args=(first.url, "mix", password, stop), daemon=True)
        pusher.start()
        playlist = "/live/mix/cmaf/360p.m3u8"
        deadline = time.time() + 60
        while httpx.get(first.url + playlist).text.count(".m4s") < 12 and time.time() < deadline:  # a full window
            time.sleep(0.5)
        text = httpx.get(first.url + playlist).text
        newest = [line for line in text.splitlines() if line.endswith(".m4s")][-1]
        segment = "/live/mix/cmaf/" + newest
        body = httpx.get(first.url + segment).content
        assert httpx.get(second.url + segment).content == body  # the second origin serves the same bytes
        for path, data in ((playlist, text.encode()), (segment, body)):
            copy = root / path.lstrip("/")
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(data)
        for d in [root, *root.rglob("*")]:
            d.chmod(0o755 if d.is_dir() else 0o644)
        nginx_port = free_port()
        nginx = start_nginx(root, nginx_port)
        ports = {"o1": int(first.url.rsplit(":", 1)[1]), "o2": int(second.url.rsplit(":", 1)[1])}
        balancer = Balancer(root.parent / f"{root.name}-haproxy", ports, hash_playback=False).start()
        alone = Balancer(root.parent / f"{root.name}-haproxy-one", {"o1": ports["o1"]}, hash_playback=False).start()
        script = root.parent / f"{root.name}.lua"
        script.write_text(LUA % (playlist, segment))
        targets = {"one_origin": first.url, "one_origin_haproxy": alone.url, "two_origins_haproxy": balancer.url,
                   "nginx": f"http://127.0.0.1:{nginx_port}"}
        deadline = time.time() + 30
        while (balancer.up() != set(ports) or alone.up() != {"o1"}) and time.time() < deadline:
            time.sleep(0.2)
        results: dict[str, list[float]] = {k: [] for k in targets}
        order = list(targets)
        for i in range(args.rounds):
            for name in order[i % len(order):] + order[:i % len(order)]:
                results[name].append(wrk_mix(targets[name], script, args.seconds, args.connections))
        lag = staleness([first.url, second.url], playlist, args.segments)
    finally:
        stop.set()
        for b in (balancer, alone):
            if b:
                b.stop()
        if nginx:
            nginx.terminate()
        second.stop()
        first.stop()
    med = {k: statistics.median(v) for k, v in results.items()}
    print(json.dumps({
        "bench": "viewers", "wrk": f"-t1 -c{args.connections} -d{args.seconds}s, playlist and segment alternating",
        "playlist_bytes": len(text), "segment_bytes": len(body), "rounds": results,
        "median_rps": {k: round(v) for k, v in med.items()},
        "one_origin_over_nginx": round(med["one_origin"] / med["nginx"], 3),
        "two_origins_over_one_behind_haproxy": round(med["two_origins_haproxy"] / med["one_origin_haproxy"], 3),
        "haproxy_over_direct": round(med["one_origin_haproxy"] / med["one_origin"], 3),
        "staleness_between_origins": lag, "publish_deadline_s": 1.92,
        "target": "one_origin_over_nginx >= 0.6", "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
