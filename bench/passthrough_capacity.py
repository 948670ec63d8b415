"""Passthrough channels one core sustains with every segment published on time.

The API and a packager node (and so every ffmpeg it starts) are pinned to one core with
taskset. For each step of N passthrough channels (repackaging a looping MPEG-TS file), after a
warm-up every channel must publish a segment at least every 1.5 segment durations during the
whole window, and the expected number of segments; the largest N that passes is reported.

    .venv/bin/python -m bench.passthrough_capacity --steps 10,20,30,40
"""

from __future__ import annotations

import argparse
import json
import subprocess
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

D = 1.92


def on_time(times: list[float], start: float, end: float) -> tuple[bool, float, int]:
    """Judge one channel's publishes in [start, end]: (on time, worst gap, count)."""
    inside = [t for t in times if start <= t <= end]
    if len(inside) < 2:
        return False, float("inf"), len(inside)
    points = [start, *inside, end]
    worst = max(b - a for a, b in zip(points, points[1:]))
    expected = (end - start) / D
    return worst <= 1.5 * D and len(inside) >= expected - 1.5, worst, len(inside)


def run_step(n: int, window: float, cpu: str) -> dict:
    server = start_server("distributed")
    # Pin the API too: everything we run shares the one core.

    subprocess.run(["taskset", "-a", "-p", "-c", cpu, str(server.proc.pid)], check=True,
                   capture_output=True)
    node = start_packager(server, cpu=cpu)
    listener = PublishListener()
    try:
        source = f"file://{passthrough_source()}"
        for i in range(n):
            create_sourced_channel(server.url, f"pt-{i}", source, packaging="passthrough")
        deadline = time.time() + 90
        while time.time() < deadline:
            states = [c["state"] for c in httpx.get(f"{server.url}/v1/channels").json()]
            if len(states) == n and all(s == "live" for s in states):
                break
            time.sleep(1)
        time.sleep(10)
        start = time.time()
        time.sleep(window)
        end = time.time()
        verdicts = [on_time(listener.times.get(f"pt-{i}", []), start, end) for i in range(n)]
    finally:
        node.terminate()  # first: nothing of ours may outlive a benchmark
        node.wait(60)
        server.stop()
        listener.close()
    return {"channels": n, "all_on_time": all(v[0] for v in verdicts),
            "late_channels": sum(not v[0] for v in verdicts),
            "worst_gap_s": round(max(v[1] for v in verdicts), 2),
            "min_segments": min(v[2] for v in verdicts), "expected_segments": round(window / D, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", default="10,20,30,40")
    parser.add_argument("--window", type=float, default=30)
    parser.add_argument("--cpu", default="1")
    args = parser.parse_args()
    results = []
    for n in (int(x) for x in args.steps.split(",")):
        results.append(run_step(n, args.window, args.cpu))
        print(json.dumps(results[-1]), flush=True)
        if not results[-1]["all_on_time"]:
            break
    passing = [r["channels"] for r in results if r["all_on_time"]]
    print(json.dumps({"steps": results, "max_channels_on_one_core": max(passing) if passing else 0,
                      "admin_key": ADMIN[:4] + "...", "machine": machine()}, indent=2))


if __name__ == "__main__":
    main()
