"""Delta updates (issue 9): the bytes of a 6-hour time-shift playlist reload, full vs delta.

    .venv/bin/python -m bench.delta_updates --mode embedded
    .venv/bin/python -m bench.delta_updates --mode distributed

Two channels behind one `smartgo api` process, with 2 s and 6 s segments (± 80 ms of jitter, a
new encoder session every 30 minutes), each with 6 hours of timeline written to the index. A
player of the 6-hour window reloads its media playlist as it plays: we GET it in full
(`?window=21600`) and as a delta update (`&_HLS_skip=YES`), alternating, and report the bytes
of each, their ratio, and the time per request as the client sees it. Every delta is checked
against the full playlist of the same moment with the tests' conformance checker.
"""

from __future__ import annotations

import argparse
import json
import time

import httpx

from bench.common import create_channel, machine, percentile, start_server
from bench.recorder import open_runtime
from bench.window_build import build_timeline
from tests.support.hls_conformance import check_delta

HOURS = 6
WINDOW_S = HOURS * 3600


def measure(http: httpx.Client, path: str, rounds: int) -> dict:
    """Alternate full and delta GETs of one playlist; return sizes, ratio and latencies."""
    sizes: dict[str, list[int]] = {"full": [], "delta": []}
    times: dict[str, list[float]] = {"full": [], "delta": []}
    violations = 0
    for _ in range(rounds):
        got = {}
        for name, params in (("full", {"window": WINDOW_S}), ("delta", {"window": WINDOW_S, "_HLS_skip": "YES"})):
            t0 = time.perf_counter()
            resp = http.get(path, params=params)
            times[name].append(time.perf_counter() - t0)
            resp.raise_for_status()
            got[name] = resp.text
            sizes[name].append(len(resp.content))
        violations += bool(check_delta(got["full"], got["delta"]))
    full, delta = max(sizes["full"]), max(sizes["delta"])
    return {"full_bytes": full, "delta_bytes": delta, "delta_over_full": round(delta / full, 4),
            "full_segments": got["full"].count("#EXTINF"), "delta_segments": got["delta"].count("#EXTINF"),
            "rounds_whose_delta_failed_the_checker": violations,
            **{f"{name}_p50_ms": round(percentile(v, 50) * 1000, 2) for name, v in times.items()},
            **{f"{name}_p99_ms": round(percentile(v, 99) * 1000, 2) for name, v in times.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=["embedded", "distributed"], default="embedded")
    p.add_argument("--rounds", type=int, default=50)
    args = p.parse_args()
    srv = start_server(args.mode)
    rt = open_runtime(srv.env)
    results = {}
    try:
        http = httpx.Client(base_url=srv.url, timeout=60)
        for seconds in (2, 6):
            cid = f"delta{seconds}"
            create_channel(srv.url, cid, timeshift_s=WINDOW_S + 600, segment_duration_ms=seconds * 1000)
            build_timeline(rt.db, cid, HOURS, int(time.time() * 1_000_000), seed=seconds,
                           nominal_us=seconds * 1_000_000)
            path = f"/live/{cid}/cmaf/360p.m3u8"
            http.get(path, params={"window": WINDOW_S}).raise_for_status()  # the view loads once
            results[f"{seconds} s segments"] = measure(http, path, args.rounds)
    finally:
        rt.close()
        srv.stop()
    print(json.dumps({"bench": "delta_updates", "mode": args.mode, "window_s": WINDOW_S, "rounds": args.rounds,
                      "results": results, "machine": machine()}, indent=2))


if __name__ == "__main__":
    main()
