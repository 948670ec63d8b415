"""CPU our own processes (API + packager node) add around ffmpeg.

Distributed mode: one `smartgo api` and one `smartgo packager` process. Ladder: one test
pattern channel (360p + 240p, one audio track). Passthrough: N channels repackaging a looping
MPEG-TS file. After a warm-up, CPU seconds of the API, the packager process and its ffmpeg
children are sampled over a window; median of 5 windows.

    .venv/bin/python -m bench.packager_cpu --kind ladder
    .venv/bin/python -m bench.packager_cpu --kind ladder --ladder hd
    .venv/bin/python -m bench.packager_cpu --kind passthrough --channels 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import httpx

from bench.common import (
    cpu_seconds,
    create_sourced_channel,
    machine,
    passthrough_source,
    start_packager,
    start_server,
)
from tests.support.services import children


def sample(api_pid: int, node_pid: int, seconds: float) -> tuple[float, float, float]:
    """Return (API, packager node, ffmpeg) CPU seconds used during the next `seconds`.

    A window in which an ffmpeg exits (a restart) is refused: its CPU would be lost.
    """
    kids = children(node_pid)
    before = (cpu_seconds(api_pid), cpu_seconds(node_pid), sum(cpu_seconds(k) for k in kids))
    time.sleep(seconds)
    if set(children(node_pid)) != set(kids):
        raise RuntimeError("an ffmpeg restarted during the window; see the channel status")
    after = (cpu_seconds(api_pid), cpu_seconds(node_pid), sum(cpu_seconds(k) for k in kids))
    return after[0] - before[0], after[1] - before[1], after[2] - before[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=["ladder", "passthrough"], default="ladder")
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--ladder", choices=["test", "hd"], default="test",
                        help="test: 360p+240p (what CI uses); hd: 720p+480p+360p")
    parser.add_argument("--window", type=float, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    server = start_server("distributed")
    node = start_packager(server)
    try:
        source = "testcard:" if args.kind == "ladder" else f"file://{passthrough_source()}"
        for i in range(args.channels):
            create_sourced_channel(server.url, f"cpu-{i}", source, packaging=args.kind,
                                   ladder=args.ladder)
        deadline = time.time() + 60
        while time.time() < deadline:
            states = [c["state"] for c in httpx.get(f"{server.url}/v1/channels").json()]
            if states and all(s == "live" for s in states):
                break
            time.sleep(1)
        time.sleep(10)  # warm-up
        ours, theirs, api, pk = [], [], [], []
        for _ in range(args.runs):
            a, n, f = sample(server.proc.pid, node.pid, args.window)
            ours.append(a + n)
            theirs.append(f)
            api.append(a)
            pk.append(n)
        states = [c["state"] for c in httpx.get(f"{server.url}/v1/channels").json()]
    finally:
        node.terminate()
        node.wait(30)
        server.stop()
    ratios = [o / f for o, f in zip(ours, theirs)]
    per_channel_core = [o / args.window / args.channels for o in ours]
    print(json.dumps({
        "kind": args.kind, "ladder": args.ladder if args.kind == "ladder" else None,
        "channels": args.channels, "window_s": args.window, "runs": args.runs,
        "states_at_end": states,
        "our_cpu_s": [round(x, 3) for x in ours], "ffmpeg_cpu_s": [round(x, 3) for x in theirs],
        "api_cpu_s": [round(x, 3) for x in api], "packager_node_cpu_s": [round(x, 3) for x in pk],
        "median_ours_over_ffmpeg": round(statistics.median(ratios), 4),
        "median_our_cores_per_channel": round(statistics.median(per_channel_core), 5),
        "targets": "ladder: ours <= 0.05 of ffmpeg; passthrough: <= 0.005 core per channel",
        "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
