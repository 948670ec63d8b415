"""Live media-playlist throughput of the origin vs nginx serving the same bytes as a static file.

One `smartgo api` process (uvicorn, uvloop, httptools) with a channel being pushed live, and
one nginx worker serving a copy of the same playlist; wrk with the same settings against
each, alternating, in the same run. nginx and wrk come from Debian (installed if missing).

    .venv/bin/python -m bench.playlist_throughput --mode distributed
    .venv/bin/python -m bench.playlist_throughput --mode distributed --token

With --token, a subscriber signs in and asks POST /v1/playback for the channel, and the same
playlist is also measured through its signed URL (/p/{token}/live/...), alternating with the
open one, so the cost of the token and revocation check is a ratio within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.accounts import PASSWORD, make_subscriber
from bench.common import (
    ADMIN,
    Replayer,
    create_channel,
    free_port,
    machine,
    sample_encode,
    start_server,
)


def ensure_tools() -> None:
    """Install nginx and wrk from Debian if they are missing."""
    missing = [p for p, b in (("nginx", "/usr/sbin/nginx"), ("wrk", "wrk")) if not shutil.which(b)]
    if missing:
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True,
                       stdout=subprocess.DEVNULL)


def start_nginx(root: Path, port: int, *, strip_token: bool = False) -> subprocess.Popen:
    """Run one nginx worker serving root on port (with strip_token, /p/{token}/... as /...)."""
    conf = root / "nginx.conf"
    location = (f'location ~ ^/p/[^/]+/(?<rest>.+)$ {{ alias {root}/$rest; add_header Cache-Control "no-cache"; }}'
                if strip_token else 'location / { add_header Cache-Control "public, max-age=1"; }')
    conf.write_text(f"""
worker_processes 1;
worker_rlimit_nofile 30000;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 20000; }}
http {{
  access_log off;
  keepalive_requests 100000;
  types {{ application/vnd.apple.mpegurl m3u8; video/iso.segment m4s; }}
  server {{
    listen 127.0.0.1:{port} backlog=8192;
    root {root};
    {location}
  }}
}}
""")
    proc = subprocess.Popen(["/usr/sbin/nginx", "-c", str(conf), "-p", str(root)])
    time.sleep(0.5)
    return proc


def cpu_seconds(pid: int | None) -> float:
    """Return the CPU time (user + system) a process has used so far."""
    if pid is None:
        return 0.0

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: int, connections: int, pid: int | None = None, cpu: list | None = None) -> float:
    """Return requests per second from one wrk run (and append the server's CPU µs per request)."""
    before = cpu_seconds(pid)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    used = cpu_seconds(pid) - before
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} error responses\n{out}")
    if cpu is not None:
        cpu.append(used * 1e6 / int(re.search(r"(\d+) requests in", out).group(1)))
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def keep_pushing(url: str, channel_id: str, password: str, stop: threading.Event) -> None:
    """Push a segment every 1.92 s in a background thread, like a live encoder."""

    async def loop() -> None:
        async with httpx.AsyncClient(timeout=60) as client:
            rep = Replayer(client, url, channel_id, password, sample_encode())
            await rep.start()
            t0 = time.time()
            while not stop.is_set():
                due = t0 + rep.n * 1.92
                await asyncio.sleep(max(0.0, due - time.time()))
                try:
                    await rep.push_next(int((due - 1.92) * 1_000_000))
                except httpx.HTTPError:  # an overloaded server: that segment is lost, as an encoder's would be
                    rep.n += 1

    asyncio.run(loop())


def signed_url(url: str, channel_id: str) -> str:
    """Sign a subscriber in and return the media playlist URL POST /v1/playback gives for channel_id."""

    admin = {"X-API-Key": ADMIN}
    httpx.post(f"{url}/v1/admin/packages", headers=admin, json={
        "code": "bench", "name": "Bench", "kind": "base", "channels": [channel_id]}, timeout=120).raise_for_status()
    make_subscriber(url, "T0000001", ["bench"])
    tokens = httpx.post(f"{url}/v1/auth/login", json={"login": "T0000001", "password": PASSWORD,
                                                      "device": {"type": "web", "name": "wrk"}},
                        timeout=120).json()
    start = httpx.post(f"{url}/v1/playback", headers={"Authorization": f"Bearer {tokens['access_token']}"},
                       json={"content": {"type": "channel", "id": channel_id}}, timeout=120)
    start.raise_for_status()

    return url + urlsplit(start.json()["url"]).path.replace("master.m3u8", "360p.m3u8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["embedded", "distributed"], default="embedded")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--token", action="store_true", help="also measure the signed playback URL")
    args = parser.parse_args()
    ensure_tools()
    server = start_server(args.mode)
    stop = threading.Event()
    root = Path(tempfile.mkdtemp(prefix="smartgo-nginx-"))
    root.chmod(0o755)  # nginx workers drop root and must read the file
    nginx = None
    try:
        password = create_channel(server.url, "tput")
        pusher = threading.Thread(target=keep_pushing, args=(server.url, "tput", password, stop), daemon=True)
        pusher.start()
        ours = f"{server.url}/live/tput/cmaf/360p.m3u8"
        deadline = time.time() + 30
        while httpx.get(ours).text.count(".m4s") < 6 and time.time() < deadline:
            time.sleep(0.5)
        body = httpx.get(ours).content
        (root / "live.m3u8").write_bytes(body)
        (root / "live.m3u8").chmod(0o644)
        port = free_port()
        nginx = start_nginx(root, port)
        theirs = f"http://127.0.0.1:{port}/live.m3u8"
        signed = signed_url(server.url, "tput") if args.token else None
        if signed:
            assert httpx.get(signed).content == body or ".m4s" in httpx.get(signed).text
        results = {"origin": [], "nginx": [], **({"origin_token": []} if signed else {})}
        cpu: dict[str, list] = {"origin": [], "origin_token": []}
        targets = {"nginx": theirs, "origin": ours, **({"origin_token": signed} if signed else {})}
        order = list(targets)
        for i in range(args.rounds):
            # The order turns each round, so a drift of the machine does not favour one side.
            for name in order[i % len(order):] + order[:i % len(order)]:
                ours_pid = server.proc.pid if name != "nginx" else None
                results[name].append(wrk(targets[name], args.seconds, args.connections, ours_pid,
                                         cpu.get(name)))
    finally:
        stop.set()
        if nginx:
            nginx.terminate()
        server.stop()
    med = {k: statistics.median(v) for k, v in results.items()}
    print(json.dumps({
        "mode": args.mode, "playlist_bytes": len(body), "wrk": f"-t1 -c{args.connections} -d{args.seconds}s",
        "worker_processes_each_side": 1, "rounds": args.rounds,
        "origin_rps": results["origin"], "nginx_rps": results["nginx"],
        "median_origin_rps": round(med["origin"]), "median_nginx_rps": round(med["nginx"]),
        "ratio": round(med["origin"] / med["nginx"], 3), "target": "ratio >= 0.40",
        **({"origin_token_rps": results["origin_token"], "median_origin_token_rps": round(med["origin_token"]),
            "token_over_open": round(med["origin_token"] / med["origin"], 3),
            "token_target": "token_over_open >= 0.90",
            "server_cpu_us_per_request": {k: [round(x, 1) for x in v] for k, v in cpu.items()},
            "cpu_per_request_open_over_token": round(statistics.median(cpu["origin"])
                                                     / statistics.median(cpu["origin_token"]), 3),
            } if "origin_token" in med else {}),
        "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
