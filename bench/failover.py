"""Failover: kill a packager node; time until each of its channels publishes from another node.

Two `smartgo packager` processes, N passthrough channels. When all are live, the node holding
the most channels is killed (SIGKILL); for each of its channels the time from the kill to its
next published segment is recorded, in target durations (2 s). Repeated `--runs` times.

    .venv/bin/python -m bench.failover --channels 4 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import time

import httpx

from bench.common import (
    ADMIN,
    PublishListener,
    create_sourced_channel,
    machine,
    passthrough_source,
    start_packager,
    start_server,
)

TD = 2.0


def status(url: str, cid: str) -> dict:
    return httpx.get(f"{url}/v1/admin/channels/{cid}/status", headers={"X-API-Key": ADMIN}).json()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    server = start_server("distributed")
    nodes = [start_packager(server), start_packager(server)]
    listener = PublishListener()
    samples: list[float] = []
    try:
        source = f"file://{passthrough_source()}"
        ids = [f"fo-{i}" for i in range(args.channels)]
        for cid in ids:
            create_sourced_channel(server.url, cid, source, packaging="passthrough")
        for _ in range(args.runs):
            deadline = time.time() + 60
            while time.time() < deadline and not all(status(server.url, c)["state"] == "live" for c in ids):
                time.sleep(0.5)
            time.sleep(5)
            holders = {c: int(status(server.url, c)["node"].split("-")[-2]) for c in ids}
            victim_pid = max({p.pid for p in nodes}, key=lambda pid: list(holders.values()).count(pid))
            victim = next(p for p in nodes if p.pid == victim_pid)
            moved = [c for c, pid in holders.items() if pid == victim_pid]
            killed = time.time()
            os.kill(victim_pid, signal.SIGKILL)
            victim.wait(10)
            time.sleep(3 * TD + 10)
            for cid in moved:
                after = [t for t in listener.times.get(cid, []) if t > killed + 0.05]
                samples.append((after[0] - killed) / TD if after else float("inf"))
            nodes[nodes.index(victim)] = start_packager(server)  # a replacement for the next run
    finally:
        for p in nodes:  # nodes first: nothing of ours may outlive a benchmark
            p.terminate()
            p.wait(30)
        server.stop()
        listener.close()
    print(json.dumps({
        "channels": args.channels, "runs": args.runs, "lease_s": 2.0, "target_duration_s": TD,
        "kill_to_first_new_segment_in_td": [round(x, 2) for x in samples],
        "median_td": round(statistics.median(samples), 2), "max_td": round(max(samples), 2),
        "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
