"""Viewers per node: the most paced players an origin serves without a stall, against nginx.

    .venv/bin/python -m bench.paced --max-players 8000

N simulated players, each on a keep-alive connection of its own and with a session token path
of its own (a real `POST /v1/playback` session at our origin; a random one at nginx, whose
location strips it), each reloading its live media playlist at the channel's cadence (1.92 s,
each player at its own phase) and fetching the newest segment when the playlist lists a new
one. The players run in a separate process (`--generator`), on asyncio with uvloop, which shares
the two cores with the server: only the ratio of the two results means anything.

A segment's publication is when a watcher polling the origin's playlist every 50 ms first sees
it; nginx serves copies written the moment the watcher sees them (playlist and segment, the
same bytes). A player's segment is **late** when its body completes more than one segment
duration after the later of its publication and the player's reload that listed it (a reload
is scheduled every 1.92 s; one made late because the generator fell behind counts against the
server), and a run where the players got under 80 % of the segments published meanwhile counts
as stalled (the pushes or the watcher could not get through). The result for each server is the
largest N with no late segment over a run of 20 s (10 segments), found by doubling N and then
bisecting. The channel is pushed meanwhile (a
replayed 220 kB segment every 1.92 s; nothing encodes). nginx and wrk come from Debian.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvloop

from bench.common import ADMIN, ROOT, create_channel, free_port, machine, start_server
from bench.playlist_throughput import ensure_tools, keep_pushing, start_nginx
from bench.storm import make_players

SEGMENT_S = 1.92
CHANNEL = "paced"
TRACK = f"/live/{CHANNEL}/cmaf/"  # playlists and segments relative to it
RUN_S = 20.0


# -- the players (a process of their own) ---------------------------------------------------------
async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str) -> bytes:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    body = await reader.readexactly(length)
    if status != 200:
        raise RuntimeError(f"{path}: {status} {body[:200]!r}")
    return body


async def _player(host: str, port: int, prefix: str, t0: float, end: float, out: list) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    tick = t0 + random.random() * SEGMENT_S
    seen: set[str] = set()
    try:
        while tick < end:
            await asyncio.sleep(max(0.0, tick - time.time()))
            text = (await _get(reader, writer, host, prefix + "360p.m3u8")).decode()
            newest = [line for line in text.splitlines() if line.endswith(".m4s")][-1]
            if newest not in seen:
                seen.add(newest)
                await _get(reader, writer, host, prefix + newest)
                out.append((newest, tick, time.time()))
            tick += SEGMENT_S
    except (OSError, RuntimeError, asyncio.IncompleteReadError) as err:
        out.append(("error", tick, repr(err)))
    finally:
        writer.close()


def generator(args: argparse.Namespace) -> None:
    """Run the players; print each fetched segment as (uri, reload time, completion time)."""
    prefixes = json.loads(Path(args.prefixes).read_text())
    host, port = args.host, args.port
    out: list = []

    async def main() -> None:
        t0 = time.time() + 1.0
        await asyncio.gather(*(_player(host, port, p, t0, t0 + RUN_S, out) for p in prefixes))

    uvloop.run(main())
    print(json.dumps(out))


# -- the servers -----------------------------------------------------------------------------------
class Watcher(threading.Thread):
    """Polls the origin's open playlist every 50 ms: notes each segment's publication and copies it for nginx."""

    def __init__(self, origin: str, mirror: Path) -> None:
        super().__init__(daemon=True)
        self.origin, self.mirror, self.published, self.stop = origin, mirror, {}, threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=5) as http:
            while not self.stop.is_set():
                try:
                    text = http.get(self.origin + TRACK + "360p.m3u8").text
                    for uri in [line for line in text.splitlines() if line.endswith(".m4s")]:
                        if uri not in self.published:
                            self.published[uri] = time.time()
                            self._copy(uri, http.get(self.origin + TRACK + uri).content)
                    self._copy("360p.m3u8", text.encode())
                except httpx.HTTPError:  # the origin overloaded by the players: try again
                    pass
                self.stop.wait(0.05)

    def _copy(self, uri: str, data: bytes) -> None:
        path = self.mirror / TRACK.strip("/") / uri
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.chmod(0o644)
        tmp.replace(path)


def late(fetches: list, published: dict[str, float]) -> tuple[int, int, int, float]:
    """Return (segments fetched, late ones, errors, worst delay) of a run."""
    count = errors = bad = 0
    worst = 0.0
    for uri, tick, done in fetches:
        if uri == "error":
            errors += 1
            continue
        pub = published.get(uri)
        if pub is None or pub < tick - SEGMENT_S:  # already out before this player's first reload
            continue
        count += 1
        delay = done - max(pub, tick)
        worst = max(worst, delay)
        bad += delay > SEGMENT_S
    return count, bad, errors, round(worst, 3)


def run_players(host: str, port: int, prefixes: list[str], published: dict[str, float]) -> dict:
    """Run one generator with these players; return what happened."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(prefixes, fh)
    proc = subprocess.run([sys.executable, "-m", "bench.paced", "--generator", "--prefixes", fh.name,
                           "--host", host, "--port", str(port)], capture_output=True, text=True, cwd=ROOT,
                          timeout=RUN_S + 120)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-2000:])
    fetched, bad, errors, worst = late(json.loads(proc.stdout), published)
    # Each player should get a new segment every 1.92 s; far fewer means publishing itself stalled
    # (the pushes or the watcher could not get through), which no player would call smooth.
    stalled = fetched < 0.8 * len(prefixes) * (RUN_S / SEGMENT_S - 1)
    return {"players": len(prefixes), "segments": fetched, "late": bad + (1 if stalled else 0), "errors": errors,
            "worst_delay_s": worst, "publishing_stalled": stalled}


def largest(try_n, cap: int, start: int) -> tuple[int, list[dict]]:  # noqa: ANN001
    """Double N from start until a run has a late segment (or the cap), then bisect; return the largest good N."""
    runs, good, bad, n = [], 0, None, start
    while n <= cap:
        result = try_n(n)
        runs.append(result)
        if result["late"] or result["errors"]:
            bad = n
            break
        good, n = n, n * 2
    if bad is None:
        return good, runs
    while bad - good > max(50, good // 10):
        mid = (good + bad) // 2
        result = try_n(mid)
        runs.append(result)
        good, bad = (mid, bad) if not (result["late"] or result["errors"]) else (good, mid)
    return good, runs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--generator", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--prefixes", help=argparse.SUPPRESS)
    p.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--max-players", type=int, default=8000)
    p.add_argument("--start", type=int, default=250)
    args = p.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a connection per player, both sides
    if args.generator:
        generator(args)
        return
    ensure_tools()
    srv = start_server("distributed")
    stop = threading.Event()
    mirror = Path(tempfile.mkdtemp(prefix="smartgo-paced-"))
    mirror.chmod(0o755)
    nginx = watcher = None
    try:
        password = create_channel(srv.url, CHANNEL)
        httpx.post(f"{srv.url}/v1/admin/packages", headers={"X-API-Key": ADMIN}, json={
            "code": "paced", "name": "Paced", "kind": "base", "max_streams": 2,
            "channels": [CHANNEL]}).raise_for_status()
        threading.Thread(target=keep_pushing, args=(srv.url, CHANNEL, password, stop), daemon=True).start()
        tokens = make_players(srv.env, args.max_players, package="paced")
        prefixes = []
        with httpx.Client(base_url=srv.url, timeout=60) as http:
            for token in tokens:
                resp = http.post("/v1/playback", headers={"Authorization": f"Bearer {token}"},
                                 json={"content": {"type": "channel", "id": CHANNEL}})
                resp.raise_for_status()
                prefixes.append(httpx.URL(resp.json()["url"]).path.rsplit("/", 1)[0] + "/")
        watcher = Watcher(srv.url, mirror)
        watcher.start()
        nginx_port = free_port()
        nginx = start_nginx(mirror, nginx_port, strip_token=True)
        deadline = time.time() + 30
        while len(watcher.published) < 3 and time.time() < deadline:
            time.sleep(0.2)
        origin_port = int(srv.url.rsplit(":", 1)[1])
        fake = [f"/p/{secrets.token_urlsafe(40)}{TRACK}" for _ in range(args.max_players)]
        ours, our_runs = largest(lambda n: run_players("127.0.0.1", origin_port, prefixes[:n], watcher.published),
                                 args.max_players, args.start)
        theirs, their_runs = largest(lambda n: run_players("127.0.0.1", nginx_port, fake[:n], watcher.published),
                                     args.max_players, args.start)
    finally:
        stop.set()
        if watcher:
            watcher.stop.set()
        if nginx:
            nginx.terminate()
        srv.stop()
    print(json.dumps({
        "bench": "paced", "segment_s": SEGMENT_S, "run_s": RUN_S, "cap": args.max_players,
        "origin_largest_no_stall": ours, "nginx_largest_no_stall": theirs,
        "ratio": round(ours / theirs, 3) if theirs else None, "target": "ratio >= 0.6",
        "origin_runs": our_runs, "nginx_runs": their_runs, "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
