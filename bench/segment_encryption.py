"""Segment delivery of an AES-128 channel against the same segments in the clear, same run.

Storage holds clear segments; an encrypted channel's segments are sealed (AES-128-CBC, the
IV from the sequence number) when served, and the origin keeps recently served bodies in
memory (SMARTGO_SEGMENT_MEMORY_MB). Two channels get the same pushed segments, and wrk fetches
one 360p segment of each, alternating, with the same settings. With --segment-memory-mb 0
every request reads storage and seals afresh: the cost of the cipher itself.

    .venv/bin/python -m bench.segment_encryption --mode distributed
    .venv/bin/python -m bench.segment_encryption --mode distributed --segment-memory-mb 0
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time

import httpx

from bench.common import create_channel, machine, start_server
from bench.playlist_throughput import ensure_tools, keep_pushing, wrk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["embedded", "distributed"], default="embedded")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--segment-memory-mb", type=int, default=64,
                        help="the origin's memory of served segments; 0 seals every request afresh")
    args = parser.parse_args()
    ensure_tools()
    os.environ["SMARTGO_SEGMENT_MEMORY_MB"] = str(args.segment_memory_mb)
    server = start_server(args.mode)
    stop = threading.Event()
    try:
        targets = {}
        for name, extra in (("clear", {}), ("aes128", {"encryption": "aes-128"})):
            password = create_channel(server.url, name, **extra)
            threading.Thread(target=keep_pushing, args=(server.url, name, password, stop), daemon=True).start()
            targets[name] = f"{server.url}/live/{name}/cmaf/360p.m3u8"
        deadline = time.time() + 30
        while any(httpx.get(u).text.count(".m4s") < 3 for u in targets.values()) and time.time() < deadline:
            time.sleep(0.5)
        playlists = {k: httpx.get(u).text for k, u in targets.items()}
        seq = min(int(next(line for line in p.splitlines() if line.startswith("#EXT-X-MEDIA-SEQUENCE:")).split(":")[1])
                  for p in playlists.values())
        urls = {k: f"{server.url}/live/{k}/cmaf/360p/{seq}.m4s" for k in targets}
        sizes = {k: len(httpx.get(u).content) for k, u in urls.items()}
        assert "METHOD=AES-128" in playlists["aes128"] and "METHOD=AES-128" not in playlists["clear"]
        rps: dict[str, list[float]] = {k: [] for k in urls}
        cpu: dict[str, list[float]] = {k: [] for k in urls}
        for i in range(args.rounds):
            for name in (list(urls) if i % 2 == 0 else list(urls)[::-1]):
                rps[name].append(wrk(urls[name], args.seconds, args.connections, server.proc.pid, cpu[name]))
    finally:
        stop.set()
        server.stop()
    med = {k: statistics.median(v) for k, v in rps.items()}
    print(json.dumps({
        "mode": args.mode, "segment_memory_mb": args.segment_memory_mb, "segment_bytes": sizes, "wrk": f"-t1 -c{args.connections} -d{args.seconds}s",
        "rounds": args.rounds, "rps": rps, "median_rps": {k: round(v) for k, v in med.items()},
        "server_cpu_us_per_request": {k: [round(x, 1) for x in v] for k, v in cpu.items()},
        "encrypted_over_clear": round(med["aes128"] / med["clear"], 3),
        "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
